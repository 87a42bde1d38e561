"""Work per page render: forward passes, name resolutions and graph builds, and the time of a
network switch and a depth change, on this checkout or another one (`--repo OLD_CHECKOUT`).

    python benchmarks/render_work.py                      # this checkout
    python benchmarks/render_work.py --repo /path/to/old  # the same pages on another checkout

Each page runs under Streamlit's AppTest in a fresh process. Calls are counted by a profile
hook on every thread (nothing is patched): `run_forward` (one meta forward pass),
`resolve` (a name or spec turned into an ArchSpec) and `build_graph` (a data-flow graph
replayed from a recording). Counts are for a cold render (first visit, nothing cached) and a
warm one (the same page again). Times are medians of 5 warm reruns on this machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, statistics, sys, threading, time
from collections import Counter
from streamlit.testing.v1 import AppTest

# function name -> the files (old layout, new layout) that define the one counted
WATCH = {
    "run_forward": ("explorer/forward_pass.py", "explorer/engine/forward_pass.py"),
    "resolve": ("explorer/architectures/__init__.py", "explorer/catalog/__init__.py"),
    "build_graph": ("explorer/graph.py", "explorer/graph/dataflow.py"),
}
counts = Counter()

def hook(frame, event, arg):
    if event == "call":
        code = frame.f_code
        files = WATCH.get(code.co_name)
        if files and code.co_filename.endswith(files):
            counts[code.co_name] += 1

def counted(fn):
    counts.clear()
    sys.setprofile(hook); threading.setprofile(hook)
    try:
        fn()
    finally:
        sys.setprofile(None); threading.setprofile(None)
    return dict(counts)

views = sys.argv[1]
out = {}

def arch_page(name):
    at = AppTest.from_file(f"{views}/architecture.py", default_timeout=300)
    at.query_params["arch"] = name
    return at

at = arch_page("resnet18")
out["architecture cold"] = counted(at.run)
assert not at.exception, at.exception
out["architecture warm"] = counted(at.run)
out["depth change"] = counted(lambda: (at.checkbox(key="arch_auto_depth").uncheck().run()))
assert not at.exception, at.exception

custom = AppTest.from_file(f"{views}/custom_network.py", default_timeout=300)
out["custom network cold"] = counted(custom.run)
assert not custom.exception, custom.exception
out["custom network warm"] = counted(custom.run)

for page in ("compare", "cost_lab"):
    other = AppTest.from_file(f"{views}/{page}.py", default_timeout=300)
    out[f"{page.replace('_', ' ')} cold"] = counted(other.run)
    assert not other.exception, other.exception
    out[f"{page.replace('_', ' ')} warm"] = counted(other.run)

def median_time(fn, n=5):
    times = []
    for _ in range(n):
        t0 = time.perf_counter(); fn(); times.append(time.perf_counter() - t0)
    return statistics.median(times)

# Warm network switch: both networks analysed once, then the box switches between them.
sw = arch_page("resnet18"); sw.run()
sw.selectbox(key="arch_name").set_value("resnet50").run()
sw.selectbox(key="arch_name").set_value("resnet18").run()
flip = iter(["resnet50", "resnet18"] * 10)
out["switch s"] = median_time(lambda: sw.selectbox(key="arch_name").set_value(next(flip)).run())
assert not sw.exception, sw.exception
dp = arch_page("resnet50"); dp.run(); dp.checkbox(key="arch_auto_depth").uncheck().run()
depths = iter([2, 3] * 10)
out["depth change s"] = median_time(
    lambda: [s for s in dp.slider if s.key and s.key.startswith("arch_diagram_depth")][0]
    .set_value(next(depths)).run()
)
assert not dp.exception, dp.exception
print(json.dumps(out))
"""


def run_child(repo: Path, child: str, *args: str) -> dict[str, object]:
    """`child` (Python source) run on checkout `repo` in a fresh process, with the views'
    folder and `args` as its arguments; its last line of output, read as JSON."""
    env = dict(os.environ, PYTHONPATH=str(repo))
    done = subprocess.run(
        [sys.executable, "-c", child, str(repo / "components" / "views"), *args],
        cwd=repo, env=env, capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    if done.returncode:
        raise SystemExit(f"{repo}: {done.stderr[-3000:]}")
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def measure(repo: Path) -> dict[str, object]:
    return run_child(repo, CHILD)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, action="append", default=[],
                        help="another checkout to measure beside this one (repeatable)")
    args = parser.parse_args()
    for repo in [ROOT, *args.repo]:
        result = measure(repo)
        print(f"== {repo}")
        for what, value in result.items():
            if isinstance(value, dict):
                shown = ", ".join(f"{k} {value.get(k, 0)}" for k in
                                  ("run_forward", "resolve", "build_graph"))
                print(f"  {what:22} {shown}")
            else:
                print(f"  {what:22} {value:.3f}")


if __name__ == "__main__":
    main()
