"""The lecture's arithmetic, written out with the numbers filled in.

Output size ⌊(n + 2p − f)/s⌋ + 1, the cost of a convolution (n_H × n_W × n_C' outputs, each
f × f × n_C multiply-accumulates), the 1×1 "bottleneck" saving, and the lecture's way of
writing a shape (28×28×192). Pure integer arithmetic: the UI shows it, tests cross-check it
against traces of the real modules.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

Shape = tuple[int, ...]


def pair(value: Any) -> tuple[int, int]:
    """(h, w) from an int or a pair, as PyTorch modules store kernel sizes."""
    if isinstance(value, tuple | list):
        return (int(value[0]), int(value[-1]))
    return (int(value), int(value))


def hwc(shape: Sequence[int], image: Sequence[int] = ()) -> tuple[int, int, int]:
    """(n_H, n_W, n_C) of a 4-D activation (N, ., ., .).

    PyTorch's order is (N, C, H, W). Channels-last models (Swin, ConvNeXt's blocks, many timm
    nets) carry (N, H, W, C) between their permutes. Given the network's input `image`
    (N, C, H, W), a tensor is read as channels-last when only that reading keeps the image's
    aspect ratio (within 1.5×; strides round): Swin's (1, 56, 56, 96) after a 224×224 input is
    56×56×96, not 56×96×56. Anything else (attention's (N, heads, L, d), or no image) keeps
    PyTorch's order."""
    c, h, w = shape[1], shape[2], shape[3]
    if len(image) == 4 and not _keeps_aspect(h, w, image) and _keeps_aspect(c, h, image):
        return c, h, w
    return h, w, c


def _keeps_aspect(h: int, w: int, image: Sequence[int]) -> bool:
    big_h, big_w = image[2], image[3]
    if min(h, w, big_h, big_w) < 1:
        return False
    return abs(math.log((h * big_w) / (w * big_h))) <= math.log(1.5)


def lecture_shape(shape: Sequence[int], image: Sequence[int] = ()) -> str:
    """The lecture's way of writing a shape, batch dropped: (N, C, H, W) -> '28×28×192'
    (n_H×n_W×n_C; channels-last tensors are recognised with the input `image`, see `hwc`);
    (N, C, T, H, W) -> 'T×H×W×C'; (N, F) -> '4096'; (N, L, D) -> '197×768'."""
    dims = list(shape[1:]) if len(shape) > 1 else list(shape)
    if len(dims) == 3:
        h, w, c = hwc(shape, image)
        return f"{h}×{w}×{c}"
    if len(dims) == 4:  # video-like (C, T, H, W)
        c, t, h, w = dims
        return f"{t}×{h}×{w}×{c}"
    return "×".join(str(d) for d in dims) if dims else "–"


def commas(n: int | float | None) -> str:
    """120422400 -> '120,422,400'; None -> '—'."""
    if n is None:
        return "—"
    if isinstance(n, float) and not n.is_integer():
        return f"{n:,.2f}"
    return f"{int(n):,}"


def short(n: int | float | None, digits: int = 1) -> str:
    """120422400 -> '120.4M', 2408448 -> '2.4M', 61706 -> '61.7K', 7.6e9 -> '7.6G'."""
    if n is None:
        return "—"
    value = float(n)
    for unit, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.{digits}f}{unit}"
    return f"{int(value)}" if value.is_integer() else f"{value:.{digits}f}"


def conv_output_size(n: int, f: int, p: int = 0, s: int = 1, d: int = 1, ceil: bool = False) -> int:
    """⌊(n + 2p − d(f − 1) − 1)/s⌋ + 1: the lecture's ⌊(n + 2p − f)/s⌋ + 1 when d = 1."""
    span = n + 2 * p - d * (f - 1) - 1
    q = -(-span // s) if ceil else span // s
    out = q + 1
    if ceil and (out - 1) * s >= n + p:  # PyTorch: the last window must start inside the input
        out -= 1
    return out


def _formula_1d(n: int, f: int, p: int, s: int, d: int, ceil: bool) -> str:
    fe = d * (f - 1) + 1
    left, right = ("⌈", "⌉") if ceil else ("⌊", "⌋")
    f_text = f"{fe}" if d == 1 else f"{fe} (={f} dilated by {d})"
    out = conv_output_size(n, f, p, s, d, ceil)
    return f"{left}({n} + 2·{p} − {f_text})/{s}{right} + 1 = {out}"


def first_dim_formula(hyper: dict[str, Any], input_shape: Sequence[int]) -> tuple[str, int] | None:
    """The output-size formula along H (the first spatial dimension) and its value, for the
    error that names where an input stopped fitting. None where the formula does not apply."""
    if "kernel_size" not in hyper or len(input_shape) < 3 or isinstance(hyper.get("padding"), str):
        return None
    f, _ = pair(hyper["kernel_size"])
    s, _ = pair(hyper.get("stride") or hyper["kernel_size"])
    p, _ = pair(hyper.get("padding", 0))
    d, _ = pair(hyper.get("dilation", 1) or 1)
    ceil = bool(hyper.get("ceil_mode", False))
    n = int(input_shape[2])
    return _formula_1d(n, f, p, s, d, ceil), conv_output_size(n, f, p, s, d, ceil)


def _sides(value: Any, n: int) -> tuple[int, ...]:
    """One value per spatial dimension from an int or a tuple, as PyTorch modules store them."""
    if isinstance(value, tuple | list):
        return tuple(int(v) for v in value) if len(value) == n else (int(value[0]),) * n
    return (int(value),) * n


def output_size_formula(hyper: dict[str, Any], input_shape: Sequence[int]) -> str | None:
    """The output-size formula with this layer's numbers, for conv and pooling layers.

    `hyper` holds kernel_size/stride/padding/dilation as PyTorch modules store them;
    `input_shape` is (N, C, L), (N, C, H, W) or (N, C, D, H, W). One formula when every side
    gives the same, else one per side ('H: …; W: …'). None where the formula does not apply.
    """
    if "kernel_size" not in hyper or len(input_shape) not in (3, 4, 5):
        return None
    padding = hyper.get("padding", 0)
    if isinstance(padding, str):  # 'same' / 'valid'
        return f"padding={padding!r}: n_out = {input_shape[2]}" if padding == "same" else None
    n = len(input_shape) - 2
    f = _sides(hyper["kernel_size"], n)
    s = _sides(hyper.get("stride") or hyper["kernel_size"], n)
    p = _sides(padding, n)
    d = _sides(hyper.get("dilation", 1) or 1, n)
    ceil = bool(hyper.get("ceil_mode", False))
    texts = [
        _formula_1d(int(input_shape[2 + i]), f[i], p[i], s[i], d[i], ceil) for i in range(n)
    ]
    if len(set(texts)) == 1:
        return texts[0]
    names = ("H", "W") if n == 2 else ("D", "H", "W")
    return "; ".join(f"{name}: {text}" for name, text in zip(names, texts, strict=True))


# --------------------------------------------------------------------------- costs


def conv_macs(h_out: int, w_out: int, c_out: int, f: int, c_in: int, groups: int = 1) -> int:
    """n_H × n_W × n_C' outputs, each f × f × n_C/groups multiply-accumulates."""
    return h_out * w_out * c_out * f * f * (c_in // groups)


def agreement(formula: int, traced: int) -> str:
    """✓ where the lecture's formula and the tracer give the same count, ✗ where not."""
    return "✓" if formula == traced else "✗"


@dataclass(frozen=True)
class ConvCost:
    """One 'same' convolution on an H×W×C_in input: the lecture's cost in numbers."""

    h: int
    w: int
    c_in: int
    c_out: int
    f: int

    @property
    def macs(self) -> int:
        return conv_macs(self.h, self.w, self.c_out, self.f, self.c_in)

    @property
    def params(self) -> int:
        return self.f * self.f * self.c_in * self.c_out  # weights only, as in the lecture

    @property
    def formula(self) -> str:
        """'28×28×32 × 5×5×192 = 120,422,400'"""
        return (
            f"{self.h}×{self.w}×{self.c_out} × {self.f}×{self.f}×{self.c_in} = {commas(self.macs)}"
        )


@dataclass(frozen=True)
class BottleneckComparison:
    """Naive f×f conv vs a 1×1 conv down to `bottleneck` channels followed by the f×f conv."""

    h: int
    w: int
    c_in: int
    c_out: int
    f: int
    bottleneck: int

    @property
    def naive(self) -> ConvCost:
        return ConvCost(self.h, self.w, self.c_in, self.c_out, self.f)

    @property
    def reduce(self) -> ConvCost:
        return ConvCost(self.h, self.w, self.c_in, self.bottleneck, 1)

    @property
    def expand(self) -> ConvCost:
        return ConvCost(self.h, self.w, self.bottleneck, self.c_out, self.f)

    @property
    def bottleneck_macs(self) -> int:
        return self.reduce.macs + self.expand.macs

    @property
    def ratio(self) -> float:
        """How many times cheaper the bottleneck version is (naive / bottleneck)."""
        return self.naive.macs / self.bottleneck_macs

    @property
    def summary(self) -> str:
        """'120.4M vs 2.4M + 10.0M = 12.4M (9.7× cheaper)'"""
        return (
            f"{short(self.naive.macs)} vs {short(self.reduce.macs)} + {short(self.expand.macs)} "
            f"= {short(self.bottleneck_macs)} ({self.ratio:.1f}× cheaper)"
        )


# The lecture's example: a 28×28×192 input, 32 5×5 filters, a 16-channel bottleneck.
LECTURE_EXAMPLE = BottleneckComparison(h=28, w=28, c_in=192, c_out=32, f=5, bottleneck=16)


# --------------------------------------------------------------------------- 1×1 convolutions

# The lecture's 6×6 single-channel example for "a 1×1 convolution multiplies by a number".
LECTURE_6X6 = (
    (1, 2, 3, 6, 5, 8),
    (3, 5, 5, 1, 3, 4),
    (2, 1, 3, 4, 9, 3),
    (4, 7, 8, 5, 7, 9),
    (1, 5, 3, 7, 4, 8),
    (5, 4, 9, 8, 3, 5),
)


def conv1x1_single_channel(matrix: Sequence[Sequence[float]], weight: float) -> list[list[float]]:
    """Apply a real one-channel 1×1 convolution (no bias) to `matrix`: every value × weight."""
    import torch
    from torch.nn import functional

    x = torch.tensor([[list(map(float, row)) for row in matrix]]).unsqueeze(0)  # (1, 1, H, W)
    w = torch.full((1, 1, 1, 1), float(weight))
    out: list[list[float]] = functional.conv2d(x, w)[0, 0].tolist()
    return out
