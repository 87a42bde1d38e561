"""The lecture's single-block demos, and parametrised builders for the Cost lab.

Each builder returns a small nn.Module; its `*_spec` twin wraps it in an ArchSpec with the
matching input size, ready for `explorer.analysis.trace`. Sizes follow the lecture: height x width x
channels in, out_channels filters out, 'same' padding (odd kernels keep n_H and n_W).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from explorer.catalog.inception import SZEGEDY_2014, SZEGEDY_2014_URL, Inception
from explorer.catalog.registry import ArchSpec, Published, register
from explorer.catalog.resnet import HE_2015, HE_2015_URL, BasicBlock
from explorer.core import limits
from explorer.core.errors import SpecError

LIN_2013 = "M. Lin, Q. Chen, S. Yan. Network In Network. ICLR 2014 (arXiv:1312.4400, 2013)."
LIN_2013_URL = "https://arxiv.org/abs/1312.4400"

MAX_SIZE = limits.BLOCK_MAX_SIZE


def _check(**sizes: int) -> None:
    for name, value in sizes.items():
        if not isinstance(value, int) or value < 1 or value > MAX_SIZE:
            raise SpecError(
                f"{name} must be a whole number from 1 to {MAX_SIZE:,}, not {value!r}.",
                token=name,
            )


def _same_conv(in_channels: int, out_channels: int, kernel_size: int, bias: bool) -> nn.Conv2d:
    if kernel_size % 2 == 0:
        raise SpecError(
            f"kernel_size must be odd for a 'same' convolution, not {kernel_size}.",
            token="kernel_size",
        )
    return nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=bias)


class NaiveConv(nn.Module):
    """One 'same' convolution: H x W x C_in -> H x W x C_out, costing
    H·W·C_out · k·k·C_in multiply-adds (28·28·32 · 5·5·192 = 120,422,400)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, bias: bool) -> None:
        super().__init__()
        self.conv = _same_conv(in_channels, out_channels, kernel_size, bias)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.conv(x))


class BottleneckConv(nn.Module):
    """A 1x1 'bottleneck' convolution to a few channels, then the k x k convolution:
    H·W·b·C_in + H·W·C_out·k·k·b multiply-adds (2,408,448 + 10,035,200 = 12,443,648)."""

    def __init__(
        self,
        in_channels: int,
        bottleneck_channels: int,
        out_channels: int,
        kernel_size: int,
        bias: bool,
    ) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(in_channels, bottleneck_channels, 1, bias=bias)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv = _same_conv(bottleneck_channels, out_channels, kernel_size, bias)
        self.relu2 = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu2(self.conv(self.relu1(self.reduce(x))))


def naive_conv(
    *, in_channels: int = 192, out_channels: int = 32, kernel_size: int = 5, bias: bool = True
) -> NaiveConv:
    """One k x k 'same' convolution (the lecture's 'naive' 5x5 on 28x28x192)."""
    _check(in_channels=in_channels, out_channels=out_channels, kernel_size=kernel_size)
    return NaiveConv(in_channels, out_channels, kernel_size, bias)


def bottleneck_conv(
    *,
    in_channels: int = 192,
    bottleneck_channels: int = 16,
    out_channels: int = 32,
    kernel_size: int = 5,
    bias: bool = True,
) -> BottleneckConv:
    """A 1x1 convolution to `bottleneck_channels`, then the k x k 'same' convolution."""
    _check(
        in_channels=in_channels,
        bottleneck_channels=bottleneck_channels,
        out_channels=out_channels,
        kernel_size=kernel_size,
    )
    return BottleneckConv(in_channels, bottleneck_channels, out_channels, kernel_size, bias)


def conv1x1(*, in_channels: int = 32, out_channels: int = 32) -> NaiveConv:
    """A 1x1 convolution ('network in network'): each output pixel is a fully connected
    layer across the input's channels, followed by ReLU. Changes n_C only."""
    _check(in_channels=in_channels, out_channels=out_channels)
    return NaiveConv(in_channels, out_channels, 1, True)


def inception_module(
    *,
    in_channels: int = 192,
    ch1x1: int = 64,
    ch3x3red: int = 96,
    ch3x3: int = 128,
    ch5x5red: int = 16,
    ch5x5: int = 32,
    pool_proj: int = 32,
) -> Inception:
    """One inception module (the same class as googlenet-paper's); defaults are inception 3a."""
    _check(
        in_channels=in_channels, ch1x1=ch1x1, ch3x3red=ch3x3red, ch3x3=ch3x3,
        ch5x5red=ch5x5red, ch5x5=ch5x5, pool_proj=pool_proj,
    )  # fmt: skip
    return Inception(in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj)


def residual_block(
    *, in_channels: int = 64, out_channels: int = 64, stride: int = 1, shortcut: bool = True
) -> BasicBlock:
    """ResNet's basic block (two 3x3 convs + BN, relu(F(x) + x)). With stride 2 or a change of
    channels the shortcut is a 1x1 projection (conv + BN), as in the paper."""
    _check(in_channels=in_channels, out_channels=out_channels, stride=stride)
    return BasicBlock(in_channels, out_channels, stride=stride, shortcut=shortcut)


# --- ArchSpecs with custom sizes, for the Cost lab -----------------------------------------


def _sized_spec(
    name: str, title: str, build: Callable[..., nn.Module], size: tuple[int, int, int], out: int
) -> ArchSpec:
    """An unregistered ArchSpec for one block at a custom input size (the Cost lab's)."""
    return ArchSpec(name=name, family="Blocks", title=title, builder=build, input_size=size,
                    num_classes=out, source="custom")  # fmt: skip


def naive_conv_spec(
    *,
    height: int = 28,
    width: int = 28,
    in_channels: int = 192,
    out_channels: int = 32,
    kernel_size: int = 5,
) -> ArchSpec:
    """`naive_conv` on an H x W x C_in input, as an unregistered ArchSpec."""
    _check(height=height, width=width)
    naive_conv(in_channels=in_channels, out_channels=out_channels, kernel_size=kernel_size)

    def build(**kw: object) -> nn.Module:
        return naive_conv(in_channels=in_channels, out_channels=out_channels,
                          kernel_size=kernel_size)  # fmt: skip

    k = kernel_size
    return _sized_spec(
        f"conv{k}x{k}-naive-{height}x{width}x{in_channels}-{out_channels}",
        f"{k}×{k} conv, {height}×{width}×{in_channels} → {out_channels}",
        build, (in_channels, height, width), out_channels,
    )  # fmt: skip


def bottleneck_conv_spec(
    *,
    height: int = 28,
    width: int = 28,
    in_channels: int = 192,
    bottleneck_channels: int = 16,
    out_channels: int = 32,
    kernel_size: int = 5,
) -> ArchSpec:
    """`bottleneck_conv` on an H x W x C_in input, as an unregistered ArchSpec."""
    _check(height=height, width=width)
    kwargs: dict[str, Any] = dict(in_channels=in_channels, bottleneck_channels=bottleneck_channels,
                  out_channels=out_channels, kernel_size=kernel_size)  # fmt: skip
    bottleneck_conv(**kwargs)

    def build(**kw: object) -> nn.Module:
        return bottleneck_conv(**kwargs)

    k = kernel_size
    return _sized_spec(
        f"conv{k}x{k}-bottleneck-{height}x{width}x{in_channels}-{bottleneck_channels}-"
        f"{out_channels}",
        f"1×1 to {bottleneck_channels}, then {k}×{k}, {height}×{width}×{in_channels} → "
        f"{out_channels}",
        build, (in_channels, height, width), out_channels,
    )  # fmt: skip


def inception_module_spec(
    *, height: int = 28, width: int = 28, in_channels: int = 192, **channels: int
) -> ArchSpec:
    """`inception_module` on an H x W x C_in input (channel keywords as inception_module)."""
    _check(height=height, width=width)
    module = inception_module(in_channels=in_channels, **channels)

    def build(**kw: object) -> nn.Module:
        return inception_module(in_channels=in_channels, **channels)

    return _sized_spec(
        f"inception-{height}x{width}x{in_channels}-{module.out_channels}",
        f"Inception module, {height}×{width}×{in_channels} → {module.out_channels}",
        build, (in_channels, height, width), module.out_channels,
    )  # fmt: skip


# --- The registered lecture demos ----------------------------------------------------------

_BOTTLENECK_NOTE = (
    "The lecture's cost comparison on a 28×28×192 input with 32 output channels: a 5×5 "
    "convolution computes 28·28·32 outputs, each a 5·5·192 dot product: 120,422,400 "
    "multiply-adds. Shrinking to 16 channels with a 1×1 convolution first costs "
    "28·28·16·192 = 2,408,448, then 28·28·32·5·5·16 = 10,035,200: 12,443,648 in total, about "
    "a tenth. Reducing n_C this way does not seem to hurt accuracy if done within reason."
)

register(
    ArchSpec(
        name="conv5x5-naive",
        family="Blocks",
        title="5×5 convolution on 28×28×192 (naive)",
        builder=naive_conv,
        input_size=(192, 28, 28),
        num_classes=32,
        paper=SZEGEDY_2014,
        url=SZEGEDY_2014_URL,
        year=2014,
        notes=_BOTTLENECK_NOTE,
        published=Published(source="Lecture: 28·28·32 × 5·5·192", macs=120_422_400),
        tags=("block", "lecture"),
    )
)
register(
    ArchSpec(
        name="conv5x5-bottleneck",
        family="Blocks",
        title="1×1 bottleneck to 16, then 5×5 on 28×28×192",
        builder=bottleneck_conv,
        input_size=(192, 28, 28),
        num_classes=32,
        paper=SZEGEDY_2014,
        url=SZEGEDY_2014_URL,
        year=2014,
        notes=_BOTTLENECK_NOTE,
        published=Published(
            source="Lecture: 28·28·16 × 192 + 28·28·32 × 5·5·16",
            macs=12_443_648,
            extra=(("1×1 reduce MACs", "2,408,448"), ("5×5 conv MACs", "10,035,200")),
        ),
        tags=("block", "lecture"),
    )
)
register(
    ArchSpec(
        name="inception-3a",
        family="Blocks",
        title="Inception module 3a (28×28×192 → 28×28×256)",
        builder=inception_module,
        input_size=(192, 28, 28),
        num_classes=256,
        paper=SZEGEDY_2014,
        url=SZEGEDY_2014_URL,
        year=2014,
        notes=(
            "One inception module: 1×1 (64), 1×1 → 3×3 (96 → 128), 1×1 → 5×5 (16 → 32) and "
            "3×3 max pool → 1×1 (32), concatenated: 64 + 128 + 32 + 32 = 256 channels. The "
            "max-pool branch uses stride 1 and 'same' padding so every branch stays 28×28."
        ),
        published=Published(
            source="Szegedy et al. 2014, Table 1, inception (3a): 159K params, 128M ops",
            params=159 * 1024,  # the table counts weights only, K = 1024
            params_tolerance=1024 + 368,  # its rounding, plus our 368 biases
            macs=128_000_000,
            macs_tolerance=1_000_000,
        ),
        tags=("block", "lecture"),
    )
)
register(
    ArchSpec(
        name="conv1x1",
        family="Blocks",
        title="1×1 convolution on 6×6×32",
        builder=conv1x1,
        input_size=(32, 6, 6),
        num_classes=32,
        paper=LIN_2013,
        url=LIN_2013_URL,
        year=2013,
        notes=(
            "6×6×32 ∗ 1×1×32 → 6×6×#filters. On one channel a 1×1 convolution only scales "
            "the image; on 32 channels each filter takes a weighted sum of the 32 values at "
            "a pixel and applies ReLU: a small fully connected layer at every position "
            "('network in network'). It shrinks (or grows) n_C while leaving n_H and n_W "
            "alone: the tool behind Inception's and ResNet's bottlenecks. Here 32 filters: "
            "6·6·32·32 = 36,864 multiply-adds, 1,056 parameters."
        ),
        published=Published(source="6·6·32 × 1·1·32", params=1_056, macs=36_864),
        tags=("block", "lecture"),
    )
)
register(
    ArchSpec(
        name="residual-block",
        family="Blocks",
        title="Residual block (56×56×64, identity shortcut)",
        builder=residual_block,
        input_size=(64, 56, 56),
        num_classes=64,
        paper=HE_2015,
        url=HE_2015_URL,
        year=2015,
        notes=(
            "a[l+2] = g(z[l+2] + a[l]): the block's input skips two layers and is added "
            "before the last ReLU. If the weights decay to 0 the block computes the "
            "identity, so adding it cannot make the network much worse, which is why very "
            "deep residual networks still train. The addition needs equal shapes ('same' "
            "convolutions); see `residual-block-projection` for the case where they differ."
        ),
        published=Published(
            source="ResNet-18 conv2_x block: 2 × 56·56·64 × 3·3·64", macs=231_211_008
        ),
        tags=("block", "lecture"),
    )
)


def _projection_block(**kw: object) -> BasicBlock:
    return residual_block(in_channels=64, out_channels=128, stride=2)


register(
    ArchSpec(
        name="residual-block-projection",
        family="Blocks",
        title="Residual block with projection (56×56×64 → 28×28×128)",
        builder=_projection_block,
        input_size=(64, 56, 56),
        num_classes=128,
        paper=HE_2015,
        url=HE_2015_URL,
        year=2015,
        notes=(
            "When a block halves n_H and n_W and doubles n_C, a[l] no longer has z[l+2]'s "
            "shape, so the shortcut multiplies it by W_s: a 1×1 convolution with stride 2 "
            "(plus BN), option B of the paper. It adds 28·28·128·64 = 6,422,528 multiply-adds "
            "to the block's 2 3×3 convolutions."
        ),
        tags=("block", "lecture"),
    )
)
