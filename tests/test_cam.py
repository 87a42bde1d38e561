"""explorer.inside.cam: class activation maps and occlusion find the evidence where it is.

The oracle is a synthetic image whose only evidence sits in one known quadrant: a held-out
digit pasted into one corner of a blank 64×64 canvas, classified by the shipped
`lenet5-digits` after resizing the canvas to its 32×32 input. (A small CNN trained in the
test on such canvases also works, but training it took minutes on the shared 2-core CI
machine.)"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from explorer.core.errors import BudgetError
from explorer.inside import cam
from explorer.labs import digits, predict
from explorer.weights import loading as weights

QUADRANTS = ("top-left", "top-right", "bottom-left", "bottom-right")


def _canvas(digit: torch.Tensor, quadrant: int) -> torch.Tensor:
    """A (1, 64, 64) black canvas in [0, 1] with the (1, 32, 32) digit in one quadrant."""
    canvas = torch.zeros(1, 64, 64)
    r, c = divmod(quadrant, 2)
    canvas[:, r * 32 : (r + 1) * 32, c * 32 : (c + 1) * 32] = digit
    return canvas


def _quadrant(row: int, col: int, side: int) -> int:
    return (row // (side // 2)) * 2 + col // (side // 2)


@pytest.fixture(scope="module")
def data() -> digits.DigitsData:
    return digits.load_data(0)


def _lenet_input(digit: torch.Tensor, quadrant: int) -> torch.Tensor:
    """The 64×64 canvas resized to lenet5-digits' 32×32 input and normalised."""
    small = F.interpolate(
        _canvas(digit, quadrant)[None], size=(32, 32), mode="bilinear", antialias=True
    )
    return digits.normalize(small[0])


@pytest.mark.parametrize("method", ["gradcam", "gradcam++"])
def test_cam_and_occlusion_peaks_fall_in_the_digits_quadrant(data, method) -> None:
    """The shipped LeNet-5 never saw a digit this small (16×16 in a corner), so the maps are
    asked about the true class, at the first pooling stage (14×14×6)."""
    lenet = weights.load("lenet5-digits", device="cpu")
    occluded = 0
    for i in range(4):
        label = int(data.y_test[i])
        for q in range(4):
            x = _lenet_input(data.x_test[i], q)
            m = cam.class_maps(lenet, x, layer="features.2", method=method, classes=label)[0]
            assert m.class_index == label and m.heatmap.shape == (32, 32)
            assert 0 <= m.heatmap.min() <= m.heatmap.max() <= 1
            assert _quadrant(*m.peak(), 32) == q, (i, QUADRANTS[q])
            if method == "gradcam":
                occ = cam.occlusion(lenet, x, class_index=label)
                assert occ.drops.shape == (7, 7) and occ.patch == 8 and occ.stride == 4
                # A patch cannot lower a probability that is already nil (the retrained
                # model gives one tiny corner 6 under 1e-4): there, any peak is noise.
                if occ.probability >= 1e-4:
                    occluded += 1
                    assert _quadrant(*occ.peak(), 32) == q, (i, QUADRANTS[q])
    assert method != "gradcam" or occluded >= 13  # of 16


def test_ten_crops_get_one_map_each_for_their_own_prediction() -> None:
    lenet = weights.load("lenet5-digits", device="cpu")
    picture, _ = digits.sample_photo(5)
    crops = predict.preprocessor_for(lenet).ten_crop(picture)
    maps = cam.class_maps(lenet, crops)
    ten = predict.ten_crop_predict(lenet, picture)
    assert len(maps) == 10
    assert [m.label for m in maps] == [c.top.label for c in ten.crops]
    for m, c in zip(maps, ten.crops):
        assert m.probability == pytest.approx(c.top.probability, abs=1e-5)
        np.testing.assert_array_equal(m.image, c.image)
    chosen = cam.class_maps(lenet, crops, classes=3)
    assert {m.class_index for m in chosen} == {3}


def test_score_cam_runs_and_layers_are_listed() -> None:
    lenet = weights.load("lenet5-digits", device="cpu")
    assert [s.name for s in cam.cam_layers(lenet)] == [
        "features.0", "features.2", "features.3", "features.5",
    ]  # fmt: skip
    assert cam.default_layer(lenet) == "features.4"  # conv2 + tanh, 10×10×16
    picture, label = digits.sample_photo(1)
    x = predict.preprocessor_for(lenet).single(picture)
    m = cam.class_maps(lenet, x, method="scorecam")[0]
    assert m.method == "Score-CAM" and m.heatmap.shape == (32, 32) and m.label == str(label)
    assert m.overlay.shape == (32, 32, 3) and m.overlay.dtype == np.uint8


def test_budgets_refuse_with_the_numbers(monkeypatch) -> None:
    lenet = weights.load("lenet5-digits", device="cpu")
    x = predict.preprocessor_for(lenet).single(digits.sample_photo(1)[0])
    with pytest.raises(BudgetError, match=r"841 occluded copies.*limit is 4,096 copies"):
        monkeypatch.setattr(cam, "MAX_OCCLUSION_MACS", 1_000_000)
        cam.occlusion(lenet, x, patch=4, stride=1)
    monkeypatch.setattr(cam, "MAX_SCORECAM_MACS", 1_000_000)
    with pytest.raises(BudgetError, match=r"Score-CAM runs one forward pass per channel: 1 × 16"):
        cam.class_maps(lenet, x, method="scorecam")
    with pytest.raises(BudgetError, match=r"choose one of: features\.0"):
        cam.class_maps(lenet, x, layer="classifier.0")
    with pytest.raises(BudgetError, match=r"Choose one class in 0\.\.9"):
        cam.class_maps(lenet, x, classes=12)


def test_sessions_at_once_do_not_see_each_others_maps() -> None:
    """Eight threads share one cached model (as the app's sessions do): each gets exactly
    the maps and activations it would get alone."""
    from concurrent.futures import ThreadPoolExecutor

    from explorer.inside import activations

    lenet = weights.load("lenet5-digits", device="cpu")
    pre = predict.preprocessor_for(lenet)
    inputs = [pre.single(digits.sample_photo(i)[0]) for i in range(8)]
    alone = [cam.class_maps(lenet, x)[0].heatmap for x in inputs]
    acts_alone = [activations.record_tensor(lenet, x).layers[2].values for x in inputs]

    def both(x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        heat = cam.class_maps(lenet, x)[0].heatmap
        return heat, activations.record_tensor(lenet, x).layers[2].values

    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(both, inputs * 3))
    for i, (heat, values) in enumerate(together):
        np.testing.assert_allclose(heat, alone[i % 8], atol=1e-5)
        np.testing.assert_allclose(values, acts_alone[i % 8], atol=1e-6)
    assert all(not m._forward_hooks for m in lenet.model.modules())
