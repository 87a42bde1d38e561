"""Cheap answers on the meta device for what dominates a trace.

PyTorch's meta kernels for many ops are Python decompositions (a batch norm 0.1 ms, an addmm
0.36 ms). For the ordinary case of these ops the output's shape and dtype follow from the
inputs' alone, so the tracer answers with an empty meta tensor of that shape. Anything
unusual returns None and takes PyTorch's own kernel, which raises PyTorch's own errors.
test_macs_equal_flop_counter_mode and the catalog walk check that no total or shape changes.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from explorer.layer_math import conv_output_size

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
                    return torch.empty_like(x)
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
SOFTMAXES = {aten._safe_softmax.default, aten._softmax.default, aten._log_softmax.default}
CONVOLUTION = aten.convolution.default
MATMULS = {aten.addmm.default, aten.mm.default, aten.bmm.default}
INPLACE = {
    aten.add_.Tensor, aten.sub_.Tensor, aten.mul_.Tensor,
    aten.add_.Scalar, aten.sub_.Scalar, aten.mul_.Scalar,
}  # fmt: skip
ARITHMETIC = INPLACE | {
    aten.add.Tensor, aten.sub.Tensor, aten.mul.Tensor,
    aten.add.Scalar, aten.sub.Scalar, aten.mul.Scalar,
}  # fmt: skip


def norm_output(func: Any, args: tuple[Any, ...]) -> tuple[torch.Tensor, ...]:
    x = args[0]
    if func in BATCH_NORMS:
        empty = x.new_empty((0,))
        return (torch.empty_like(x), empty, empty)
    normalized = args[1]
    kept = x.shape[: x.dim() - len(normalized)]
    stats = x.new_empty((*kept, *([1] * len(normalized))))
    return (torch.empty_like(x), stats, stats)


def softmax_output(args: tuple[Any, ...], kwargs: dict[str, Any]) -> torch.Tensor:
    x = args[0]
    dtype = args[2] if len(args) > 2 and args[2] is not None else kwargs.get("dtype")
    return torch.empty_like(x, dtype=dtype or x.dtype)


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
    return x.new_empty((x.shape[0], w.shape[0], *out))


def arithmetic_output(func: Any, args: tuple[Any, ...]) -> torch.Tensor | None:
    """+, −, × keep the broadcast shape and the promoted dtype (residual additions, scales)."""
    a, b = args
    if not isinstance(a, torch.Tensor):
        return None
    if isinstance(b, torch.Tensor) and b.device != a.device:
        # a CPU scalar times a meta tensor (torch.tensor(0.5) * x): the result is on meta
        if b.dim() == 0 and a.is_meta:
            pass
        elif a.dim() == 0 and b.is_meta:
            a, b = b, a
            if func in INPLACE:
                return None
        else:
            return None
    b_shape = b.shape if isinstance(b, torch.Tensor) else ()
    try:
        shape = torch.broadcast_shapes(a.shape, b_shape)
    except RuntimeError:
        return None  # PyTorch's kernel raises its own message
    if func in INPLACE:
        return a if shape == a.shape else None
    return a.new_empty(shape, dtype=torch.result_type(*args))


def matmul_output(func: Any, args: tuple[Any, ...]) -> torch.Tensor | None:
    a, b = (args[1], args[2]) if func is aten.addmm.default else (args[0], args[1])
    if func is aten.bmm.default:
        if a.dim() != 3 or b.dim() != 3 or a.shape[0] != b.shape[0] or a.shape[2] != b.shape[1]:
            return None
        return a.new_empty((a.shape[0], a.shape[1], b.shape[2]))
    if a.dim() != 2 or b.dim() != 2 or a.shape[1] != b.shape[0]:
        return None
    if func is aten.addmm.default:
        bias = args[0]
        if bias.dim() > 2 or (bias.dim() >= 1 and bias.shape[-1] not in (1, b.shape[1])):
            return None
        if not all(isinstance(v, int | float) for v in args[3:]):
            return None
    return a.new_empty((a.shape[0], b.shape[1]))
