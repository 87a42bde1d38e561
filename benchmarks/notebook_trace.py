"""A first trace in a plain process (a notebook, a script), against the model's own meta
constructor, with Python's garbage-collector settings and after `explorer.settle_after_imports()`.

Each measurement runs in a fresh process: torch, torchvision and explorer are imported, one
other network (resnet18) is traced first (a notebook rarely traces only one), then the clock
times `explorer.trace(name)` once, and torchvision's builder under `torch.device("meta")`
(the meta constructor) as the yardstick (regnets cannot be built that way: they call
`.tolist()` while building). Prints milliseconds and the ratio trace / constructor
(target: at most 1.5 with the call).

    python benchmarks/notebook_trace.py [--models convnext_large resnet152 vit_b_16]
    python benchmarks/notebook_trace.py --all   # every torchvision classifier, with the call
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

WORKER = r"""
import json, sys, time, warnings
warnings.filterwarnings("ignore")
import torch, torchvision
import explorer
name, settle = sys.argv[1], sys.argv[2] == "1"
explorer.trace("resnet18")
if settle:
    explorer.settle_after_imports()
start = time.perf_counter()
with torch.device("meta"):
    torchvision.models.get_model(name)
constructor = time.perf_counter() - start
start = time.perf_counter()
explorer.trace(name)
first = time.perf_counter() - start
print(json.dumps({"constructor": constructor, "trace": first}))
"""


def measure(name: str, settle: bool) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-c", WORKER, name, "1" if settle else "0"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+",
                        default=["convnext_large", "resnet152", "vit_b_16", "densenet201",
                                 "efficientnet_b7", "swin_b"])  # fmt: skip
    parser.add_argument("--all", action="store_true",
                        help="every torchvision classifier (but the regnets), with the call only, "
                             "and the worst ratios")  # fmt: skip
    args = parser.parse_args()
    if args.all:
        return every_classifier()
    print(f"{'model':<16} {'settings':<22} {'constructor':>12} {'first trace':>12} {'ratio':>6}")
    for name in args.models:
        for settle in (False, True):
            r = measure(name, settle)
            label = "settle_after_imports()" if settle else "Python's defaults"
            ratio = r["trace"] / r["constructor"]
            print(f"{name:<16} {label:<22} {1000 * r['constructor']:>10.0f} ms "
                  f"{1000 * r['trace']:>9.0f} ms {ratio:>6.2f}")  # fmt: skip
    return 0


def every_classifier() -> int:
    """The target's setting for every classifier torchvision lists: ratio ≤ 1.5 each."""
    import torchvision

    names = [n for n in torchvision.models.list_models(module=torchvision.models)
             if not n.startswith("regnet")]  # fmt: skip
    ratios = []
    for name in names:
        r = measure(name, True)
        ratios.append((r["trace"] / r["constructor"], name, r))
    ratios.sort(reverse=True)
    over = [name for ratio, name, _ in ratios if ratio > 1.5]
    print(f"{len(names)} torchvision classifiers, settle_after_imports(): ratio first trace / "
          f"meta constructor: median {ratios[len(ratios) // 2][0]:.2f}, over 1.5: {len(over)} "
          f"{over}")  # fmt: skip
    for ratio, name, r in ratios[:8]:
        print(f"  {name:<20} {1000 * r['constructor']:>6.0f} ms {1000 * r['trace']:>6.0f} ms "
              f"{ratio:>5.2f}")  # fmt: skip
    return 0 if not over else 1


if __name__ == "__main__":
    sys.exit(main())
