"""The Augmentation lab's memo (augment.memo): restarting a pipeline after its longest
remembered prefix gives exactly the pixels of a cold run and of `torch.manual_seed + transform`."""

from __future__ import annotations

import threading

import numpy as np
import torch
from PIL import Image

from explorer.core.images import to_png_bytes
from explorer.labs.augment import (
    AUGMENTATIONS,
    DEFAULT_PIPELINE,
    ColorShift,
    ElasticWarp,
    HorizontalFlip,
    PCAColor,
    Pipeline,
    PrefixMemo,
    RandAugment,
    RandomErasing,
    RandomResizedCrop,
    Rotation,
    Shear,
    grid_image,
)


def picture(height: int = 40, width: int = 56, seed: int = 0) -> Image.Image:
    """An RGB picture with no symmetry, so every geometric change shows."""
    generator = torch.Generator().manual_seed(seed)
    data = torch.randint(0, 256, (height, width, 3), dtype=torch.uint8, generator=generator)
    return Image.fromarray(data.numpy())


def png(samples: list[torch.Tensor]) -> bytes:
    return to_png_bytes(grid_image(samples, 4, max_cell=512), compress_level=1)


# The page's default pipeline (cropped small), then what a student adds after it.
GROWN = (
    RandomResizedCrop(size=32),
    *DEFAULT_PIPELINE.steps[1:],
    ElasticWarp(alpha=150.0, sigma=6.0),
    HorizontalFlip(),
    Rotation(),
    PCAColor(std=1.0),
    RandAugment(),
    RandomErasing(p=1.0),
)


def test_a_pipeline_grown_step_by_step_gives_the_cold_pixels():
    image, memo = picture(), PrefixMemo()
    torch.manual_seed(4321)
    rng = torch.get_rng_state()
    for length in range(1, len(GROWN) + 1):
        pipeline = Pipeline(GROWN[:length])
        warm = pipeline.samples(image, 3, seed=11, memo=memo)
        again = pipeline.samples(image, 3, seed=11, memo=memo)  # every sample a full hit
        cold = pipeline.samples(image, 3, seed=11)
        assert png(warm) == png(cold) == png(again), length
        assert all(torch.equal(a, b) for a, b in zip(warm, cold)), length
        assert all(type(s) is torch.Tensor for s in warm)
    assert torch.equal(torch.get_rng_state(), rng)  # no global draws on the memo path either
    assert memo.hits >= 3 * (len(GROWN) - 1)
    transform = Pipeline(GROWN).to_transform()
    for k, sample in enumerate(Pipeline(GROWN).samples(image, 3, seed=11, memo=memo)):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(11 + k)
            assert torch.equal(sample, transform(image).as_subclass(torch.Tensor)), k


def test_changing_moving_or_removing_a_step_reruns_from_there_exactly():
    image, memo = picture(48, 40, seed=1), PrefixMemo()
    base = Pipeline((Rotation(), Shear(), ElasticWarp(), ColorShift()))
    base.samples(image, 2, seed=3, memo=memo)
    variants = [
        base.replace(3, ColorShift(hue=0.3)),  # the last step changed
        base.replace(1, Shear(shear_x=5.0)),  # a middle step changed
        base.replace(2, ElasticWarp(alpha=50)),  # 50 vs 50.0: another key, same pixels
        base.move(3, -3),
        base.remove(3),  # a prefix of what was drawn: a full hit
        base.remove(0),
        base.add(HorizontalFlip()).add(ElasticWarp(sigma=2.0)),
    ]
    for pipeline in variants:
        warm = pipeline.samples(image, 2, seed=3, memo=memo)
        cold = pipeline.samples(image, 2, seed=3)
        assert all(torch.equal(a, b) for a, b in zip(warm, cold)), pipeline


def test_every_augmentation_resumes_exactly_after_a_random_step():
    image, memo = picture(), PrefixMemo()
    first = Pipeline((ColorShift(),))
    first.samples(image, 2, seed=8, memo=memo)
    for kind, cls in AUGMENTATIONS.items():
        pipeline = first.add(cls())
        warm = pipeline.samples(image, 2, seed=8, memo=memo)
        cold = pipeline.samples(image, 2, seed=8)
        assert all(torch.equal(a, b) for a, b in zip(warm, cold)), kind


def test_the_memo_keys_on_the_picture_and_the_seed():
    memo = PrefixMemo()
    pipeline = Pipeline((RandomResizedCrop(size=24), ElasticWarp()))
    pipeline.samples(picture(seed=1), 2, seed=0, memo=memo)
    for image, seed in ((picture(seed=2), 0), (picture(seed=1), 1), (picture(seed=1), 5)):
        warm = pipeline.add(HorizontalFlip()).samples(image, 2, seed=seed, memo=memo)
        cold = pipeline.add(HorizontalFlip()).samples(image, 2, seed=seed)
        assert all(torch.equal(a, b) for a, b in zip(warm, cold))
    tensor = torch.from_numpy(np.asarray(picture(seed=1)).copy()).permute(2, 0, 1)
    for image in (tensor, tensor.float() / 255):  # a tensor is keyed by dtype, shape, bytes
        warm = pipeline.samples(image, 2, seed=0, memo=memo)
        assert all(torch.equal(a, b) for a, b in zip(warm, pipeline.samples(image, 2, seed=0)))


def test_the_memo_is_bounded_by_bytes_and_hands_out_copies():
    image = picture(64, 64)
    memo = PrefixMemo(max_bytes=400_000)  # one 64×64 state is ~12 kB + 5 kB of generator
    for seed in range(8):
        Pipeline((Rotation(), Shear(), HorizontalFlip())).samples(image, 4, seed, memo=memo)
        assert memo.nbytes <= memo.max_bytes
    assert 0 < len(memo) < 8 * 4 * 3
    pipeline = Pipeline((Rotation(),))
    sample = pipeline.samples(image, 1, seed=0, memo=memo)[0]
    sample.zero_()  # a caller scribbling on its result changes nothing stored
    assert torch.equal(pipeline.samples(image, 1, seed=0, memo=memo)[0],
                       pipeline.samples(image, 1, seed=0)[0])
    tiny = PrefixMemo(max_bytes=1000)  # every state is larger than an eighth: none kept
    pipeline.samples(image, 2, seed=0, memo=tiny)
    assert len(tiny) == 0 and tiny.nbytes == 0


def test_sessions_sharing_one_memo_get_their_own_pixels():
    image, memo = picture(), PrefixMemo()
    jobs = [(GROWN[:length], seed) for length in (5, 6, 7) for seed in (0, 1)]
    alone = [Pipeline(steps).samples(image, 2, seed) for steps, seed in jobs]
    results: dict[int, list[torch.Tensor]] = {}
    barrier = threading.Barrier(len(jobs))

    def run(index: int) -> None:
        steps, seed = jobs[index]
        barrier.wait()
        for _ in range(2):
            results[index] = Pipeline(steps).samples(image, 2, seed, memo=memo)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for index, expected in enumerate(alone):
        assert all(torch.equal(a, b) for a, b in zip(results[index], expected)), jobs[index]
