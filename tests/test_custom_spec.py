"""Typed layer stacks: parsing, canonical text, building, and errors that point at the token."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from explorer.analysis.trace import trace
from explorer.catalog import resolve
from explorer.catalog.custom import (
    LayerSpec,
    looks_like_spec,
    parse,
    spec_from_text,
    to_text,
)
from explorer.core.errors import ExplorerError, SpecError

LENET = "input 32x32x1 | conv 6 5x5 | avgpool 2 | conv 16 5x5 | avgpool 2 | fc 120 | fc 84 | fc 10"


def test_parse_the_lecture_lenet() -> None:
    layers = parse(LENET)
    assert [layer.kind for layer in layers] == [
        "input", "conv", "avgpool", "conv", "avgpool", "fc", "fc", "fc",
    ]  # fmt: skip
    assert layers[0] == LayerSpec("input", shape=(32, 32, 1))
    assert layers[1] == LayerSpec("conv", units=6, kernel=(5, 5), stride=1, padding=0)
    assert layers[2] == LayerSpec("avgpool", kernel=(2, 2), stride=None, padding=0)
    assert layers[-1] == LayerSpec("fc", units=10)
    assert [layer.position for layer in layers[:3]] == [0, 16, 29]
    assert to_text(layers) == LENET


def test_options_in_every_spelling() -> None:
    a = parse("conv 32 3 s2 p1 relu")[0]
    b = parse("CONV 32 3×3 stride=2, pad 1 ReLU")[0]
    c = parse("conv2d 32 3x3 stride 2 padding 1 relu")[0]
    assert a == b == c == LayerSpec("conv", units=32, kernel=(3, 3), stride=2, padding=1,
                                    activation="relu")  # fmt: skip
    assert parse("conv 8 3x5 same")[0].kernel == (3, 5)
    assert parse("conv 8 3 valid")[0].padding == 0
    assert parse("maxpool 3 2")[0] == parse("maxpool 3x3 s2")[0]
    assert parse("maxpool 3 s2 p1")[0] == LayerSpec("maxpool", kernel=(3, 3), stride=2, padding=1)
    assert parse("dropout")[0].p == 0.5 and parse("dropout 0.25")[0].p == 0.25
    kinds = [layer.kind for layer in parse("linear 3; dense 4\nbn | gap | pool 2 | softmax")]
    assert kinds == ["fc", "fc", "batchnorm", "globalavgpool", "maxpool", "softmax"]


@pytest.mark.parametrize(
    "text",
    [
        LENET,
        "input 28x28x3 | conv 32 3 s2 same relu | bn | maxpool 3 s2 p1 | dropout 0.25 | "
        "conv 64 3x5 stride 2 pad 1 tanh | gap | fc 10 sigmoid | softmax",
        "conv 8 3 | relu | flatten | fc 10",
        "input 9x7x2 | avgpool 3x1 | conv 4 1 | sigmoid | tanh | batchnorm | flatten | bn | fc 2",
    ],
)
def test_round_trip(text: str) -> None:
    layers = parse(text)
    canonical = to_text(layers)
    assert parse(canonical) == layers
    assert to_text(parse(canonical)) == canonical


def test_lenet_stack_is_the_catalog_lenet5() -> None:
    stack = (
        LENET.replace("5x5", "5x5 tanh")
        .replace("fc 120", "fc 120 tanh")
        .replace("fc 84", "fc 84 tanh")
    )
    spec = spec_from_text(stack)
    assert (spec.family, spec.source, spec.input_size, spec.num_classes) == (
        "Custom", "custom", (1, 32, 32), 10,
    )  # fmt: skip
    assert spec.name == to_text(parse(stack))
    ours, catalog = trace(spec), trace("lenet5")
    assert (ours.total_params, ours.total_macs) == (catalog.total_params, catalog.total_macs)
    assert [r.output_shape for r in ours.leaves() if r.type in ("Conv2d", "AvgPool2d")] == [
        (1, 6, 28, 28), (1, 6, 14, 14), (1, 16, 10, 10), (1, 16, 5, 5),
    ]  # fmt: skip
    names = [r.name for r in ours.layers[1:]]
    assert names == ["conv1", "tanh1", "avgpool1", "conv2", "tanh2", "avgpool2", "flatten",
                     "fc1", "tanh3", "fc2", "tanh4", "fc3"]  # fmt: skip


def test_resolve_routes_text_and_builds_a_working_model() -> None:
    text = "input 8x8x3 | conv 4 3 same relu | bn | maxpool 2 | dropout 0.1 | fc 5 | bn | softmax"
    assert looks_like_spec(text) and looks_like_spec("conv 8 3\nrelu")
    assert not looks_like_spec("resnet50-paper") and not looks_like_spec("vgg16")
    spec = resolve(text)
    model = spec.build().eval()
    assert isinstance(model, nn.Sequential)
    assert isinstance(model.bn1, nn.BatchNorm2d) and isinstance(model.bn2, nn.BatchNorm1d)
    with torch.no_grad():
        out = model(torch.randn(2, 3, 8, 8))
    assert out.shape == (2, 5) and torch.allclose(out.sum(1), torch.ones(2))
    t = trace(spec)
    assert t.layer("conv1").output_shape == (1, 4, 8, 8)
    assert t.total_params == (4 * 27 + 4) + 8 + (64 * 5 + 5) + 10


def test_shapes_strides_and_padding() -> None:
    t = trace(spec_from_text("input 227x227x3 | conv 96 11 s4 | maxpool 3 s2 | conv 256 5 p2 "
                             "| conv 8 3 same | conv 8 3 s2 same | globalavgpool"))  # fmt: skip
    shapes = [r.output_shape[1:] for r in t.leaves()]
    assert shapes == [(96, 55, 55), (96, 27, 27), (256, 27, 27), (8, 27, 27), (8, 14, 14),
                      (8, 1, 1)]  # fmt: skip


def test_missing_input_defaults_to_224_and_says_so() -> None:
    spec = spec_from_text("conv 8 3 | relu")
    assert spec.input_size == (3, 224, 224) and "224×224×3" in spec.notes
    assert spec.num_classes == 8


# --- Errors ----------------------------------------------------------------------------------

ERRORS = [
    # text, offending token, character offset, layer number, words the message must contain
    ("input 32x32x1 | convv 6 5", "convv", 16, 2, ["unknown layer type", "Did you mean 'conv'"]),
    ("input 32x32x1 | conv six 5", "six", 21, 2, ["number of filters"]),
    ("input 32x32x1 | conv 6", "conv", 16, 2, ["kernel size"]),
    ("input 32x32 | fc 3", "32x32", 6, 1, ["HxWxC"]),
    ("input 32x32x1 || fc 10", "|", 14, 2, ["empty"]),
    ("fc 10 | input 3x3x3", "input", 8, 2, ["first layer"]),
    ("input 32x32x1 | relu 5", "5", 21, 2, ["unexpected", "no arguments"]),
    ("input 32x32x1 | conv 6 5 relu 3", "3", 30, 2, ["unexpected"]),
    ("input 32x32x1 | dropout 1.5", "1.5", 24, 2, ["[0, 1)"]),
    ("input 32x32x1 | dropout nan", "nan", 24, 2, ["[0, 1)"]),
    ("input 32x32x1 | fc ten", "ten", 19, 2, ["number of units"]),
    ("input 32x32x1 | conv 0 3", "0", 21, 2, ["at least 1"]),
    ("input 32x32x1 | conv 200000 3", "200000", 21, 2, ["200,000", "limit of 100,000"]),
    ("input 32x32x1 | conv 6 5000", "5000", 23, 2, ["5,000", "limit of 1,000"]),
    ("input 99999x32x1 | fc 2", "99999x32x1", 6, 1, ["limit of 8,192"]),
    ("input 4x4x1 | conv 6 5", "conv", 14, 2, ["5x5 kernel does not fit", "4x4x1"]),
    ("input 4x4x1 | fc 10 | conv 3 3", "conv", 22, 3, ["needs an image"]),
    ("input 4x4x1 | maxpool 8", "maxpool", 14, 2, ["does not fit"]),
    ("input 8x8x1 | conv 2 4 same", "conv", 14, 2, ["odd kernel", "p1"]),
    ("input 8x8x1 | maxpool 2 p2", "maxpool", 14, 2, ["half the pool size"]),
    ("input 224x224x3 | fc 100000 | fc 9", "fc", 18, 2, ["parameters", "pooling"]),
    ("__import__('os').system('true')", "__import__('os').system('true')", 0, 1,
     ["unknown layer type"]),
    ("", "", 0, 0, ["empty"]),
    ("input 3x3x1", "input", 0, 1, ["only an input layer"]),
]  # fmt: skip


@pytest.mark.parametrize(("text", "token", "position", "layer", "words"), ERRORS)
def test_malformed_specs_name_token_and_position(
    text: str, token: str, position: int, layer: int, words: list[str]
) -> None:
    with pytest.raises(SpecError) as caught:
        spec_from_text(text)
    error = caught.value
    assert isinstance(error, ExplorerError) and isinstance(error, ValueError)
    assert (error.token, error.position) == (token, position)
    message = str(error)
    if layer:
        assert f"Layer {layer}" in message
    if token and token != "|":
        assert token in message
    for word in words:
        assert word in message, message
    assert "\n" not in message and "Traceback" not in message


def test_oversized_text_is_rejected_before_parsing() -> None:
    with pytest.raises(SpecError, match="limit"):
        parse("relu | " * 5_000)


def test_input_rows_list_every_tensor_of_a_signature_in_call_order() -> None:
    from explorer.catalog.custom import input_rows

    rows = input_rows("{image: 2x3x32x32, extra: 2x10}, (2x5:int64, 1x4:float64), mask=2x5:bool")
    assert [(r["Argument"], r["Shape"], r["Dtype"]) for r in rows] == [
        ("input 1['image']", "2×3×32×32", "float32"),
        ("input 1['extra']", "2×10", "float32"),
        ("input 2[0]", "2×5", "int64"),
        ("input 2[1]", "1×4", "float64"),
        ("mask", "2×5", "bool"),
    ]
    assert input_rows("1x8, scale=True")[1] == {
        "Argument": "scale",
        "Shape": "—",
        "Dtype": "value True",
    }


def test_input_rows_refuse_bad_text_and_sizes_before_tracing() -> None:
    from explorer.catalog.custom import input_rows
    from explorer.core.errors import InputSizeError

    with pytest.raises(InputSizeError, match="character 9"):
        input_rows("2x1x32x3x")
    with pytest.raises(InputSizeError, match="dimensions; the limit is"):
        input_rows("x".join(["2"] * 12))


def test_order_hint_reads_the_input_tokens_only() -> None:
    from explorer.catalog.custom import order_hint

    hint = order_hint("input 1x32x32 | conv 6 5x5 | fc 10")
    assert hint is not None and "input 32x32x1" in hint and "height × width × channels" in hint
    assert order_hint("input 32x32x1 | conv 6 5x5") is None  # the lecture's order
    assert order_hint("input 3x224x224 | conv 6 5 | pool") is not None  # unparsable: still said
    assert order_hint("input " + "9" * 5000 + "x32x32") is None  # no int() of 5,000 digits
    assert order_hint("conv 6 5x5 | fc 10") is None
