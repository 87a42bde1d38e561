"""Typed layer stacks: 'input 32x32x1 | conv 6 5x5 | avgpool 2 | fc 10' -> nn.Sequential.

The text is parsed by explorer.architectures.stack_text (nothing is ever evaluated). The
shapes are then walked once, with plain integers and no module built (`plan`), so that a stack
which cannot work (a 5x5 conv on a 3x3 map, 10^12 weights) is rejected with a message that
names the layer. Like every other architecture, a stack is traced on the meta device (no
weight memory); real weights are made only by a real build (a prediction), and only after
explorer.budgets has priced that build and its forward pass.

Grammar (case-insensitive; `|`, `;` or a new line separate layers):

    input HxWxC                                    (n_H x n_W x n_C, as in the lecture)
    conv N K [sS | stride S] [pP | pad P | same | valid] [relu | tanh | sigmoid]
    maxpool K [S] [sS | stride S] [pP | pad P]     (stride defaults to K)
    avgpool K ...                                  (as maxpool)
    fc N [relu | tanh | sigmoid]                   (also: linear, dense)
    relu | tanh | sigmoid | softmax | flatten | globalavgpool (gap) | batchnorm (bn)
    dropout [P]                                    (P in [0, 1), default 0.5)

K is `5` or `5x5` (or `3x5`). A `flatten` is inserted before the first fc on an image.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from explorer import budgets
from explorer.architectures.registry import ArchSpec
from explorer.architectures.stack_text import (
    DEFAULT_INPUT,
    KINDS,
    SEPARATORS,
    LayerSpec,
    layer_to_text,
    looks_like_spec,
    parse,
    to_text,
    tokenize,
)
from explorer.errors import SpecError
from explorer.layer_math import conv_output_size

__all__ = [
    "DEFAULT_INPUT",
    "KINDS",
    "PREDICTION_BATCH",
    "SEPARATORS",
    "LayerSpec",
    "StackPlan",
    "Step",
    "build",
    "input_rows",
    "looks_like_spec",
    "parse",
    "plan",
    "spec_from_text",
    "to_text",
    "tokenize",
]

#: A real build is priced for a ten-crop prediction, the largest batch a prediction runs.
PREDICTION_BATCH = 10


@dataclass(frozen=True)
class Step:
    """One module of the stack, as plain data: its name (conv1, relu1, …), kind and the
    arguments of its constructor (conv: in, out, kernel, stride, padding; fc: in, out; …)."""

    name: str
    kind: str
    args: tuple[Any, ...] = ()


@dataclass(frozen=True)
class StackPlan:
    """A checked stack: the modules to make, the input (C, H, W), parameters and outputs."""

    steps: tuple[Step, ...]
    input_size: tuple[int, int, int]
    params: int
    num_classes: int


def _same_padding(layer: LayerSpec, kernel: tuple[int, int], index: int) -> tuple[int, int]:
    """The lecture's 'same' padding p = (f - 1) / 2, which needs an odd f."""
    if any(k % 2 == 0 for k in kernel):
        raise _layer_error(layer, "'same' padding p = (f - 1)/2 needs an odd kernel size f; "
                           "give the padding explicitly, e.g. 'p1'", index)  # fmt: skip
    return (kernel[0] // 2, kernel[1] // 2)


def _layer_error(layer: LayerSpec, what: str, index: int) -> SpecError:
    text = layer_to_text(layer)
    return SpecError(f"Layer {index} ('{text}'): {what}.", token=text.split()[0],
                     position=layer.position)  # fmt: skip


def _pool_output(layer: LayerSpec, shape: tuple[int, ...], index: int) -> tuple[int, int, int]:
    assert layer.kernel is not None and isinstance(layer.padding, int)
    stride = layer.stride or layer.kernel[0]
    c, h, w = shape
    if layer.padding * 2 > min(layer.kernel):
        raise _layer_error(layer, "pooling padding must be at most half the pool size", index)
    oh = conv_output_size(h, layer.kernel[0], layer.padding, stride)
    ow = conv_output_size(w, layer.kernel[1], layer.padding, stride)
    if oh < 1 or ow < 1:
        raise _layer_error(layer, f"a {layer.kernel[0]}x{layer.kernel[1]} pool does "
                           f"not fit its {h}x{w}x{c} input", index)  # fmt: skip
    return (c, oh, ow)


def plan(layers: list[LayerSpec]) -> StackPlan:
    """Walk the shapes with integers and list the modules to make: every check happens here,
    before any module (let alone any weight) exists."""
    if not layers:
        raise SpecError("The layer stack is empty.", token="", position=0)
    first = layers[0]
    if first.kind == "input":
        assert first.shape is not None
        h, w, c = first.shape
        input_size = (c, h, w)
        body, offset = layers[1:], 1
    else:
        input_size, body, offset = DEFAULT_INPUT, layers, 0
    shape: tuple[int, ...] = input_size
    counts: dict[str, int] = {}
    steps: list[Step] = []
    params = 0
    num_classes = input_size[0]  # the outputs of the last conv or fc layer

    def add(kind: str, *args: Any) -> None:
        label = "bn" if kind in ("bn1d", "bn2d") else kind
        counts[label] = counts.get(label, 0) + 1
        once = label in ("flatten", "softmax", "globalavgpool")
        name = label if once and counts[label] == 1 else f"{label}{counts[label]}"
        steps.append(Step(name, kind, args))

    for index, layer in enumerate(body, start=1 + offset):
        k = layer.kind
        image = len(shape) == 3
        if k in ("conv", "maxpool", "avgpool", "globalavgpool") and not image:
            raise _layer_error(
                layer,
                f"{k} needs an image (HxWxC) but gets {shape[0]} "
                "features from a fully connected or flatten layer",
                index,
            )
        if k == "conv":
            assert layer.units is not None and layer.kernel is not None
            stride = layer.stride or 1
            if layer.padding == "same":
                pad = _same_padding(layer, layer.kernel, index)
            else:
                assert isinstance(layer.padding, int)
                pad = (layer.padding, layer.padding)
            c, h, w = shape
            oh = conv_output_size(h, layer.kernel[0], pad[0], stride)
            ow = conv_output_size(w, layer.kernel[1], pad[1], stride)
            if oh < 1 or ow < 1:
                raise _layer_error(layer, f"a {layer.kernel[0]}x{layer.kernel[1]} kernel does "
                                   f"not fit its {h}x{w}x{c} input", index)  # fmt: skip
            params += layer.units * (c * layer.kernel[0] * layer.kernel[1] + 1)
            if params > budgets.STACK_MAX_PARAMS:
                raise _layer_error(layer, f"the stack would have over "
                                   f"{budgets.STACK_MAX_PARAMS:,} parameters", index)  # fmt: skip
            add("conv", c, layer.units, layer.kernel, stride, pad)
            shape, num_classes = (layer.units, oh, ow), layer.units
        elif k in ("maxpool", "avgpool"):
            shape = _pool_output(layer, shape, index)
            assert layer.kernel is not None
            add(k, layer.kernel, layer.stride or layer.kernel[0], layer.padding)
        elif k == "globalavgpool":
            add(k)
            shape = (shape[0], 1, 1)
        elif k == "flatten":
            add(k)
            shape = (math.prod(shape),)
        elif k == "fc":
            assert layer.units is not None
            if image:
                add("flatten")
                shape = (math.prod(shape),)
            params += layer.units * (shape[0] + 1)
            if params > budgets.STACK_MAX_PARAMS:
                raise _layer_error(layer, f"{shape[0]:,} inputs × {layer.units:,} units would "
                                   f"take the stack over {budgets.STACK_MAX_PARAMS:,} "
                                   "parameters; add pooling before it", index)  # fmt: skip
            add("fc", shape[0], layer.units)
            shape, num_classes = (layer.units,), layer.units
        elif k == "batchnorm":
            params += 2 * shape[0]
            add("bn2d" if image else "bn1d", shape[0])
        elif k == "dropout":
            add("dropout", layer.p)
        else:  # softmax, relu, tanh, sigmoid
            add(k)
        if layer.activation:
            add(layer.activation)
    return StackPlan(tuple(steps), input_size, params, num_classes)


def _module(step: Step, device: torch.device | str | None) -> nn.Module:
    a, k = step.args, step.kind
    if k == "conv":
        return nn.Conv2d(a[0], a[1], a[2], a[3], a[4], device=device)
    if k == "fc":
        return nn.Linear(a[0], a[1], device=device)
    if k == "bn2d":
        return nn.BatchNorm2d(a[0], device=device)
    if k == "bn1d":
        return nn.BatchNorm1d(a[0], device=device)
    if k in ("maxpool", "avgpool"):
        return (nn.MaxPool2d if k == "maxpool" else nn.AvgPool2d)(*a)
    if k == "dropout":
        return nn.Dropout(a[0])
    if k == "softmax":
        return nn.Softmax(dim=1)
    plain: dict[str, type[nn.Module]] = {
        "globalavgpool": nn.AdaptiveAvgPool2d, "flatten": nn.Flatten, "relu": nn.ReLU,
        "tanh": nn.Tanh, "sigmoid": nn.Sigmoid,
    }  # fmt: skip
    return plain[k](1) if k == "globalavgpool" else plain[k]()


def build(
    layers: list[LayerSpec] | StackPlan, device: torch.device | str | None = None
) -> nn.Module:
    """The nn.Sequential of a stack, with readable names (conv1, relu1, avgpool1, fc1)."""
    checked = layers if isinstance(layers, StackPlan) else plan(layers)
    return nn.Sequential(OrderedDict((s.name, _module(s, device)) for s in checked.steps))


def _building_on_meta() -> bool:
    """True inside explorer.building's meta build, whichever way it makes weights meta (a
    device argument, a torch.device context or a thread-local init mode): a one-weight probe."""
    return bool(nn.Linear(1, 1).weight.is_meta)


def spec_from_text(text: str) -> ArchSpec:
    """An ArchSpec (family "Custom") for a typed stack; raises SpecError on bad input.

    Resolving builds nothing. The spec's builder makes meta weights in a meta build; a real
    build is first priced by explorer.budgets (weights, and a ten-crop forward pass at the
    stack's input size) and refused over budget with BudgetError."""
    layers = parse(text)
    checked = plan(layers)  # validates everything before anything is built
    has_input = layers[0].kind == "input"
    if not (layers[1:] if has_input else layers):
        raise SpecError(
            "Layer 1: the stack has only an input layer; expected layers after it, e.g. "
            f"'{to_text(layers)} | conv 6 5x5'.",
            token="input",
            position=layers[0].position,
        )
    c, h, w = checked.input_size
    note = (
        ""
        if has_input
        else (f" No `input` layer was given, so the input is assumed to be {h}×{w}×{c}.")
    )
    name = to_text(layers)

    def builder(**kwargs: Any) -> nn.Module:
        device = kwargs.get("device")
        on_meta = (device is not None and torch.device(device).type == "meta") or (
            device is None and _building_on_meta()
        )
        if not on_meta:
            budgets.check_real_build(
                name, batch_size=PREDICTION_BATCH, why=" (a ten-crop prediction)"
            )
        return build(checked, device)

    return ArchSpec(
        name=name,
        family="Custom",
        title="Custom layer stack",
        builder=builder,
        input_size=(c, h, w),
        num_classes=checked.num_classes,
        notes="A typed layer stack." + note,
        source="custom",
    )


def input_rows(signature: str) -> list[dict[str, str]]:
    """One row per input tensor of a signature text (explorer.inputs grammar), in call order:
    where it goes (`input 1`, `mask`, `input 1[0]`, `input 1['image']`), its full shape
    (batch included) and its dtype. Raises InputSizeError (naming the character) on bad text
    or a signature over explorer.inputs' limits, before anything is traced."""
    from explorer import inputs as _inputs

    sig = _inputs.check(_inputs.parse(signature))
    rows: list[dict[str, str]] = []

    def walk(node: _inputs.Node, where: str) -> None:
        if isinstance(node, _inputs.TensorSpec):
            shape = "×".join(map(str, node.shape)) or "scalar"
            rows.append({"Argument": where, "Shape": shape, "Dtype": node.dtype})
        elif isinstance(node, _inputs.SeqSpec):
            for i, item in enumerate(node.items):
                walk(item, f"{where}[{i}]")
        elif isinstance(node, _inputs.DictSpec):
            for key, item in node.items:
                walk(item, f"{where}[{key!r}]")
        else:  # a plain value passed as it is (True, 0.5, None)
            rows.append({"Argument": where, "Shape": "—", "Dtype": f"value {node}"})

    for i, arg in enumerate(sig.args):
        walk(arg, f"input {i + 1}")
    for key, value in sig.kwargs:
        walk(value, key)
    return rows
