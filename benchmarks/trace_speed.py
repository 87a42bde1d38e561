"""explorer.analysis.trace against torchvision get_model + torchinfo.summary, as a user runs each.

Method (printed with the table):
- Every measurement runs in a fresh Python process. Imports (torch, torchvision, torchinfo,
  explorer's tracer and its catalog) happen before the clock starts, and the garbage collector's
  start-up settings (explorer.core.gc_settings) follow them, as the `explorer` CLI and the app do.
  Two torch threads (this machine has 2 cores).
- first: the first call in that process. explorer: `explorer.trace(name)` (it builds the meta
  model and traces it). torchinfo: `torchvision.models.get_model(name)` (a real, initialised
  CPU model) then `torchinfo.summary(model, input_size=(1, C, H, W))`.
- again: the median of the next calls in the same process. explorer re-traces its cached meta
  model (what the app does for another input size); torchinfo calls `summary` again on the
  model it already built (no rebuild on either side).
- ratio = torchinfo time / explorer time, for first and again. Peak memory is ru_maxrss above
  the import floor.

    python benchmarks/trace_speed.py [--models resnet152 vgg16 vit_b_16] [--repeat 3]
    python benchmarks/trace_speed.py --all     # every torchvision classifier, worst first
    python benchmarks/trace_speed.py --all --models densenet201 maxvit_t   # those only
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

WORKER = r"""
import json, resource, statistics, sys, time, warnings
warnings.filterwarnings("ignore")
import importlib
import torch, torchvision, torchinfo
import explorer
from explorer.catalog import tv
from explorer.core.gc_settings import settle_after_imports
importlib.import_module("explorer.analysis.trace")  # explorer's tracing code, as torchinfo's is
imported
kind, name, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3])
spec = explorer.get(name)
torch.set_num_threads(2)
settle_after_imports()  # as `explorer` (CLI) and the app do after their imports
floor = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
times = []
model = None
for _ in range(repeat):
    t = time.perf_counter()
    if kind == "explorer":
        tr = explorer.trace(name)
        params, macs = tr.total_params, tr.total_macs
    else:
        if model is None:
            kwargs = tv.default_build_kwargs(name, spec.weights.DEFAULT)
            model = torchvision.models.get_model(name, weights=None, **kwargs)
        s = torchinfo.summary(model, input_size=(1, *spec.input_size), verbose=0)
        params, macs = s.total_params, s.total_mult_adds
    times.append(time.perf_counter() - t)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"time": statistics.median(times[1:] or times), "first": times[0],
                  "peak_mb": (peak - floor) / 1024, "params": params, "macs": macs}))
"""

METHOD = (
    "Fresh process per measurement; imports done before the clock; 2 torch threads.\n"
    "first = first call (explorer: build meta model + trace; torchinfo: torchvision get_model\n"
    "+ torchinfo.summary). again = median of later calls in the same process (explorer\n"
    "re-traces its cached meta model; torchinfo re-runs summary on the model it built)."
)


DEFAULT_MODELS = ["resnet152", "vgg16", "vit_b_16"]


def measure(kind: str, name: str, repeat: int) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", WORKER, kind, name, str(repeat)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def classifiers() -> list[str]:
    from explorer.catalog import specs

    return [s.name for s in specs() if s.source == "torchvision"]


def _first_calls(name: str, samples: int) -> tuple[float, float]:
    """The fastest of `samples` first calls per side (each a fresh process): on a shared
    machine the minimum is the least disturbed estimate of a first call's own cost."""
    e = min(measure("explorer", name, 1)["first"] for _ in range(samples))
    t = min(measure("torchinfo", name, 1)["first"] for _ in range(samples))
    return e, t


def first_call_table(names: list[str], recheck_below: float) -> None:
    """One fresh process per side and model, first call only; a model whose ratio comes out
    under `recheck_below` is measured twice more per side (a load spike is not a result).
    Worst ratio first."""
    rows = []
    for i, name in enumerate(names, 1):
        e, t = _first_calls(name, 1)
        if t / e < recheck_below:
            e2, t2 = _first_calls(name, 2)
            e, t = min(e, e2), min(t, t2)
        rows.append((t / e, name, e, t))
        print(f"[{i}/{len(names)}] {name}: {rows[-1][0]:.1f}x", file=sys.stderr, flush=True)
    rows.sort()
    print(METHOD)
    print(f"A ratio under {recheck_below:g}x on the first try is re-measured: the fastest of 3 "
          "fresh processes per side.")
    print(f"\n{'model':<22} {'explorer first':>15} {'torchinfo first':>16} {'ratio':>7}")
    for ratio, name, e, t in rows:
        print(f"{name:<22} {e * 1e3:>12.1f} ms {t * 1e3:>13.1f} ms {ratio:>6.1f}x")
    ratios = [r[0] for r in rows]
    print("\nworst 5: " + ", ".join(f"{n} {r:.1f}x" for r, n, _, _ in rows[:5]))
    print(f"{len(rows)} classifiers: worst {min(ratios):.1f}x, median "
          f"{statistics.median(ratios):.1f}x; all >= 10x: {min(ratios) >= 10}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", nargs="+", default=DEFAULT_MODELS)
    parser.add_argument("--repeat", type=int, default=4)
    parser.add_argument("--all", action="store_true", help="first call of every classifier")
    parser.add_argument("--recheck-below", type=float, default=10.0)
    args = parser.parse_args()
    if args.all:
        first_call_table(classifiers() if args.models == DEFAULT_MODELS else args.models,
                         args.recheck_below)
        return
    print(METHOD)
    print(f"\n{'model':<10} {'explorer first/again':>21} {'torchinfo first/again':>22} "
          f"{'ratio first/again':>18} {'peak MB exp/ti':>15} {'GMACs exp / torchinfo':>22}")
    for name in args.models:
        e = measure("explorer", name, args.repeat)
        t = measure("torchinfo", name, args.repeat)
        first, again = t["first"] / e["first"], t["time"] / e["time"]
        print(f"{name:<10} {e['first'] * 1e3:>9.1f} / {e['time'] * 1e3:>6.1f} ms "
              f"{t['first'] * 1e3:>9.1f} / {t['time'] * 1e3:>6.1f} ms "
              f"{first:>8.1f}x / {again:>5.1f}x "
              f"{e['peak_mb']:>6.1f} / {t['peak_mb']:>6.1f} "
              f"{e['macs'] / 1e9:>10.3f} / {t['macs'] / 1e9:.3f}")


if __name__ == "__main__":
    main()
