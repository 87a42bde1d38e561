"""trace(): per-layer shapes, parameters and multiply-accumulates, without allocating weights.

The model is built (catalog) or copied (a user's module) on the meta device and called once
(explorer.engine.forward_pass); the `Trace` is assembled here from what that pass noted.
`trace_and_record` returns, from the same single pass, the data-flow `Recording` that the
block diagram (explorer.graph.dataflow) and the receptive fields (explorer.graph.receptive) read.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from dataclasses import replace
from typing import Any

import torch
from torch import nn

from explorer.analysis.meta_models import borrowed_meta_model
from explorer.catalog import ArchSpec, resolve
from explorer.core import inputs as _inputs
from explorer.core import limits
from explorer.core.errors import InputSizeError, InputTooSmallError
from explorer.core.hyper import module_hyper, plain_value
from explorer.core.layer_kinds import kind_of
from explorer.core.records import LayerRecord, Trace
from explorer.engine.building import meta_copy
from explorer.engine.forward_pass import Collapsed, ForwardFailed, Pass, run_forward, tensor_shapes
from explorer.engine.meta_limits import MetaTraceError, check_module, data_dependent, has_forward
from explorer.engine.recording import Recording
from explorer.engine.trace_errors import too_small

__all__ = [
    "LayerRecord",
    "Trace",
    "module_hyper",
    "parse_input_size",
    "plain_value",
    "trace",
    "trace_and_record",
]


def parse_input_size(input_size: Any) -> tuple[int, int, int]:
    """(C, H, W) from "3x224x224", "3×224×224" or a sequence; clear errors otherwise."""
    if isinstance(input_size, str):
        parts = input_size.lower().replace("×", "x").split("x")
        if max(len(p.strip()) for p in parts) > limits.NUMBER_MAX_DIGITS:
            raise InputSizeError("The input size has a side with more digits than any input.")
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
    limits.check_trace_request(size, 1)  # sides and channels: the one copy of those limits
    return size[0], size[1], size[2]


def trace(
    arch: str | ArchSpec | nn.Module,
    input_size: tuple[int, int, int] | str | None = None,
    batch_size: int = 1,
    *,
    name: str | None = None,
    inputs: Any = None,
    forward_kwargs: dict[str, Any] | None = None,
) -> Trace:
    """Trace a catalog architecture, a layer-stack spec or a user's module.

    The model is built (or copied) on the meta device: shapes propagate, no weight memory is
    allocated and no arithmetic runs. MACs follow PyTorch's FlopCounterMode formulas
    (FLOPs / 2: convolutions, linear layers, matrix products and attention; no bias adds),
    plus the products that table lacks (explorer.engine.counting).

    The model is called with one float (batch, C, H, W) image of `input_size`, or with
    `inputs`: any signature (explorer.core.inputs) — text such as "1x16:int64, mask=1x16:bool",
    example tensors (a tuple/list is the positional arguments, a dict keyword arguments, as
    torchinfo's `input_data`), or a Signature; shapes there include the batch. Extra keyword
    arguments of forward() go in `forward_kwargs`.
    """
    result, _ = _trace(arch, input_size, batch_size, name, False, inputs, forward_kwargs)
    return result


def trace_and_record(
    arch: str | ArchSpec | nn.Module,
    input_size: tuple[int, int, int] | str | None = None,
    batch_size: int = 1,
    *,
    name: str | None = None,
    inputs: Any = None,
    forward_kwargs: dict[str, Any] | None = None,
) -> tuple[Trace, Recording]:
    """The Trace and the data-flow Recording of one and the same meta forward pass."""
    result, rec = _trace(arch, input_size, batch_size, name, True, inputs, forward_kwargs)
    assert rec is not None
    return result, rec


def _signature(
    input_size: Any,
    default: tuple[int, int, int] | None,
    batch_size: int,
    inputs: Any,
    forward_kwargs: dict[str, Any] | None,
) -> _inputs.Signature:
    """What the model is called with: `inputs` as given, or the (batch, C, H, W) image."""
    if batch_size < 1:
        raise InputSizeError(f"Batch size must be at least 1, got {batch_size}.")
    if inputs is not None:
        if input_size is not None or batch_size != 1:
            raise InputSizeError(
                "Give either inputs (full shapes, batch included) or input_size and batch_size."
            )
        return _inputs.as_signature(inputs, forward_kwargs)
    if input_size is None and default is None:
        raise InputSizeError(
            "Tracing a module needs an input_size (C, H, W) or inputs (e.g. '1x16:int64')."
        )
    size = parse_input_size(input_size if input_size is not None else default)
    limits.check_trace_request(None, batch_size)  # sides were checked by parse_input_size
    sig = _inputs.image(*size, batch=batch_size)
    return _inputs.as_signature(sig, forward_kwargs) if forward_kwargs else sig


def _batched(signature: str, batch_size: int) -> _inputs.Signature:
    """A spec's own input signature (batch 1, e.g. '1x16:int64') at `batch_size`."""
    limits.check_trace_request(None, batch_size)
    sig = _inputs.parse(signature)
    at = [replace(a, shape=(batch_size, *a.shape[1:])) if isinstance(a, _inputs.TensorSpec)
          else a for a in sig.args]  # fmt: skip
    return replace(sig, args=tuple(at))


def _trace(
    arch: str | ArchSpec | nn.Module,
    input_size: Any,
    batch_size: int,
    name: str | None,
    events: bool,
    inputs: Any = None,
    forward_kwargs: dict[str, Any] | None = None,
) -> tuple[Trace, Recording | None]:
    if isinstance(arch, nn.Module):
        label = name or type(arch).__name__
        check_module(arch, label)
        if not has_forward(arch) and inputs is None and input_size is None:
            return _parameters_only(meta_copy(arch), label, events)
        sig = _signature(input_size, None, batch_size, inputs, forward_kwargs)
        if not has_forward(arch):
            return _parameters_only(meta_copy(arch), label, events)
        return _trace_model(meta_copy(arch), label, sig, None, events)
    spec = arch if isinstance(arch, ArchSpec) else resolve(arch)  # a name: resolved once, here
    if spec.inputs and inputs is None and input_size is None:  # a network that takes no image
        inputs, batch_size = _batched(spec.inputs, batch_size), 1
    sig = _signature(input_size, spec.input_size, batch_size, inputs, forward_kwargs)
    with borrowed_meta_model(spec) as model:
        return _trace_model(model, name or spec.name, sig, spec, events)


def _designed_for(spec: ArchSpec | None) -> str:
    """The sentence a too-small input's error ends with: what the network was designed for."""
    if spec is None:
        return ""
    if spec.inputs:  # a network that takes no image
        return f" {spec.name} is designed for inputs {spec.inputs}."
    c, h, w = spec.input_size
    return f" {spec.name} is designed for {h}×{w}×{c} inputs (n_H×n_W×n_C)."


def _parameters_only(
    model: nn.Module, label: str, events: bool
) -> tuple[Trace, Recording | None]:
    """A module whose class defines no forward(): its layers and parameters, nothing run."""
    named = list(model.named_modules())
    n = len(named)
    p = Pass(named, [0] * n, [math.inf] * n, [0] * n, [()] * n, [()] * n, [0] * n)
    result = _assemble(p, model, f"{label} (no forward: parameters only)", ())
    if not events:
        return result, None
    rec = Recording(
        architecture=result.architecture,
        input_shape=(),
        input_id=0,
        output_ids=(),
        events=(),
        modules={r.name: r for r in result.layers},
    )
    return result, rec


def _trace_model(
    model: nn.Module,
    label: str,
    sig: _inputs.Signature,
    spec: ArchSpec | None,
    events: bool,
) -> tuple[Trace, Recording | None]:
    """The example inputs are made here (meta tensors); run_forward calls the model once."""
    args, kwargs = _inputs.make(sig)
    input_shape = sig.first_shape
    try:
        p = run_forward(model, args, kwargs, events=events)
    except Collapsed as collapsed:
        assert collapsed.partial is not None
        part = collapsed.partial
        raise too_small(
            part.named, collapsed.index, part.in_shapes, part.out_shapes, label, input_shape,
            _designed_for(spec),
        ) from None
    except ForwardFailed as failed:
        part = failed.partial
        mod_name, module = part.named[failed.index]
        meta_error = data_dependent(failed.cause, mod_name, module, label)
        if meta_error is not None:
            raise meta_error from None
        raise too_small(
            part.named, failed.index, part.in_shapes, part.out_shapes, label, input_shape,
            _designed_for(spec),
            cause=failed.cause,
        ) from failed.cause
    except TypeError as exc:  # forward() called with arguments it does not take
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputSizeError(f"{label} cannot be called with inputs {sig}: {first}.") from None
    except NotImplementedError as exc:  # an op with no meta kernel, outside any layer hook
        meta_error = data_dependent(exc, "", model, label)
        if meta_error is not None:
            raise meta_error from None
        raise MetaTraceError(f"{label} cannot be traced on the meta device: {exc}") from None
    result = _assemble(p, model, label, input_shape)
    if not sig.is_image:  # every input tensor's bytes, at its own dtype
        nbytes = sum(
            math.prod(t.shape) * torch.empty((), dtype=t.torch_dtype).element_size()
            for t in sig.tensors()
        )
        result = replace(result, input_bytes=nbytes)
    if not events:
        return result, None
    rec = Recording(
        architecture=label,
        input_shape=tuple(input_shape),
        input_id=p.input_ids[0][0],
        output_ids=p.output_ids,
        events=tuple(p.events or ()),
        modules={r.name: r for r in result.layers},  # the trace's own records, one per module
    )
    return result, rec


def _assemble(p: Pass, model: nn.Module, label: str, input_shape: tuple[int, ...]) -> Trace:
    """The Trace: one record per module, in pre-order (siblings in the order first called)."""
    named = p.named
    n = len(named)
    index = {id(m): i for i, (_, m) in enumerate(named)}
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
    registered = {i: tuple(named[j][0] for j in kids) for i, kids in children.items()}
    for kids in children.values():
        kids.sort(key=lambda j: (p.first_call[j], j))
    signatures: dict[int, str] = {}

    def signature(module: nn.Module) -> str:
        """Type and settings of a module and everything below it: equal for blocks built
        alike (a drawing collapses a run of them into one "×N" box)."""
        key = id(module)
        if key not in signatures:
            inner = ";".join(f"{c}:{signature(m)}" for c, m in module.named_children())
            text = f"{type(module).__name__}({module.extra_repr()})[{inner}]"
            signatures[key] = hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
        return signatures[key]

    own_params = [0] * n
    own_trainable = [0] * n
    seen: set[int] = set()
    for i, (_, module) in enumerate(named):
        for param in module._parameters.values():
            if param is None or id(param) in seen:
                continue
            seen.add(id(param))
            own_params[i] += param.numel()
            if param.requires_grad:
                own_trainable[i] += param.numel()

    agg_params = own_params[:]
    agg_trainable = own_trainable[:]
    agg_macs = p.own_macs[:]
    preorder: list[tuple[int, int]] = []  # (index, depth)
    todo = [(0, 0)]
    while todo:
        i, depth = todo.pop()
        preorder.append((i, depth))
        todo.extend((j, depth + 1) for j in reversed(children[i]))
    for i, _ in reversed(preorder):
        parent = parent_of[i]
        if parent >= 0:
            agg_params[parent] += agg_params[i]
            agg_trainable[parent] += agg_trainable[i]
            agg_macs[parent] += agg_macs[i]

    layers = []
    for i, depth in preorder:
        mod_name, module = named[i]
        outs = p.out_shapes[i]
        layers.append(
            LayerRecord(
                name=mod_name,
                type=type(module).__name__,
                kind=kind_of(type(module).__name__, not children[i]),
                depth=depth,
                parent=None if i == 0 else named[parent_of[i]][0],
                is_leaf=not children[i],
                input_shapes=p.in_shapes[i],
                output_shape=outs[0] if outs else (),
                output_shapes=outs,
                params=agg_params[i],
                own_params=own_params[i],
                trainable_params=agg_trainable[i],
                macs=agg_macs[i],
                own_macs=p.own_macs[i],
                calls=p.calls[i],
                hyper=module_hyper(module),
                children=registered[i],
                signature=signature(module),
            )
        )
    tensors = {
        id(t): t
        for _, module in named
        for t in itertools.chain(module._parameters.values(), module._buffers.values())
        if t is not None
    }
    param_bytes = sum(t.numel() * t.element_size() for t in tensors.values())
    out_all = tensor_shapes(p.output)
    result = Trace(
        architecture=label,
        input_shape=tuple(input_shape),
        layers=tuple(layers),
        total_params=agg_params[0],
        trainable_params=agg_trainable[0],
        total_macs=agg_macs[0],
        param_bytes=param_bytes,
        activation_bytes=sum(p.act_bytes),
        input_bytes=math.prod(input_shape) * 4,
        output_shape=out_all[0] if out_all else (),
    )
    return result
