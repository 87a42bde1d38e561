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


if __name__ == "__main__":
    main()
