"""lenet5-digits: the shipped weights' accuracy, the photo preprocessing, reproducible training."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw, ImageFilter
from safetensors.torch import load_file

from explorer.core import images
from explorer.core.errors import ImageError
from explorer.labs import digit_photos, digits, predict
from explorer.weights import loading as weights
from explorer.weights import shipped


@pytest.fixture(scope="module")
def lenet() -> weights.LoadedModel:
    return weights.load("lenet5-digits", device="cpu")


@pytest.mark.parametrize("name", shipped.SHIPPED)
def test_shipped_weights_reach_the_reported_held_out_accuracy(name: str) -> None:
    lenet = weights.load(name, device="cpu")
    meta = shipped.shipped_metadata(name)
    assert meta["weights"] == name and meta["split_seed"] == digits.DEFAULT_SEED
    data = digits.load_data(meta["split_seed"])
    assert len(data.y_test) == meta["test_size"] == 360
    # 1,437 handwritten digits and 480 printed ones (4 of each digit in 12 fonts)
    assert len(data.y_train) + meta["printed_size"] == meta["train_size"] == 1437 + 480
    acc = digits.accuracy(lenet.model, data.x_test, data.y_test)
    assert acc == pytest.approx(meta["test_accuracy"])
    assert round(acc * 360) == meta["test_correct"]
    assert acc >= 0.97
    assert set(load_file(str(shipped.weights_file(name)))) == set(lenet.model.state_dict())


def test_ensemble_of_the_shipped_models_averages_probabilities() -> None:
    models = [weights.load(name, device="cpu").model for name in shipped.SHIPPED]
    each, together = digits.held_out_accuracies(models)
    data = digits.load_data()
    with torch.inference_mode():
        probs = [m(digits.normalize(data.x_test)).softmax(-1) for m in models]
    manual = (sum(probs) / 3).argmax(1)
    assert together == float((manual == data.y_test).float().mean())
    assert each == [shipped.shipped_metadata(n)["test_accuracy"] for n in shipped.SHIPPED]


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
    "7": lambda d, w: (  # written with a crossbar, as most 7s in the training digits are
        d.line((90, 100, 220, 100), fill=30, width=w),
        d.line((220, 100, 130, 320), fill=30, width=w),
        d.line((130, 210, 220, 210), fill=30, width=w),
    ),
    "plain 7": lambda d, w: (
        d.line((90, 100, 220, 100), fill=30, width=w),
        d.line((220, 100, 130, 320), fill=30, width=w),
    ),
    "4": lambda d, w: (
        d.line((180, 80, 80, 240), fill=30, width=w),
        d.line((80, 240, 220, 240), fill=30, width=w),
        d.line((180, 80, 180, 320), fill=30, width=w),
    ),
}


@pytest.mark.parametrize(("label", "width"), [("0", 6), ("1", 14), ("4", 30), ("7", 8), ("7", 16)])
def test_dark_on_light_photo_is_classified(
    lenet: weights.LoadedModel, label: str, width: int
) -> None:
    photo = _paper(DRAWINGS[label], width=width)
    assert predict.predict(lenet, photo, 1).top[0].label == label


def _paper_pixels(x: torch.Tensor) -> int:
    """Lit pixels more than 2 pixels away from any stroke (a stroke pixel is ≥ 0.5)."""
    near_ink = torch.nn.functional.max_pool2d((x >= 0.5).float()[None], 5, 1, 2)[0] > 0
    return int(((x > 0.01) & ~near_ink).sum())


def test_the_network_sees_ink_on_black_not_the_paper(lenet: weights.LoadedModel) -> None:
    """Issue 11: the 32×32 input of a dark 7 on light, slightly noisy, unevenly lit paper kept
    a grey paper rectangle around the digit. Now everything but the strokes is exactly 0.

    (A 7 without a crossbar is still often read as 3: most 7s in scikit-learn's digits have
    one, so that is the training data speaking, not the paper; the Predict page says so.)"""
    for drawing in ("7", "plain 7"):
        photo = _paper(DRAWINGS[drawing], width=10)
        seen = digits.photo_digit(photo)[0]
        old = digits.prepare_digit(digits.image_to_gray(photo))[0]
        assert _paper_pixels(seen) <= 2 < 40 < _paper_pixels(old)
        assert float((seen > 0).float().mean()) < 0.4  # the digit's strokes, not a rectangle
    result = predict.predict(lenet, _paper(DRAWINGS["7"], width=10), 1)
    assert result.top[0].label == "7"
    assert result.seen is not None and result.seen.shape == (32, 32)  # shown on the page


def test_generated_photo_set_is_read_right() -> None:
    """360 photos of the held-out digits, four pens, tinted paper with shadows, noise, blur,
    rotation, a fifth of them on a darker desk: at least 95% read right."""
    lenet = weights.load("lenet5-digits", device="cpu").model.eval()
    photos = list(digits.held_out_photos(360, seed=0))
    x = torch.stack([digits.photo_digit(p) for p, _, _ in photos])
    y = torch.tensor([label for _, label, _ in photos])
    with torch.inference_mode():
        right = lenet(digits.normalize(x)).argmax(1) == y
    assert float(right.float().mean()) >= 0.95
    pens = [pen for _, _, pen in photos]
    for pen in {p.name for p in digit_photos.PENS}:
        share = float(right[[i for i, p in enumerate(pens) if p == pen]].float().mean())
        assert share >= 0.9, (pen, share)


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
    assert loaded.categories == shipped.CATEGORIES
    data = digits.load_data(0)
    assert digits.accuracy(loaded.model, data.x_test, data.y_test) == report.test_accuracy


def test_a_digit_sample_is_named_by_the_digit_it_shows() -> None:
    """'handwritten digit #0' showed a 7: the picker now names each sample by its label."""
    from components.prediction_widgets import _sample_label

    for i in range(10):
        _, label = digits.sample_photo(i)
        assert digits.sample_label(i) == label
        assert _sample_label(f"handwritten digit #{i}").startswith(f"handwritten {label} ")
    assert _sample_label("cat") == "cat"


def test_printed_digits_in_fonts_never_trained_on_are_read_right() -> None:
    """Issue 21: a printed 1 was read as 2 and a 6 as 5 (34 of 40); the model had seen
    handwriting only. Trained on twelve DejaVu faces too, it reads the STIX and Computer
    Modern faces it never saw (one photo of every digit in each), and handwriting as well as
    before."""
    from explorer.labs import digit_photos

    assert not set(digit_photos.TRAINING_FONTS) & set(digit_photos.HELD_OUT_FONTS)
    loaded = weights.load("lenet5", "lenet5-digits", device="cpu")
    photos = list(digit_photos.printed_set(digit_photos.HELD_OUT_FONTS, 1, seed=3))
    x = torch.stack([digits.preprocess_photo(p) for p, _, _ in photos])
    with torch.inference_mode():
        right = loaded.model(x).argmax(1) == torch.tensor([label for _, label, _ in photos])
    assert len(photos) == 80 and int(right.sum()) >= 76
    data = digits.load_data()
    assert digits.accuracy(loaded.model, data.x_test, data.y_test) >= 0.98
