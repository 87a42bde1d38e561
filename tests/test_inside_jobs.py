"""The Look inside page's long work as worker jobs (explorer.serving.inside_jobs): class activation
maps,
occlusion and activations. Real round trips through one shared runner, run at this process's
thread count (float sums round by thread split): each result is the inline call's, bit for bit;
progress comes per image, per batch of channels or per batch of occluded copies; Cancel stops
the work at its next report. The page's price of each request is checked against hand counts."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.core import images, work
from explorer.core.errors import BudgetError
from explorer.core.work import Picture
from explorer.inside import activations as A
from explorer.inside import cam
from explorer.labs import digits
from explorer.serving import inside_jobs
from explorer.weights import loading as weights
from explorer.weights import model_cache

RANDOM = weights.RANDOM


WORKER_PRELOAD = ("explorer.serving.inside_jobs",)  # for conftest's `runner`


@pytest.fixture(scope="module")
def cat() -> object:
    return images.load_sample("cat")


@pytest.fixture(scope="module")
def resnet18() -> weights.LoadedModel:
    return weights.load("resnet18", RANDOM, device="cpu")  # seeded: a worker builds the same


def _same_maps(there: tuple, here: tuple) -> None:
    assert len(there) == len(here)
    for a, b in zip(there, here, strict=True):
        assert a == b  # method, layer, class, label, probability (or patch, stride)
        assert np.array_equal(a.heatmap, b.heatmap) and np.array_equal(a.image, b.image)
        if isinstance(a, cam.OcclusionMap):
            assert np.array_equal(a.drops, b.drops)


def test_the_page_prices_each_request_after_its_budget(resnet18) -> None:
    """Grad-CAM's backward pass stops at the chosen layer: one forward plus the forward MACs
    of what follows the layer (hand counts: after layer4.1 only the 512→1000 fc; after the
    stem, everything but its 7×7×3→64 convolution on 112×112 outputs)."""
    one = A.check_budget(resnet18)[0]
    assert cam.class_map_work(resnet18, 1, "layer4.1", "gradcam") == one + 512 * 1000
    stem = 112 * 112 * 64 * 7 * 7 * 3
    assert cam.class_map_work(resnet18, 1, "relu", "gradcam++") == 2 * one - stem
    assert work.runs_inline(cam.class_map_work(resnet18, 1, None, "gradcam"))
    assert not work.runs_inline(cam.class_map_work(resnet18, 10, None, "gradcam"))  # ten crops
    assert cam.occlusion_work(resnet18, 1, 56, 28) == 50 * one  # 7×7 positions + unoccluded
    lenet = weights.load("lenet5-digits", device="cpu")
    lenet_one = A.check_budget(lenet)[0]
    assert cam.class_map_work(lenet, 1, "features.4", "scorecam") == 17 * lenet_one  # 16 ch.
    with pytest.raises(  # the budget counts the same price: 60 × (2 × one − stem) = 211 G
        BudgetError,
        match=r"^Grad-CAM of 60 images with resnet18 at conv1 needs about 211 G "
        r"multiply-accumulates \(forward, and backward down to the layer\); the limit is 200 G\.$",
    ):
        cam.class_map_work(resnet18, 60, "relu", "gradcam")
    with pytest.raises(
        BudgetError,
        match=r"^A 56-pixel patch moved by 28 makes 49 occluded copies for each of 10 images, "
        r"907\.0 G multiply-accumulates with resnet18; the limit is 4,096 copies and 250 G",
    ):
        cam.occlusion_work(resnet18, 10, 56, 28)  # ten crops: their budget is checked together


def test_a_ten_crop_grad_cam_in_a_worker_is_the_inline_one(runner, cat, resnet18) -> None:
    args = ("resnet18", RANDOM, "cpu", Picture.of(cat), "layer4.1", "gradcam", None, True)
    job = runner.submit(("cam", 1), inside_jobs.class_maps_job, *args)
    assert job.wait(180) and job.state == "done", job.error
    per_image = [(i, 10, "") for i in range(1, 11)]
    assert job.events == [(0, 1, "loading the model"), *per_image]
    here = cam.image_class_maps(resnet18, cat, "layer4.1", "gradcam", None, True)
    _same_maps(job.outcome(), here)


def test_score_cam_with_uploaded_weights_reports_each_batch_of_channels(runner) -> None:
    from safetensors.torch import save

    lenet = weights.load("lenet5", "lenet5-digits", device="cpu")
    data = save({k: v.contiguous() for k, v in lenet.model.state_dict().items()})
    token = weights.hold_upload(data, "mine.safetensors")
    photo, _ = digits.sample_photo(4)
    args = ("lenet5", token, "cpu", Picture.of(photo), "features.4", "scorecam", None, True)
    upload = model_cache.upload_of(token)
    job = runner.submit(("cam", token), inside_jobs.class_maps_job, *args, upload)
    assert job.wait(120) and job.state == "done", job.error
    # per crop: the unmasked forward pass, then one pass for the 16 channels' masked copies
    steps = [("", f"channels 0–15 of image {i}") for i in range(1, 11)]
    whats = [w for pair in steps for w in pair]
    assert job.events[1:] == [(k, 20, w) for k, w in enumerate(whats, 1)]
    mine = weights.load("lenet5", token, device="cpu")
    _same_maps(job.outcome(), cam.image_class_maps(mine, photo, "features.4", "scorecam", None,
                                                   True))  # fmt: skip
    assert job.outcome()[0].method == "Score-CAM"


def test_occlusion_in_a_worker_is_the_inline_one(runner, cat, resnet18) -> None:
    args = ("resnet18", RANDOM, "cpu", Picture.of(cat), 3, 56, 42, False)  # 5×5 positions
    job = runner.submit(("occlusion", 1), inside_jobs.occlusion_job, *args)
    assert job.wait(180) and job.state == "done", job.error
    assert job.events == [(0, 1, "loading the model"), (16, 25, ""), (25, 25, "")]
    here = cam.image_occlusion(resnet18, cat, 3, 56, 42, False)
    _same_maps(job.outcome(), here)
    assert here[0].drops.shape == (5, 5) and here[0].class_index == 3


def test_a_cancelled_occlusion_stops_after_the_batch_it_is_on(runner, cat) -> None:
    key = ("occlusion", "long")
    args = ("resnet18", RANDOM, "cpu", Picture.of(cat), None, 56, 28, False)  # 49: 4 batches
    job = runner.submit(key, inside_jobs.occlusion_job, *args, subscriber="a")
    while len(job.events) < 2 and not job.done:  # loaded, and the first batch done
        job.wait(0.05)
    runner.cancel(key, "a")
    assert job.wait(60) and job.state == "cancelled"
    assert len(job.events) < 5 and job.outcome() is None
    assert runner.get(key) is None  # forgotten: asking again starts afresh


def test_activations_in_a_worker_are_the_inline_ones(runner, cat, resnet18) -> None:
    job = runner.submit(("acts", 1), inside_jobs.activations_job, "resnet18", RANDOM, "cpu",
                        Picture.of(cat))  # fmt: skip
    assert job.wait(180) and job.state == "done", job.error
    assert [e[:2] for e in job.events] == [(0, 1), (0, 1)]  # loading, then the forward pass
    there, here = job.outcome(), A.record(resnet18, cat)
    assert [layer.name for layer in there.layers] == [layer.name for layer in here.layers]
    for a, b in zip(there.layers, here.layers, strict=True):
        assert a.modules == b.modules and np.array_equal(a.values, b.values)
    assert np.array_equal(there.logits, here.logits) and there.top == here.top
    assert np.array_equal(there.seen, here.seen)


def test_score_cams_progress_bar_stays_out_of_a_workers_stderr(capfd) -> None:
    """pytorch-grad-cam's Score-CAM prints a tqdm bar; the job function (run in a worker)
    keeps it out of stderr. Inline, on the server, it is left alone (no process-wide
    redirection), which this test also shows."""
    photo, _ = digits.sample_photo(2)
    args = ("lenet5", "lenet5-digits", "cpu", Picture.of(photo), "features.4", "scorecam", None,
            False)  # fmt: skip
    capfd.readouterr()
    maps = inside_jobs.class_maps_job(*args, progress=lambda *event: True)
    assert maps is not None and "100%" not in capfd.readouterr().err
    cam.image_class_maps(weights.load("lenet5-digits", device="cpu"), photo, "features.4",
                         "scorecam", None, False)  # fmt: skip
    assert "100%" in capfd.readouterr().err
