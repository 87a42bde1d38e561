"""trace(): per-layer shapes, parameters and multiply-accumulates, without allocating weights.

The model is built (catalog) or copied (a user's module) on the meta device and called once
(explorer.forward_pass); the `Trace` is assembled here from what that pass noted.
`trace_and_record` returns, from the same single pass, the data-flow `Recording` that the
block diagram (explorer.graph) and the receptive fields (explorer.receptive) read.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from explorer.architectures import ArchSpec, resolve
from explorer.building import borrowed_meta_model, meta_copy
from explorer.errors import InputSizeError, InputTooSmallError
from explorer.forward_pass import Collapsed, ForwardFailed, Pass, run_forward, tensor_shapes
from explorer.hyper import module_hyper, plain_value
from explorer.recording import Recording, module_infos
from explorer.records import LayerRecord, Trace
from explorer.trace_errors import too_small

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
    (FLOPs / 2: convolutions, linear layers, matrix products and attention; no bias adds),
    plus the products that table lacks (explorer.counting).
    """
    result, _ = _trace(arch, input_size, batch_size, name, events=False)
    return result


def trace_and_record(
    arch: str | ArchSpec | nn.Module,
    input_size: tuple[int, int, int] | str | None = None,
    batch_size: int = 1,
    *,
    name: str | None = None,
) -> tuple[Trace, Recording]:
    """The Trace and the data-flow Recording of one and the same meta forward pass."""
    result, rec = _trace(arch, input_size, batch_size, name, events=True)
    assert rec is not None
    return result, rec


def _trace(
    arch: str | ArchSpec | nn.Module,
    input_size: Any,
    batch_size: int,
    name: str | None,
    events: bool,
) -> tuple[Trace, Recording | None]:
    if batch_size < 1:
        raise InputSizeError(f"Batch size must be at least 1, got {batch_size}.")
    if isinstance(arch, nn.Module):
        if input_size is None:
            raise InputSizeError("Tracing a module needs an input_size (C, H, W).")
        size = parse_input_size(input_size)
        label = name or type(arch).__name__
        return _trace_model(meta_copy(arch), label, (batch_size, *size), None, events)
    spec = resolve(arch)
    size = parse_input_size(input_size if input_size is not None else spec.input_size)
    with borrowed_meta_model(spec) as model:
        return _trace_model(model, name or spec.name, (batch_size, *size), spec, events)


def _trace_model(
    model: nn.Module,
    label: str,
    input_shape: tuple[int, ...],
    spec: ArchSpec | None,
    events: bool,
) -> tuple[Trace, Recording | None]:
    """The example input is made here; run_forward calls the model with it once."""
    x = torch.empty(input_shape, device="meta")
    try:
        p = run_forward(model, (x,), {}, events=events)
    except Collapsed as collapsed:
        assert collapsed.partial is not None
        part = collapsed.partial
        raise too_small(
            part.named, collapsed.index, part.in_shapes, part.out_shapes, label, input_shape, spec
        ) from None
    except ForwardFailed as failed:
        part = failed.partial
        raise too_small(
            part.named, failed.index, part.in_shapes, part.out_shapes, label, input_shape, spec,
            cause=failed.cause,
        ) from failed.cause
    result, agg_params, agg_macs = _assemble(p, model, label, input_shape)
    if not events:
        return result, None
    index = {id(m): i for i, (_, m) in enumerate(p.named)}
    rec = Recording(
        architecture=label,
        input_shape=tuple(input_shape),
        input_id=p.input_ids[0][0],
        output_ids=p.output_ids,
        events=tuple(p.events or ()),
        modules=module_infos(model, index, agg_params, agg_macs),
    )
    return result, rec


def _assemble(
    p: Pass, model: nn.Module, label: str, input_shape: tuple[int, ...]
) -> tuple[Trace, list[int], list[int]]:
    """The Trace, and the aggregate params and MACs per module index (for the Recording)."""
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
    for kids in children.values():
        kids.sort(key=lambda j: (p.first_call[j], j))

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
                hyper=module_hyper(module) if not children[i] else {},
            )
        )
    param_bytes = sum(t.numel() * t.element_size() for t in model.parameters())
    param_bytes += sum(t.numel() * t.element_size() for t in model.buffers())
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
    return result, agg_params, agg_macs
