"""explorer.trace vs torchvision get_model + torchinfo.summary (a real CPU model, as users run it).

Each measurement runs in a fresh subprocess so its peak memory (ru_maxrss above the import
floor) is its own. Prints the median of a few timed runs, the speed ratio and peak memory.

    python benchmarks/trace_speed.py [--models resnet152 vgg16 vit_b_16] [--repeat 3]
    python benchmarks/trace_speed.py --all      # every torchvision classifier, explorer only
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

WORKER = r"""
import json, resource, statistics, sys, time, warnings
warnings.filterwarnings("ignore")
import torch, torchvision, torchinfo
import explorer
from explorer.architectures import tv
kind, name, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3])
spec = explorer.get(name)
torch.set_num_threads(2)
import gc; gc.freeze()  # as `explorer` (CLI) and the app do after their imports
floor = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
times = []
for _ in range(repeat):
    t = time.perf_counter()
    if kind == "explorer":
        tr = explorer.trace(name)
        params, macs = tr.total_params, tr.total_macs
    else:
        kwargs = tv.default_build_kwargs(name, spec.weights.DEFAULT)
        model = torchvision.models.get_model(name, weights=None, **kwargs)
        s = torchinfo.summary(model, input_size=(1, *spec.input_size), verbose=0)
        params, macs = s.total_params, s.total_mult_adds
        del model, s
    times.append(time.perf_counter() - t)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"time": statistics.median(times[1:] or times), "first": times[0],
                  "peak_mb": (peak - floor) / 1024, "floor_mb": floor / 1024,
                  "params": params, "macs": macs}))
"""


def measure(kind: str, name: str, repeat: int) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", WORKER, kind, name, str(repeat)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", nargs="+", default=["resnet152", "vgg16", "vit_b_16"])
    parser.add_argument("--repeat", type=int, default=4)
    parser.add_argument("--all", action="store_true", help="time explorer on every classifier")
    args = parser.parse_args()
    if args.all:
        script = (
            "import time, explorer\n"
            "names=[s.name for s in explorer.architectures.specs() if s.source=='torchvision']\n"
            "t=time.perf_counter()\n"
            "for n in names: explorer.trace(n)\n"
            "print(f'{len(names)} torchvision classifiers traced at default sizes in "
            "{time.perf_counter()-t:.2f} s')\n"
        )
        subprocess.run([sys.executable, "-c", script], check=True)
        return
    print("first: the first call in a fresh process (explorer builds the meta model);")
    print("again: median of the next calls (explorer re-traces its cached meta model, as the app")
    print("does when you change the input size; torchinfo rebuilds and re-runs the real model)")
    print(f"{'model':<10} {'explorer first/again':>21} {'torchinfo first/again':>22} "
          f"{'ratio first/again':>18} {'peak MB exp/ti':>15} {'GMACs exp / torchinfo':>22}")
    ratios = []
    for name in args.models:
        e = measure("explorer", name, args.repeat)
        t = measure("torchinfo", name, args.repeat)
        first, again = t["first"] / e["first"], t["time"] / e["time"]
        ratios.append(min(first, again))
        print(f"{name:<10} {e['first'] * 1e3:>9.1f} / {e['time'] * 1e3:>6.1f} ms "
              f"{t['first'] * 1e3:>9.1f} / {t['time'] * 1e3:>6.1f} ms "
              f"{first:>8.1f}x / {again:>5.1f}x "
              f"{e['peak_mb']:>6.1f} / {t['peak_mb']:>6.1f} "
              f"{e['macs'] / 1e9:>10.3f} / {t['macs'] / 1e9:.3f}")
    print(f"worst ratio: {min(ratios):.1f}x (goal >= 10x, stretch 25x)")


if __name__ == "__main__":
    main()
