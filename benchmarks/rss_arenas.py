"""Server memory per round, per page: glibc's default malloc arenas against the server's cap.

Why components/server.py caps glibc's malloc arenas (`SERVER_MALLOC_ARENAS`). Streamlit runs each
script run in a new thread; glibc hands threads their own arenas, up to 8 per core. Tensors
freed in many arenas leave them fragmented, and the server's RSS climbs round after round.
For each page (default: every page) this starts a fresh server twice, as `explorer app` does:
once with glibc's default (MALLOC_ARENA_MAX = 8 × cores, which the server leaves alone) and
once with the server's cap. `--sessions` tabs open the page at once, `--rounds` times (closed
tabs' sessions expire after 3 s here, so each round starts from what the server keeps), and
the server's RSS after each round is printed. A forward-pass timing shows what each setting
(and the other candidate, a fixed low mmap threshold) costs in speed.

    .venv/bin/python benchmarks/rss_arenas.py [--pages ensemble,predict] [--sessions 20]
                                               [--rounds 6]

Loopback only, one server at a time, stopped at the end. CPU-heavy: on a shared machine the
timings are noisy; compare the columns of one run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time

import classroom_load as cl

from components import server as serve

SPEED = """
import threading, time, torch, torchvision
torch.set_num_threads(1)  # this benchmark's own process
model, x = torchvision.models.resnet50().eval(), torch.randn(1, 3, 224, 224)
def forwards():
    with torch.no_grad():
        for _ in range(5):
            model(x)
forwards()
best = (float("inf"), float("inf"))
for _ in range(3):
    start, cpu = time.perf_counter(), time.process_time()
    threads = [threading.Thread(target=forwards) for _ in range(2)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    best = min(best, (time.perf_counter() - start, time.process_time() - cpu))
print(*best)
"""


def settings() -> dict[str, dict[str, str]]:
    default = str(8 * (os.cpu_count() or 1))
    return {
        f"glibc default ({default} arenas)": {"MALLOC_ARENA_MAX": default},
        f"server cap ({serve.SERVER_MALLOC_ARENAS} arenas)": {},
    }


def page_rounds(page: str, sessions: int, rounds: int, env: dict[str, str]) -> list[float]:
    """RSS (MiB) after start-up and one tab, then after each round of `sessions` tabs."""
    query = dict(cl.PAGES)[page]
    tabs = [(page, query.format(arch=cl.ARCHITECTURES[i % 4]), False) for i in range(sessions)]
    port = cl.free_port()
    base = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    server = cl.start_server(
        port, {**base, "STREAMLIT_SERVER_DISCONNECTED_SESSION_TTL": "3", **env}
    )
    try:
        if not cl.wait_healthy(server, port):
            raise SystemExit("error: the server did not start")
        asyncio.run(cl.one_round(port, tabs[:1], 600))
        out = [cl.rss_mib(server.pid)]
        for _ in range(rounds):
            results = asyncio.run(cl.one_round(port, tabs, 600))
            bad = [r.errors for r in results if r.errors]
            if bad:
                print(f"  errors on {page}: {bad[:2]}")
            time.sleep(6)  # the round's tabs' sessions expire (TTL 3 s)
            out.append(cl.rss_mib(server.pid))
        return out
    finally:
        server.terminate()
        server.wait(timeout=60)


def forward_seconds(env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds (CPU counts the page faults of freshly mapped memory)."""
    base = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    out = subprocess.run(
        [sys.executable, "-c", SPEED], env={**base, **env}, capture_output=True, text=True
    )
    wall, cpu = out.stdout.split()
    return float(wall), float(cpu)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--pages", default=",".join(p for p, _ in cl.PAGES), help="comma-separated; '' for none"
    )
    parser.add_argument("--sessions", type=int, default=20, choices=range(1, 61))
    parser.add_argument("--rounds", type=int, default=6, choices=range(2, 11))
    args = parser.parse_args()
    pages = [p.strip() for p in args.pages.split(",") if p.strip()]
    unknown = sorted(set(pages) - {p for p, _ in cl.PAGES})
    if unknown:
        parser.error(f"unknown pages: {', '.join(unknown)}")
    print(
        f"{args.sessions} tabs per round, {args.rounds} rounds; server RSS in MiB after "
        "start-up + 1 tab, then after each round"
    )
    for page in pages:
        for name, env in settings().items():
            rss = page_rounds(page, args.sessions, args.rounds, env)
            first, last = rss[1], rss[-1]
            print(
                f"{page:15s} {name:26s} {' '.join(f'{v:5.0f}' for v in rss)}   "
                f"last round {100 * (last / first - 1):+5.1f}% of round 1, "
                f"max {100 * (max(rss[1:]) / first - 1):+5.1f}%",
                flush=True,
            )
    default, _ = settings().values()
    candidates = {
        "glibc default": default,
        f"{serve.SERVER_MALLOC_ARENAS} arenas": {
            "MALLOC_ARENA_MAX": str(serve.SERVER_MALLOC_ARENAS)
        },
        "fixed 64 KiB mmap threshold": {"MALLOC_MMAP_THRESHOLD_": "65536"},
    }
    print("resnet50, 2 threads × 5 forwards of 1×3×224×224 (1 torch thread each), best of 3:")
    for name, env in candidates.items():
        wall, cpu = forward_seconds(env)
        print(f"  {name:28s} wall {wall:.2f} s, CPU {cpu:.2f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
