"""MACs of the products FlopCounterMode's table lacks, each against a hand count (issue 13)."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import explorer


class _TokensTimesVector(nn.Module):
    """x.flatten(2).transpose(1, 2) @ q: (N, 64, 16) @ (16,) is aten.mv after folding."""

    def __init__(self) -> None:
        super().__init__()
        self.q = nn.Parameter(torch.ones(16))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(2).transpose(1, 2) @ self.q


class _VectorTimesMatrix(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.m = nn.Parameter(torch.ones(16, 5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten()[:16] @ self.m  # (16,) @ (16, 5): 80 MACs


class _Bilinear(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.bilinear = nn.Bilinear(12, 12, 5, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v = x.flatten(1)
        return self.bilinear(v, v)


class _Fn(nn.Module):
    def __init__(self, fn) -> None:  # type: ignore[no-untyped-def]
        super().__init__()
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.fn(x)
        return out


def test_matrix_times_vector_is_counted() -> None:
    """2 × 64 tokens × 16 channels = 2,048 (was 0)."""
    t = explorer.trace(_TokensTimesVector(), (16, 8, 8), batch_size=2)
    assert t.total_macs == 2 * 64 * 16 == 2_048
    assert t.output_shape == (2, 64)


def test_vector_times_matrix_is_counted() -> None:
    t = explorer.trace(_VectorTimesMatrix(), (1, 4, 4))
    assert t.total_macs == 16 * 5


def test_bilinear_is_counted() -> None:
    """nn.Bilinear(12, 12, 5): every output is x1ᵀ·Wₒ·x2 = 12 × 12 MACs; batch 2 → 1,440."""
    t = explorer.trace(_Bilinear(), (12, 1, 1), batch_size=2)
    assert t.total_macs == 2 * 5 * 12 * 12 == 1_440
    assert t.output_shape == (2, 5)


def test_cpu_scalar_times_meta_tensor_stays_on_meta() -> None:
    """torch.cat([torch.tensor(0.5) * x, x], 1) was refused: the product landed on the CPU."""
    model = _Fn(lambda x: torch.cat([torch.tensor(0.5) * x, x], 1))
    t = explorer.trace(model, (3, 4, 4))
    assert t.output_shape == (1, 6, 4, 4)
    model = _Fn(lambda x: torch.cat([x * torch.tensor(0.5), x], 1))
    assert explorer.trace(model, (3, 4, 4)).output_shape == (1, 6, 4, 4)


@pytest.mark.parametrize(
    ("fn", "macs"),
    [
        (lambda x: torch.mv(x.flatten(1).T, x.flatten()[:1]), 48),  # (48, 1) @ (1,)
        (lambda x: torch.dot(x.flatten(), x.flatten()), 48),
        (lambda x: torch.vdot(x.flatten(), x.flatten()), 48),
        (lambda x: torch.addmv(x.new_zeros(48), x.flatten(1).T, x.flatten()[:1]), 48),
        (lambda x: torch.addr(x.new_zeros(48, 48), x.flatten(), x.flatten()), 48 * 48),
        (lambda x: torch.addbmm(x.new_zeros(4, 4), x[0], x[0]), 3 * 4 * 4 * 4),
        (lambda x: torch.baddbmm(x.new_zeros(3, 4, 4), x[0], x[0]), 3 * 4 * 4 * 4),
        (lambda x: torch.einsum("bchw,bcwk->bchk", x, x), 3 * 4 * 4 * 4),
        (lambda x: torch.einsum("i,i->", x.flatten(), x.flatten()), 48),
        (lambda x: torch.linalg.multi_dot([x[0, 0], x[0, 1], x[0, 2]]), 2 * 4 * 4 * 4),
        (lambda x: torch.tensordot(x[0], x[0], dims=([0, 2], [0, 1])), 4 * 4 * 3 * 4),
        (lambda x: x.flatten() * x.flatten(), 0),  # element-wise: not a MAC
    ],
)
def test_audited_products(fn, macs: int) -> None:  # type: ignore[no-untyped-def]
    """The products FlopCounterMode's table lacks, on a (1, 3, 4, 4) input, by hand."""
    assert explorer.trace(_Fn(fn), (3, 4, 4)).total_macs == macs


def test_grouped_transposed_convolution_matches_hand_count() -> None:
    """Each of the 8×8 inputs scatters into 3×3 outputs per (in, out/groups) pair."""
    layer = nn.ConvTranspose2d(8, 12, 3, stride=2, groups=4, bias=False)
    t = explorer.trace(nn.Sequential(layer), (8, 8, 8))
    assert t.total_macs == 8 * 8 * 8 * (12 // 4) * 3 * 3
    with FlopCounterMode(display=False) as counter:
        layer(torch.zeros(1, 8, 8, 8))
    assert t.total_macs == counter.get_total_flops() // 2
