"""trace(): per-layer shapes, parameters and multiply-accumulates, without allocating weights."""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import conv_flop_count, flop_registry

from explorer.architectures import ArchSpec, resolve
from explorer.building import borrowed_meta_model, meta_copy
from explorer.errors import ExplorerError, InputSizeError, InputTooSmallError


@dataclass(frozen=True)
class LayerRecord:
    """One module of a traced network, in pre-order (the root has name "" and depth 0)."""

    name: str  # module path ("features.0"), "" for the root
    type: str  # class name ("Conv2d")
    depth: int
    parent: str | None  # None for the root
    is_leaf: bool  # no child modules
    input_shapes: tuple[tuple[int, ...], ...]  # every tensor input of the (last) call, (N, C, H, W)
    output_shape: tuple[int, ...]  # first tensor output; () when never called
    output_shapes: tuple[tuple[int, ...], ...]  # every tensor output
    params: int  # aggregate: this module and all below it
    own_params: int  # registered directly on this module
    trainable_params: int  # aggregate, requires_grad only
    macs: int  # aggregate multiply-accumulates, all calls
    own_macs: int  # done by this module's own code, not by a child module
    calls: int  # forward calls in one pass (0: defined but unused, e.g. eval-mode aux heads)
    hyper: dict[str, Any] = field(default_factory=dict)  # kernel_size, stride, padding, ...

    @property
    def flops(self) -> int:
        return 2 * self.macs


@dataclass(frozen=True)
class Trace:
    architecture: str
    input_shape: tuple[int, ...]  # (N, C, H, W)
    layers: tuple[LayerRecord, ...]
    total_params: int
    trainable_params: int
    total_macs: int
    param_bytes: int  # float32 weights and buffers
    activation_bytes: int  # float32 outputs of all leaf modules for the batch (forward pass)
    input_bytes: int
    output_shape: tuple[int, ...] = ()

    @property
    def total_flops(self) -> int:
        return 2 * self.total_macs

    @property
    def root(self) -> LayerRecord:
        return self.layers[0]

    def layer(self, name: str) -> LayerRecord:
        for record in self.layers:
            if record.name == name:
                return record
        raise KeyError(name)

    def children(self, name: str) -> list[LayerRecord]:
        return [r for r in self.layers if r.parent == name]

    def leaves(self) -> list[LayerRecord]:
        return [r for r in self.layers if r.is_leaf]

    def at_depth(self, depth: int) -> list[LayerRecord]:
        """Modules at `depth` plus shallower leaves: what a table shows at that detail."""
        return [r for r in self.layers if r.depth == depth or (r.is_leaf and 0 < r.depth < depth)]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["total_flops"] = self.total_flops
        return out


# --------------------------------------------------------------------------- tracing

_HYPER_ATTRS = (
    "in_channels",
    "out_channels",
    "kernel_size",
    "stride",
    "padding",
    "dilation",
    "groups",
    "in_features",
    "out_features",
    "num_features",
    "output_size",
    "ceil_mode",
    "size",
    "alpha",
    "beta",
    "k",
    "p",
    "start_dim",
    "embed_dim",
    "num_heads",
)

# Shape-preserving ops that carry no multiply-accumulates and whose meta kernels are slow
# Python decompositions (batch norm was 92% of a ResNet-152 trace). On meta we answer them
# with an empty tensor of the input's shape, which is exactly what the kernel would return.
_aten = torch.ops.aten
_BATCH_NORMS = {
    _aten._native_batch_norm_legit_no_training.default,
    _aten.native_batch_norm.default,
    _aten.cudnn_batch_norm.default,
}
_LAYER_NORMS = {_aten.native_layer_norm.default}


_NO_DECOMPOSE = {
    _aten.sym_is_contiguous.default,
    _aten.is_contiguous.default,
    _aten.is_contiguous.memory_format,
    _aten.is_strides_like_format.default,
    _aten.is_non_overlapping_and_dense.default,
    _aten.size.default,
    _aten.sym_size.default,
    _aten.stride.default,
    _aten.sym_stride.default,
    _aten.storage_offset.default,
    _aten.sym_storage_offset.default,
    _aten.numel.default,
    _aten.sym_numel.default,
    _aten.dim.default,
    torch.ops.prim.layout.default,
    torch.ops.prim.device.default,
}


def _shape_check(module: nn.Module, x: torch.Tensor) -> bool:
    """Whether a norm layer would accept x (else run the real forward, which raises)."""
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        return x.dim() >= 2 and x.shape[1] == module.num_features
    if isinstance(module, nn.GroupNorm):
        return x.dim() >= 2 and x.shape[1] == module.num_channels
    if isinstance(module, nn.LayerNorm):
        n = len(module.normalized_shape)
        return tuple(x.shape[-n:]) == tuple(module.normalized_shape)
    return True


# Layers that keep their input's shape and do no multiply-accumulates. While tracing, a layer
# whose forward is exactly one of these (not a subclass that overrides it) passes its input
# through: the meta kernels of norms and activations are Python code and were half of a
# ResNet-152 trace. test_macs_equal_flop_counter_mode checks the totals do not change.
_PASSTHROUGH_FORWARDS = {
    cls.forward
    for cls in (
        nn.BatchNorm1d,
        nn.BatchNorm2d,
        nn.BatchNorm3d,
        nn.LayerNorm,
        nn.GroupNorm,
        nn.LocalResponseNorm,
        nn.Dropout,
        nn.Dropout2d,
        nn.Dropout3d,
        nn.AlphaDropout,
        nn.Identity,
        nn.ReLU,
        nn.ReLU6,
        nn.LeakyReLU,
        nn.ELU,
        nn.GELU,
        nn.SiLU,
        nn.Mish,
        nn.Sigmoid,
        nn.Tanh,
        nn.Hardswish,
        nn.Hardsigmoid,
        nn.Hardtanh,
    )
}


def _passthrough(module: nn.Module) -> Any:
    real = module.forward

    def forward(x: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(x, torch.Tensor) and not args and not kwargs and _shape_check(module, x):
            return x
        return real(x, *args, **kwargs)

    return forward


def plain_value(value: Any) -> Any:
    """Hyper-parameter values as plain ints/floats/strings/tuples (JSON- and cache-friendly)."""
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    if isinstance(value, tuple | list):
        return tuple(plain_value(v) for v in value)
    return str(value)


def module_hyper(module: nn.Module) -> dict[str, Any]:
    """A layer's hyper-parameters (kernel_size, stride, ...) as plain values."""
    out: dict[str, Any] = {}
    attrs = vars(module)
    for attr in _HYPER_ATTRS:
        value = attrs.get(attr)
        if value is None or isinstance(value, nn.Module | torch.Tensor) or callable(value):
            continue
        out[attr] = plain_value(value)
    if "bias" in module._parameters:
        out["bias"] = module._parameters["bias"] is not None
    return out


def _tensor_shapes(value: Any) -> tuple[tuple[int, ...], ...]:
    """Shapes of every tensor in a (possibly nested) output, in order."""
    if isinstance(value, torch.Tensor):
        return (tuple(value.shape),)
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, tuple | list):
        return tuple(s for v in value for s in _tensor_shapes(v))
    return ()


def _describe(hyper: dict[str, Any]) -> str:
    keys = ("kernel_size", "stride", "padding", "dilation", "output_size")
    parts = [f"{k.replace('_size', '')} {_fmt(hyper[k])}" for k in keys if k in hyper]
    return ", ".join(parts)


def _fmt(value: Any) -> str:
    if isinstance(value, tuple) and len(set(value)) == 1:
        value = value[0]
    if isinstance(value, tuple):
        return "×".join(str(v) for v in value)
    return str(value)


def _spatial(shape: tuple[int, ...]) -> str:
    return "×".join(str(d) for d in shape[2:]) if len(shape) > 2 else "×".join(map(str, shape))


class _Recorder(TorchDispatchMode):
    """Counts multiply-accumulates per module with PyTorch's own FLOP formulas
    (torch.utils.flop_counter.flop_registry, the table FlopCounterMode uses)."""

    def __init__(self, stack: list[int], own_macs: list[int]) -> None:
        super().__init__()
        self.stack = stack
        self.own_macs = own_macs
        self.failed_at: list[int] | None = None

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in _BATCH_NORMS:
            x = args[0]
            empty = x.new_empty((0,))
            return (torch.empty_like(x), empty, empty)
        if func in _LAYER_NORMS:
            x, normalized = args[0], args[1]
            kept = x.shape[: x.dim() - len(normalized)]
            stats = x.new_empty((*kept, *([1] * len(normalized))))
            return (torch.empty_like(x), stats, stats)
        if func is _CONVOLUTION and not kwargs:
            out = _conv_output(*args)
            if out is not None:
                x, w, transposed = args[0], args[1], args[6]
                shapes = (list(x.shape), list(w.shape), list(out.shape))
                macs = conv_flop_count(*shapes, transposed=transposed) // 2
                self.own_macs[self.stack[-1]] += macs
                return out
        if func in _SOFTMAXES:
            x = args[0]
            dtype = args[2] if len(args) > 2 and args[2] is not None else kwargs.get("dtype")
            return torch.empty_like(x, dtype=dtype or x.dtype)
        if func in _ARITHMETIC and not kwargs.get("out") and len(args) == 2:
            out = _arithmetic_output(func, args)
            if out is not None:
                return out
        if func in _MATMULS and not kwargs:
            out = _matmul_output(func, args)
            if out is not None:
                self.own_macs[self.stack[-1]] += flop_registry[func._overloadpacket](
                    *args, out_val=out
                ) // 2
                return out
        packet = func._overloadpacket
        counter = flop_registry.get(packet)
        try:
            if counter is None and func not in _NO_DECOMPOSE:
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
        if counter is not None:
            self.own_macs[self.stack[-1]] += counter(*args, **kwargs, out_val=out) // 2
        return out


# Fast paths for the two ops that dominate a meta trace. PyTorch's meta kernels for them are
# Python (0.1 ms for a convolution, 0.36 ms for an addmm); the output shape of the ordinary
# case is the lecture's formula. Anything unusual (transposed, a size that does not fit,
# mismatched channels) returns None and takes PyTorch's own kernel, which raises its errors.
_CONVOLUTION = _aten.convolution.default
_MATMULS = {_aten.addmm.default, _aten.mm.default, _aten.bmm.default}


def _conv_output(
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
    spatial = x.dim() - 2
    if transposed or spatial < 1 or w.dim() != x.dim() or x.shape[1] != w.shape[1] * groups:
        return None
    if not (len(stride) == len(padding) == len(dilation) == spatial):
        return None
    out = []
    for n, k, s, p, d in zip(x.shape[2:], w.shape[2:], stride, padding, dilation):
        size = (n + 2 * p - d * (k - 1) - 1) // s + 1
        if size < 1:
            return None
        out.append(size)
    return x.new_empty((x.shape[0], w.shape[0], *out))


_SOFTMAXES = {_aten._safe_softmax.default, _aten._softmax.default, _aten._log_softmax.default}
_INPLACE = {_aten.add_.Tensor, _aten.sub_.Tensor, _aten.mul_.Tensor, _aten.add_.Scalar,
            _aten.sub_.Scalar, _aten.mul_.Scalar}
_ARITHMETIC = _INPLACE | {_aten.add.Tensor, _aten.sub.Tensor, _aten.mul.Tensor,
                          _aten.add.Scalar, _aten.sub.Scalar, _aten.mul.Scalar}


def _arithmetic_output(func: Any, args: tuple[Any, ...]) -> torch.Tensor | None:
    """+, −, × keep the broadcast shape and the promoted dtype (residual additions, scales)."""
    a, b = args
    if not isinstance(a, torch.Tensor):
        return None
    b_shape = b.shape if isinstance(b, torch.Tensor) else ()
    try:
        shape = torch.broadcast_shapes(a.shape, b_shape)
    except RuntimeError:
        return None  # PyTorch's kernel raises its own message
    if func in _INPLACE:
        return a if shape == a.shape else None
    return a.new_empty(shape, dtype=torch.result_type(a, b))


def _matmul_output(func: Any, args: tuple[Any, ...]) -> torch.Tensor | None:
    a, b = (args[1], args[2]) if func is _aten.addmm.default else (args[0], args[1])
    if func is _aten.bmm.default:
        if a.dim() != 3 or b.dim() != 3 or a.shape[0] != b.shape[0] or a.shape[2] != b.shape[1]:
            return None
        return a.new_empty((a.shape[0], a.shape[1], b.shape[2]))
    if a.dim() != 2 or b.dim() != 2 or a.shape[1] != b.shape[0]:
        return None
    if func is _aten.addmm.default:
        bias = args[0]
        if bias.dim() > 2 or (bias.dim() >= 1 and bias.shape[-1] not in (1, b.shape[1])):
            return None
        if not all(isinstance(v, int | float) for v in args[3:]):
            return None
    return a.new_empty((a.shape[0], b.shape[1]))


def parse_input_size(input_size: Any) -> tuple[int, int, int]:
    """(C, H, W) from "3x224x224", "3×224×224" or a sequence; clear errors otherwise."""
    if isinstance(input_size, str):
        parts = input_size.lower().replace("×", "x").split("x")
        try:
            input_size = tuple(int(p) for p in parts)
        except ValueError:
            raise InputSizeError(
                f"Input size {input_size!r} is not of the form CxHxW (e.g. 3x224x224)."
            ) from None
    size = tuple(int(v) for v in input_size)
    if len(size) != 3:
        raise InputSizeError(f"Input size must be (C, H, W), got {size}.")
    if min(size) < 1:
        raise InputTooSmallError(f"Every input dimension must be at least 1, got {size}.")
    if max(size[1:]) > 8192 or size[0] > 4096:
        raise InputSizeError(f"Input size {size} is larger than this explorer traces (8192 px).")
    return size[0], size[1], size[2]


def trace(
    arch: str | ArchSpec | nn.Module,
    input_size: tuple[int, int, int] | str | None = None,
    batch_size: int = 1,
    *,
    name: str | None = None,
) -> Trace:
    """Trace a catalog architecture, a layer-stack spec or a user's module.

    The model is built (or copied) on the meta device: shapes propagate, no weight memory is
    allocated and no arithmetic runs. MACs follow PyTorch's FlopCounterMode formulas
    (FLOPs / 2: convolutions, linear layers, matrix products and attention; no bias adds).
    """
    if batch_size < 1:
        raise InputSizeError(f"Batch size must be at least 1, got {batch_size}.")
    if isinstance(arch, nn.Module):
        if input_size is None:
            raise InputSizeError("Tracing a module needs an input_size (C, H, W).")
        size = parse_input_size(input_size)
        label = name or type(arch).__name__
        return _trace_module(meta_copy(arch), label, (batch_size, *size), None)
    spec = resolve(arch)
    size = parse_input_size(input_size if input_size is not None else spec.input_size)
    with borrowed_meta_model(spec) as model:
        return _trace_module(model, name or spec.name, (batch_size, *size), spec)


def _trace_module(
    model: nn.Module, label: str, input_shape: tuple[int, ...], spec: ArchSpec | None
) -> Trace:
    named = list(model.named_modules())
    index = {id(m): i for i, (_, m) in enumerate(named)}
    n = len(named)
    calls = [0] * n
    first_call = [math.inf] * n
    own_macs = [0] * n
    in_shapes: list[tuple[tuple[int, ...], ...]] = [()] * n
    out_shapes: list[tuple[tuple[int, ...], ...]] = [()] * n
    act_bytes = [0] * n
    stack: list[int] = [0]
    order = itertools.count()

    def pre_hook(i: int) -> Any:
        def hook(module: nn.Module, args: Any) -> None:
            stack.append(i)
            calls[i] += 1
            if first_call[i] == math.inf:
                first_call[i] = next(order)
            in_shapes[i] = _tensor_shapes(args)

        return hook

    def post_hook(i: int, leaf: bool) -> Any:
        def hook(module: nn.Module, args: Any, output: Any) -> None:
            stack.pop()
            shapes = _tensor_shapes(output)
            out_shapes[i] = shapes
            if leaf:
                act_bytes[i] += sum(math.prod(s) for s in shapes) * 4
                for s in shapes:
                    if len(s) >= 3 and 0 in s[2:]:
                        raise _Collapsed(i)

        return hook

    # `model` is a private meta model (build_meta or meta_copy): nobody else sees these hooks
    # or the pass-through forwards, and both are removed again below.
    handles = []
    passed: list[nn.Module] = []
    recorder = _Recorder(stack, own_macs)
    try:
        for i, (_, module) in enumerate(named):
            leaf = not module._modules
            handles.append(module.register_forward_pre_hook(pre_hook(i)))
            handles.append(module.register_forward_hook(post_hook(i, leaf), always_call=True))
            if leaf and type(module).forward in _PASSTHROUGH_FORWARDS:
                module.forward = _passthrough(module)
                passed.append(module)
        if model.training:
            model.eval()
        x = torch.empty(input_shape, device="meta")
        try:
            with torch.no_grad(), recorder:
                output = model(x)
        except _Collapsed as collapsed:
            raise _too_small(
                named, collapsed.index, in_shapes, out_shapes, label, input_shape, spec
            ) from None
        except (RuntimeError, ValueError, IndexError, AssertionError) as exc:
            where = recorder.failed_at[-1] if recorder.failed_at else stack[-1]
            raise _too_small(
                named, where, in_shapes, out_shapes, label, input_shape, spec, cause=exc
            ) from exc
    finally:
        for h in handles:
            h.remove()
        for module in passed:
            del module.forward

    # Tree: children ordered by first call (data-flow order), unused modules last.
    children: dict[int, list[int]] = {i: [] for i in range(n)}
    parent_of = [-1] * n
    for i, (_, module) in enumerate(named):
        for child in module._modules.values():
            if child is None:
                continue
            j = index[id(child)]
            if parent_of[j] == -1 and j != 0:
                parent_of[j] = i
                children[i].append(j)
    for kids in children.values():
        kids.sort(key=lambda j: (first_call[j], j))

    own_params = [0] * n
    own_trainable = [0] * n
    seen: set[int] = set()
    for i, (_, module) in enumerate(named):
        for p in module.parameters(recurse=False):
            if id(p) in seen:
                continue
            seen.add(id(p))
            own_params[i] += p.numel()
            if p.requires_grad:
                own_trainable[i] += p.numel()

    agg_params = own_params[:]
    agg_trainable = own_trainable[:]
    agg_macs = own_macs[:]
    preorder: list[tuple[int, int]] = []  # (index, depth)
    todo = [(0, 0)]
    while todo:
        i, depth = todo.pop()
        preorder.append((i, depth))
        todo.extend((j, depth + 1) for j in reversed(children[i]))
    for i, _ in reversed(preorder):
        p = parent_of[i]
        if p >= 0:
            agg_params[p] += agg_params[i]
            agg_trainable[p] += agg_trainable[i]
            agg_macs[p] += agg_macs[i]

    layers = []
    for i, depth in preorder:
        mod_name, module = named[i]
        outs = out_shapes[i]
        layers.append(
            LayerRecord(
                name=mod_name,
                type=type(module).__name__,
                depth=depth,
                parent=None if i == 0 else named[parent_of[i]][0],
                is_leaf=not children[i],
                input_shapes=in_shapes[i],
                output_shape=outs[0] if outs else (),
                output_shapes=outs,
                params=agg_params[i],
                own_params=own_params[i],
                trainable_params=agg_trainable[i],
                macs=agg_macs[i],
                own_macs=own_macs[i],
                calls=calls[i],
                hyper=module_hyper(module) if not children[i] else {},
            )
        )
    param_bytes = sum(t.numel() * t.element_size() for t in model.parameters())
    param_bytes += sum(t.numel() * t.element_size() for t in model.buffers())
    out_all = _tensor_shapes(output)
    return Trace(
        architecture=label,
        input_shape=tuple(input_shape),
        layers=tuple(layers),
        total_params=agg_params[0],
        trainable_params=agg_trainable[0],
        total_macs=agg_macs[0],
        param_bytes=param_bytes,
        activation_bytes=sum(act_bytes),
        input_bytes=math.prod(input_shape) * 4,
        output_shape=out_all[0] if out_all else (),
    )


class _Collapsed(Exception):
    def __init__(self, index: int) -> None:
        self.index = index


def _too_small(
    named: list[tuple[str, nn.Module]],
    i: int,
    in_shapes: list[tuple[tuple[int, ...], ...]],
    out_shapes: list[tuple[tuple[int, ...], ...]],
    label: str,
    input_shape: tuple[int, ...],
    spec: ArchSpec | None,
    cause: Exception | None = None,
) -> ExplorerError:
    """A clear error naming the layer where the input stopped fitting, with the arithmetic."""
    mod_name, module = named[i]
    size = "×".join(map(str, input_shape[1:]))
    hyper = module_hyper(module)
    detail = _describe(hyper)
    if mod_name:
        where = f"layer {mod_name!r} ({type(module).__name__}"
    else:
        where = f"the network's own input check ({type(module).__name__}"
    where += f", {detail})" if detail else ")"
    got = in_shapes[i][0] if in_shapes[i] else None
    formula = _output_size_formula(hyper, got) if got is not None else None
    if got is not None and formula is not None and formula[1] < 1:
        text, _ = formula
        return InputTooSmallError(
            f"Input {size} is too small for {label}: at {where} the feature map is "
            f"{_spatial(got)}, and {text} < 1.{_hint(spec)}"
        )
    if cause is None:  # a leaf's output collapsed to 0 pixels
        out = out_shapes[i][0] if out_shapes[i] else ()
        return InputTooSmallError(
            f"Input {size} is too small for {label}: at {where} the output is "
            f"{_spatial(out)}, below 1 pixel.{_hint(spec)}"
        )
    first_line = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
    first_line = first_line.rstrip(".!")
    if (
        got is not None
        and "in_channels" in hyper
        and len(got) >= 2
        and got[1] != hyper["in_channels"]
    ):
        first_line = f"it expects {hyper['in_channels']} input channels but receives {got[1]}"
    elif got is not None and "in_features" in hyper and got and got[-1] != hyper["in_features"]:
        first_line = (
            f"this fully connected layer expects {hyper['in_features']} features but receives "
            f"{got[-1]}, so the network only accepts the input size it was designed for"
        )
    return InputSizeError(
        f"{label} cannot run on input {size}: at {where}: {first_line}.{_hint(spec)}"
    )


def _hint(spec: ArchSpec | None) -> str:
    if spec is None:
        return ""
    c, h, w = spec.input_size
    return f" {spec.name} is designed for {c}×{h}×{w} inputs."


def _output_size_formula(hyper: dict[str, Any], shape: tuple[int, ...]) -> tuple[str, int] | None:
    """The lecture's ⌊(n + 2p − f)/s⌋ + 1 for the first spatial dimension, written out."""
    if "kernel_size" not in hyper or len(shape) < 3 or isinstance(hyper.get("padding"), str):
        return None

    def first(key: str, default: int) -> int:
        value = hyper.get(key, default)
        return int(value[0] if isinstance(value, tuple) else value)

    n, f, s, p = shape[2], first("kernel_size", 1), first("stride", 1), first("padding", 0)
    d = first("dilation", 1)
    fe = d * (f - 1) + 1  # effective filter size with dilation
    out = (n + 2 * p - fe) // s + 1
    f_text = f"{fe}" if d == 1 else f"{fe} (dilated {f})"
    return f"⌊({n} + 2·{p} − {f_text})/{s}⌋ + 1 = {out}", out
