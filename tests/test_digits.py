"""lenet5-digits: the shipped weights' accuracy, the photo preprocessing, reproducible training."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw, ImageFilter
from safetensors.torch import load_file

from explorer import digits, images, predict, weights
from explorer.errors import ImageError


@pytest.fixture(scope="module")
def lenet() -> weights.LoadedModel:
    return weights.load("lenet5-digits", device="cpu")


@pytest.mark.parametrize("name", digits.SHIPPED)
def test_shipped_weights_reach_the_reported_held_out_accuracy(name: str) -> None:
    lenet = weights.load(name, device="cpu")
    meta = digits.shipped_metadata(name)
    assert meta["weights"] == name and meta["split_seed"] == digits.DEFAULT_SEED
    data = digits.load_data(meta["split_seed"])
    assert len(data.y_test) == meta["test_size"] == 360
    assert len(data.y_train) == meta["train_size"] == 1437
    acc = digits.accuracy(lenet.model, data.x_test, data.y_test)
    assert acc == pytest.approx(meta["test_accuracy"])
    assert round(acc * 360) == meta["test_correct"]
    assert acc >= 0.97
    assert set(load_file(str(digits.weights_file(name)))) == set(lenet.model.state_dict())


def test_ensemble_of_the_shipped_models_averages_probabilities() -> None:
    models = [weights.load(name, device="cpu").model for name in digits.SHIPPED]
    each, together = digits.held_out_accuracies(models)
    data = digits.load_data()
    with torch.inference_mode():
        probs = [m(digits.normalize(data.x_test)).softmax(-1) for m in models]
    manual = (sum(probs) / 3).argmax(1)
    assert together == float((manual == data.y_test).float().mean())
    assert each == [digits.shipped_metadata(n)["test_accuracy"] for n in digits.SHIPPED]


def _paper(draw, size=(300, 400), width=14) -> Image.Image:  # type: ignore[no-untyped-def]
    """A dark pen drawing on light, unevenly lit, noisy paper, through the real image door."""
    rng = np.random.default_rng(0)
    im = Image.new("L", size, 215)
    draw(ImageDraw.Draw(im), width)
    a = np.asarray(im, dtype=np.float32) + rng.normal(0, 6, (size[1], size[0]))
    a += np.linspace(-15, 15, size[0])[None, :]
    im = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(1.5))
    return images.decode_image(images.to_png_bytes(im.convert("RGB")))


DRAWINGS = {
    "0": lambda d, w: d.ellipse((90, 90, 210, 310), outline=30, width=w),
    "1": lambda d, w: (
        d.line((150, 80, 150, 320), fill=30, width=w),
        d.line((120, 110, 150, 80), fill=30, width=w),
    ),
    "4": lambda d, w: (
        d.line((180, 80, 80, 240), fill=30, width=w),
        d.line((80, 240, 220, 240), fill=30, width=w),
        d.line((180, 80, 180, 320), fill=30, width=w),
    ),
}


@pytest.mark.parametrize(("label", "width"), [("0", 6), ("1", 14), ("4", 30)])
def test_dark_on_light_photo_is_classified(
    lenet: weights.LoadedModel, label: str, width: int
) -> None:
    photo = _paper(DRAWINGS[label], width=width)
    assert predict.predict(lenet, photo, 1).top[0].label == label


def test_held_out_digits_as_paper_photos(lenet: weights.LoadedModel) -> None:
    hits = 0
    for i in range(20):
        photo, label = digits.sample_photo(i)
        assert np.asarray(photo)[0, 0, 0] > 200  # light paper, dark ink
        hits += predict.predict(lenet, photo, 1).top[0].index == label
    assert hits >= 19


def test_inverting_and_moving_the_digit_changes_nothing() -> None:
    rng = np.random.default_rng(1)
    glyph = (rng.random((12, 9)) > 0.4).astype(np.float32)
    light_on_dark = np.zeros((80, 60), np.float32)
    light_on_dark[10:22, 5:14] = glyph
    moved = np.zeros((80, 60), np.float32)
    moved[50:62, 40:49] = glyph
    base = digits.prepare_digit(light_on_dark)
    assert base.shape == (1, 32, 32)
    assert torch.allclose(digits.prepare_digit(1.0 - light_on_dark), base, atol=1e-5)
    assert torch.allclose(digits.prepare_digit(moved), base, atol=1e-6)
    # The digit fills a 24-pixel box in the middle of the 32×32 canvas.
    assert base[0, :4].sum() == 0 and base[0, -4:].sum() == 0
    assert base[0, :, :4].sum() == 0 and base[0, :, -4:].sum() == 0


def test_blank_image_is_a_clear_error() -> None:
    with pytest.raises(ImageError, match="No digit found"):
        digits.prepare_digit(np.full((40, 40), 0.8, np.float32))


def test_training_is_reproducible_and_saved_with_metadata(tmp_path: Path) -> None:
    first, report = digits.train(epochs=1, seed=0)
    second, again = digits.train(epochs=1, seed=0)
    for key, value in first.state_dict().items():
        assert torch.equal(value, second.state_dict()[key]), key
    assert report.test_accuracy == again.test_accuracy and report.losses == again.losses
    path = digits.save(first, report, tmp_path / "mine.safetensors")
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["seed"] == 0 and meta["epochs"] == 1 and meta["test_size"] == 360
    loaded = weights.load("lenet5", path, device="cpu")
    assert loaded.categories == digits.CATEGORIES
    data = digits.load_data(0)
    assert digits.accuracy(loaded.model, data.x_test, data.y_test) == report.test_accuracy
