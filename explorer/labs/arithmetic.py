"""How a layer computes: every output value of a convolution, a 1×1 convolution or a pooling
window as the input window, the filter, the element-wise products and their sum, with real
numbers. Plain frozen records of plain numbers, so a page can turn them into animation frames
that step in the browser without asking the server again.

- The lecture's own examples (`convolve`, `pool`, `one_by_one`), with any padding, stride
  and dilation, and the output size from explorer.core.layer_math's one formula.
- The cost counted while you watch (`cost_frames`): the 5×5 same convolution from 28×28×192
  to 28×28×32 adds up to 120,422,400 multiply-accumulates, its 1×1 bottleneck to
  2,408,448 + 10,035,200 = 12,443,648.
- Any convolution or pooling layer of a loaded network: explorer.labs.real_layer.

Budgets are checked before anything is computed: frames per animation and values per frame
(a 5×5×192 window is shown per input channel, its 25 products summed, not 4,800 numbers).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from explorer.core import limits
from explorer.core.errors import BudgetError, SpecError
from explorer.core.layer_math import conv_macs, conv_output_size

__all__ = [
    "LECTURE_IMAGE",
    "LECTURE_KERNEL",
    "CostFrame",
    "Step",
    "WindowResult",
    "convolve",
    "cost_frames",
    "one_by_one",
    "pool",
]

Matrix = tuple[tuple[float, ...], ...]

# The lecture's 6×6 picture (a vertical edge: bright left half, dark right half) and its
# vertical-edge filter.
LECTURE_IMAGE: Matrix = tuple((10.0,) * 3 + (0.0,) * 3 for _ in range(6))
LECTURE_KERNEL: Matrix = ((1.0, 0.0, -1.0),) * 3


@dataclass(frozen=True)
class Step:
    """One output value: where its window sits in the (padded) input, what it multiplies and
    what it sums to."""

    row: int  # output position
    col: int
    top: int  # the window's first row and column in the padded input
    left: int
    window: Matrix  # the input values the filter sees (dilation applied)
    products: Matrix  # window × filter, element by element (max/avg pooling: the window)
    total: float  # the output value


@dataclass(frozen=True)
class WindowResult:
    """Every step of one 2-D operation and what it produces."""

    operation: str  # "conv", "max", "avg"
    padded: Matrix  # the input with its zero padding
    kernel: Matrix | None  # the filter (None for pooling)
    steps: tuple[Step, ...]
    output: Matrix
    formula: str  # ⌊(n + 2p − f)/s⌋ + 1 = out, with the numbers filled in
    dilation: int = 1  # the window's cells are this far apart in the padded input

    @property
    def reach(self) -> int:
        """Cells of the padded input a window spans past its first one: (f − 1)·dilation."""
        return (len(self.steps[0].window) - 1) * self.dilation


def as_matrix(values: Sequence[Sequence[float]]) -> Matrix:
    """Plain nested tuples of floats: what every record here holds."""
    return tuple(tuple(float(v) + 0.0 for v in row) for row in values)  # + 0.0: no "-0"


def _check_frames(n: int) -> None:
    if n > limits.ARITHMETIC_MAX_FRAMES:
        raise BudgetError(
            f"That is {n:,} output positions to step through; the limit is "
            f"{limits.ARITHMETIC_MAX_FRAMES:,}. Use a smaller input or a larger stride."
        )


def _formula(n: int, f: int, p: int, s: int, d: int) -> str:
    span = d * (f - 1) + 1
    out = conv_output_size(n, f, p, s, d)
    f_text = f"{span}" if d == 1 else f"{span} (= {f} dilated by {d})"
    return f"⌊({n} + 2·{p} − {f_text})/{s}⌋ + 1 = {out}"


def _windows(
    image: Sequence[Sequence[float]], f: int, padding: int, stride: int, dilation: int
) -> tuple[torch.Tensor, int, int]:
    x = torch.tensor(as_matrix(image), dtype=torch.float64)
    if x.dim() != 2 or x.numel() == 0:
        raise SpecError("The input must be a non-empty 2-D grid of numbers.")
    if min(f, stride, dilation) < 1 or padding < 0:
        raise SpecError("Filter size, stride and dilation are at least 1; padding at least 0.")
    n_h, n_w = x.shape
    out_h = conv_output_size(n_h, f, padding, stride, dilation)
    out_w = conv_output_size(n_w, f, padding, stride, dilation)
    if out_h < 1 or out_w < 1:
        raise SpecError(
            f"A {f}×{f} filter (dilation {dilation}) does not fit a {n_h}×{n_w} input with "
            f"padding {padding}: {_formula(n_h, f, padding, stride, dilation)}."
        )
    _check_frames(out_h * out_w)
    return F.pad(x, (padding,) * 4), out_h, out_w


def _steps(
    padded: torch.Tensor, kernel: torch.Tensor | None, f: int, stride: int, dilation: int,
    out_h: int, out_w: int, operation: str,
) -> tuple[tuple[Step, ...], Matrix]:  # fmt: skip
    steps = []
    out = [[0.0] * out_w for _ in range(out_h)]
    for i in range(out_h):
        for j in range(out_w):
            top, left = i * stride, j * stride
            window = padded[top : top + dilation * (f - 1) + 1 : dilation,
                            left : left + dilation * (f - 1) + 1 : dilation]  # fmt: skip
            if operation == "conv":
                assert kernel is not None
                products = window * kernel
                total = float(products.sum())
            else:
                products = window
                total = float(window.max() if operation == "max" else window.mean())
            out[i][j] = total
            steps.append(Step(i, j, top, left, as_matrix(window.tolist()),
                              as_matrix(products.tolist()), total))  # fmt: skip
    return tuple(steps), as_matrix(out)


def convolve(
    image: Sequence[Sequence[float]] = LECTURE_IMAGE,
    kernel: Sequence[Sequence[float]] = LECTURE_KERNEL,
    *,
    padding: int = 0,
    stride: int = 1,
    dilation: int = 1,
) -> WindowResult:
    """The lecture's convolution (a cross-correlation, as in the lecture and in PyTorch) of
    one channel with one square filter, every output value step by step."""
    k = torch.tensor(as_matrix(kernel), dtype=torch.float64)
    if k.dim() != 2 or k.shape[0] != k.shape[1]:
        raise SpecError("The filter must be square (f×f).")
    f = int(k.shape[0])
    padded, out_h, out_w = _windows(image, f, padding, stride, dilation)
    steps, output = _steps(padded, k, f, stride, dilation, out_h, out_w, "conv")
    n = len(image)
    return WindowResult("conv", as_matrix(padded.tolist()), as_matrix(k.tolist()), steps,
                        output, _formula(n, f, padding, stride, dilation), dilation)  # fmt: skip


def pool(
    image: Sequence[Sequence[float]],
    *,
    mode: str = "max",
    f: int = 2,
    stride: int = 2,
) -> WindowResult:
    """Max or average pooling of one channel (no padding, as in the lecture)."""
    if mode not in ("max", "avg"):
        raise SpecError(f"Pooling is 'max' or 'avg', not {mode!r}.")
    padded, out_h, out_w = _windows(image, f, 0, stride, 1)
    steps, output = _steps(padded, None, f, stride, 1, out_h, out_w, mode)
    return WindowResult(mode, as_matrix(padded.tolist()), None, steps, output,
                        _formula(len(image), f, 0, stride, 1))  # fmt: skip


@dataclass(frozen=True)
class PixelDot:
    """A 1×1 convolution at one pixel: the n_C input values, each filter's weights, the dot
    products (one per filter) and, with ReLU, what comes out."""

    row: int
    col: int
    values: tuple[float, ...]  # the pixel's n_C channel values
    dots: tuple[float, ...]  # one per filter: Σ values × weights + bias
    outputs: tuple[float, ...]  # after ReLU (or the dots, without)


def one_by_one(
    pixels: Sequence[Sequence[Sequence[float]]],
    filters: Sequence[Sequence[float]],
    bias: Sequence[float] | None = None,
    *,
    relu: bool = True,
) -> tuple[PixelDot, ...]:
    """A 1×1 convolution as the lecture argues it: at every pixel, a small fully connected
    layer across the channels (`pixels` is n_H × n_W × n_C, `filters` is K × n_C)."""
    x = torch.tensor(pixels, dtype=torch.float64)
    w = torch.tensor(filters, dtype=torch.float64)
    if x.dim() != 3 or w.dim() != 2 or w.shape[1] != x.shape[2]:
        raise SpecError("Pixels are n_H×n_W×n_C and filters K×n_C, with the same n_C.")
    _check_frames(int(x.shape[0] * x.shape[1]))
    b = torch.zeros(w.shape[0], dtype=torch.float64) if bias is None else torch.tensor(
        bias, dtype=torch.float64)  # fmt: skip
    out = []
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            dots = w @ x[i, j] + b
            after = dots.clamp(min=0) if relu else dots
            out.append(PixelDot(i, j, tuple(x[i, j].tolist()), tuple(dots.tolist()),
                                tuple(after.tolist())))  # fmt: skip
    return tuple(out)


@dataclass(frozen=True)
class CostFrame:
    """The multiply-accumulates counted so far, after `done` of a stage's output channels."""

    stage: str  # "5×5 conv", "1×1 reduce", ...
    channel: int  # output channels of this stage counted so far
    stage_macs: int
    total_macs: int


def cost_frames(
    h: int, w: int, c_in: int, c_out: int, f: int, bottleneck: int | None = None
) -> tuple[CostFrame, ...]:
    """One frame per output channel of each stage: every frame adds that channel's n_H×n_W
    positions × f×f×n_C products. The last frame's total is the convolution's MAC count
    (conv_macs, the one formula: 28·28·32 × 5·5·192 = 120,422,400)."""
    stages = (
        [(f"{f}×{f} conv", c_out, f, c_in)]
        if bottleneck is None
        else [("1×1 reduce", bottleneck, 1, c_in), (f"{f}×{f} conv", c_out, f, bottleneck)]
    )
    _check_frames(sum(channels for _, channels, _, _ in stages))
    frames = []
    total = 0
    for name, channels, size, inputs in stages:
        per_channel = conv_macs(h, w, 1, size, inputs)
        for k in range(1, channels + 1):
            total += per_channel
            frames.append(CostFrame(name, k, k * per_channel, total))
    return tuple(frames)
