"""The networks of "Why ResNets work": He et al. 2015's CIFAR nets and the lecture's block.

`CifarStyleNet`: a 3×3 convolution, three stages of 2n 3×3 convolutions (widths doubling,
feature maps halving, BatchNorm after every convolution), global average pooling and a 10-way
fully connected layer: 6n+2 weighted layers (§4.2), plain or residual. The shortcuts that
change shape are the paper's option A (subsample by 2 and pad the new channels with zeros, no
parameters), so the plain twin has exactly the same parameters as the residual one.

`identity_demo`: the lecture's argument that a residual block whose W[l+2] and b[l+2] are zero
returns a[l] exactly, a[l+2] = ReLU(0 + a[l]) = a[l] for a[l] ≥ 0.

Every random number comes from a local torch.Generator (never the global RNG): two sessions
building networks at once do not share a random stream.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from explorer.core.errors import ExplorerError
from explorer.core.rng import LocalGenerator

Kind = Literal["plain", "residual"]
KINDS: tuple[Kind, ...] = ("plain", "residual")
#: Depths 6n+2 as in the paper's CIFAR table (n = 1, 2, 3, 5, 7, 9).
SUPPORTED_DEPTHS = (8, 14, 20, 32, 44, 56)


class ExperimentError(ExplorerError, ValueError):
    """Experiment settings that cannot be run (a depth not of the form 6n+2, no epochs, ...)."""


class _Shortcut(nn.Module):
    """Option A of the paper: identity, or subsample by `stride` and zero-pad the channels."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        self.extra_channels = out_channels - in_channels

    def forward(self, x: Tensor) -> Tensor:
        if self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]
        if self.extra_channels:
            x = F.pad(x, (0, 0, 0, 0, 0, self.extra_channels))
        return x


class BasicBlock(nn.Module):
    """Two 3×3 conv-BN layers; ReLU(F(x) + x) when residual, ReLU(F(x)) when plain."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, residual: bool) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut: _Shortcut | None = (
            _Shortcut(in_channels, out_channels, stride) if residual else None
        )

    def forward(self, x: Tensor) -> Tensor:
        z = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        if self.shortcut is not None:
            z = z + self.shortcut(x)
        return F.relu(z)


class CifarStyleNet(nn.Module):
    """The paper's 6n+2-layer CIFAR network (plain or residual), for small square inputs."""

    def __init__(
        self,
        depth: int,
        kind: Kind,
        widths: tuple[int, int, int] = (8, 16, 32),
        in_channels: int = 1,
        num_classes: int = 10,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        n = blocks_per_stage(depth)
        self.depth = depth
        self.kind = kind
        with torch.device("meta"):  # thread-local: layers skip their own (global-RNG) init
            self._make_layers(n, kind, widths, in_channels, num_classes)
        _materialize(self, generator)

    def _make_layers(
        self, n: int, kind: Kind, widths: tuple[int, int, int], in_channels: int, num_classes: int
    ) -> None:
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        stages = []
        in_ch = widths[0]
        for stage, width in enumerate(widths):
            blocks = []
            for i in range(n):
                stride = 2 if stage > 0 and i == 0 else 1
                blocks.append(BasicBlock(in_ch, width, stride, residual=kind == "residual"))
                in_ch = width
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.fc = nn.Linear(in_ch, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.stages(x)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))

    def weighted_layers(self) -> list[tuple[str, nn.Conv2d | nn.Linear]]:
        """The 6n+2 conv/fc layers, input to output, with their module paths."""
        return [
            (name, m) for name, m in self.named_modules() if isinstance(m, nn.Conv2d | nn.Linear)
        ]


def _materialize(module: nn.Module, generator: torch.Generator | None) -> None:
    """Give a module built on meta real CPU weights, every random number drawn from
    `generator`: convolutions He-normal (fan out, as the paper), linear layers PyTorch's own
    default, BatchNorm 1 and 0. The global RNG is never touched (two sessions building at
    once must not share one random stream)."""
    module.to_empty(device="cpu")
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(
                m.weight, mode="fan_out", nonlinearity="relu", generator=generator
            )
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            # PyTorch's own initialisation, its draws handed to the generator (explorer.core.rng)
            with LocalGenerator(generator) if generator is not None else contextlib.nullcontext():
                m.reset_parameters()
        elif isinstance(m, nn.BatchNorm2d):
            m.reset_parameters()


def blocks_per_stage(depth: int) -> int:
    """n of a 6n+2-layer network; ExperimentError for any other depth."""
    if depth < 8 or (depth - 2) % 6:
        raise ExperimentError(
            f"Depth {depth} is not of the form 6n+2 (n ≥ 1): choose from "
            f"{', '.join(map(str, SUPPORTED_DEPTHS))} or another 6n+2."
        )
    return (depth - 2) // 6


def build_network(
    depth: int, kind: str, widths: tuple[int, int, int] = (8, 16, 32), *, seed: int | None = None
) -> CifarStyleNet:
    """A plain or residual 6n+2-layer network for 1×8×8 digits; `seed` fixes its weights."""
    if kind not in KINDS:
        raise ExperimentError(f"Unknown network kind {kind!r}: use 'plain' or 'residual'.")
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    return CifarStyleNet(depth, kind, widths, generator=generator)


# ---------------------------------------------------------------------------------------
# The identity argument
# ---------------------------------------------------------------------------------------


class DenseResidualBlock(nn.Module):
    """The lecture's residual block on vectors:

    z[l+1] = W[l+1] a[l] + b[l+1],  a[l+1] = ReLU(z[l+1]),
    z[l+2] = W[l+2] a[l+1] + b[l+2], a[l+2] = ReLU(z[l+2] + a[l])        (n_in = n_out)
                                     a[l+2] = ReLU(z[l+2] + W_s a[l])    (W_s: n_out × n_in)
    """

    def __init__(
        self, in_features: int, out_features: int, generator: torch.Generator | None = None
    ) -> None:
        super().__init__()
        with torch.device("meta"):
            self.layer1 = nn.Linear(in_features, out_features)  # W[l+1], b[l+1]
            self.layer2 = nn.Linear(out_features, out_features)  # W[l+2], b[l+2]
            self.projection: nn.Linear | None = (
                nn.Linear(in_features, out_features, bias=False)  # W_s
                if in_features != out_features
                else None
            )
        _materialize(self, generator)

    def shortcut(self, a: Tensor) -> Tensor:
        return a if self.projection is None else self.projection(a)

    def forward(self, a: Tensor) -> Tensor:
        z2 = self.layer2(F.relu(self.layer1(a)))
        return F.relu(z2 + self.shortcut(a))


@dataclass(frozen=True)
class IdentityDemo:
    """What a residual block returns for one input vector a[l], and what it is compared to."""

    in_features: int
    out_features: int
    zero_weight: bool
    zero_bias: bool
    nonnegative_input: bool
    #: "a[l]" (same shapes) or "ReLU(W_s a[l])" (projection shortcut)
    expected_label: str
    input: tuple[float, ...]
    output: tuple[float, ...]
    expected: tuple[float, ...]
    #: max |output - expected|; exactly 0.0 when the block is the identity
    max_abs_difference: float
    #: torch.equal(output, expected): bit-for-bit equal, not merely close
    exact: bool


def identity_demo(
    in_features: int = 256,
    out_features: int = 256,
    *,
    zero_weight: bool = True,
    zero_bias: bool = True,
    nonnegative_input: bool = True,
    seed: int = 0,
) -> IdentityDemo:
    """Build a random residual block, optionally set W[l+2] and/or b[l+2] to zero, and
    compare its output with a[l] (or ReLU(W_s a[l]) when the shapes differ).

    With both zeroed and a[l] ≥ 0 (it is the output of a ReLU), z[l+2] is exactly 0 and
    a[l+2] = ReLU(a[l]) = a[l] bit for bit. A negative input shows why a ≥ 0 matters.
    """
    for n in (in_features, out_features):
        if not 1 <= n <= 4096:
            raise ExperimentError("Layer sizes must be between 1 and 4096 units.")
    generator = torch.Generator().manual_seed(seed)
    block = DenseResidualBlock(in_features, out_features, generator).eval()
    a = torch.randn(1, in_features, generator=generator)
    if nonnegative_input:
        a = F.relu(a)  # a[l] is itself the output of a ReLU
    with torch.no_grad():
        if zero_weight:
            block.layer2.weight.zero_()
        if zero_bias:
            block.layer2.bias.zero_()
        output = block(a)
        expected = a if block.projection is None else F.relu(block.shortcut(a))
    return IdentityDemo(
        in_features=in_features,
        out_features=out_features,
        zero_weight=zero_weight,
        zero_bias=zero_bias,
        nonnegative_input=nonnegative_input,
        expected_label="a[l]" if block.projection is None else "ReLU(W_s a[l])",
        input=tuple(a[0].tolist()),
        output=tuple(output[0].tolist()),
        expected=tuple(expected[0].tolist()),
        max_abs_difference=float((output - expected).abs().max()),
        exact=bool(torch.equal(output, expected)),
    )
