"""Inference: preprocessing equals torchvision's, ten-crop and ensemble averaging, CLI output."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from explorer import cli
from explorer.core import devices, images
from explorer.core.errors import WeightsError
from explorer.labs import predict
from explorer.weights import loading as weights

ARCH = "squeezenet1_1"


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    return images.load_sample(images.sample_names()[0])


@pytest.fixture(scope="module")
def squeeze(tmp_path_factory: pytest.TempPathFactory) -> weights.LoadedModel:
    torch.manual_seed(0)
    return weights.load(ARCH, "random", device="cpu")


@pytest.fixture(scope="module")
def squeeze_file(tmp_path_factory: pytest.TempPathFactory) -> weights.LoadedModel:
    """The same architecture with other weights, loaded from a user's file."""
    from explorer.analysis.building import build_model

    torch.manual_seed(1)
    path = tmp_path_factory.mktemp("w") / "other.pth"
    torch.save(build_model(ARCH).state_dict(), path)
    return weights.load(ARCH, path, device="cpu")


def test_preprocessing_is_exactly_torchvisions(
    photo: Image.Image, squeeze: weights.LoadedModel
) -> None:
    pre = predict.preprocessor_for(squeeze)
    assert torch.equal(pre.single(photo), squeeze.tv_weights.transforms()(photo))
    assert pre.single(photo).shape == (3, 224, 224)


def test_top_k_is_sorted_and_labelled(photo: Image.Image, squeeze: weights.LoadedModel) -> None:
    result = predict.predict(squeeze, photo, top=5)
    probs = [t.probability for t in result.top]
    assert probs == sorted(probs, reverse=True) and len(probs) == 5
    assert result.probabilities.shape == (1000,)
    assert result.probabilities.sum() == pytest.approx(1.0, abs=1e-5)
    assert result.top[0].index == int(np.argmax(result.probabilities))
    assert result.top[0].label == squeeze.categories[result.top[0].index]
    data = result.to_dict()
    assert data["random_weights"] is True
    assert data["note"] == "random weights — predictions are meaningless"
    assert data["device"] == "cpu"


def test_ten_crop_averages_the_ten_softmax_outputs(
    photo: Image.Image, squeeze: weights.LoadedModel
) -> None:
    result = predict.ten_crop_predict(squeeze, photo, top=3)
    crops = predict.preprocessor_for(squeeze).ten_crop(photo)
    assert crops.shape == (10, 3, 224, 224)
    # The ten crops' softmax outputs, then their mean by hand.
    each, _ = predict.probabilities(squeeze, crops)
    manual = each.mean(0)
    assert np.allclose(result.averaged.probabilities, manual.numpy(), atol=1e-6)
    assert result.averaged.crops == 10
    assert [c.top.index for c in result.crops] == [int(p.argmax()) for p in each]
    # TenCrop's centre crop is the single prediction's crop.
    single = predict.predict(squeeze, photo)
    assert np.allclose(each[4].numpy(), single.probabilities, atol=1e-6)
    assert result.crops[4].position == "centre"
    assert result.crops[0].image.shape == (224, 224, 3) and result.crops[0].image.dtype == np.uint8
    # The flipped centre crop is the mirror image of the centre crop.
    assert torch.equal(crops[9], crops[4].flip(-1))


def test_ensemble_averages_member_probabilities(
    photo: Image.Image, squeeze: weights.LoadedModel, squeeze_file: weights.LoadedModel
) -> None:
    result = predict.ensemble_predict([squeeze, squeeze_file], photo, top=5)
    a, b = (m.probabilities for m in result.members)
    assert not np.allclose(a, b)
    assert np.allclose(result.averaged.probabilities, (a + b) / 2, atol=1e-7)
    best = int(np.argmax((a + b) / 2))
    assert result.averaged.top[0].index == best
    assert result.agreement == sum(int(np.argmax(p)) == best for p in (a, b)) / 2
    assert result.latency_ms == pytest.approx(sum(m.latency_ms for m in result.members))
    assert result.averaged.random_weights  # one member has random weights
    assert squeeze_file.weights == "file: other.pth"


def test_ensemble_of_different_label_sets_is_refused(
    photo: Image.Image, squeeze: weights.LoadedModel
) -> None:
    lenet = weights.load("lenet5-digits", device="cpu")
    with pytest.raises(WeightsError, match="different classes"):
        predict.ensemble_predict([squeeze, lenet], photo)


def test_device_choice() -> None:
    assert devices.pick_device("cpu").type == "cpu"
    assert devices.available_devices()[-1] == "cpu"
    assert devices.pick_device("auto").type == devices.available_devices()[0]
    assert devices.autocast_dtype(torch.device("cpu")) is None
    if not torch.cuda.is_available():
        with pytest.raises(devices.DeviceError, match="no cuda"):
            devices.pick_device("cuda")
    with pytest.raises(devices.DeviceError, match="Unknown device"):
        devices.pick_device("tpu")


@pytest.fixture(scope="module")
def digit_png(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    from explorer.labs import digits

    picture, label = digits.sample_photo(0)
    path = tmp_path_factory.mktemp("img") / "digit.png"
    path.write_bytes(images.to_png_bytes(picture))
    return path, label


def test_cli_predict_json(digit_png: tuple[Path, int], capsys: pytest.CaptureFixture[str]) -> None:
    path, label = digit_png
    assert cli.main(["predict", "lenet5-digits", str(path), "--format", "json", "--top", "3"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["architecture"] == "lenet5" and data["weights"] == "lenet5-digits"
    assert data["device"] == "cpu" and data["random_weights"] is False
    assert [sorted(t) for t in data["top"]] == [["index", "label", "probability"]] * 3
    assert data["top"][0]["label"] == str(label)


def test_cli_predict_ten_crop_table_with_random_weights(
    digit_png: tuple[Path, int], capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = digit_png
    code = cli.main(["predict", "lenet5-digits", str(path), "--weights", "random", "--ten-crop"])
    out = capsys.readouterr().out
    assert code == 0
    assert "random weights — predictions are meaningless" in out
    assert "flipped centre" in out and "10× compute" in out


def test_cli_missing_weights_is_one_clear_line(
    digit_png: tuple[Path, int],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    path, _ = digit_png
    assert cli.main(["predict", "resnet50", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err
    assert "resnet50-11ad3fa6.pth" in err and str(tmp_path) in err


def test_cli_weights_listing(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["weights", "resnet50"]) == 0
    out = capsys.readouterr().out
    assert "IMAGENET1K_V2" in out and "80.86" in out and "97.8" in out


@pytest.mark.parametrize(
    "stack",
    [
        "input 32x32x1 | dropout 0.5",
        "input 32x32x1 | conv 6 5x5",
        "input 32x32x3 | conv 8 3 | maxpool 2",
        "input 32x32x1 | conv 6 5x5 | relu",
        "input 28x28x1 | batchnorm",
    ],
)
def test_predicting_with_a_stack_that_gives_no_class_scores_is_one_clear_error(
    stack: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """It used to end in IndexError: the output's pixels were read as class scores."""
    from explorer.cli import main

    assert main(["predict", stack, "assets/samples/cat.jpg", "--weights", "random"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: The stack ends in an output of shape") and "fc N" in err
    assert len(err.splitlines()) == 1
