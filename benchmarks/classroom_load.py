"""A classroom on one server: N concurrent sessions (default 60) spread over every page.

Starts the server as `explorer app` does (`python -m components.server run components/asgi.py`:
imports warmed first, malloc arenas capped) on 127.0.0.1 (a free port) and opens N sessions at
once over Streamlit's own websocket protocol (what a browser tab does: one session per
connection, the page chosen by its URL name, the Architecture pages with `?arch=NAME`). The
sessions are spread over every page; on the residual page they press "Run the experiment"
with the default settings (identical requests: the server should train once and share it).

`--rounds` rounds (default 4) of the same pages, `--pause` seconds apart (default 130:
Streamlit keeps a closed tab's session for server.disconnectedSessionTTL = 120 s, so without
the pause round 2's sessions sit next to round 1's; with `--reconnect` later rounds' tabs
rejoin round 1's sessions instead). Reports:
- errors (exceptions, st.error, unfinished pages, dropped connections): must be 0;
- time to a usable page (the page's script finished), median and p95, per round and per page;
- the residual run's time (click to result) while the other sessions are active, and how many
  distinct runs the identical requests got;
- the server processes' CPU time in every round (user + system, job workers not included);
- server RSS after every round (bounded: every later round ≤ round 1 + 10%) and its change
  from round to round (levelling off: the last change is small), and the job workers' RSS.

    .venv/bin/python benchmarks/classroom_load.py [--sessions 60] [--rounds 4] [--timeout 900]

Loopback only; bounded in sessions (≤ 60), rounds (≤ 8) and time; the server is stopped at the
end. Heavy: on a shared machine the timings are noisy, the ratios are what matter.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import itertools
import os
import re
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import websockets
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from components.warmup import rerun_message as _rerun

ROOT = Path(__file__).resolve().parents[1]
ARCHITECTURES = [
    "lenet5", "alexnet", "vgg16", "resnet18", "resnet50", "resnet152", "googlenet",
    "inception_v3", "densenet121", "mobilenet_v3_large", "efficientnet_b0", "convnext_tiny",
]  # fmt: skip
# (page url name, query string): every page of components/app.py; the first is the default.
PAGES = [
    ("architecture", "arch={arch}"),
    ("compare", ""),
    ("cost_lab", ""),
    ("custom_network", ""),
    ("augmentation", ""),
    ("predict", ""),
    ("ensemble", ""),
    ("transfer", ""),
    ("residual", ""),
]
RESIDUAL_CLICKERS = 5  # sessions that press Run with identical settings
OK_SCRIPT = 0  # ForwardMsg.script_finished: FINISHED_SUCCESSFULLY


@dataclass
class Result:
    page: str
    label: str
    usable_s: float = float("nan")
    ok: bool = True
    errors: list[str] = field(default_factory=list)
    residual_s: float | None = None
    trained: str = ""
    session_id: str = ""
    server: str = ""  # the app process behind a proxy (its X-Explorer-Server header)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mib(pid: int) -> float:
    """Resident memory of a process (Linux /proc)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used (Linux /proc/PID/stat, clock ticks)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int, deep: bool = True) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids = [int(k) for k in (task / "children").read_text().split()]
        except OSError:
            continue
        for kid in kids:
            out += [kid, *(children(kid) if deep else [])]
    return out


def servers_of(pid: int, processes: int) -> list[int]:
    """The app server processes: the one started, or the supervisor's servers and proxy."""
    return [pid] if processes <= 1 else children(pid, deep=False)


async def _until_finished(ws: websockets.ClientConnection, result: Result) -> dict[str, str]:
    """Read one script run to its end: collect errors, button ids, success texts."""
    found: dict[str, str] = {}
    while True:
        data = await ws.recv()
        fwd = ForwardMsg()
        fwd.ParseFromString(data if isinstance(data, bytes) else data.encode())
        kind = fwd.WhichOneof("type")
        if kind == "new_session":
            found["session_id"] = fwd.new_session.initialize.session_id
        if kind == "delta" and fwd.delta.WhichOneof("type") == "new_element":
            element = fwd.delta.new_element
            which = element.WhichOneof("type")
            if which == "exception":
                result.errors.append(f"exception: {element.exception.message[:160]}")
            elif which == "alert" and element.alert.format == 1:  # ERROR
                result.errors.append(f"st.error: {element.alert.body[:160]}")
            elif which == "alert" and element.alert.format == 4:  # SUCCESS
                if element.alert.body.startswith(("Trained", "Already trained")):
                    found["success"] = element.alert.body
            elif which == "button" and "residual_run" in element.button.id:
                found["run_button"] = element.button.id
        elif kind == "script_finished":
            if fwd.script_finished != OK_SCRIPT:
                result.errors.append(f"script finished with status {fwd.script_finished}")
            return found


async def session(
    port: int, page: str, query: str, click: bool, timeout: float, session_id: str = ""
) -> Result:
    """One browser tab: open `page`, wait until usable; on the residual page optionally press
    Run and wait for the trained result. With `session_id`, the tab reconnects to its session
    (as a browser tab does after its connection dropped)."""
    result = Result(page, f"{page}?{query}" if query else page)
    start = time.perf_counter()
    try:
        async with connect(port, timeout, session_id) as ws:
            if ws.response is not None:
                result.server = ws.response.headers.get("X-Explorer-Server", "")
            async with asyncio.timeout(timeout):
                await ws.send(_rerun(query, page))
                found = await _until_finished(ws, result)
                result.usable_s = time.perf_counter() - start
                result.session_id = found.get("session_id", session_id)
                if click and "run_button" in found:
                    clicked = time.perf_counter()
                    await ws.send(_rerun(query, page, ((found["run_button"], True),)))
                    after = await _until_finished(ws, result)
                    result.residual_s = time.perf_counter() - clicked
                    result.trained = after.get("success", "")
                    if not result.trained:
                        result.errors.append("the residual run ended without its result")
                elif click:
                    result.errors.append("no Run button on the residual page")
    except (OSError, TimeoutError, websockets.WebSocketException) as exc:
        result.errors.append(f"{type(exc).__name__}: {exc}")
    result.ok = not result.errors
    return result


def connect(port: int, timeout: float = 10.0, session_id: str = "") -> Any:
    """A browser tab's websocket to the server on 127.0.0.1:`port`: a new session, or with
    `session_id` the tab rejoining its session (Streamlit reads the subprotocol, an XSRF token
    and the session id from one header)."""
    protocols = ["streamlit", *(["xsrf", session_id] if session_id else [])]
    return websockets.connect(
        f"ws://127.0.0.1:{port}/_stcore/stream",
        subprotocols=[websockets.Subprotocol(p) for p in protocols],
        origin=websockets.Origin(f"http://127.0.0.1:{port}"),
        max_size=64 * 2**20,
        open_timeout=timeout,
    )


def plan(n: int, clicking: int = RESIDUAL_CLICKERS) -> list[tuple[str, str, bool]]:
    """n sessions spread round-robin over every page; the first `clicking` residual ones press
    Run."""
    out, clickers = [], 0
    for i in range(n):
        page, query = PAGES[i % len(PAGES)]
        click = page == "residual" and clickers < clicking
        clickers += click
        out.append((page, query.format(arch=ARCHITECTURES[i % len(ARCHITECTURES)]), click))
    return out


async def one_round(
    port: int, sessions: list[tuple[str, str, bool]], timeout: float, ids: list[str] | None = None
) -> list[Result]:
    ids = ids or [""] * len(sessions)
    return list(
        await asyncio.gather(
            *(session(port, p, q, c, timeout, sid) for (p, q, c), sid in zip(sessions, ids))
        )
    )


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)]


def report(name: str, results: list[Result], wall: float) -> None:
    times = [r.usable_s for r in results if r.ok]
    bad = [r for r in results if not r.ok]
    print(f"{name}: {len(results)} sessions in {wall:.1f} s wall, errors {len(bad)}")
    if times:
        print(
            f"  time to a usable page: median {statistics.median(times):.2f} s, "
            f"p95 {p95(times):.2f} s, max {max(times):.2f} s"
        )
    by_page: dict[str, list[float]] = {}
    for r in results:
        if r.ok:
            by_page.setdefault(r.page, []).append(r.usable_s)
    print(
        "  per page (median s): "
        + ", ".join(f"{page} {statistics.median(v):.1f}" for page, v in by_page.items())
    )
    servers = collections.Counter(r.server for r in results if r.server)
    if servers:
        split = ", ".join(f"{k} {v}" for k, v in sorted(servers.items()))
        print(f"  tabs per app process: {split}")
    runs = [r for r in results if r.residual_s is not None]
    if runs:
        texts = {re.sub(r"\s+", " ", r.trained) for r in runs}
        print(
            f"  residual run (click to result, {len(runs)} identical requests): "
            f"median {statistics.median(r.residual_s or 0 for r in runs):.1f} s, "
            f"max {max(r.residual_s or 0 for r in runs):.1f} s; distinct results shown: "
            f"{len(texts)}: {sorted(texts)[:2]}"
        )
    for r in bad[:12]:
        print(f"  {r.label}: {'; '.join(r.errors)[:300]}")


def start_server(
    port: int, env: dict[str, str] | None = None, processes: int = 1
) -> subprocess.Popen[bytes]:
    """The server as `explorer app` starts it (explorer/cli/commands/app.py); with
    `processes` > 1, `explorer app --processes N` (N servers behind haproxy)."""
    if processes > 1:
        return subprocess.Popen(
            [sys.executable, "-m", "explorer.cli", "app", "--processes", str(processes),
             "--port", str(port)],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
        )  # fmt: skip
    return subprocess.Popen(
        [sys.executable, "-m", "components.server", "run", "components/asgi.py",
         "--server.address", "127.0.0.1", "--server.port", str(port),
         "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )  # fmt: skip


def stop_server(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def wait_healthy(server: subprocess.Popen[bytes], port: int) -> bool:
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2):
                return True
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                return False
            time.sleep(0.3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=60, help="concurrent sessions (≤ 60)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per session")
    parser.add_argument(
        "--pause",
        type=float,
        default=130,
        help="seconds between the rounds (default 130: round 1's closed sessions outlive "
        "their tabs by server.disconnectedSessionTTL, 120 s; after it, what is left is what "
        "the server keeps for good)",
    )
    parser.add_argument("--rounds", type=int, default=4, choices=range(2, 9))
    parser.add_argument(
        "--reconnect",
        action="store_true",
        help="round 2 reconnects to round 1's sessions instead of opening new ones",
    )
    parser.add_argument(
        "--clickers",
        type=int,
        default=RESIDUAL_CLICKERS,
        help=f"residual sessions that press Run (default {RESIDUAL_CLICKERS}; 0: pages only)",
    )
    parser.add_argument(
        "--page-runs",
        type=int,
        default=None,
        help="the server's EXPLORER_PAGE_RUNS (page runs at once; 0: no limit; default: the "
        "server's own, one per core)",
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="app servers behind haproxy (explorer app --processes N; default 1: no proxy)",
    )
    args = parser.parse_args()
    n = max(1, min(args.sessions, 60))
    sessions = plan(n, max(0, args.clickers))

    port = free_port()
    env = None
    if args.page_runs is not None:
        env = {**os.environ, "EXPLORER_PAGE_RUNS": str(max(0, args.page_runs))}
    server = start_server(port, env, args.processes)
    try:
        if not wait_healthy(server, port):
            print("error: the server did not start", file=sys.stderr)
            return 1
        t0 = time.perf_counter()
        warm = asyncio.run(one_round(port, [("architecture", "arch=lenet5", False)], args.timeout))
        print(f"first page after start-up: {time.perf_counter() - t0:.2f} s")
        before = sum(rss_mib(p) for p in servers_of(server.pid, args.processes))
        print(
            f"{n} sessions over {len(PAGES)} pages; server RSS after start-up and one session: "
            f"{before:.0f} MiB"
        )
        rss: list[float] = []
        everything = list(warm)
        ids: list[str] | None = None
        for round_no in range(1, args.rounds + 1):
            t0 = time.perf_counter()
            servers = servers_of(server.pid, args.processes)
            cpu0 = sum(cpu_seconds(p) for p in servers)
            results = asyncio.run(one_round(port, sessions, args.timeout, ids))
            cpu = sum(cpu_seconds(p) for p in servers) - cpu0
            ids = [r.session_id for r in results] if args.reconnect else None
            report(f"round {round_no}", results, time.perf_counter() - t0)
            everything += results
            servers = servers_of(server.pid, args.processes)
            rss.append(sum(rss_mib(p) for p in servers))
            workers = ", ".join(
                f"{rss_mib(p):.0f}" for s in servers for p in children(s)
            )
            print(
                f"  server CPU in round {round_no}: {cpu:.1f} s; server RSS after it: "
                f"{rss[-1]:.0f} MiB; job worker processes: {workers} MiB"
            )
            if round_no < args.rounds and args.pause > 0:
                print(f"  (pausing {args.pause:.0f} s: closed tabs' sessions expire)")
                time.sleep(args.pause)
        bounded = all(later <= rss[0] * 1.10 for later in rss[1:])
        rounds = ", ".join(f"round {i} {v:.0f} MiB" for i, v in enumerate(rss, 1))
        print(
            f"server RSS: {rounds} (round 2 {100 * (rss[1] / rss[0] - 1):+.1f}% of round 1; "
            f"every later round within +10% of round 1: {bounded})"
        )
        steps = ", ".join(f"{b - a:+.0f}" for a, b in itertools.pairwise(rss))
        print(f"server RSS change from round to round: {steps} MiB")
        errors = sum(not r.ok for r in everything)
        print(f"errors in all rounds: {errors}")
        return 0 if errors == 0 and bounded else 1
    finally:
        stop_server(server)


if __name__ == "__main__":
    sys.exit(main())
