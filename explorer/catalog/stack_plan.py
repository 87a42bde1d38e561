"""Typed layer stacks, the shape side: walk the shapes with integers, then build the modules.

`plan` checks a parsed stack once, with plain integers and no module made: every layer must
apply to what reaches it, every kernel must fit, the parameters must stay in budget. Each
refusal is a SpecError that names the layer and points at it. `build` then makes torch's own
modules (an nn.Sequential with readable names: conv1, relu1, lstm1, fc1).

What travels between two layers, batch dropped, in torch's own order (a *layout*):

    vector     (F,)         input N, or after flatten / an fc on a vector
    sequence   (C, L)       input LxC, and after a 1-D conv or pool: Conv1d's channels-first order
    image      (C, H, W)    input HxWxC
    volume     (C, D, H, W) input DxHxWxC
    tokens     (L,)         input L tokens: int64 ids, which only an embedding takes
    positions  (L, D)       after embedding, lstm, gru: one vector per position, features last

conv, maxpool, avgpool, batchnorm and globalavgpool take their 1-D, 2-D or 3-D form from the
layout. On `positions` they need channels first, so a `permute` (torchvision.ops.Permute) is
inserted before them; lstm and gru on a channels-first sequence get the opposite permute. Both
show in the layer table. fc works per position on `positions` (nn.Linear acts on the last
dimension) and flattens a channels-first map first, as on an image.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from explorer.catalog.stack_text import DEFAULT_INPUT, LayerSpec, layer_to_text
from explorer.core import limits
from explorer.core.errors import SpecError
from explorer.core.layer_math import conv_output_size

VECTOR, SEQUENCE, IMAGE, VOLUME, TOKENS, POSITIONS = (
    "vector",
    "sequence",
    "image",
    "volume",
    "tokens",
    "positions",
)
_CHANNELS_FIRST = {SEQUENCE: 1, IMAGE: 2, VOLUME: 3}  # layout -> spatial dimensions
_TO_POSITIONS = (0, 2, 1)  # (N, C, L) <-> (N, L, C)


@dataclass(frozen=True)
class Step:
    """One module of the stack, as plain data: its name (conv1, relu1, …), kind and the
    arguments of its constructor (conv: in, out, kernel, stride, padding; fc: in, out; …)."""

    name: str
    kind: str
    args: tuple[Any, ...] = ()


@dataclass(frozen=True)
class StackPlan:
    """A checked stack: the modules to make, its input (one sample, torch's order, batch
    dropped), parameters and outputs."""

    steps: tuple[Step, ...]
    input_shape: tuple[int, ...]
    input_layout: str
    params: int
    num_classes: int

    @property
    def is_image(self) -> bool:
        return self.input_layout == IMAGE

    @property
    def input_size(self) -> tuple[int, int, int]:
        """(C, H, W) of an image stack."""
        assert self.is_image
        c, h, w = self.input_shape
        return (c, h, w)

    @property
    def input_words(self) -> str:
        """'a sequence of 128 positions × 4 channels, called with one 1×4×128 tensor (N×C×L)'"""
        order = {VECTOR: "N×F", SEQUENCE: "N×C×L", IMAGE: "N×C×H×W", VOLUME: "N×C×D×H×W",
                 TOKENS: "N×L, int64"}[self.input_layout]  # fmt: skip
        dims = "×".join(map(str, (1, *self.input_shape)))
        what = describe(self.input_shape, self.input_layout)
        return f"{what}, called with one {dims} tensor ({order})"

    @property
    def signature(self) -> str:
        """The input at batch 1 in explorer.core.inputs text: '1x784', '1x4x100', '1x16:int64'."""
        dims = "x".join(map(str, (1, *self.input_shape)))
        return f"{dims}:int64" if self.input_layout == TOKENS else dims


def input_of(layer: LayerSpec) -> tuple[tuple[int, ...], str]:
    """The shape (torch's order, batch dropped) and layout of an `input` layer."""
    assert layer.shape is not None
    *sides, last = layer.shape
    if layer.tokens:
        return (last,), TOKENS
    layout = {0: VECTOR, 1: SEQUENCE, 2: IMAGE, 3: VOLUME}[len(sides)]
    return ((last, *sides) if sides else (last,)), layout


def describe(shape: tuple[int, ...], layout: str) -> str:
    """What reaches a layer, in words and in the lecture's order (channels last)."""
    if layout == SEQUENCE:
        return f"a sequence of {shape[1]:,} positions × {shape[0]:,} channels"
    if layout in _CHANNELS_FIRST:
        c, *sides = shape
        article = "an" if layout == IMAGE else "a"
        return f"{article} {layout} of size {'x'.join(map(str, (*sides, c)))}"
    if layout == TOKENS:
        return f"{shape[0]:,} token ids"
    if layout == POSITIONS:
        return f"a sequence of {shape[0]:,} positions × {shape[1]:,} features"
    return f"{shape[0]:,} features"


def _layer_error(layer: LayerSpec, what: str, index: int) -> SpecError:
    text = layer_to_text(layer)
    return SpecError(
        f"Layer {index} ('{text}'): {what}.", token=text.split()[0], position=layer.position
    )


class _Walk:
    """The shape walk: the current shape and layout, the steps so far, the parameters."""

    def __init__(self, shape: tuple[int, ...], layout: str) -> None:
        self.shape, self.layout = shape, layout
        self.steps: list[Step] = []
        self.counts: dict[str, int] = {}
        self.params = 0
        self.num_classes = shape[0]  # the outputs of the last conv, fc, embedding, lstm or gru
        self.flattened = False  # the last vector came from a flatten or an fc (for messages)

    def add(self, kind: str, *args: Any) -> None:
        label = "bn" if kind.startswith("bn") else kind
        self.counts[label] = self.counts.get(label, 0) + 1
        once = label in ("flatten", "softmax", "globalavgpool", "embedding")
        name = label if once and self.counts[label] == 1 else f"{label}{self.counts[label]}"
        self.steps.append(Step(name, kind, args))

    def add_params(
        self, layer: LayerSpec, index: int, added: int, what: str, hint: str = ""
    ) -> None:
        self.params += added
        if self.params > limits.STACK_MAX_PARAMS:
            raise _layer_error(
                layer,
                f"this {what} has {added:,} parameters, which takes the stack to "
                f"{self.params:,}, over the limit of {limits.STACK_MAX_PARAMS:,}{hint}",
                index,
            )

    def flatten(self) -> None:
        self.add("flatten")
        self.shape, self.layout, self.flattened = (math.prod(self.shape),), VECTOR, True

    # --- what a layer needs ---------------------------------------------------------------

    def numbers(self, layer: LayerSpec, index: int) -> None:
        if self.layout == TOKENS:
            raise _layer_error(
                layer,
                f"{layer.kind} needs numbers, but the input is token "
                "ids ('input L tokens'); start with 'embedding V D'",
                index,
            )

    def channels_first(self, layer: LayerSpec, index: int) -> int:
        """Spatial dimensions of a map a conv, pool or batchnorm can take; permutes an
        (L, D) sequence to (D, L) first."""
        self.numbers(layer, index)
        if self.layout == POSITIONS:
            self.add("permute", _TO_POSITIONS)
            self.shape, self.layout = (self.shape[1], self.shape[0]), SEQUENCE
        if self.layout == VECTOR:
            source = "a fully connected or flatten layer" if self.flattened else "the input"
            raise _layer_error(
                layer,
                f"{layer.kind} needs an image (HxWxC), a sequence (LxC) "
                f"or a volume (DxHxWxC), but gets {self.shape[0]:,} features "
                f"from {source}",
                index,
            )
        return _CHANNELS_FIRST[self.layout]

    def kernel_fits(
        self, layer: LayerSpec, index: int, what: str, pad: tuple[int, ...], stride: int
    ) -> tuple[int, ...]:
        """The output sides, ⌊(n + 2p − f)/s⌋ + 1 each; refused when below 1."""
        assert layer.kernel is not None
        c, *sides = self.shape
        if len(layer.kernel) != len(sides):
            raise _layer_error(
                layer,
                f"a kernel of {len(layer.kernel)} sizes does not suit "
                f"{describe(self.shape, self.layout)}",
                index,
            )
        out = tuple(
            conv_output_size(n, f, p, stride)
            for n, f, p in zip(sides, layer.kernel, pad, strict=True)
        )
        if min(out) < 1:
            if len(sides) == 1:
                raise _layer_error(
                    layer,
                    f"a {what} of {layer.kernel[0]} does not fit its "
                    f"sequence of {sides[0]:,} positions ({sides[0]}x{c})",
                    index,
                )
            size = "x".join(map(str, layer.kernel))
            raise _layer_error(
                layer,
                f"a {size} {what} does not fit its {'x'.join(map(str, (*sides, c)))} input",
                index,
            )
        return out

    # --- the layers -----------------------------------------------------------------------

    def conv(self, layer: LayerSpec, index: int) -> None:
        assert layer.units is not None and layer.kernel is not None
        dims = self.channels_first(layer, index)
        stride = layer.stride or 1
        if layer.padding == "same":
            if any(k % 2 == 0 for k in layer.kernel):
                raise _layer_error(
                    layer,
                    "'same' padding p = (f - 1)/2 needs an odd kernel "
                    "size f; give the padding explicitly, e.g. 'p1'",
                    index,
                )
            pad = tuple(k // 2 for k in layer.kernel)
        else:
            assert isinstance(layer.padding, int)
            pad = (layer.padding,) * dims
        out = self.kernel_fits(layer, index, "kernel", pad, stride)
        c = self.shape[0]
        self.add_params(
            layer,
            index,
            layer.units * (c * math.prod(layer.kernel) + 1),
            f"conv ({layer.units:,} filters of {c * math.prod(layer.kernel):,} weights + a bias)",
        )
        self.add("conv", c, layer.units, layer.kernel, stride, pad)
        self.shape, self.num_classes = (layer.units, *out), layer.units

    def pool(self, layer: LayerSpec, index: int) -> None:
        assert layer.kernel is not None and isinstance(layer.padding, int)
        dims = self.channels_first(layer, index)
        stride = layer.stride or layer.kernel[0]
        if layer.padding * 2 > min(layer.kernel):
            raise _layer_error(layer, "pooling padding must be at most half the pool size", index)
        out = self.kernel_fits(layer, index, "pool", (layer.padding,) * dims, stride)
        self.add(layer.kind, layer.kernel, stride, layer.padding)
        self.shape = (self.shape[0], *out)

    def globalavgpool(self, layer: LayerSpec, index: int) -> None:
        dims = self.channels_first(layer, index)
        self.add("globalavgpool", dims)
        self.shape = (self.shape[0],) + (1,) * dims

    def batchnorm(self, layer: LayerSpec, index: int) -> None:
        if self.layout == VECTOR:  # BatchNorm1d on (N, F), as before
            self.add("bn1d", self.shape[0])
        else:
            dims = self.channels_first(layer, index)
            self.add(f"bn{dims}d", self.shape[0])
        self.add_params(
            layer, index, 2 * self.shape[0], "batchnorm (a scale and a shift per channel)"
        )

    def fc(self, layer: LayerSpec, index: int) -> None:
        assert layer.units is not None
        self.numbers(layer, index)
        flat = self.layout in _CHANNELS_FIRST
        if flat:
            self.flatten()
        features = self.shape[-1]
        self.add_params(
            layer,
            index,
            layer.units * (features + 1),
            f"fc ({features:,} inputs × {layer.units:,} units + biases)",
            "; add pooling before it" if flat else "",
        )
        self.add("fc", features, layer.units)
        self.shape, self.num_classes = (*self.shape[:-1], layer.units), layer.units
        self.flattened = self.layout == VECTOR

    def embedding(self, layer: LayerSpec, index: int) -> None:
        assert layer.vocab is not None and layer.units is not None
        if self.layout != TOKENS:
            raise _layer_error(
                layer,
                "embedding looks up token ids, so it needs 'input L "
                f"tokens' before it, but gets {describe(self.shape, self.layout)}",
                index,
            )
        self.add_params(
            layer,
            index,
            layer.vocab * layer.units,
            f"embedding ({layer.vocab:,} × {layer.units:,})",
        )
        self.add("embedding", layer.vocab, layer.units)
        self.shape, self.layout = (self.shape[0], layer.units), POSITIONS
        self.num_classes = layer.units

    def recurrent(self, layer: LayerSpec, index: int) -> None:
        assert layer.units is not None
        self.numbers(layer, index)
        if self.layout == SEQUENCE:  # (C, L) -> (L, C): one vector per step
            self.add("permute", _TO_POSITIONS)
            self.shape, self.layout = (self.shape[1], self.shape[0]), POSITIONS
        if self.layout != POSITIONS:
            raise _layer_error(
                layer,
                f"{layer.kind} reads a sequence ('input LxC', 'input L "
                f"tokens' then an embedding), but gets "
                f"{describe(self.shape, self.layout)}",
                index,
            )
        length, features = self.shape
        hidden = layer.units
        gates = 4 if layer.kind == "lstm" else 3
        self.add_params(
            layer,
            index,
            gates * hidden * (features + hidden + 2),
            f"{layer.kind} ({gates} gates, hidden size {hidden:,} on {features:,} features)",
        )
        self.add(layer.kind, features, hidden)
        self.shape, self.num_classes = (length, hidden), hidden

    def layer(self, layer: LayerSpec, index: int) -> None:
        k = layer.kind
        if k == "conv":
            self.conv(layer, index)
        elif k in ("maxpool", "avgpool"):
            self.pool(layer, index)
        elif k in ("globalavgpool", "batchnorm", "fc", "embedding"):
            getattr(self, k)(layer, index)
        elif k in ("lstm", "gru"):
            self.recurrent(layer, index)
        elif k == "flatten":
            self.numbers(layer, index)
            self.flatten()
        else:  # softmax (over the features), relu, tanh, sigmoid, dropout
            self.numbers(layer, index)
            args = (layer.p,) if k == "dropout" else ()
            self.add(k, *((2 if self.layout == POSITIONS else 1,) if k == "softmax" else args))
        if layer.activation:
            self.add(layer.activation)


def plan(layers: list[LayerSpec]) -> StackPlan:
    """Walk the shapes with integers and list the modules to make: every check happens here,
    before any module (let alone any weight) exists."""
    if not layers:
        raise SpecError("The layer stack is empty.", token="", position=0)
    first = layers[0]
    if first.kind == "input":
        (shape, layout), body, offset = input_of(first), layers[1:], 1
    else:
        shape, layout, body, offset = DEFAULT_INPUT, IMAGE, layers, 0
    walk = _Walk(shape, layout)
    for index, layer in enumerate(body, start=1 + offset):
        walk.layer(layer, index)
    return StackPlan(tuple(walk.steps), shape, layout, walk.params, walk.num_classes)


class LSTM(nn.LSTM):
    """torch's nn.LSTM, batch first, giving only its output at every position so that the next
    layer of the nn.Sequential gets one tensor (the final h and c are dropped). torch has no
    module that takes one element of a tuple, hence this one line of forward."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return super().forward(x)[0]


class GRU(nn.GRU):
    """torch's nn.GRU, batch first, giving only its output at every position (as LSTM)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return super().forward(x)[0]


_FORMS: dict[str, tuple[type[nn.Module], ...]] = {  # 1-D, 2-D, 3-D
    "conv": (nn.Conv1d, nn.Conv2d, nn.Conv3d),
    "maxpool": (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d),
    "avgpool": (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d),
    "globalavgpool": (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d),
}
_PLAIN: dict[str, type[nn.Module]] = {
    "bn1d": nn.BatchNorm1d,
    "bn2d": nn.BatchNorm2d,
    "bn3d": nn.BatchNorm3d,
    "flatten": nn.Flatten,
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "dropout": nn.Dropout,
    "softmax": nn.Softmax,
}


def _module(step: Step, device: torch.device | str | None) -> nn.Module:
    a, k = step.args, step.kind
    if k == "conv":
        return _FORMS[k][len(a[2]) - 1](a[0], a[1], a[2], a[3], a[4], device=device)
    if k in ("maxpool", "avgpool"):
        return _FORMS[k][len(a[0]) - 1](*a)
    if k == "globalavgpool":
        return _FORMS[k][a[0] - 1](1)
    if k == "fc":
        return nn.Linear(a[0], a[1], device=device)
    if k == "embedding":
        return nn.Embedding(a[0], a[1], device=device)
    if k in ("lstm", "gru"):
        return (LSTM if k == "lstm" else GRU)(a[0], a[1], batch_first=True, device=device)
    if k == "permute":
        from torchvision.ops import Permute  # not at import: explorer loads torchvision lazily

        return Permute(list(a[0]))
    if k.startswith("bn"):
        return _PLAIN[k](a[0], device=device)
    return _PLAIN[k](*a)


def build(
    layers: list[LayerSpec] | StackPlan, device: torch.device | str | None = None
) -> nn.Module:
    """The nn.Sequential of a stack, with readable names (conv1, relu1, avgpool1, fc1)."""
    checked = layers if isinstance(layers, StackPlan) else plan(layers)
    return nn.Sequential(OrderedDict((s.name, _module(s, device)) for s in checked.steps))
