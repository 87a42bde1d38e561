"""Typed stacks that take no image: features (an MLP), a 1-D sequence, a 3-D volume, token ids.

Each stack is traced on meta from its text alone; every layer's output shape equals a real CPU
forward of the very modules the stack builds, and the MAC total equals FlopCounterMode on that
forward (or a hand count where a layer's count is written out)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from test_torchinfo_like import real_forward
from torch import nn

from explorer.analysis import pricing as budgets
from explorer.analysis.trace import trace
from explorer.catalog import custom
from explorer.catalog.custom import LayerSpec, parse, plan, spec_from_text, to_text
from explorer.core import inputs
from explorer.core.errors import SpecError


def real_model(text: str) -> nn.Module:
    return custom.build(plan(parse(text)), device="cpu")


def check_against_real_forward(text: str, macs: int | None = None) -> None:
    """Meta trace of the text == a real forward of the same modules: shapes, MACs, params."""
    spec = spec_from_text(text)
    t = trace(text)
    model = real_model(text)
    sig = inputs.parse(spec.inputs)
    real, counted, output = real_forward(model, sig)
    for record in t.leaves():
        assert record.output_shapes == real[record.name], record.name
    assert t.output_shape == tuple(output.shape)
    assert t.total_macs == (counted if macs is None else macs)
    assert t.total_params == sum(p.numel() for p in model.parameters())
    assert t.total_params == plan(parse(text)).params  # the walk's own count, before building
    assert t.input_shape == sig.first_shape


# --- Parsing and canonical text ---------------------------------------------------------------


def test_parse_every_input_kind() -> None:
    assert parse("input 784")[0] == LayerSpec("input", shape=(784,))
    assert parse("input 128x4")[0] == LayerSpec("input", shape=(128, 4))
    assert parse("input 32x32 seq")[0] == LayerSpec("input", shape=(32, 32))
    assert parse("input 8x32x32x1")[0] == LayerSpec("input", shape=(8, 32, 32, 1))
    assert parse("input 16 tokens")[0] == LayerSpec("input", shape=(16,), tokens=True)
    tokens = parse("input 16 tokens | embed 1000 32 | lstm 64 | gru 8")
    assert tokens[1:] == [
        LayerSpec("embedding", vocab=1000, units=32),
        LayerSpec("lstm", units=64),
        LayerSpec("gru", units=8),
    ]


def test_kernels_have_one_size_per_spatial_dimension_of_the_input() -> None:
    seq = parse("input 100x4 | conv 8 5 | maxpool 2 | avgpool 3 s2")
    assert [layer.kernel for layer in seq[1:]] == [(5,), (2,), (3,)]
    vol = parse("input 8x32x32x1 | conv 8 3 | conv 4 1x3x3 | maxpool 2")
    assert [layer.kernel for layer in vol[1:]] == [(3, 3, 3), (1, 3, 3), (2, 2, 2)]
    assert parse("input 16 tokens | embedding 10 4 | conv 8 3")[2].kernel == (3,)
    assert parse("input 32x32x1 | conv 6 5")[1].kernel == (5, 5)  # images: as before


CANONICAL = [
    "input 784 | fc 128 relu | fc 10",
    "input 128x4 | conv 16 5 relu | batchnorm | maxpool 2 | conv 32 3 s2 same | globalavgpool "
    "| fc 2",
    "input 32x32 seq | conv 4 3 | avgpool 2 s1 p1",
    "input 8x32x32x1 | conv 4 3x3x3 relu | maxpool 2 | conv 8 1x3x3 p1 | batchnorm | fc 5",
    "input 16 tokens | embedding 1000 32 | lstm 64 | fc 1000 | softmax",
    "input 16 tokens | embedding 50 8 | conv 8 3 | relu | gru 12 | dropout 0.1 | flatten | fc 2",
]


@pytest.mark.parametrize("text", CANONICAL)
def test_round_trip(text: str) -> None:
    layers = parse(text)
    assert to_text(layers) == text  # these are written canonically already
    assert parse(to_text(layers)) == layers


def test_other_spellings_reach_the_same_canonical_text() -> None:
    assert to_text(parse("INPUT 8×32×32×1 | conv 4 3 ReLU | pool 2x2x2")) == (
        "input 8x32x32x1 | conv 4 3x3x3 relu | maxpool 2"
    )
    assert to_text(parse("input 16 token\nembed 10 4\nlinear 3")) == (
        "input 16 tokens | embedding 10 4 | fc 3"
    )
    assert to_text(parse("input 32x32 sequence | conv 4 3")) == "input 32x32 seq | conv 4 3"


# --- Shapes and MACs against real forwards ------------------------------------------------------


def test_mlp_on_mnist() -> None:
    text = "input 784 | fc 128 relu | fc 10"
    check_against_real_forward(text, macs=784 * 128 + 128 * 10)
    spec = spec_from_text(text)
    assert spec.inputs == "1x784" and spec.num_classes == 10
    assert trace(text).total_params == 784 * 128 + 128 + 128 * 10 + 10


def test_1d_conv_net() -> None:
    text = CANONICAL[1]
    # conv1: 124 positions × 16 filters × 5·4 weights; conv2 (same, s2): 31 → 16 × 32 × 3·16
    check_against_real_forward(text, macs=124 * 16 * 5 * 4 + 31 * 32 * 3 * 16 + 32 * 2)
    t = trace(text)
    assert [r.type for r in t.leaves()] == [
        "Conv1d", "ReLU", "BatchNorm1d", "MaxPool1d", "Conv1d", "AdaptiveAvgPool1d", "Flatten",
        "Linear",
    ]  # fmt: skip
    assert t.layer("conv2").output_shape == (1, 32, 31)  # ⌊(62 + 2 − 3)/2⌋ + 1
    assert spec_from_text(text).inputs == "1x4x128"


def test_3d_conv_net() -> None:
    text = CANONICAL[3]
    check_against_real_forward(text)
    t = trace(text)
    assert t.layer("conv1").output_shape == (1, 4, 6, 30, 30)
    assert t.layer("maxpool1").output_shape == (1, 4, 3, 15, 15)
    assert t.layer("conv2").output_shape == (1, 8, 5, 15, 15)  # p1 pads D too: 3 + 2 − 1 + 1
    assert t.layer("conv1").macs == 6 * 30 * 30 * 4 * 27
    assert [r.type for r in t.leaves()][:5] == [
        "Conv3d", "ReLU", "MaxPool3d", "Conv3d", "BatchNorm3d",
    ]  # fmt: skip


def test_lstm_language_model_hand_count() -> None:
    text = CANONICAL[4]
    # an LSTM step: 4 gates × hidden × (input + hidden); then a 64 → 1000 fc at each position
    check_against_real_forward(text, macs=16 * 4 * 64 * (32 + 64) + 16 * 64 * 1000)
    t = trace(text)
    assert t.input_shape == (1, 16) and t.output_shape == (1, 16, 1000)
    assert t.layer("embedding").output_shape == (1, 16, 32) and t.layer("embedding").macs == 0
    assert t.layer("lstm1").params == 4 * 64 * (32 + 64 + 2)
    model = real_model(text).eval()
    with torch.no_grad():  # the softmax is over each position's 1,000 outputs
        out = model(torch.zeros(2, 16, dtype=torch.int64))
    assert torch.allclose(out.sum(-1), torch.ones(2, 16))
    assert spec_from_text(text).inputs == "1x16:int64"


def test_conv_after_an_embedding_is_permuted_and_the_permute_is_a_row() -> None:
    text = CANONICAL[5]
    conv = 14 * 8 * 3 * 8  # 16 - 3 + 1 positions, 8 filters of 3 × 8
    gru = 14 * 3 * 12 * (8 + 12)  # 3 gates × hidden × (input + hidden) per step
    check_against_real_forward(text, macs=conv + gru + 14 * 12 * 2)
    t = trace(text)
    assert [(r.name, r.type, r.output_shape) for r in t.leaves()][:5] == [
        ("embedding", "Embedding", (1, 16, 8)),
        ("permute1", "Permute", (1, 8, 16)),  # (N, L, D) -> (N, D, L): Conv1d's order
        ("conv1", "Conv1d", (1, 8, 14)),
        ("relu1", "ReLU", (1, 8, 14)),
        ("permute2", "Permute", (1, 14, 8)),  # and back, one vector per step for the GRU
    ]


def test_1d_conv_then_lstm_and_batchnorm_on_positions() -> None:
    text = "input 50x3 | conv 6 5 | lstm 10 | batchnorm | fc 4"
    check_against_real_forward(text, macs=46 * 6 * 15 + 46 * 4 * 10 * 16 + 460 * 4)
    kinds = [r.type for r in trace(text).leaves()]
    assert kinds == ["Conv1d", "Permute", "LSTM", "Permute", "BatchNorm1d", "Flatten", "Linear"]


def test_output_size_formula_in_1d_and_3d_agrees_with_the_trace() -> None:
    from explorer.core.layer_math import output_size_formula

    t = trace("input 128x4 | conv 16 5 s2 p1 | maxpool 3")
    conv, pool = t.layer("conv1"), t.layer("maxpool1")
    assert output_size_formula(conv.hyper, conv.input_shapes[0]) == "⌊(128 + 2·1 − 5)/2⌋ + 1 = 63"
    assert conv.output_shape == (1, 16, 63)
    assert output_size_formula(pool.hyper, pool.input_shapes[0]) == "⌊(63 + 2·0 − 3)/3⌋ + 1 = 21"
    assert pool.output_shape == (1, 16, 21)
    t = trace("input 8x32x32x1 | conv 4 1x3x3 | conv 2 3")
    conv1, conv2 = t.layer("conv1"), t.layer("conv2")
    assert output_size_formula(conv1.hyper, conv1.input_shapes[0]) == (
        "D: ⌊(8 + 2·0 − 1)/1⌋ + 1 = 8; H: ⌊(32 + 2·0 − 3)/1⌋ + 1 = 30; "
        "W: ⌊(32 + 2·0 − 3)/1⌋ + 1 = 30"
    )
    assert conv1.output_shape == (1, 4, 8, 30, 30) and conv2.output_shape == (1, 2, 6, 28, 28)


def test_batch_size_and_the_spec_signature() -> None:
    t = trace("input 16 tokens | embedding 100 8 | gru 4", batch_size=3)
    assert t.input_shape == (3, 16) and t.output_shape == (3, 16, 4)
    t = trace("input 784 | fc 10", inputs="5x784")
    assert t.output_shape == (5, 10)
    with pytest.raises(budgets.BudgetError, match="1,000,000"):
        trace("input 784 | fc 10", batch_size=2_000_000)


def test_a_real_build_works_and_the_lstm_passes_on_one_tensor() -> None:
    model = spec_from_text("input 12 tokens | embedding 30 6 | lstm 5 | fc 3").build().eval()
    ids = torch.randint(0, 30, (2, 12), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        out = model(ids)
    assert out.shape == (2, 12, 3)
    assert isinstance(model.lstm1, nn.LSTM) and model.lstm1.batch_first


def test_images_are_unchanged() -> None:
    spec = spec_from_text("input 32x32x1 | conv 6 5 | avgpool 2 | fc 10")
    assert spec.inputs == "" and spec.input_size == (1, 32, 32)
    assert trace(spec).input_shape == (1, 1, 32, 32)


# --- Errors -------------------------------------------------------------------------------------

ERRORS = [
    # text, offending token, layer number, words the message must contain
    ("input 784 | conv 6 3x3", "conv", 2, ["needs an image", "784 features from the input"]),
    ("input 784 | embedding 10 4", "embedding", 2, ["token ids", "784 features"]),
    ("input 100x4 | embedding 10 4", "embedding", 2, ["'input L tokens'", "100 positions"]),
    ("input 16 tokens | fc 4", "fc", 2, ["token ids", "'embedding V D'"]),
    ("input 16 tokens | relu", "relu", 2, ["token ids"]),
    ("input 16 tokens | lstm 8", "lstm", 2, ["token ids"]),
    ("input 8x8x1 | lstm 8", "lstm", 2, ["reads a sequence", "image of size 8x8x1"]),
    ("input 10x4 | conv 6 12", "conv", 2, ["kernel of 12", "sequence of 10 positions", "10x4"]),
    ("input 10x4 | maxpool 11", "maxpool", 2, ["pool of 11", "10 positions"]),
    ("input 4x8x8x1 | conv 2 5x3x3", "conv", 2, ["5x3x3 kernel does not fit", "4x8x8x1"]),
    ("input 8x8x8x1 | conv 2 4 same", "conv", 2, ["odd kernel"]),
    ("input 100x4 | conv 6 5x5", "5x5", 2, ["sequence", "one number"]),
    ("input 8x8x8x1 | conv 6 3x3", "3x3", 2, ["volume", "3x3x3"]),
    ("input 32x32 | conv 6 3", "32x32", 1, ["HxWxC", "32x32x1", "'input 32x32 seq'"]),
    ("input 16 tokens | embedding 2000000 8", "2000000", 2, ["2,000,000", "1,000,000"]),
    ("input 16 tokens | embedding 1000000 5000", "embedding", 2,
     ["1,000,000 × 5,000", "5,000,000,000", "2,000,000,000"]),
    ("input 16 tokens | embedding 10 4 | lstm 100000 | fc 2", "lstm", 3,
     ["4 gates", "40,002,400,000 parameters", "limit of 2,000,000,000"]),
    ("input 100000000", "100000000", 1, ["100,000,000", "67,108,864"]),
    ("input 8192x8192x8192x1", "8192x8192x8192x1", 1, ["549,755,813,888", "limit"]),
    ("input 16 lstm", "lstm", 1, ["unexpected"]),
    ("input 5 tokens | embedding 10", "embedding", 2, ["embedding dimension"]),
    ("input 5 tokens", "input", 1, ["only an input layer", "'input 5 tokens | embedding"]),
    ("input 100x4", "input", 1, ["only an input layer", "'input 100x4 | conv 16 5'"]),
    ("input 224x224x3 | fc 100000", "fc", 2, ["15,052,900,000 parameters", "add pooling"]),
]  # fmt: skip


@pytest.mark.parametrize(("text", "token", "layer", "words"), ERRORS)
def test_layers_that_cannot_apply_are_refused_naming_the_layer(
    text: str, token: str, layer: int, words: list[str]
) -> None:
    with pytest.raises(SpecError) as caught:
        spec_from_text(text)
    error = caught.value
    message = str(error)
    assert error.token == token and f"Layer {layer}" in message, message
    assert text[error.position :].startswith(token)  # the position points at the token
    for word in words:
        assert word in message, message
    assert "\n" not in message and "Traceback" not in message


def test_explorer_predict_refuses_a_stack_that_takes_no_image(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from PIL import Image

    from explorer.cli import main

    picture = tmp_path / "white.png"
    Image.new("RGB", (32, 32), "white").save(picture)
    assert main(["predict", "input 16 tokens | embedding 10 4 | fc 2", str(picture)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert "takes inputs 1x16:int64, not an image" in lines[0]
    assert "'input HxWxC'" in lines[0]


def test_explorer_summary_of_a_token_stack(capsys: pytest.CaptureFixture[str]) -> None:
    from explorer.cli import main

    assert main(["summary", "input 100x4 | conv 8 5 | lstm 16 | fc 2", "--batch", "2"]) == 0
    out = capsys.readouterr().out
    assert "Output (H×W×C)" not in out and "Permute" in out and "Input: 4×100 (batch 2)" in out
    lstm = 2 * 96 * 4 * 16 * (8 + 16)
    assert f"lstm1     LSTM     96×16    1,664  {lstm:,}" in out
    assert main(["summary", "input 32x32x1 | conv 6 5 | fc 10"]) == 0
    assert "Output (H×W×C)" in capsys.readouterr().out  # images: as before


def test_depth_counts_recurrent_layers_per_stacked_layer() -> None:
    """Depth (weight layers): an LSTM is a layer (num_layers of them), an embedding is not."""
    from torch import nn

    from explorer.analysis.analysis import record_architecture
    from explorer.analysis.trace import trace_and_record
    from explorer.graph import dataflow as graph

    rec = record_architecture("input 32 tokens | embedding 10000 64 | lstm 128 | fc 10000")
    assert graph.weight_layer_depth(rec) == 2

    class LM(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(100, 16)
            self.lstm = nn.LSTM(16, 32, num_layers=3, batch_first=True)
            self.head = nn.Linear(32, 100)

        def forward(self, x):  # type: ignore[no-untyped-def]
            return self.head(self.lstm(self.embed(x))[0])

    t, rec = trace_and_record(LM(), inputs="2x8:int64")
    assert graph.weight_layer_depth(rec) == 4
    assert t.layer("lstm").hyper == {"hidden_size": 32, "num_layers": 3}
