"""Server CPU per warm page run, page by page, on this checkout and another one.

    python benchmarks/warm_render.py                      # this checkout
    python benchmarks/warm_render.py --repo /path/to/old  # and another, with the ratios

Each checkout runs in a fresh process under Streamlit's AppTest with the server's settings
(magic off, no collection after a run). Every page a class opens (the classroom benchmark's
nine, at their defaults; Architecture with resnet50) is run once cold, then 15 times warm; the
median process CPU time of a warm run is printed in ms. A warm run is what 60 students opening
the same page cost the server after the first: the less it does, the sooner the last of them
has a page (benchmarks/classroom_load.py measures that end to end).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from render_work import run_child

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["architecture", "compare", "cost_lab", "custom_network", "augmentation", "predict",
         "ensemble", "transfer", "residual"]  # fmt: skip

CHILD = r"""
import json, statistics, sys, time
from streamlit import config
from streamlit.testing.v1 import AppTest

config.set_option("runner.magicEnabled", False)
config.set_option("runner.postScriptGC", False)
views, pages, runs = sys.argv[1], sys.argv[2].split(","), int(sys.argv[3])
out = {}
for page in pages:
    at = AppTest.from_file(f"{views}/{page}.py", default_timeout=600)
    if page == "architecture":
        at.query_params["arch"] = "resnet50"
    at.run()
    assert not at.exception, (page, at.exception)
    at.run()
    cpu = []
    for _ in range(runs):
        start = time.process_time()
        at.run()
        cpu.append(1000 * (time.process_time() - start))
    out[page] = statistics.median(cpu)
print(json.dumps(out))
"""


def measure(repo: Path, runs: int) -> dict[str, float]:
    result = run_child(repo, CHILD, ",".join(PAGES), str(runs))
    return {page: float(ms) for page, ms in result.items()}  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, help="another checkout to measure beside this one")
    parser.add_argument("--runs", type=int, default=15, help="warm runs per page (median)")
    args = parser.parse_args()
    here = measure(ROOT, args.runs)
    other = measure(args.repo, args.runs) if args.repo else None
    head = f"{'page':16} {'this':>8}" + (f" {'other':>8} {'other/this':>11}" if other else "")
    print("server CPU per warm page run, ms (median)")
    print(head)
    for page in [*PAGES, "total"]:
        mine = sum(here.values()) if page == "total" else here[page]
        line = f"{page:16} {mine:8.1f}"
        if other:
            theirs = sum(other.values()) if page == "total" else other[page]
            line += f" {theirs:8.1f} {theirs / mine:10.1f}×"
        print(line)


if __name__ == "__main__":
    main()
