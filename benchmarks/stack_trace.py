"""Typed stacks and user modules: what the docs' tables quote, printed.

    python benchmarks/stack_trace.py [--repeats 5]

1. Typed stacks (docs/pages.md, "Typed stacks that take no image"): parameters, MACs, output
   shape, and the median time to parse and plan the text and to trace it.
2. A user's nn.Module of 1,000 conv-bn-relu layers (docs/numbers.md): the first trace in this
   process and the median of the next ones, per module, beside resnet152's.
"""

from __future__ import annotations

import argparse
import statistics
import time

from torch import nn

import explorer
from explorer.catalog import stack_plan, stack_text

STACKS = {
    "MLP": "input 784 | fc 128 relu | fc 10",
    "1-D conv (the page's example)": "input 128x4 | conv 16 5 relu | maxpool 2 | conv 32 5 relu"
    " | gap | fc 2",
    "3-D conv": "input 16x64x64x1 | conv 8 3 relu | maxpool 2 | conv 16 3x3x3 relu | gap | fc 5",
    "LSTM LM": "input 32 tokens | embedding 10000 64 | lstm 128 | fc 10000",
    "Text CNN": "input 64 tokens | embedding 20000 128 | conv 100 5 relu | gap | fc 2",
}


def _median_ms(fn, repeats: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    repeats = parser.parse_args(argv).repeats

    head = f"{'params':>10} {'MACs':>12} {'output':>12} {'parse+plan':>11} {'trace':>9}"
    print(f"{'stack':32} {head}")
    for label, text in STACKS.items():
        t = explorer.trace(text)
        plan_ms = _median_ms(lambda text=text: stack_plan.plan(stack_text.parse(text)), repeats)
        trace_ms = _median_ms(lambda text=text: explorer.trace(text), repeats)
        out = "×".join(map(str, t.output_shape))
        print(f"{label:32} {t.total_params:>10,} {t.total_macs:>12,} {out:>12} "
              f"{plan_ms:>8.2f} ms {trace_ms:>6.1f} ms")  # fmt: skip

    layers = [m for _ in range(1000)
              for m in (nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())]  # fmt: skip
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), *layers)
    modules = len(list(model.modules()))
    start = time.perf_counter()
    explorer.trace(model, input_size=(3, 32, 32))
    first = time.perf_counter() - start
    again = _median_ms(lambda: explorer.trace(model, input_size=(3, 32, 32)), repeats) / 1000
    explorer.trace("resnet152")
    resnet_modules = len(explorer.trace("resnet152").layers)
    resnet = _median_ms(lambda: explorer.trace("resnet152"), repeats) / 1000
    print(f"\nuser module, 1,000 conv-bn-relu ({modules:,} modules): first {first:.2f} s, "
          f"again {again:.2f} s ({again / modules * 1000:.2f} ms per module); resnet152 "
          f"{resnet / resnet_modules * 1000:.2f} ms per module")  # fmt: skip


if __name__ == "__main__":
    main()
