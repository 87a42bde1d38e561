"""Typed layer stacks: 'input 32x32x1 | conv 6 5x5 | avgpool 2 | fc 10' -> nn.Sequential.

The text is parsed by explorer.catalog.stack_text (nothing is ever evaluated). The
shapes are then walked once, with plain integers and no module built (`plan`), so that a stack
which cannot work (a 5x5 conv on a 3x3 map, 10^12 weights) is rejected with a message that
names the layer. Like every other architecture, a stack is traced on the meta device (no
weight memory); real weights are made only by a real build (a prediction), and only after
explorer.analysis.pricing has priced that build and its forward pass.

Grammar (case-insensitive; `|`, `;` or a new line separate layers):

    input HxWxC                                    (n_H x n_W x n_C, as in the lecture)
    input N                                        (a vector of N features: an MLP)
    input LxC [seq]                                (a sequence: length L, C channels; `seq`
                                                    is needed when L = C, as `input 32x32`
                                                    alone reads as an image without channels)
    input DxHxWxC                                  (a volume: video frames, CT slices)
    input L tokens                                 (L int64 token ids)
    conv N K [sS | stride S] [pP | pad P | same | valid] [relu | tanh | sigmoid]
    maxpool K [S] [sS | stride S] [pP | pad P]     (stride defaults to K)
    avgpool K ...                                  (as maxpool)
    fc N [relu | tanh | sigmoid]                   (also: linear, dense)
    embedding V D                                  (vocabulary V, dimension D; also: embed)
    lstm H | gru H                                 (hidden size H, one layer, batch first)
    relu | tanh | sigmoid | softmax | flatten | globalavgpool (gap) | batchnorm (bn)
    dropout [P]                                    (P in [0, 1), default 0.5)

K is `5` or `5x5` (or `3x5`) on an image, `5` on a sequence, `3` or `3x3x3` on a volume:
conv, pools, batchnorm and globalavgpool take their 1-D, 2-D or 3-D form from the input. A
`flatten` is inserted before an fc on an image, a volume or a conv's sequence; after an
embedding, lstm or gru an fc works per position, and a conv or pool there gets a `permute`
first (explorer.catalog.stack_plan explains the layouts).
"""

from __future__ import annotations

from typing import Any

from torch import nn

from explorer.catalog.registry import ArchSpec
from explorer.catalog.stack_plan import StackPlan, Step, build, plan
from explorer.catalog.stack_text import (
    DEFAULT_INPUT,
    KINDS,
    SEPARATORS,
    LayerSpec,
    looks_like_spec,
    parse,
    to_text,
    tokenize,
)
from explorer.core.errors import SpecError

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
    "order_hint",
    "parse",
    "plan",
    "spec_from_text",
    "to_text",
    "tokenize",
]

#: A real build is priced for a ten-crop prediction, the largest batch a prediction runs.
PREDICTION_BATCH = 10
# what could follow an input layer alone, in the error that says a stack needs more
_NEXT = {"image": "conv 6 5x5", "vector": "fc 10", "sequence": "conv 16 5",
         "volume": "conv 8 3x3x3", "tokens": "embedding 10000 64"}  # fmt: skip


def spec_from_text(text: str) -> ArchSpec:
    """An ArchSpec (family "Custom") for a typed stack; raises SpecError on bad input. A
    stack that takes no image gets `inputs`, its signature at batch 1 ('1x784', '1x16:int64').

    Resolving builds nothing. The spec's builder makes meta weights in a meta build; a real
    build is first priced by explorer.analysis.pricing (weights, and a ten-crop forward pass at the
    stack's input size) and refused over budget with BudgetError."""
    layers = parse(text)
    checked = plan(layers)  # validates everything before anything is built
    has_input = layers[0].kind == "input"
    if not (layers[1:] if has_input else layers):
        raise SpecError(
            "Layer 1: the stack has only an input layer; expected layers after it, e.g. "
            f"'{to_text(layers)} | {_NEXT[checked.input_layout]}'.",
            token="input",
            position=layers[0].position,
        )
    note = ""
    if not has_input:
        c, h, w = checked.input_size
        note = f" No `input` layer was given, so the input is assumed to be {h}×{w}×{c}."
    elif not checked.is_image:
        note = f" It takes {checked.input_words}, not an image."
    name = to_text(layers)

    def builder(**kwargs: Any) -> nn.Module:
        return build(checked, kwargs.get("device"))

    return ArchSpec(
        name=name,
        family="Custom",
        title="Custom layer stack",
        builder=builder,
        input_size=checked.input_size if checked.is_image else DEFAULT_INPUT,
        inputs="" if checked.is_image else checked.signature,  # features, sequence, tokens…
        num_classes=checked.num_classes,
        notes="A typed layer stack." + note,
        source="custom",
    )


def input_rows(signature: str) -> list[dict[str, str]]:
    """One row per input tensor of a signature text (explorer.core.inputs grammar), in call order:
    where it goes (`input 1`, `mask`, `input 1[0]`, `input 1['image']`), its full shape
    (batch included) and its dtype. Raises InputSizeError (naming the character) on bad text
    or a signature over explorer.core.inputs' limits, before anything is traced."""
    from explorer.core import inputs as _inputs

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


def order_hint(text: str) -> str | None:
    """`input 1x32x32` reads as 1 pixel high with 32 channels: when the input layer looks like
    channels written first, a sentence saying the order is height × width × channels (shown
    beside an error the stack gives, or beside its trace). Reads the tokens only, so it works
    on a stack that does not parse."""
    for layer in tokenize(text):
        if len(layer) < 2 or layer[0].text != "input":
            continue
        sides = layer[1].text.split("x")
        if len(sides) != 3 or not all(s.isdigit() and len(s) <= 6 for s in sides):
            return None
        first, second, last = (int(s) for s in sides)
        if first <= 4 < last and second == last:
            return (
                f"`input {layer[1].raw}` means n_H={first}, n_W={second}, n_C={last}: the order "
                "is height × width × channels (the lecture's n_H×n_W×n_C). For a "
                f"{last}×{last} picture with {first} channel{'s' if first > 1 else ''}, write "
                f"`input {last}x{last}x{first}`."
            )
        return None
    return None
