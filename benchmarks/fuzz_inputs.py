"""Generated bad input through the command line: every case must end in a clean one-line error
(exit 2, "error: …") or a valid answer, never a traceback and never a blow-up.

    python benchmarks/fuzz_inputs.py                    # 600 cases, seed 0
    python benchmarks/fuzz_inputs.py --cases 5000 --seed 3
    python benchmarks/fuzz_inputs.py --cases 40 --json  # what tests/test_fuzz_inputs.py runs

Cases are seeded mutations of valid inputs: typed stacks (images, sequences, volumes, tokens,
recurrent layers), input signatures, architecture names, augmentation pipelines, image files
(corrupt, truncated, huge headers, long thin strips) and output paths. Each runs as
`explorer.cli.main(argv)` in a worker process; a case that takes more than --timeout seconds
or grows the worker past --max-rss MiB is a blow-up (the worker is killed and replaced).
Prints counts of valid answers, clean errors, tracebacks and blow-ups, and each failure.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

STACKS = (
    "input 32x32x1 | conv 6 5x5 tanh | avgpool 2 | conv 16 5x5 tanh | avgpool 2 | fc 120 | fc 10",
    "input 784 | fc 128 relu | fc 10",
    "input 128x4 | conv 16 5 relu | maxpool 2 | conv 32 5 relu | gap | fc 2",
    "input 16x64x64x1 | conv 8 3 relu | maxpool 2 | conv 16 1x3x3 | gap | fc 5",
    "input 32 tokens | embedding 1000 16 | lstm 32 | fc 10",
    "input 100x4 | conv 8 5 | gru 16 | fc 2",
    "input 224x224x3 | conv 64 7x7 s2 | maxpool 3 s2 | conv 128 3x3 | gap | fc 1000",
    "input 32x32x1 | dropout 0.5",
)
ARCHS = ("lenet5", "resnet18", "alexnet-paper", "googlenet-paper", "mobilenet_v2", "vgg16")
SIGNATURES = ("3x224x224", "1x32x32", "3x64x64", "1x16:int64", "2x3x32x32")
NUMBERS = (
    "0", "-1", "1", "3.5", "nan", "inf", "-inf", "1e308", "0x10", "1_000", "٣",
    "99999999999", "9" * 19, "9" * 40, "1" + "0" * 5000, "67108864", "1000000",
)  # fmt: skip
WORDS = ("conv", "fc", "pool", "lstm", "gru", "embedding", "input", "tokens", "seq", "s2",
         "x", "|", "relu", "__class__", "eval", "import", "∞", "\x00", "\u202e",
         "ｃｏｎｖ")  # fmt: skip
PIPELINE = {
    "format": "cnn-explorer-augmentation",
    "version": 1,
    "steps": [
        {"type": "horizontal_flip"},
        {"type": "rotation", "min_degrees": -10, "max_degrees": 10},
        {"type": "random_crop", "size": 32},
    ],
}


def _png(width: int, height: int, body: bytes | None = None) -> bytes:
    """A PNG of `width`×`height` grey pixels (all zero, compressed), or with a raw `body`."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    if body is None:
        compressor = zlib.compressobj(9)
        row = b"\x00" + b"\x00" * width
        body = b"".join(compressor.compress(row) for _ in range(min(height, 4096)))
        body += compressor.flush()
    chunks = chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


def _mutate_stack(rng: random.Random, stack: str) -> str:
    tokens = stack.split(" ")
    for _ in range(rng.randint(1, 3)):
        move = rng.randrange(7)
        i = rng.randrange(len(tokens))
        if move == 0:
            numeric = [k for k, t in enumerate(tokens) if any(c.isdigit() for c in t)]
            tokens[rng.choice(numeric) if numeric else i] = rng.choice(NUMBERS)
        elif move == 1 and len(tokens) > 1:
            del tokens[i]
        elif move == 2:
            tokens.insert(i, rng.choice(WORDS))
        elif move == 3:
            layers = " ".join(tokens).split(" | ")
            k = rng.randrange(len(layers))
            layers[k:k] = [layers[k]] * rng.choice((2, 50, 3000))
            tokens = " | ".join(layers).split(" ")
        elif move == 4:
            tokens[i] = tokens[i] + rng.choice("x*×,;()[]{}'\"\\")
        elif move == 5:
            tokens[i] = "".join(rng.choice("0123456789x|") for _ in range(rng.randint(1, 30)))
        else:
            tokens = ["input", f"{rng.choice(NUMBERS)}", "tokens", "|", "embedding", "10", "2",
                      "|", rng.choice(("lstm", "gru")), "2", "|", "fc", "2"]  # fmt: skip
    return " ".join(tokens)


def _mutate_json(rng: random.Random, value: Any, depth: int = 0) -> Any:
    if isinstance(value, dict):
        out = {k: _mutate_json(rng, v, depth + 1) for k, v in value.items()}
        if rng.random() < 0.2:
            out[rng.choice(("type", "size", "exec", "__class__", "p"))] = rng.choice(
                (None, "x", -1, 1e308, [], {}, True))  # fmt: skip
        return out
    if isinstance(value, list):
        return [_mutate_json(rng, v, depth + 1) for v in value if rng.random() > 0.1]
    if isinstance(value, (int, float)) and not isinstance(value, bool) and rng.random() < 0.5:
        return rng.choice((0, -1, 10**30, 1e308, float("nan"), 2**63, 0.5, "7"))
    if isinstance(value, str) and rng.random() < 0.3:
        return rng.choice(("", "rotation ", "Rotation", "random_crop\x00", "x" * 10_000))
    return value


def cases(seed: int, n: int, folder: Path) -> list[tuple[str, list[str]]]:
    """`n` seeded cases: (kind, argv); files they name are written into `folder`."""
    rng = random.Random(seed)
    files: dict[str, bytes] = {
        "ok.png": _png(32, 32),
        "strip.png": _png(40_000_000, 1),
        "tall.png": _png(1, 40_000),
        "claims-huge.png": _png(60_000, 60_000, body=b"")[:200],
        "truncated.png": _png(64, 64)[:-30],
        "noise.png": bytes(rng.randrange(256) for _ in range(3000)),
        "empty.png": b"",
        "pdf.png": b"%PDF-1.7\n1 0 obj\n<< >>\nendobj\n",
        "weights.safetensors": b"\x08\x00\x00\x00\x00\x00\x00\x00{\"a\":1}",
        "weights.pt": b"PK\x03\x04" + bytes(200),
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    out: list[tuple[str, list[str]]] = []
    for k in range(n):
        kind = ("stack", "signature", "name", "pipeline", "image", "output")[k % 6]
        if kind == "stack":
            argv = ["summary", _mutate_stack(rng, rng.choice(STACKS))]
            if rng.random() < 0.3:
                argv += ["--format", "json"]
        elif kind == "signature":
            sig = rng.choice(SIGNATURES)
            parts = sig.split("x")
            parts[rng.randrange(len(parts))] = rng.choice(NUMBERS)
            target = rng.choice((*ARCHS, "input 32 tokens | embedding 10 2 | lstm 2 | fc 2"))
            argv = ["summary", target, "--input", "x".join(parts)]
        elif kind == "name":
            name = rng.choice((
                "".join(rng.choice("abcdefghijklmnopqrstuvwxyz_/.-:0123456789") for _ in
                        range(rng.randint(1, 40))),
                "x" * rng.choice((300, 10_000)), "../../etc/passwd", "timm/" + "a" * 500,
                "resnet18\x00", "ＲｅｓＮｅｔ18", "hf-hub:timm/resnet18.a1_in1k",
            ))  # fmt: skip
            argv = [rng.choice(("summary", "diagram", "weights")), name]
        elif kind == "pipeline":
            data = json.dumps(_mutate_json(rng, PIPELINE)) if rng.random() < 0.8 else (
                "[" * rng.choice((10, 5000, 60_000)) + "]" * 3)  # fmt: skip
            path = folder / f"pipeline{k}.json"
            path.write_text(data)
            argv = ["augment", str(folder / "ok.png"), "--pipeline", str(path), "--n", "2"]
        elif kind == "image":
            image = str(folder / rng.choice(sorted(files)))
            choice = rng.randrange(4)
            if choice == 0:
                argv = ["predict", "lenet5-digits", image]
            elif choice == 1:
                argv = ["predict", rng.choice(STACKS[:3] + STACKS[7:]), image, "--weights",
                        rng.choice(("random", str(folder / "weights.safetensors"),
                                    str(folder / "weights.pt")))]  # fmt: skip
            elif choice == 2:
                argv = ["activations", "lenet5-digits", image]
            else:
                argv = ["augment", image, "--preset", "alexnet", "--n", "2"]
        else:
            target = rng.choice((
                "/proc/version", "/proc/self/mem", str(folder), str(folder / ("n" * 300 + ".png")),
                str(folder / "missing" / "x.png"), str(folder / "ok.png") + "/x.png", "/dev/full",
            ))  # fmt: skip
            argv = rng.choice((
                ["diagram", "lenet5", "-o", target],
                ["augment", str(folder / "ok.png"), "--n", "1", "--out", target],
                ["app", "--address", rng.choice(("999.1.1.1", "::::", "x" * 300)), "--port", "1"],
            ))  # fmt: skip
        out.append((kind, argv))
    return out


# --------------------------------------------------------------------------- the worker


def _worker() -> None:
    """Read JSON argv lists from stdin, one per line; answer one JSON line each."""
    import contextlib
    import traceback

    from explorer import cli

    for line in sys.stdin:
        argv = json.loads(line)
        err, outp = io.StringIO(), io.StringIO()
        outcome, detail = "valid", ""
        try:
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(outp):
                code = cli.main(argv)
        except SystemExit as exc:  # argparse's own usage errors
            code = exc.code if isinstance(exc.code, int) else 2
        except BaseException as exc:
            code, outcome = -1, "traceback"
            detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()[:300]
        text = err.getvalue()
        if outcome != "traceback":
            if "Traceback" in text:
                outcome, detail = "traceback", text[-300:]
            elif code == 0:
                outcome = "valid"
            elif code == 2 and text.strip():
                outcome = "clean"
            else:
                outcome, detail = "traceback", f"exit {code}: {text[-300:]}"
        print(json.dumps({"outcome": outcome, "detail": detail}), flush=True)


class _Runner:
    def __init__(self, timeout: float, max_rss_mib: int) -> None:
        self.timeout, self.max_rss = timeout, max_rss_mib
        self.process: subprocess.Popen[str] | None = None

    def _start(self) -> subprocess.Popen[str]:
        if self.process is None or self.process.poll() is not None:
            self.process = subprocess.Popen(
                [sys.executable, __file__, "--worker"], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1,
                cwd=Path(__file__).resolve().parents[1],
            )  # fmt: skip
        return self.process

    def _rss_mib(self, pid: int) -> int:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) // 1024
        except OSError:
            pass
        return 0

    def run(self, argv: list[str]) -> tuple[str, str, float]:
        import selectors

        process = self._start()
        assert process.stdin is not None and process.stdout is not None
        start = time.monotonic()
        process.stdin.write(json.dumps(argv) + "\n")
        process.stdin.flush()
        selector = selectors.DefaultSelector()
        selector.register(process.stdout, selectors.EVENT_READ)
        peak = 0
        while True:
            if selector.select(0.1):
                line = process.stdout.readline()
                selector.close()
                if not line:
                    self.process = None
                    return "blow-up", "the worker died", time.monotonic() - start
                answer = json.loads(line)
                return answer["outcome"], answer["detail"], time.monotonic() - start
            peak = max(peak, self._rss_mib(process.pid))
            spent = time.monotonic() - start
            if spent > self.timeout or peak > self.max_rss:
                selector.close()
                process.kill()
                process.wait()
                self.process = None
                why = f"{spent:.0f} s" if spent > self.timeout else f"{peak:,} MiB"
                return "blow-up", why, spent

    def close(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=600)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per case")
    parser.add_argument("--max-rss", type=int, default=3072, help="MiB the worker may reach")
    parser.add_argument("--json", action="store_true", help="print one JSON summary line")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        _worker()
        return 0
    counts: Counter[str] = Counter()
    failures: list[dict[str, Any]] = []
    slowest = (0.0, "")
    runner = _Runner(args.timeout, args.max_rss)
    with tempfile.TemporaryDirectory(prefix="fuzz-") as folder:
        try:
            for kind, argv in cases(args.seed, args.cases, Path(folder)):
                outcome, detail, spent = runner.run(argv)
                counts[outcome] += 1
                shown = [a if len(a) <= 120 else a[:100] + f"…({len(a):,} chars)" for a in argv]
                slowest = max(slowest, (spent, " ".join(shown)))
                if outcome in ("traceback", "blow-up"):
                    failures.append({"kind": kind, "argv": shown, "outcome": outcome,
                                     "detail": detail})  # fmt: skip
        finally:
            runner.close()
    summary = {"cases": args.cases, "seed": args.seed, **{k: counts[k] for k in
               ("valid", "clean", "traceback", "blow-up")}, "slowest_s": round(slowest[0], 2),
               "failures": failures}  # fmt: skip
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"{args.cases} cases (seed {args.seed}): {counts['valid']} valid, "
              f"{counts['clean']} clean errors, {counts['traceback']} tracebacks, "
              f"{counts['blow-up']} blow-ups; slowest {slowest[0]:.1f} s: "
              f"{slowest[1][:160]}")  # fmt: skip
        for failure in failures:
            print(f"  {failure['outcome']}: {' '.join(failure['argv'])[:200]}\n"
                  f"    {failure['detail'][:300]}")  # fmt: skip
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
