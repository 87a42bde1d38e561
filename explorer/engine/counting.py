"""Multiply-accumulates per module, counted at the aten level on the meta device.

`MacCounter` is a TorchDispatchMode that sees every aten op of a forward pass. It counts with
PyTorch's own formulas (`torch.utils.flop_counter.flop_registry`, the table FlopCounterMode
uses: FLOPs / 2) and, for the products that table lacks, with `EXTRA_MACS` below. Shapes of
the ops that dominate a trace are answered cheaply (explorer.engine.shape_paths).

The convention (README, "What counts as a MAC"): one MAC per multiply that is summed into an
output of a matrix-like product — convolutions (transposed and grouped included), linear
layers, mm/bmm/baddbmm/addbmm, mv/addmv, dot/vdot, addr (a rank-1 update, k = 1), attention,
and nn.Bilinear (`_trilinear`: x1ᵢ·Wₒᵢⱼ·x2ⱼ is one MAC per output and (i, j) pair). Element-wise
products (`x * y`, `torch.outer`, `linalg.vecdot`, which PyTorch itself runs as mul + sum),
bias additions, norms and activations are not counted.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import conv_flop_count, flop_registry

from explorer.engine import shape_paths as fast

aten = torch.ops.aten


def _trilinear_macs(i1: Any, i2: Any, i3: Any, e1: Any, e2: Any, e3: Any, *_: Any) -> int:
    """nn.Bilinear: every element of the broadcast (N, out, in1, in2) product is one MAC."""
    shapes = []
    for t, expand in ((i1, e1), (i2, e2), (i3, e3)):
        shape = list(t.shape)
        for d in sorted(expand):
            shape.insert(d, 1)
        shapes.append(shape)
    return math.prod(torch.broadcast_shapes(*shapes))


EXTRA_MACS: dict[Any, Callable[..., int]] = {
    aten.mv: lambda m, v, *_, **__: m.shape[0] * m.shape[1],
    aten.addmv: lambda b, m, v, *_, **__: m.shape[0] * m.shape[1],
    aten.dot: lambda a, b, *_, **__: a.numel(),
    aten.vdot: lambda a, b, *_, **__: a.numel(),
    aten.addr: lambda m, a, b, *_, **__: a.numel() * b.numel(),
    aten.addbmm: lambda m, a, b, *_, **__: a.shape[0] * a.shape[1] * a.shape[2] * b.shape[2],
    aten._addmm_activation: lambda b, x, w, *_, **__: x.shape[0] * x.shape[1] * w.shape[1],
    aten._trilinear: lambda *args, **__: _trilinear_macs(*args),
}


# Set to False (per thread or task: a ContextVar, never process-wide) to run PyTorch's own
# meta kernel for every op: the catalog walk checks that the fast paths change nothing.
FAST_PATHS: ContextVar[bool] = ContextVar("explorer_fast_paths", default=True)

# The same formulas as flop_registry's for the products on every trace's hot path, without
# its wrapper's tree_map over the arguments (0.6 ms a call): n·k·m per matrix product.
_DIRECT: dict[Any, Callable[..., int]] = {
    aten.mm: lambda a, b, *_, **__: a.shape[0] * a.shape[1] * b.shape[1],
    aten.addmm: lambda c, a, b, *_, **__: a.shape[0] * a.shape[1] * b.shape[1],
    aten.bmm: lambda a, b, *_, **__: a.shape[0] * a.shape[1] * a.shape[2] * b.shape[2],
    aten.baddbmm: lambda c, a, b, *_, **__: a.shape[0] * a.shape[1] * a.shape[2] * b.shape[2],
}


def macs_of(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], out: Any) -> int:
    """MACs of one aten op call (0 for anything that is not a product)."""
    packet = func._overloadpacket
    direct = _DIRECT.get(packet)
    if direct is not None and FAST_PATHS.get():
        return int(direct(*args, **kwargs))
    counter = flop_registry.get(packet)
    if counter is not None:
        return int(counter(*args, **kwargs, out_val=out)) // 2
    extra = EXTRA_MACS.get(packet)
    return int(extra(*args, **kwargs)) if extra is not None else 0


# Ops asked of a tensor's metadata: never decomposed (their decompositions recurse).
_NO_DECOMPOSE = {
    aten.sym_is_contiguous.default,
    aten.is_contiguous.default,
    aten.is_contiguous.memory_format,
    aten.is_strides_like_format.default,
    aten.is_non_overlapping_and_dense.default,
    aten.size.default,
    aten.sym_size.default,
    aten.stride.default,
    aten.sym_stride.default,
    aten.storage_offset.default,
    aten.sym_storage_offset.default,
    aten.numel.default,
    aten.sym_numel.default,
    aten.dim.default,
    torch.ops.prim.layout.default,
    torch.ops.prim.device.default,
}
_COUNTED = set(flop_registry) | set(EXTRA_MACS)


_KINDS: dict[Any, str] = {}


def _kind(func: Any) -> str:
    """What the counter does with an aten op, decided once per op from PyTorch's metadata."""
    kind = _KINDS.get(func)
    if kind is None:
        packet = func._overloadpacket
        if func in fast.BATCH_NORMS or func in fast.LAYER_NORMS or func is fast.GROUP_NORM:
            kind = "norm"
        elif func is fast.CONVOLUTION:
            kind = "conv"
        elif func in fast.SOFTMAXES:
            kind = "softmax"
        elif func in fast.MATMULS:
            kind = "matmul"
        elif packet in _COUNTED:
            kind = "counted"
        elif func not in _NO_DECOMPOSE and torch._C._dispatch_has_kernel_for_dispatch_key(
            func.name(), "CompositeImplicitAutograd"
        ):
            kind = "decompose"
        else:
            kind = fast.classify(func) or "plain"
        _KINDS[func] = kind
    return kind


class MacCounter(TorchDispatchMode):
    """Adds each op's MACs to `own_macs[stack[-1]]` (the innermost module running)."""

    def __init__(self, stack: list[int], own_macs: list[int]) -> None:
        super().__init__()
        self.stack = stack
        self.own_macs = own_macs
        self.failed_at: list[int] | None = None
        self.fast = FAST_PATHS.get()

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        """Leave `__torch_dispatch__` unwrapped. PyTorch otherwise wraps it, at class
        creation, in `torch._disable_dynamo`, which costs two eval-frame switches per aten op
        (about 3% of a trace). A trace never runs under torch.compile. This is our class's own
        setting, not a change to PyTorch for anyone else."""
        return False

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        kind = _kind(func)
        try:
            if kind == "plain":
                return func(*args, **kwargs)
            if self.fast:
                out = self._fast(func, kind, args, kwargs)
                if out is not None:
                    return out
            if kind == "decompose":
                # As FlopCounterMode does: composite ops (conv2d, linear, ...) decompose
                # into the counted primitives (convolution, addmm, ...).
                with self:
                    decomposed = func.decompose(*args, **kwargs)
                if decomposed is not NotImplemented:
                    return decomposed
            out = func(*args, **kwargs)
        except Exception:
            if self.failed_at is None:
                self.failed_at = list(self.stack)
            raise
        if kind in ("counted", "conv", "matmul"):
            self.own_macs[self.stack[-1]] += macs_of(func, args, kwargs, out)
        return out

    def _fast(self, func: Any, kind: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """The cheap answer for this op, or None (then PyTorch's kernel runs)."""
        if kind == "norm":
            return fast.norm_output(func, args)
        if kind == "softmax":
            return fast.softmax_output(args, kwargs)
        if kind == "conv" and not kwargs:
            out = fast.conv_output(*args)
            if out is not None:
                x, w, transposed = args[0], args[1], args[6]
                shapes = (list(x.shape), list(w.shape), list(out.shape))
                macs = conv_flop_count(*shapes, transposed=transposed) // 2
                self.own_macs[self.stack[-1]] += macs
            return out
        if kind == "matmul" and not kwargs:
            out = fast.matmul_output(func, args)
            if out is not None:
                self.own_macs[self.stack[-1]] += macs_of(func, args, kwargs, out)
            return out
        if kind in ("decompose", "counted"):
            return None
        return fast.shape_only(func, kind, args, kwargs)
