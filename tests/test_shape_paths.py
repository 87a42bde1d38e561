"""The tracer's cheap answers (explorer.engine.shape_paths) equal PyTorch's own meta kernels: the
same
shape, strides and dtype for every layout, and PyTorch's own error where the input is wrong."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
import torch.nn.functional as F

import explorer
from explorer.engine.counting import FAST_PATHS, MacCounter


def _x() -> torch.Tensor:
    return torch.empty(2, 8, 10, 12, device="meta")


# Layouts a norm or a resize meets in real networks: contiguous, channels-last, a permuted
# (N, H, W, C) view as ConvNeXt's LayerNorm sees it, a strided slice (not dense).
LAYOUTS = {
    "contiguous": _x,
    "channels_last": lambda: _x().to(memory_format=torch.channels_last),
    "permuted": lambda: _x().permute(0, 2, 3, 1),
    "strided": lambda: _x()[:, :, ::2],
}


def _both(fn: Callable[[], Any]) -> tuple[Any, Any]:
    """fn's result with the fast paths, then with PyTorch's meta kernels (or the error text)."""
    results = []
    for fast in (True, False):
        token = FAST_PATHS.set(fast)
        try:
            with torch.no_grad(), MacCounter([0], [0]):
                results.append(fn())
        except RuntimeError as exc:
            results.append(str(exc).splitlines()[0])
        finally:
            FAST_PATHS.reset(token)
    return results[0], results[1]


def _same(fast: Any, exact: Any) -> None:
    if isinstance(exact, str):
        assert fast == exact
        return
    outs = fast if isinstance(fast, tuple) else (fast,)
    refs = exact if isinstance(exact, tuple) else (exact,)
    for a, b in zip(outs, refs, strict=True):
        assert (a.shape, a.stride(), a.dtype, a.device) == (b.shape, b.stride(), b.dtype, b.device)


def _channels(x: torch.Tensor) -> torch.Tensor:
    return torch.empty(x.shape[1], device="meta")


OPS: dict[str, Callable[[torch.Tensor], Any]] = {
    "batch_norm": lambda x: F.batch_norm(x, _channels(x), _channels(x)),
    "layer_norm": lambda x: F.layer_norm(x, (x.shape[-1],)),
    "group_norm": lambda x: F.group_norm(x, 4, _channels(x), _channels(x)),
    "group_norm, no affine": lambda x: F.group_norm(x, 2),
    "softmax": lambda x: F.softmax(x, -1),
    "log_softmax": lambda x: F.log_softmax(x, 1),
    "roll": lambda x: torch.roll(x, 1, 0),
    "flip": lambda x: torch.flip(x, (0,)),
    "bilinear": lambda x: F.interpolate(x, size=(7, 31), mode="bilinear"),
    "bilinear, corners": lambda x: F.interpolate(x, scale_factor=2.5, mode="bilinear",
                                                 align_corners=True),
    "bicubic": lambda x: F.interpolate(x, scale_factor=2, mode="bicubic"),
    "nearest": lambda x: F.interpolate(x, scale_factor=2, mode="nearest"),
    "nearest-exact": lambda x: F.interpolate(x, size=(5, 5), mode="nearest-exact"),
    "antialiased": lambda x: F.interpolate(x, size=(5, 6), mode="bilinear", antialias=True),
}  # fmt: skip


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("op", OPS)
def test_fast_answer_equals_the_meta_kernel(op: str, layout: str) -> None:
    x = LAYOUTS[layout]()
    if op.startswith("group_norm") and x.shape[1] % 4:
        x = x.movedim(-1, 1)  # (N, W, ...) still has a channel count that 4 groups divide
    fast, exact = _both(lambda: OPS[op](x))
    _same(fast, exact)


@pytest.mark.parametrize(
    "fn",
    [
        lambda: F.interpolate(torch.empty(2, 3, 8, device="meta"), scale_factor=2, mode="linear"),
        lambda: F.interpolate(torch.empty(1, 2, 3, 4, 5, device="meta"), scale_factor=2,
                              mode="trilinear"),
        lambda: F.interpolate(torch.empty(1, 2, 3, 4, 5, device="meta"), size=(2, 2, 2)),
        lambda: F.group_norm(torch.empty(3, 8, device="meta"), 8),
        lambda: F.group_norm(torch.empty(3, 8, 5, device="meta"), 1),
        lambda: torch.ops.aten.upsample_bilinear2d(_x()[0], [4, 4], False),  # unbatched
    ],
)  # fmt: skip
def test_other_ranks_equal_the_meta_kernel(fn: Callable[[], Any]) -> None:
    _same(*_both(fn))


@pytest.mark.parametrize(
    "fn",
    [
        lambda: F.group_norm(_x(), 3),  # 8 channels in 3 groups
        lambda: F.group_norm(_x(), 4, torch.empty(6, device="meta")),  # weight of 6 for 8
        lambda: torch.ops.aten.upsample_nearest2d(_x(), [0, 4]),
    ],
)
def test_wrong_input_gets_pytorchs_own_error(fn: Callable[[], Any]) -> None:
    fast, exact = _both(fn)
    assert isinstance(exact, str) and fast == exact


# timm models whose forward calls F.group_norm (timm's own GroupNorm layers) or F.interpolate
@pytest.mark.parametrize("name", ["poolformer_s12", "hrnet_w18_small", "resnetv2_50x1_bit"])
def test_timm_traces_unchanged_by_the_fast_paths(name: str) -> None:
    t = explorer.trace("timm/" + name)
    token = FAST_PATHS.set(False)
    try:
        exact = explorer.trace("timm/" + name)
    finally:
        FAST_PATHS.reset(token)
    assert t == exact
