"""Input signatures (explorer.core.inputs): text and example values in, meta or real tensors out,
clear errors for anything else."""

from __future__ import annotations

import pytest
import torch

from explorer.core import inputs
from explorer.core.errors import InputSizeError
from explorer.core.inputs import DictSpec, SeqSpec, Signature, TensorSpec

IMAGE = TensorSpec((1, 3, 64, 64))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1x3x224x224", Signature((TensorSpec((1, 3, 224, 224)),))),
        ("2×16:int64", Signature((TensorSpec((2, 16), "int64"),))),
        ("8 x 100:long", Signature((TensorSpec((8, 100), "int64"),))),
        (
            "1x3x32x32, 1x3x32x32",
            Signature((TensorSpec((1, 3, 32, 32)), TensorSpec((1, 3, 32, 32)))),
        ),
        (
            "1x16:int64, mask=1x16:bool",
            Signature((TensorSpec((1, 16), "int64"),), (("mask", TensorSpec((1, 16), "bool")),)),
        ),
        (
            "{image: 1x3x64x64, label: 1:int64}",
            Signature((DictSpec((("image", IMAGE), ("label", TensorSpec((1,), "int64")))),)),
        ),
        ("[2x5, 2x5]", Signature((SeqSpec((TensorSpec((2, 5)), TensorSpec((2, 5))), "list"),))),
        ("(2x5,)", Signature((SeqSpec((TensorSpec((2, 5)),), "tuple"),))),
        ("1x2x3x4x5:float16", Signature((TensorSpec((1, 2, 3, 4, 5), "float16"),))),
    ],
)
def test_parse(text: str, expected: Signature) -> None:
    sig = inputs.parse(text)
    assert sig == expected
    assert inputs.parse(str(sig)) == sig  # the display form reads back


def test_torchinfo_style_call_values() -> None:
    x, y = torch.zeros(1, 3), torch.zeros(2, dtype=torch.long)
    assert str(inputs.as_signature((x, y))) == "1×3, 2:int64"  # a tuple: positional inputs
    assert str(inputs.as_signature([{"a": x}])) == "{a: 1×3}"  # one dict, positionally
    assert str(inputs.as_signature({"a": x})) == "a=1×3"  # a dict: keyword inputs
    assert str(inputs.as_signature(x, {"flag": False})) == "1×3, flag=False"
    assert str(inputs.as_signature("1x3", {"mask": y})) == "1×3, mask=2:int64"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "expected a tensor shape"),
        ("1x3,,", "at character 5"),
        ("1x3:foo", "expected a dtype"),
        ("a=1, 2", "keyword arguments come last"),
        ("a=1, a=2", "names 'a' twice"),
        ("{a 1}", "':' after the key"),
        ("(1x2", "',' or ')'"),
        ("1x2x3x4x5x6x7x8x9", "9 dimensions; the limit is 8"),
        ("99999999x99999999", "the limit is 1,000,000,000,000"),
        ("(" * 40 + "1" + ")" * 40, "deeper than 16 levels"),
        ("__import__('os')", "expected"),
    ],
)
def test_parse_errors_are_one_clear_sentence(text: str, message: str) -> None:
    with pytest.raises(InputSizeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        inputs.parse(text)


def test_signature_of_example_values() -> None:
    tokens = torch.zeros(2, 7, dtype=torch.long)
    sig = inputs.of({"a": torch.ones(1, 3)}, [tokens], scale=torch.tensor(2.0))
    assert str(sig) == "{a: 1×3}, [2×7:int64], scale=scalar"
    assert sig.first_shape == (1, 3)
    assert not sig.is_image and inputs.image(3, 32, 32).is_image
    plain = inputs.of(torch.ones(1), "mean", flag=True, k=None)
    assert str(plain) == "1, 'mean', flag=True, k=None"
    with pytest.raises(InputSizeError, match="argument 1 is a object"):
        inputs.of(object())
    with pytest.raises(InputSizeError, match="no tensor"):
        inputs.of([])


def test_make_meta_and_real_tensors() -> None:
    sig = inputs.parse("{image: 1x3x8x8, label: 1:int64}, 2x4:bool, extra=[1x2]")
    args, kwargs = inputs.make(sig)
    assert args[0]["image"].device.type == "meta" and args[0]["label"].dtype == torch.int64
    assert args[1].shape == (2, 4) and args[1].dtype == torch.bool
    assert isinstance(kwargs["extra"], list) and kwargs["extra"][0].shape == (1, 2)
    g = torch.Generator().manual_seed(0)
    real_args, _ = inputs.make(sig, "cpu", generator=g)
    assert real_args[0]["image"].device.type == "cpu"
    assert int(real_args[0]["label"].sum()) == 0  # zeros: a valid index for any embedding
    again, _ = inputs.make(sig, "cpu", generator=torch.Generator().manual_seed(0))
    assert torch.equal(real_args[0]["image"], again[0]["image"])  # local generator, reproducible


def test_cli_summary_takes_a_signature(capsys: pytest.CaptureFixture[str]) -> None:
    from explorer.cli import main

    assert main(["summary", "lenet5", "--input", "4x1x32x32", "--format", "json"]) == 0
    import json

    doc = json.loads(capsys.readouterr().out)
    assert doc["input_shape"] == [4, 1, 32, 32] and doc["output_shape"] == [4, 10]
    assert inputs.is_image_size("3x224x224") and not inputs.is_image_size("1x16:int64")
    assert main(["summary", "lenet5", "--input", "1x1x32x32, extra=True"]) != 0
    err = capsys.readouterr().err
    assert "error:" in err and "Traceback" not in err
