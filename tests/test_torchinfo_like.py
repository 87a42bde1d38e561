"""The kinds of models torchinfo's own test suite summarises, written afresh: each traced on
meta with its real input signature, every layer's output shape equal to a real forward's, and
every MAC total equal to a hand count or to FlopCounterMode on a real forward."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import explorer
from explorer.core import inputs
from explorer.engine.meta_limits import MetaTraceError


def real_forward(model: nn.Module, sig: inputs.Signature) -> tuple[dict[str, Any], int, Any]:
    """Output shapes per module (last call), FlopCounterMode's MACs and the output of one real
    CPU forward on inputs made from `sig` with a local generator."""
    args, kwargs = inputs.make(sig, "cpu", generator=torch.Generator().manual_seed(0))
    shapes: dict[str, Any] = {}
    hooks = [
        m.register_forward_hook(lambda mod, a, out, n=n: shapes.__setitem__(n, out))
        for n, m in model.named_modules()
    ]
    try:
        with FlopCounterMode(display=False) as counter:
            output = model.eval()(*args, **kwargs)
    finally:
        for h in hooks:
            h.remove()
    from explorer.engine.forward_pass import tensor_shapes

    return {n: tensor_shapes(v) for n, v in shapes.items()}, counter.get_total_flops() // 2, output


def check(model: nn.Module, text: str, macs: int | None = None, **kwargs: Any) -> explorer.Trace:
    """Trace `model` on `text`; shapes equal a real forward's; MACs equal `macs` (a hand count)
    or, when not given, FlopCounterMode on the real forward; params equal sum(p.numel())."""
    sig = inputs.as_signature(text, kwargs or None)
    t = explorer.trace(model, inputs=sig)
    real, counted, _ = real_forward(model, sig)
    for record in t.layers:
        if record.name in real and record.calls:
            assert record.output_shapes == real[record.name], record.name
    assert t.total_macs == (counted if macs is None else macs)
    assert t.total_params == sum(p.numel() for p in model.parameters())
    assert t.input_shape == sig.first_shape
    return t


class LSTMLanguageModel(nn.Module):
    def __init__(self, vocab: int = 100, embed: int = 32, hidden: int = 64) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab, embed)
        self.lstm = nn.LSTM(embed, hidden, num_layers=2, batch_first=True)
        self.decoder = nn.Linear(hidden, vocab)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(self.embedding(tokens))
        return self.decoder(out)


def test_lstm_language_model_hand_count() -> None:
    # 2 sequences × 10 steps; each step, each layer: 4 gates × hidden × (input + hidden)
    lstm = 2 * 10 * (4 * 64 * (32 + 64) + 4 * 64 * (64 + 64))
    decoder = 2 * 10 * 64 * 100
    t = check(LSTMLanguageModel(), "2x10:int64", macs=lstm + decoder)
    assert t.output_shape == (2, 10, 100)
    assert t.layer("embedding").output_shape == (2, 10, 32) and t.layer("embedding").macs == 0
    assert t.layer("lstm").output_shapes[0] == (2, 10, 64)  # then (h, c): 2 × (2, 2, 64)
    assert t.layer("lstm").output_shapes[1:] == ((2, 2, 64), (2, 2, 64))


class Siamese(nn.Module):
    """Two images through one shared encoder (a module called twice), then their distance."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
            nn.Linear(8, 4),
        )  # fmt: skip

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return (self.encoder(a) - self.encoder(b)).pow(2).sum(1)


def test_siamese_two_inputs_module_called_twice() -> None:
    per_image = 8 * 1 * 9 * 16 * 16 + 8 * 4  # 3×3 conv on 16×16, then fc 8 -> 4
    t = check(Siamese(), "1x1x16x16, 1x1x16x16", macs=2 * per_image)
    assert t.layer("encoder").calls == 2 and t.layer("encoder.0").calls == 2
    assert t.output_shape == (1,)


class DictInput(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.meta = nn.Linear(5, 4)
        self.head = nn.Linear(4 * 6 * 6 + 4, 2)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        image = self.conv(batch["image"]).flatten(1)
        return self.head(torch.cat([image, self.meta(batch["extra"])], 1))


def test_dict_input() -> None:
    t = check(DictInput(), "{image: 2x3x8x8, extra: 2x5}")
    assert t.total_macs == 2 * (4 * 3 * 9 * 36 + 5 * 4 + 148 * 2)
    assert t.layer("conv").input_shapes == ((2, 3, 8, 8),)


class BagOfEmbeddings(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Embedding(1000, 16)
        self.fc = nn.Linear(16, 3)

    def forward(self, tokens: torch.Tensor, *, mean: bool = True) -> torch.Tensor:
        x = self.embedding(tokens)
        return self.fc(x.mean(1) if mean else x.sum(1))


def test_embedding_int64_tokens_and_extra_keyword() -> None:
    t = check(BagOfEmbeddings(), "4x12:int64", macs=4 * 16 * 3, mean=False)
    assert t.layer("embedding").output_shape == (4, 12, 16)
    assert t.input_bytes == 4 * 12 * 8  # int64 tokens


def test_conv1d_net() -> None:
    model = nn.Sequential(
        nn.Conv1d(4, 16, 5), nn.BatchNorm1d(16), nn.ReLU(), nn.MaxPool1d(2),
        nn.Conv1d(16, 8, 3, padding=1), nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(8, 2),
    )  # fmt: skip
    # 50 -> 46 -> 23: conv1 16·4·5·46, conv2 8·16·3·23, fc 8·2 ; batch 2
    t = check(model, "2x4x50", macs=2 * (16 * 4 * 5 * 46 + 8 * 16 * 3 * 23 + 16))
    assert t.layer("3").output_shape == (2, 16, 23)


def test_conv3d_net() -> None:
    model = nn.Sequential(nn.Conv3d(1, 4, 3), nn.ReLU(), nn.Conv3d(4, 2, (1, 3, 3), stride=2))
    # (8,16,16) -> (6,14,14) -> (3,6,6)
    t = check(model, "1x1x8x16x16", macs=4 * 27 * 6 * 14 * 14 + 2 * 4 * 9 * 3 * 6 * 6)
    assert t.output_shape == (1, 2, 3, 6, 6)


def test_transformer_encoder_matches_flop_counter() -> None:
    layer = nn.TransformerEncoderLayer(d_model=32, nhead=4, dim_feedforward=64, batch_first=True)
    model = nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)
    # per layer: q,k,v,out projections 4·32·32 per token, attention (q·kᵀ and weights·v)
    # 2·10·32 per token, feed-forward 2·32·64 per token; 20 tokens, 2 layers
    hand = 2 * 20 * (4 * 32 * 32 + 2 * 10 * 32 + 2 * 32 * 64)
    check(model, "2x10x32", macs=hand)
    # FlopCounterMode on a real CPU forward misses exactly the attention products (its table
    # has no formula for the CPU's fused attention kernel); the rest agrees.
    _, counted, _ = real_forward(model, inputs.parse("2x10x32"))
    assert counted == hand - 2 * 2 * (2 * 10 * 10 * 32)


class TupleOut(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Linear(6, 8)
        self.head = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.body(x)
        return self.head(features), features


@dataclasses.dataclass
class Output:
    logits: torch.Tensor
    hidden: torch.Tensor


class DataclassOut(TupleOut):
    def forward(self, x: torch.Tensor) -> Output:  # type: ignore[override]
        logits, features = super().forward(x)
        return Output(logits, features)


@pytest.mark.parametrize("model", [TupleOut(), DataclassOut()], ids=["tuple", "dataclass"])
def test_outputs_recorded_per_element(model: nn.Module) -> None:
    t = check(model, "5x6", macs=5 * (6 * 8 + 8 * 3))
    assert t.layers[0].output_shapes == ((5, 3), (5, 8))
    assert t.output_shape == (5, 3)


class TiedWeights(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Embedding(50, 12)
        self.decoder = nn.Linear(12, 50, bias=False)
        self.decoder.weight = self.embedding.weight  # one tensor, two layers

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.embedding(tokens))


def test_tied_weights_counted_once() -> None:
    t = check(TiedWeights(), "3x7:int64", macs=3 * 7 * 12 * 50)
    assert t.total_params == 50 * 12


class SharedTwice(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(10, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.relu(self.fc(x)))


def test_module_called_twice_counts_both_calls() -> None:
    t = check(SharedTwice(), "4x10", macs=2 * 4 * 10 * 10)
    assert t.layer("fc").calls == 2 and t.layer("fc").params == 110


class ReadsValues(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.gate = nn.Linear(4, 1)
        self.fc = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.gate(x).sum() > 0:  # a value decides the path: impossible on meta
            return self.fc(x)
        return x


class MasksByValue(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.fc(x)
        return y[y > 0]


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (ReadsValues(), r"the model's own forward \(ReadsValues\) calls Tensor\.item\(\)"),
        (MasksByValue(), r"calls torch\.nonzero\(\)"),
        (nn.Sequential(nn.LazyLinear(3)), r"lazy layer not yet called: layer '0' \(LazyLinear\)"),
    ],
)
def test_what_meta_cannot_run_is_a_clear_error(model: nn.Module, message: str) -> None:
    with pytest.raises(MetaTraceError, match=message):
        explorer.trace(model, inputs="2x4")


def test_torchscript_is_a_clear_error() -> None:
    with pytest.warns(Warning) if hasattr(torch.jit, "script") else pytest.raises(Exception):
        scripted = torch.jit.script(nn.Linear(4, 4))
    with pytest.raises(MetaTraceError, match="TorchScript"):
        explorer.trace(scripted, inputs="1x4")


def test_wrong_inputs_name_the_signature() -> None:
    with pytest.raises(explorer.InputSizeError, match="cannot be called with inputs 1×1×16×16"):
        explorer.trace(Siamese(), inputs="1x1x16x16")


def test_model_without_forward_reports_its_parameters() -> None:
    heads = nn.ModuleDict({"a": nn.Linear(4, 2), "b": nn.Conv2d(3, 5, 3)})
    t = explorer.trace(heads)
    assert t.total_params == sum(p.numel() for p in heads.parameters()) == 10 + 140
    assert t.total_macs == 0 and "no forward" in t.architecture
