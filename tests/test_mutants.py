"""Tests that kill the mutants which survived the old suite, each against an independent oracle:
a hand count, PyTorch's own answer, or the library's own behaviour (benchmarks/mutation.py
applies each mutant and runs these tests)."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

import explorer
from explorer.analysis.analysis import record_architecture
from explorer.core import limits
from explorer.core.errors import BudgetError
from explorer.core.layer_math import conv_output_size
from explorer.graph.dataflow import weight_layer_depth
from explorer.labs.augment import Pipeline, RandomResizedCrop, Shear
from explorer.serving.jobs import JobRunner
from explorer.serving.replies import ReplyError, dump_reply, load_reply
from explorer.weights.files import tensor_budget
from explorer.weights.model_cache import ModelCache


class _FusedLinearGelu(nn.Module):
    """aten._addmm_activation: bias + x @ w with a GELU, in one op (what a fused linear runs)."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.ones(7, 5))
        self.b = nn.Parameter(torch.ones(5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.aten._addmm_activation(self.b, x, self.w, use_gelu=True)


def test_addmm_activation_counts_every_product() -> None:
    """(4, 7) @ (7, 5): 4 × 7 × 5 = 140 multiply-accumulates by hand."""
    t = explorer.trace(_FusedLinearGelu(), inputs="4x7")
    assert t.total_macs == 4 * 7 * 5


@pytest.mark.parametrize(
    ("n", "f", "s", "p"), [(5, 2, 2, 1), (6, 3, 2, 1), (7, 3, 3, 1), (10, 4, 3, 2), (9, 2, 2, 0)]
)
def test_ceil_mode_output_size_is_pytorchs(n: int, f: int, s: int, p: int) -> None:
    """PyTorch's own pooling decides: a last window that would start in the padding is
    dropped (n=5, f=2, s=2, p=1 gives 3, not 4)."""
    pool = nn.MaxPool2d(f, s, padding=p, ceil_mode=True)
    expected = pool(torch.zeros(1, 1, n, n)).shape[-1]
    assert conv_output_size(n, f, p, s, ceil=True) == expected
    assert conv_output_size(5, 2, 1, 2, ceil=True) == 3


class _LearnedMatrix(nn.Module):
    """One Linear layer, then a product with a learned matrix written as `x @ W`."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 8)
        self.w = nn.Parameter(torch.ones(8, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.flatten(1)) @ self.w


def test_a_functional_matmul_is_not_a_layer_of_the_papers_depth() -> None:
    """The papers count conv and FC layers (modules); a product written in forward() is
    arithmetic, drawn as a node but not counted: one layer here."""
    rec = record_architecture(_LearnedMatrix(), (2, 2, 2))
    assert weight_layer_depth(rec) == 1


def test_the_channel_limit_is_inclusive() -> None:
    limits.check_trace_request((limits.TRACE_MAX_CHANNELS, 8, 8), 1)
    limits.check_trace_request((3, limits.TRACE_MAX_SIDE, limits.TRACE_MAX_SIDE), 1)
    with pytest.raises(BudgetError, match="channels"):
        limits.check_trace_request((limits.TRACE_MAX_CHANNELS + 1, 8, 8), 1)
    with pytest.raises(BudgetError, match="pixels on a side"):
        limits.check_trace_request((3, limits.TRACE_MAX_SIDE + 1, 8), 1)


def test_the_weights_budget_never_passes_its_cap() -> None:
    cap = limits.WEIGHTS_MAX_TENSOR_BYTES
    assert tensor_budget(cap) == cap  # 3 × a 4 GB model, plus the slack, is still the cap
    assert tensor_budget(cap // 3) == cap
    assert tensor_budget(1000) == 3000 + limits.WEIGHTS_SLACK_BYTES
    assert tensor_budget(None) == cap


def test_a_reply_may_not_rebuild_explorer_functions_or_plain_classes() -> None:
    """Only dataclasses, enums and errors of explorer come back; a function of explorer's
    (the first thing an attacker would name) or any other class of it is refused."""
    assert load_reply(dump_reply(explorer.InputSizeError("x"))).args == ("x",)
    for hostile in (explorer.trace, explorer.analyse, load_reply, JobRunner, ModelCache):
        with pytest.raises(ReplyError):
            load_reply(dump_reply(hostile))
        name = f"{hostile.__module__}:{hostile.__qualname__}"  # named in a crafted reply
        for kind in ("$dataclass", "$enum", "$error"):
            crafted = json.dumps({kind: name, "fields": {}, "value": 1, "args": []}).encode()
            with pytest.raises(ReplyError):
                load_reply(len(crafted).to_bytes(8, "big") + crafted)


def _line_rows(image: torch.Tensor) -> int:
    """Rows that hold part of the white line."""
    return int((image[0] > 128).any(dim=1).sum())


def _line_columns(image: torch.Tensor) -> int:
    return int((image[0] > 128).any(dim=0).sum())


def test_shear_x_moves_pixels_along_rows_and_y_along_columns() -> None:
    """A horizontal line stays on its row under an x shear and tilts under a y shear; a
    vertical line the other way round (torchvision's own RandomAffine does the warping)."""
    horizontal = torch.zeros(3, 64, 64, dtype=torch.uint8)
    horizontal[:, 32, 8:56] = 255
    vertical = horizontal.transpose(1, 2).contiguous()
    x_only = Pipeline((Shear(shear_x=40.0, shear_y=0.0),))
    y_only = Pipeline((Shear(shear_x=0.0, shear_y=40.0),))
    tilted_rows, tilted_cols = 0, 0
    for seed in range(8):
        assert _line_rows(x_only.apply(horizontal, seed)) <= 2
        assert _line_columns(y_only.apply(vertical, seed)) <= 2
        tilted_rows = max(tilted_rows, _line_rows(y_only.apply(horizontal, seed)))
        tilted_cols = max(tilted_cols, _line_columns(x_only.apply(vertical, seed)))
    assert tilted_rows > 10 and tilted_cols > 10


def test_random_resized_crop_keeps_its_maximum_area() -> None:
    """Pixels coded with their own (x, y): the output's coordinate range is the crop box,
    whose area never passes scale_max × the picture (plus a pixel's rounding per side)."""
    h = w = 200
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    coded = torch.stack([xs, ys, torch.zeros_like(xs)]).to(torch.uint8)
    step = RandomResizedCrop(size=32, scale_min=0.01, scale_max=0.04)
    largest = 0
    for seed in range(24):
        out = Pipeline((step,)).apply(coded, seed).float()
        span_x = out[0].max() - out[0].min() + 1
        span_y = out[1].max() - out[1].min() + 1
        largest = max(largest, int(span_x * span_y))
    assert largest <= 0.04 * h * w * 1.15
    assert largest > 0.01 * h * w
