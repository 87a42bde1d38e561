"""Trace the WHOLE timm catalog on the meta device: how many trace, how long, why others fail.

Every `timm/<name>` in the catalog is traced once at its pretrained config's input size, in
this process (as the app would, meta models built on demand). Prints the count traced, the
total and per-model median time, the slowest models, the failures grouped by reason (each a
clear ExplorerError, or counted as a bug when it is not), and how our totals compare with
timm's published parameter counts and GMACs.

    python benchmarks/timm_catalog.py [--limit N] [--filter WORDS] [--threads 1] [--processes 2]

On a shared machine wall time depends on the load: CPU seconds (process time, summed over
worker processes) are printed beside it, and are what the 60-second target compares with.
"""

from __future__ import annotations

import argparse
import collections
import json
import multiprocessing
import re
import statistics
import sys
import time
import warnings


def reason_of(message: str) -> str:
    """A short failure class from an error message (for grouping, not for users)."""
    m = message.lower()
    for needle, reason in (
        ("data-dependent", "data-dependent operation (a value read from a tensor)"),
        (".item()", "data-dependent operation (a value read from a tensor)"),
        ("nonzero", "data-dependent operation (a value read from a tensor)"),
        ("torchscript", "TorchScript"),
        ("custom kernel", "custom kernel"),
        ("too small", "input too small"),
        ("budget", "over a budget"),
        ("cannot run on input", "input size refused by a layer"),
    ):
        if needle in m:
            return reason
    return re.sub(r"'[^']*'", "'…'", message.splitlines()[0])[:100]


_settled = False


def trace_all(names: list[str], threads: int, progress: bool, exact: bool = False) -> dict:
    """Trace each name once; per-name time, failures (clear errors / bugs), published check.
    With `exact`, each is traced again on PyTorch's own meta kernels (fast paths off) and any
    difference is listed (the time of that second trace is not counted)."""
    warnings.filterwarnings("ignore")

    import timm  # noqa: F401  (imported before the clock, as torch is)
    import torch

    import explorer
    from explorer.analysis.meta_models import borrowed_meta_model
    from explorer.catalog.timm_models import fvcore_macs
    from explorer.core.gc_settings import settle_after_imports
    from explorer.engine.counting import FAST_PATHS

    torch.set_num_threads(threads)  # a benchmark process of its own, never the app
    explorer.names()  # load the catalog before timing
    global _settled
    if not _settled:  # once per process, as the CLI and the app do after their imports
        settle_after_imports()
        _settled = True
    out: dict = {"times": {}, "cpu": 0.0, "failures": {}, "bugs": [], "published": {}, "off": []}
    out["differ"] = []  # --exact: models whose trace changes without the fast paths
    exact_cpu = 0.0
    out["build_cpu"] = 0.0  # building the meta model (cached, so the trace below reuses it)
    published: collections.Counter = collections.Counter()
    cpu0 = time.process_time()
    for k, name in enumerate(names):
        t = time.perf_counter()
        try:
            b = time.process_time()
            with borrowed_meta_model(name):
                pass
            out["build_cpu"] += time.process_time() - b
            tr = explorer.trace(name)
        except explorer.ExplorerError as e:
            out["failures"].setdefault(reason_of(str(e)), []).append(name)
            continue
        except Exception as e:  # a traceback would reach the user: count it as a bug
            out["bugs"].append(f"{name}: {type(e).__name__}: {str(e).splitlines()[0][:120]}")
            continue
        finally:
            out["times"][name] = time.perf_counter() - t
            if progress and (k + 1) % 100 == 0:
                print(f"  … {k + 1}/{len(names)}", file=sys.stderr, flush=True)
        if exact:
            e = time.process_time()
            token = FAST_PATHS.set(False)
            try:
                if explorer.trace(name) != tr:
                    out["differ"].append(name)
            finally:
                FAST_PATHS.reset(token)
                exact_cpu += time.process_time() - e
        pub = explorer.get(name).published
        if pub is None or pub.params is None or pub.macs is None:
            published["no published figure at this size"] += 1
            continue
        ok = abs(tr.total_params - pub.params) <= pub.params_tolerance
        published["params ✓" if ok else "params Δ"] += 1
        if abs(tr.total_macs - pub.macs) <= pub.macs_tolerance:
            published["MACs ✓ as published"] += 1
        elif abs(fvcore_macs(tr) - pub.macs) <= pub.macs_tolerance:
            published["MACs ✓ once fvcore's extra counts are added"] += 1
        else:
            published["MACs Δ"] += 1
            out["off"].append(
                f"{name}: ours {tr.total_macs / 1e9:.3f} G, fvcore-style "
                f"{fvcore_macs(tr) / 1e9:.3f} G, published {pub.macs / 1e9:.2f} G"
            )
    out["cpu"] = time.process_time() - cpu0 - exact_cpu
    out["published"] = dict(published)
    return out


def _worker(args: tuple[list[str], int, bool]) -> dict:
    return trace_all(args[0], args[1], progress=False, exact=args[2])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=0, help="only the first N timm models")
    parser.add_argument("--filter", default="", help="only names matching these words")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--processes", type=int, default=1, help="worker processes (cores)")
    parser.add_argument("--json", help="also write the raw results to this file")
    parser.add_argument(
        "--exact", action="store_true", help="also check that the fast paths change no trace"
    )
    args = parser.parse_args()
    warnings.filterwarnings("ignore")

    t_import = time.perf_counter()
    import timm  # noqa: F401
    import torch  # noqa: F401

    import explorer
    from explorer.catalog import search

    names = [n for n in explorer.names() if n.startswith("timm/")]
    if args.filter:
        names = search(args.filter, names)
    if args.limit:
        names = names[: args.limit]
    print(f"{len(names)} timm models; imports + catalog {time.perf_counter() - t_import:.1f} s")

    t_all = time.perf_counter()
    if args.processes > 1:
        # Forked after the imports above (no thread pool has started yet), so the workers'
        # clock starts, like the single process's, with torch, timm and explorer imported.
        # Handed out 24 models at a time, so a worker that drew slow models does not finish
        # long after the other.
        chunks = [(names[i : i + 24], args.threads, args.exact) for i in range(0, len(names), 24)]
        with multiprocessing.get_context("fork").Pool(args.processes) as pool:
            parts = list(pool.imap_unordered(_worker, chunks))
    else:
        parts = [trace_all(names, args.threads, progress=True, exact=args.exact)]
    total = time.perf_counter() - t_all
    times = {k: v for p in parts for k, v in p["times"].items()}
    failures: dict[str, list[str]] = collections.defaultdict(list)
    for p in parts:
        for reason, group in p["failures"].items():
            failures[reason] += group
    bugs = [b for p in parts for b in p["bugs"]]
    off = [o for p in parts for o in p["off"]]
    published: collections.Counter = collections.Counter()
    for p in parts:
        published.update(p["published"])
    cpu = sum(p["cpu"] for p in parts)
    build_cpu = sum(p["build_cpu"] for p in parts)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "times": times,
                    "failures": failures,
                    "bugs": bugs,
                    "off": off,
                    "published": published,
                    "wall": total,
                    "cpu": cpu,
                    "build_cpu": build_cpu,
                },
                f,
                indent=1,
            )

    traced = len(names) - sum(len(v) for v in failures.values()) - len(bugs)
    print(
        f"\ntraced {traced}/{len(names)} ({100 * traced / max(len(names), 1):.1f}%): "
        f"{total:.1f} s wall with {args.processes} process(es), {cpu:.1f} CPU-seconds; "
        f"median {1000 * statistics.median(times.values()):.0f} ms/model (wall)"
    )
    print(
        f"  building the meta models {build_cpu:.1f} CPU-s "
        f"({100 * build_cpu / max(cpu, 1e-9):.0f}%), "
        f"tracing them {cpu - build_cpu:.1f} CPU-s"
    )
    ranked = sorted(times.values(), reverse=True)
    share = sum(ranked[:10]) / max(sum(ranked), 1e-9)
    print(f"  the 10 slowest models take {100 * share:.1f}% of the per-model time")
    for name, t in sorted(times.items(), key=lambda kv: -kv[1])[:8]:
        print(f"  slowest: {name:<45} {t:6.2f} s")
    print(f"\nfailures with a clear error ({sum(len(v) for v in failures.values())}):")
    for reason, group in sorted(failures.items(), key=lambda kv: -len(kv[1])):
        more = " …" if len(group) > 6 else ""
        print(f"  {len(group):4d}  {reason}: {', '.join(group[:6])}{more}")
    if args.exact:
        differ = [d for p in parts for d in p["differ"]]
        print(f"\ntraces that change without the fast paths ({len(differ)}): {differ[:20]}")
    print(f"\ntracebacks (bugs: should be clear errors) ({len(bugs)}):")
    for line in bugs[:40]:
        print("  " + line)
    print("\npublished figures (timm's benchmark table):")
    for key, count in sorted(published.items()):
        print(f"  {count:4d}  {key}")
    for line in off[:30]:
        print("  Δ " + line)


if __name__ == "__main__":
    main()
