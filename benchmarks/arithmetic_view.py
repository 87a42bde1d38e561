"""How a layer computes: the bytes each animation sends to the browser and the time to build it,
for the lecture's examples and the largest view the budget allows.

    python benchmarks/arithmetic_view.py

Every frame of an animation goes to the browser with the figure (stepping runs no script), so
the figure's JSON is what one view costs the network; the budget
(limits.ARITHMETIC_MAX_FRAMES) bounds it.
"""

from __future__ import annotations

import json
import time

from components import arithmetic_charts as charts
from explorer.core import limits
from explorer.labs import arithmetic as ar
from explorer.labs import real_layer as rl


def measure(label: str, build) -> None:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    figure = build()
    took = time.perf_counter() - start
    size = len(json.dumps(figure))
    frames = len(figure.get("frames", ()))
    print(f"{label:48} {frames:4} frames {size / 1024:9.1f} KiB {took * 1000:8.1f} ms")


def main() -> None:
    side = int(limits.ARITHMETIC_MAX_FRAMES**0.5) + 2  # a (side − 2)² output: the largest
    print(f"limit: {limits.ARITHMETIC_MAX_FRAMES} frames per view\n")
    measure("6×6 ∗ 3×3 (the lecture's example)", lambda: charts.window_animation(ar.convolve()))
    measure("6×6 ∗ 3×3, same padding",
            lambda: charts.window_animation(ar.convolve(padding=1)))  # fmt: skip
    image = [[float((i * 7 + j * 3) % 11) for j in range(side)] for i in range(side)]
    measure(f"{side}×{side} ∗ 3×3 (the largest allowed)",
            lambda: charts.window_animation(ar.convolve(image)))  # fmt: skip
    measure("max pooling 6×6, f=2 s=2",
            lambda: charts.window_animation(ar.pool([r[:6] for r in image[:6]])))  # fmt: skip
    measure("cost counter, 5×5 naive (32 channels)",
            lambda: charts.cost_animation(ar.cost_frames(28, 28, 192, 32, 5)))  # fmt: skip
    measure("cost counter, 1×1 bottleneck (16 + 32)",
            lambda: charts.cost_animation(ar.cost_frames(28, 28, 192, 32, 5, 16)))  # fmt: skip

    print("\na real layer: one output value (its window, filter, products and channel groups),")
    print("timed on a warm process as the server is (the first call imports the catalog)")
    cases = _real_layers()
    _, make, x, layer, look = cases[-1]
    rl.explain_layer(make(), x, layer, 0, 0, 0, look)
    for label, make, x, layer, look in cases:
        loaded = make()
        start = time.perf_counter()
        shown = rl.explain_layer(loaded, x, layer, 0, 1, 1, look)
        figures = [charts.real_window_figure(shown)]
        if shown.kind == "conv":
            figures.append(charts.channel_group_figure(shown))
        took = time.perf_counter() - start
        size = sum(len(json.dumps(f)) for f in figures)
        groups = len(shown.groups)
        print(f"{label:48} {groups:4} groups {size / 1024:8.1f} KiB {took * 1000:8.1f} ms")


def _real_layers():  # type: ignore[no-untyped-def]
    """The lecture's 5×5 conv on 28×28×192, the widest window allowed (15×15) on as many
    channels, and a 3×3 conv on 512 channels (VGG-16's last convs), random weights."""
    import torch
    from torch import nn

    from explorer.weights.records import LoadedModel

    def model(c_in: int, f: int, side: int):  # type: ignore[no-untyped-def]
        def make():  # type: ignore[no-untyped-def]
            torch.manual_seed(0)
            net = nn.Sequential(nn.Conv2d(c_in, 32, f, padding=f // 2)).eval()
            size = (c_in, side, side)
            return LoadedModel("bench", "random", net, torch.device("cpu"), ("a",), size)
        return make

    side = limits.ARITHMETIC_MAX_WINDOW_SIDE
    return [
        ("5×5 conv on 28×28×192 (the lecture's)", model(192, 5, 28),
         torch.randn(1, 192, 28, 28), "0", 100),
        (f"{side}×{side} conv on 28×28×192 (the widest window)", model(192, side, 28),
         torch.randn(1, 192, 28, 28), "0", None),
        ("3×3 conv on 14×14×512 (VGG-16's conv5)", model(512, 3, 14),
         torch.randn(1, 512, 14, 14), "0", None),
    ]  # fmt: skip


if __name__ == "__main__":
    main()
