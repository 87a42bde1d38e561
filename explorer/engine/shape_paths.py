"""Cheap answers on the meta device for what dominates a trace.

PyTorch's meta kernels for many ops are Python decompositions (a batch norm 0.1 ms, an addmm
0.36 ms). For the ordinary case of these ops the output's shape and dtype follow from the
inputs' alone, so the tracer answers with an empty meta tensor of that shape. Anything
unusual returns None and takes PyTorch's own kernel, which raises PyTorch's own errors.
test_macs_equal_flop_counter_mode and the catalog walk check that no total or shape changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch._prims_common import suggest_memory_format

from explorer.core.layer_math import conv_output_size

aten = torch.ops.aten

# --------------------------------------------------------------------------- whole layers

# Layers that keep their input's shape and do no multiply-accumulates. While tracing, a layer
# whose forward is exactly one of these (not a subclass that overrides it) passes its input
# through: the meta kernels of norms and activations are Python code and were half of a
# ResNet-152 trace.
PASSTHROUGH_FORWARDS = {
    cls.forward
    for cls in (
        nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.LayerNorm, nn.GroupNorm,
        nn.LocalResponseNorm, nn.Dropout, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout,
        nn.Identity, nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Mish,
        nn.Sigmoid, nn.Tanh, nn.Hardswish, nn.Hardsigmoid, nn.Hardtanh,
    )
}  # fmt: skip


def _accepts(module: nn.Module, x: torch.Tensor) -> bool:
    """Whether a norm layer would accept x (else run the real forward, which raises)."""
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        return x.dim() >= 2 and x.shape[1] == module.num_features
    if isinstance(module, nn.GroupNorm):
        return x.dim() >= 2 and x.shape[1] == module.num_channels
    if isinstance(module, nn.LayerNorm):
        n = len(module.normalized_shape)
        return tuple(x.shape[-n:]) == tuple(module.normalized_shape)
    return True


def passthrough(module: nn.Module, fresh: bool) -> Any:
    """A forward that returns its input (`fresh`: a new empty tensor of the same shape, so a
    data-flow recording can tell the layer's output from its input)."""
    real = module.forward

    def forward(x: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(x, torch.Tensor) and not args and not kwargs and _accepts(module, x):
            if fresh:
                with torch._C.DisableTorchFunction():
                    return torch.empty(x.shape, dtype=x.dtype, device=x.device)
            return x
        return real(x, *args, **kwargs)

    return forward


# --------------------------------------------------------------------------- aten ops

BATCH_NORMS = {
    aten._native_batch_norm_legit_no_training.default,
    aten.native_batch_norm.default,
    aten.cudnn_batch_norm.default,
}
LAYER_NORMS = {aten.native_layer_norm.default}
GROUP_NORM = aten.native_group_norm.default
SOFTMAXES = {aten._safe_softmax.default, aten._softmax.default, aten._log_softmax.default}
CONVOLUTION = aten.convolution.default
MATMULS = {aten.addmm.default, aten.mm.default, aten.bmm.default}


def _empty(shape: Sequence[int], dtype: torch.dtype) -> torch.Tensor:
    """An empty meta tensor (torch.empty: 2 µs; `Tensor.new_empty` runs a Python meta kernel,
    6 µs, and is called for every convolution and linear layer)."""
    return torch.empty(shape, dtype=dtype, device="meta")


def _dense(shape: Sequence[int], stride: Sequence[int]) -> bool:
    """Whether a tensor of this shape and stride is non-overlapping and dense (PyTorch's rule:
    ordered by stride, each dimension longer than 1 steps over exactly the ones before it)."""
    expected = 1
    for size, step in sorted(zip(shape, stride), key=lambda pair: pair[1]):
        if size != 1:
            if step != expected:
                return False
            expected *= size
    return True


def like(x: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
    """`torch.empty_like(x, dtype=dtype)` on meta: the same shape and, for a dense tensor (a
    channels-last or permuted one too), the same strides. empty_like's meta kernel is Python
    (20 µs a call against 2); it still answers the overlapping case (an expanded tensor)."""
    if _dense(x.shape, x.stride()):
        return torch.empty_strided(x.shape, x.stride(), dtype=dtype or x.dtype, device="meta")
    return torch.empty_like(x, dtype=dtype)


def norm_output(func: Any, args: tuple[Any, ...]) -> tuple[torch.Tensor, ...] | None:
    x = args[0]
    if func in BATCH_NORMS:
        empty = _empty((0,), x.dtype)
        return (like(x), empty, empty)
    if func is GROUP_NORM:  # (input, weight, bias, N, C, HxW, group, eps)
        n, c, hxw, groups = args[3:7]
        fits = x.dim() >= 2 and tuple(x.shape[:2]) == (n, c) and x.numel() == n * c * hxw
        fits = fits and groups > 0 and c % groups == 0
        if not fits or any(w is not None and tuple(w.shape) != (c,) for w in args[1:3]):
            return None  # PyTorch's kernel raises its own message
        stats = _empty((n, groups), x.dtype)
        return (_empty(x.shape, x.dtype), stats, stats)  # contiguous, as PyTorch's meta kernel
    normalized = args[1]
    kept = x.shape[: x.dim() - len(normalized)]
    stats = _empty((*kept, *([1] * len(normalized))), x.dtype)
    return (_empty(x.shape, x.dtype), stats, stats)  # contiguous, as PyTorch's meta kernel


def softmax_output(args: tuple[Any, ...], kwargs: dict[str, Any]) -> torch.Tensor:
    x = args[0]
    dtype = args[2] if len(args) > 2 and args[2] is not None else kwargs.get("dtype")
    return _empty(x.shape, dtype or x.dtype)  # contiguous, as PyTorch's meta kernel


def conv_output(
    x: torch.Tensor,
    w: torch.Tensor,
    bias: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    transposed: bool,
    output_padding: Any,
    groups: int,
) -> torch.Tensor | None:
    """The lecture's ⌊(n + 2p − d(f − 1) − 1)/s⌋ + 1 per spatial dimension."""
    spatial = x.dim() - 2
    if transposed or spatial < 1 or w.dim() != x.dim() or x.shape[1] != w.shape[1] * groups:
        return None
    if not (len(stride) == len(padding) == len(dilation) == spatial):
        return None
    out = []
    for n, k, s, p, d in zip(x.shape[2:], w.shape[2:], stride, padding, dilation):
        size = conv_output_size(n, k, p, s, d)
        if size < 1:
            return None
        out.append(size)
    return _empty((x.shape[0], w.shape[0], *out), x.dtype)


def matmul_output(func: Any, args: tuple[Any, ...]) -> torch.Tensor | None:
    a, b = (args[1], args[2]) if func is aten.addmm.default else (args[0], args[1])
    if func is aten.bmm.default:
        if a.dim() != 3 or b.dim() != 3 or a.shape[0] != b.shape[0] or a.shape[2] != b.shape[1]:
            return None
        return _empty((a.shape[0], a.shape[1], b.shape[2]), a.dtype)
    if a.dim() != 2 or b.dim() != 2 or a.shape[1] != b.shape[0]:
        return None
    if func is aten.addmm.default:
        bias = args[0]
        if bias.dim() > 2 or (bias.dim() >= 1 and bias.shape[-1] not in (1, b.shape[1])):
            return None
        if not all(isinstance(v, int | float) for v in args[3:]):
            return None
    return _empty((a.shape[0], b.shape[1]), a.dtype)


# --------------------------------------------------------------------------- shape-only ops
#
# One general path instead of a list of special cases: an op that does no multiply-adds is
# answered from its *schema* and *tags* (PyTorch's own metadata): a `pointwise` op has the
# broadcast shape of its tensors, a `reduction` drops (or keeps as 1) its `dim`s, `cat`/`stack`
# join along `dim`. Only the plain case is answered (all floating tensors of one dtype, on
# meta, no `out=`); anything else goes to PyTorch's meta kernel.

# Pointwise ops whose result is bool whatever the inputs' dtype.
_BOOL_OUT = {
    "eq", "ne", "lt", "le", "gt", "ge", "isnan", "isinf", "isfinite", "isneginf", "isposinf",
    "logical_and", "logical_or", "logical_xor", "logical_not", "signbit", "isclose",
}  # fmt: skip
_SAME_SHAPE = {aten.roll.default, aten.flip.default}


def classify(func: Any) -> str:
    """Which shape path an aten op can take: pointwise (pointwise_ for in-place, pointwise?
    for a bool result), reduction, join, resize, same, or ''."""
    name = func._overloadpacket.__name__
    tags = func.tags
    if torch.Tag.pointwise in tags and not name.startswith("bitwise"):
        if torch.Tag.inplace in tags:
            return "pointwise_"
        return "pointwise?" if name in _BOOL_OUT else "pointwise"
    if torch.Tag.reduction in tags and len(func._schema.returns) == 1:
        names = {a.name for a in func._schema.arguments}
        if names <= {"self", "dim", "keepdim", "dtype", "ord"} and "dim" in names:
            return "reduction"
    if func in (aten.cat.default, aten.stack.default):
        return "join"
    if func._overloadname == "default" and name.lstrip("_").startswith("upsample_"):
        return "resize"  # (self, output_size, ...): F.interpolate's kernels
    if func in _SAME_SHAPE:
        return "same"
    return ""


def broadcast(*shapes: Sequence[int]) -> tuple[int, ...] | None:
    """NumPy broadcasting of plain int shapes; None if they do not broadcast."""
    n = max(len(s) for s in shapes)
    out = [1] * n
    for shape in shapes:
        offset = n - len(shape)
        for i, size in enumerate(shape):
            j = offset + i
            if size != 1:
                if out[j] == 1:
                    out[j] = size
                elif out[j] != size:
                    return None
    return tuple(out)


def _bind(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    bound = {a.name: v for a, v in zip(func._schema.arguments, args)}
    bound.update(kwargs)
    return bound


def _float_dtype(tensors: list[torch.Tensor]) -> torch.dtype | None:
    """The one floating dtype of the non-bool tensors (masks and conditions are bool)."""
    dtypes = {t.dtype for t in tensors if t.dtype is not torch.bool}
    if len(dtypes) != 1:
        return None
    dtype = dtypes.pop()
    return dtype if dtype.is_floating_point else None


def shape_only(
    func: Any, kind: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> torch.Tensor | None:
    """An empty meta tensor shaped as `func`'s result, or None: ask PyTorch's kernel."""
    if "out" in kwargs:
        return None
    if kind.startswith("pointwise"):
        return _pointwise(kind, args, kwargs)
    if kind == "reduction":
        return _reduction(func, args, kwargs)
    if kind == "join":
        return _join(func, args, kwargs)
    x = args[0]
    if not isinstance(x, torch.Tensor) or not x.is_meta:
        return None
    if kind == "resize":
        return _resize(x, args[1])
    if func is aten.roll.default:
        return _empty(x.shape, x.dtype)  # contiguous, as PyTorch's meta kernel
    return like(x)  # flip keeps the layout


def _resize(x: torch.Tensor, size: Sequence[int]) -> torch.Tensor | None:
    """F.interpolate's result: (N, C, *output_size), laid out as PyTorch's kernels lay it out
    (channels-last in, channels-last out). Their meta kernels are Python decompositions that
    build the interpolation indices: 6 ms a bilinear call, 30 ms a bicubic one."""
    if x.dim() != len(size) + 2 or 0 in x.shape[1:] or any(s <= 0 for s in size):
        return None  # PyTorch's kernel raises its own message
    if not x.dtype.is_floating_point:
        return None  # PyTorch's kernel raises its own message
    fmt = suggest_memory_format(x)
    shape = (*x.shape[:2], *size)
    return torch.empty(shape, dtype=x.dtype, device="meta", memory_format=fmt)


def _pointwise(
    kind: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> torch.Tensor | None:
    tensors = [a for a in args if isinstance(a, torch.Tensor)]
    if kwargs:
        tensors += [v for v in kwargs.values() if isinstance(v, torch.Tensor)]
    if not tensors or any(not t.is_meta and t.dim() > 0 for t in tensors):
        return None  # a CPU scalar tensor (torch.tensor(0.5) * x) is fine, the result is meta
    dtype = _float_dtype(tensors)
    if dtype is None or "dtype" in kwargs:
        return None
    shape = broadcast(*(t.shape for t in tensors))
    if shape is None:
        return None  # PyTorch's kernel raises its own message
    if kind == "pointwise_":  # in place: the result is `self`, which must already fit
        self = args[0]
        ok = isinstance(self, torch.Tensor) and self.is_meta and self.shape == shape
        return self if ok and self.dtype == dtype else None
    return torch.empty(shape, dtype=torch.bool if kind == "pointwise?" else dtype, device="meta")


def _reduction(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> torch.Tensor | None:
    bound = _bind(func, args, kwargs)
    x = bound.get("self")
    if not isinstance(x, torch.Tensor) or not x.is_meta or not x.dtype.is_floating_point:
        return None
    dims = bound.get("dim")
    n = x.dim()
    if dims is None or (isinstance(dims, list | tuple) and len(dims) == 0):
        dims = list(range(n))
    elif isinstance(dims, int):
        dims = [dims]
    if n == 0 or any(not -n <= d < n for d in dims):
        return None
    reduced = {d % n for d in dims}
    keep = bool(bound.get("keepdim", False))
    shape = [1 if i in reduced else s for i, s in enumerate(x.shape) if keep or i not in reduced]
    return torch.empty(shape, dtype=bound.get("dtype") or x.dtype, device="meta")


def _join(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> torch.Tensor | None:
    bound = _bind(func, args, kwargs)
    tensors = [t for t in bound["tensors"] if not (t.dim() == 1 and t.numel() == 0)]
    if not tensors or any(not t.is_meta for t in tensors) or _float_dtype(tensors) is None:
        return None
    if len({t.dtype for t in tensors}) != 1:
        return None
    first = tensors[0].shape
    n = len(first) + (1 if func is aten.stack.default else 0)
    dim = bound.get("dim", 0)
    if not -n <= dim < n:
        return None
    dim %= n
    if func is aten.stack.default:
        if any(t.shape != first for t in tensors):
            return None
        shape = [*first[:dim], len(tensors), *first[dim:]]
    else:
        if any(t.dim() != len(first) for t in tensors):
            return None
        if any(t.shape[:dim] != first[:dim] or t.shape[dim + 1 :] != first[dim + 1 :]
               for t in tensors):  # fmt: skip
            return None
        shape = [*first[:dim], sum(t.shape[dim] for t in tensors), *first[dim + 1 :]]
    return torch.empty(shape, dtype=tensors[0].dtype, device="meta")
