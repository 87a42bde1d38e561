"""A classroom opens the app at once: N concurrent sessions on the Architecture page.

Starts `streamlit run components/app.py` on 127.0.0.1 (a free port), then opens N sessions
at the same moment over Streamlit's own websocket protocol (what a browser tab does: one
session per connection, the page's script run with `?arch=NAME`), each on a different
architecture. Two waves: cold (every trace computed) and warm (the same sessions again: served
from the caches). Prints errors, latency per page run, and the server's memory before/after.

    .venv/bin/python benchmarks/classroom_load.py [--sessions 30] [--timeout 600]

Loopback only; bounded in sessions and time; the server is stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

ROOT = Path(__file__).resolve().parents[1]
# Thirty different classroom networks (catalog names), cheap and expensive mixed.
ARCHITECTURES = [
    "lenet5", "alexnet", "vgg11", "vgg13", "vgg16", "vgg19", "resnet18", "resnet34",
    "resnet50", "resnet101", "resnet152", "googlenet", "inception_v3", "densenet121",
    "densenet169", "densenet201", "squeezenet1_0", "squeezenet1_1", "mobilenet_v2",
    "mobilenet_v3_small", "mobilenet_v3_large", "shufflenet_v2_x1_0", "mnasnet1_0",
    "efficientnet_b0", "efficientnet_b3", "regnet_y_400mf", "resnext50_32x4d",
    "wide_resnet50_2", "convnext_tiny", "vgg16_bn",
]  # fmt: skip


@dataclass
class Result:
    arch: str
    seconds: float
    ok: bool
    detail: str = ""
    bytes_received: int = 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mib(pid: int) -> float:
    """Resident memory of the server process (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def session(port: int, arch: str, timeout: float) -> Result:
    """One browser tab: connect, run the Architecture page for `arch`, wait for the end."""
    start = time.perf_counter()
    received = 0
    errors: list[str] = []
    shown_params = shown_diagram = False
    try:
        async with websockets.connect(
            f"ws://127.0.0.1:{port}/_stcore/stream",
            subprotocols=[websockets.Subprotocol("streamlit")],
            origin=websockets.Origin(f"http://127.0.0.1:{port}"),
            max_size=64 * 2**20,
            open_timeout=timeout,
        ) as ws:
            msg = BackMsg()
            msg.rerun_script.query_string = f"arch={arch}"
            msg.rerun_script.page_script_hash = ""
            await ws.send(msg.SerializeToString())
            async with asyncio.timeout(timeout):
                while True:
                    data = await ws.recv()
                    received += len(data)
                    fwd = ForwardMsg()
                    fwd.ParseFromString(data if isinstance(data, bytes) else data.encode())
                    kind = fwd.WhichOneof("type")
                    if kind == "delta" and fwd.delta.WhichOneof("type") == "new_element":
                        element = fwd.delta.new_element
                        which = element.WhichOneof("type")
                        if which == "exception":
                            errors.append(f"exception: {element.exception.message}")
                        elif which == "alert" and element.alert.format == 1:  # ERROR
                            errors.append(f"st.error: {element.alert.body[:120]}")
                        elif which == "metric" and element.metric.label == "Parameters":
                            shown_params = True
                        elif which == "graphviz_chart":
                            shown_diagram = True
                    elif kind == "script_finished":
                        # 0 = FINISHED_SUCCESSFULLY; rerun/fragment variants are not expected
                        if fwd.script_finished != 0:
                            errors.append(f"script finished with status {fwd.script_finished}")
                        if not (shown_params and shown_diagram):
                            errors.append("the page ended without its metrics and diagram")
                        break
    except (OSError, TimeoutError, websockets.WebSocketException) as exc:
        errors.append(f"{type(exc).__name__}: {exc}")
    elapsed = time.perf_counter() - start
    return Result(arch, elapsed, not errors, "; ".join(errors), received)


async def wave(port: int, archs: list[str], timeout: float) -> list[Result]:
    return list(await asyncio.gather(*(session(port, a, timeout) for a in archs)))


def report(name: str, results: list[Result], wall: float) -> None:
    times = sorted(r.seconds for r in results)
    bad = [r for r in results if not r.ok]
    p95 = times[max(0, round(0.95 * len(times)) - 1)]
    print(
        f"{name}: {len(results)} sessions in {wall:.1f} s wall, errors {len(bad)}; page run "
        f"latency median {statistics.median(times):.2f} s, p95 {p95:.2f} s, max {times[-1]:.2f} s; "
        f"{sum(r.bytes_received for r in results) / 2**20:.1f} MiB sent to clients"
    )
    for r in bad:
        print(f"  {r.arch}: {r.detail}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=30, help="concurrent sessions (≤ 60)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per wave")
    args = parser.parse_args()
    n = max(1, min(args.sessions, 60))
    archs = [ARCHITECTURES[i % len(ARCHITECTURES)] for i in range(n)]

    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "components/app.py",
            "--server.address",
            "127.0.0.1",
            "--server.port",
            str(port),
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    print("error: the server did not start", file=sys.stderr)
                    return 1
                time.sleep(0.3)
        # One warm-up session so "before" includes torch, torchvision and the catalog.
        asyncio.run(wave(port, ["lenet5"], args.timeout))
        before = rss_mib(server.pid)
        print(f"server RSS after start-up and one session: {before:.0f} MiB")

        t0 = time.perf_counter()
        cold = asyncio.run(wave(port, archs, args.timeout))
        report("cold (every trace computed)", cold, time.perf_counter() - t0)
        after_cold = rss_mib(server.pid)
        t0 = time.perf_counter()
        warm = asyncio.run(wave(port, archs, args.timeout))
        report("warm (same sessions again, cached)", warm, time.perf_counter() - t0)
        after = rss_mib(server.pid)
        # One tab alone (cached): what a student waits for after the first visit.
        alone = [
            asyncio.run(session(port, a, args.timeout))
            for a in ("resnet152", "densenet201", "vgg16", "googlenet", "resnet152")
        ]
        print(
            "one session at a time, cached: "
            + ", ".join(f"{r.arch} {r.seconds:.2f} s" for r in alone)
            + ("" if all(r.ok for r in alone) else " (errors!)")
        )
        print(
            f"server RSS: before {before:.0f} MiB, after cold wave {after_cold:.0f} MiB, "
            f"after warm wave {after:.0f} MiB (+{after - before:.0f} MiB for {n} sessions, "
            f"{(after - before) / n:.1f} MiB per session)"
        )
        return 0 if all(r.ok for r in cold + warm + alone) else 1
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


if __name__ == "__main__":
    sys.exit(main())
