"""Long page work as jobs in worker processes (explorer.serving.jobs): elastic-warping grids and the
gallery, ten-crop predictions, transfer features. Real round trips through one shared runner:
progress is reported, Cancel stops the work, and the result is the inline call's, bit for bit
(the worker runs at this process's thread count: float sums round by thread split)."""

from __future__ import annotations

import io
import json
import os

import numpy as np
import pytest
import torch

import explorer
from explorer.core import images, work
from explorer.core.errors import BudgetError
from explorer.core.work import Picture
from explorer.labs import digits, predict, transfer
from explorer.labs.augment import ElasticWarp, HorizontalFlip, Pipeline, lab
from explorer.serving import jobs
from explorer.serving.jobs import JobRunner
from explorer.serving.replies import ReplyError, dump_reply, load_reply
from explorer.weights import loading as weights
from explorer.weights import model_cache, shipped

WARP = Pipeline((ElasticWarp(alpha=150.0, sigma=6.0), HorizontalFlip()))


WORKER_PRELOAD = ("explorer.labs.predict",)  # for conftest's `runner`


@pytest.fixture(scope="module")
def cat() -> object:
    return images.fit_within(images.load_sample("cat"), lab.MAX_SIDE)


def test_replies_rebuild_only_plain_data_never_code_or_torch_objects() -> None:
    grid = lab.Grid(b"png", ((3, 4),), b"jpeg")
    reply = ("done", {"grid": grid, "probs": np.arange(3, dtype=np.float32), "n": [1, 2.5],
                      7: {np.float32(0.5), None}, "cat": frozenset({"a"})})  # fmt: skip
    back = load_reply(dump_reply(reply))
    assert back[1]["grid"] == grid and back[1]["probs"].tolist() == [0.0, 1.0, 2.0]
    assert back[1]["probs"].dtype == np.float32 and back[1]["n"] == [1, 2.5]
    assert back[1][7] == {np.float32(0.5), None} and back[1]["cat"] == frozenset({"a"})
    assert type(back) is tuple and type(next(iter(back[1][7] - {None}))) is np.float32
    # What a worker may not send: refused where it is written, never sent.
    for hostile in (os.system, torch.zeros(2), io.BytesIO(), model_cache.worker_model,
                    np.array([object()]), {1: torch.nn.ReLU()}):  # fmt: skip
        with pytest.raises(ReplyError, match="a job's reply may not hold"):
            dump_reply(hostile)
    # What a crafted reply may not name: only explorer's dataclasses, enums and errors, by
    # their own module (not a dotted path through an explorer module that imports torch).
    for name, kind in (("os:system", "$dataclass"), ("explorer.serving.jobs:JobRunner",
                       "$dataclass"), ("explorer.core.limits:torch.nn.ReLU", "$enum"),
                       ("explorer.labs.augment.lab:np.dtype", "$dataclass"),
                       ("explorer.core.errors:ExplorerError", "$dataclass")):  # fmt: skip
        crafted = json.dumps({kind: name, "fields": {}, "value": 1}).encode()
        with pytest.raises(ReplyError, match="a job's reply may not hold"):
            load_reply(len(crafted).to_bytes(8, "big") + crafted)
    for broken in (b"", b"\0" * 7, b"\0" * 8, (5).to_bytes(8, "big") + b"[1,"):
        with pytest.raises(ReplyError):
            load_reply(broken)


def test_an_elastic_grid_in_a_worker_is_the_inline_grid(runner: JobRunner, cat) -> None:
    assert lab.needs_worker(WARP) and not lab.needs_worker(Pipeline((HorizontalFlip(),)))
    picture = Picture.of(cat)
    assert picture.to_image().tobytes() == cat.tobytes()
    job = runner.submit(("grid", picture.key), lab.grid_job, picture, WARP.to_json(), 3, 5, 2)
    assert job.wait(120) and job.state == "done", job.error
    assert job.events == [(1, 3), (2, 3), (3, 3)]  # one report per sample
    inline = lab.preview_grid(cat, WARP, 3, 5, 2)
    assert job.outcome() == inline and inline is not None and len(inline.sizes) == 3


def test_the_gallery_in_a_worker_is_the_inline_gallery(runner: JobRunner, cat) -> None:
    job = runner.submit(("gallery", 0), lab.gallery_job, Picture.of(cat), 2, 0)
    assert job.wait(120) and job.state == "done", job.error
    assert [e[0] for e in job.events] == list(range(1, len(lab.AUGMENTATIONS) + 1))
    assert job.outcome() == lab.gallery(cat, 2, 0)


def test_a_cancelled_grid_stops_after_the_sample_it_is_on(runner: JobRunner, cat) -> None:
    job = runner.submit(("grid", "long"), lab.grid_job, Picture.of(cat), WARP.to_json(), 32, 0, 4,
                        subscriber="a")  # fmt: skip
    while not job.events and not job.done:
        job.wait(0.05)
    runner.cancel(("grid", "long"), "a")
    assert job.wait(30) and job.state == "cancelled"
    assert len(job.events) < 32 and job.outcome() is None  # stopped at its next report
    assert runner.get(("grid", "long")) is None  # forgotten: asking again starts afresh


def test_a_ten_crop_in_a_worker_is_the_inline_ten_crop(runner: JobRunner) -> None:
    photo = images.load_sample("cat")
    loaded = weights.load("resnet18", weights.RANDOM)  # seeded: the worker builds the same
    one_image = explorer.trace("resnet18", input_size=loaded.input_size)
    macs = predict.check_page_prediction(one_image, ten_crop=True)
    assert macs == 11 * one_image.total_macs and not work.runs_inline(macs)
    assert work.runs_inline(predict.check_page_prediction(one_image, ten_crop=False))
    args = ("resnet18", weights.RANDOM, "cpu", Picture.of(photo), 3, True)
    job = runner.submit(("predict", 1), predict.prediction_job, *args)
    assert job.wait(180) and job.state == "done", job.error
    assert [e[:2] for e in job.events] == [(0, 2), (1, 2)]  # model loaded; one image done
    here = predict.page_prediction(loaded, photo, 3, True)
    there = job.outcome()
    assert there is not None and here is not None and there.crops is not None
    assert here.crops is not None
    assert np.array_equal(there.single.probabilities, here.single.probabilities)
    assert there.single.top == here.single.top
    assert np.array_equal(there.crops.averaged.probabilities, here.crops.averaged.probabilities)
    assert [c.top for c in there.crops.crops] == [c.top for c in here.crops.crops]
    assert all(np.array_equal(a.image, b.image) for a, b in zip(there.crops.crops,
                                                                here.crops.crops))  # fmt: skip


def test_uploaded_weights_travel_to_the_worker_as_their_bytes(runner: JobRunner) -> None:
    from safetensors.torch import save

    loaded = weights.load("lenet5", "lenet5-digits")
    data = save({k: v.contiguous() for k, v in loaded.model.state_dict().items()})
    token = weights.hold_upload(data, "mine.safetensors")
    assert model_cache.upload_of(token) == data and model_cache.upload_of("random") is None
    photo, _ = digits.sample_photo(3)
    args = ("lenet5", token, "cpu", Picture.of(photo), 2, False, model_cache.upload_of(token))
    job = runner.submit(("predict", token), predict.prediction_job, *args)
    assert job.wait(120) and job.state == "done", job.error
    mine = job.outcome().single
    assert mine.weights == "file: mine.safetensors"
    here = predict.predict(weights.load("lenet5", token), photo, 2)
    assert np.array_equal(mine.probabilities, here.probabilities)


def test_transfer_features_in_a_worker_are_the_inline_features(runner: JobRunner) -> None:
    blobs = tuple(images.to_png_bytes(images.load_sample(n)) for n in images.sample_names())
    blobs = blobs * 3  # 12 pictures: two chunks of transfer.UPLOAD_CHUNK, two reports
    job = runner.submit(("features", 1), transfer.features_job, "resnet18", "random", "cpu", blobs)
    assert job.wait(180) and job.state == "done", job.error
    assert job.events == [(0, 12), (8, 12), (12, 12)]
    here = transfer.upload_features(weights.load("resnet18", weights.RANDOM), blobs)
    there = job.outcome()
    assert isinstance(there, np.ndarray) and there.shape == (12, 512)
    assert torch.equal(torch.from_numpy(there), here)


def test_an_ensemble_in_a_worker_is_the_inline_ensemble(runner: JobRunner) -> None:
    members = tuple(("lenet5", name) for name in shipped.SHIPPED)
    traces = [explorer.trace("lenet5", input_size=(1, 32, 32))] * len(members)
    assert predict.check_ensemble_prediction(traces, True) == 30 * traces[0].total_macs
    photo, _ = digits.sample_photo(7)
    args = (members, "cpu", Picture.of(photo), 3, True)
    job = runner.submit(("ensemble", 1), predict.ensemble_job, *args)
    assert job.wait(120) and job.state == "done", job.error
    n = len(members)
    loads, predictions = [(i, 2 * n) for i in range(n)], [(n + i, 2 * n) for i in range(1, n + 1)]
    assert [e[:2] for e in job.events] == loads + predictions
    here = predict.ensemble_predict([weights.load(*m) for m in members], photo, 3, True)
    there = job.outcome()
    assert np.array_equal(there.averaged.probabilities, here.averaged.probabilities)
    assert there.averaged.top == here.averaged.top and there.agreement == here.agreement


def test_a_ten_crop_over_the_activation_budget_is_refused_before_any_job() -> None:
    one_image = explorer.trace("efficientnet_b7", input_size=(3, 600, 600))
    assert predict.check_page_prediction(one_image, ten_crop=False) == one_image.total_macs
    with pytest.raises(
        BudgetError,
        match=r"'efficientnet_b7' at batch 10 \(a ten-crop "
        r"prediction\) needs 1\.3 GiB of activations; the limit is 1 GiB\.",
    ):
        predict.check_page_prediction(one_image, ten_crop=True)


def test_finished_results_are_kept_within_a_byte_bound(runner: JobRunner) -> None:
    kept = runner.keep_bytes
    try:
        runner.keep_bytes = 1_000
        small = runner.submit(("count", 1), jobs.countdown, 0.1)
        other = runner.submit(("bytes", 1), jobs.countdown, 0.1)  # replies of a few bytes
        assert small.wait(30) and other.wait(30) and 0 < small.nbytes < 1_000
        assert runner.get(("count", 1)) is small and runner.get(("bytes", 1)) is other
        runner.keep_bytes = small.nbytes + other.nbytes - 1  # the oldest go until it fits
        third = runner.submit(("count", 2), jobs.countdown, 0.1)
        assert third.wait(30) and third.outcome() >= 1
        assert runner.get(("count", 1)) is None and runner.get(("bytes", 1)) is None
        assert runner.get(("count", 2)) is third
    finally:
        runner.keep_bytes = kept
