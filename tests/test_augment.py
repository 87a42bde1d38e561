"""explorer.labs.augment: each augmentation does what it says, seeds reproduce, exports
round-trip."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest
import torch
from augment_images import pattern, run, smooth
from PIL import Image

from explorer.core.errors import SpecError
from explorer.labs.augment import (
    AUGMENTATIONS,
    IMAGENET_EIGVAL,
    IMAGENET_EIGVEC,
    PRESETS,
    Affine,
    ColorShift,
    ElasticWarp,
    Grayscale,
    HorizontalFlip,
    Pad,
    PCAColor,
    PCAColorJitter,
    Pipeline,
    RandAugment,
    RandomCrop,
    RandomErasing,
    RandomResizedCrop,
    Resize,
    Rotation,
    ScaleJitter,
    VerticalFlip,
    image_eigen,
    imagenet_eigen,
    mix_preview,
    to_pil,
)

# --- catalogue and parameters ------------------------------------------------------------------


def test_every_lecture_method_is_there():
    kinds = set(AUGMENTATIONS)
    lecture = {"horizontal_flip", "random_crop", "rotation", "shear", "elastic", "color_jitter",
               "pca_color", "resize", "pad", "affine", "grayscale"}
    beyond = {"randaugment", "trivialaugment", "autoaugment", "random_erasing"}
    assert lecture | beyond <= kinds
    assert all(not AUGMENTATIONS[k].LECTURE for k in beyond)


@pytest.mark.parametrize("kind", sorted(AUGMENTATIONS))
def test_parameters_are_typed_and_bounded(kind):
    cls = AUGMENTATIONS[kind]
    assert cls.TITLE and cls.DESCRIPTION and cls.GROUP
    for spec in cls.params():
        assert spec.label
        if spec.kind in ("int", "float"):
            assert spec.low is not None and spec.high is not None and spec.step
            assert spec.low <= spec.default <= spec.high
            with pytest.raises(SpecError, match="outside the allowed range"):
                cls(**{spec.name: spec.high + 1})
            with pytest.raises(SpecError, match="must be"):
                cls(**{spec.name: "7"})
        elif spec.kind == "choice":
            assert spec.default in spec.choices
            with pytest.raises(SpecError, match="must be one of"):
                cls(**{spec.name: "nonsense"})
        else:
            assert spec.kind == "bool"
            with pytest.raises(SpecError, match="true or false"):
                cls(**{spec.name: 1})


def test_cross_parameter_checks():
    with pytest.raises(SpecError, match=r"min_degrees .* must not exceed max_degrees"):
        Rotation(min_degrees=10, max_degrees=-10)
    with pytest.raises(SpecError, match="scale_min"):
        RandomResizedCrop(scale_min=0.9, scale_max=0.5)
    with pytest.raises(SpecError, match="min_size"):
        ScaleJitter(min_size=300, max_size=300)
    with pytest.raises(SpecError, match="whole number"):
        RandomCrop(size=22.5)
    with pytest.raises(SpecError, match="finite"):
        ColorShift(brightness=math.nan)
    assert HorizontalFlip(p=1).p == 1.0 and isinstance(HorizontalFlip(p=1).p, float)


# --- each augmentation changes the image as it should ------------------------------------------


def test_mirroring_flips_pixels():
    image = pattern()
    assert torch.equal(run(HorizontalFlip(p=1.0), image), image.flip(-1))
    assert torch.equal(run(VerticalFlip(p=1.0), image), image.flip(-2))
    assert torch.equal(run(HorizontalFlip(p=0.0), image), image)


def test_rotation_by_90_with_expand_rotates():
    image = pattern(24, 40)
    left = run(Rotation(min_degrees=90, max_degrees=90, expand=True), image)
    assert left.shape == (3, 40, 24)
    assert torch.equal(left, torch.rot90(image, 1, dims=(1, 2)))  # counter-clockwise
    right = run(Rotation(min_degrees=-90, max_degrees=-90, expand=True, interpolation="nearest"),
                image)
    assert torch.equal(right, torch.rot90(image, -1, dims=(1, 2)))
    kept = run(Rotation(min_degrees=90, max_degrees=90, expand=False), image)
    assert kept.shape == image.shape


def test_crops_resizes_and_padding_give_the_sizes_they_promise():
    image = pattern(60, 80)
    crop = run(RandomCrop(size=32), image)
    assert crop.shape == (3, 32, 32)
    # the crop is a window of the original
    windows = image.unfold(1, 32, 1).unfold(2, 32, 1)  # (3, 29, 49, 32, 32)
    assert (windows == crop.view(3, 1, 1, 32, 32)).all(dim=(0, 3, 4)).any()
    assert run(RandomCrop(size=100), image).shape == (3, 100, 100)  # padded up
    assert run(Resize(size=30), image).shape == (3, 30, 40)
    assert run(RandomResizedCrop(size=48), image).shape == (3, 48, 48)
    padded = run(Pad(padding=5, fill=7), image)
    assert padded.shape == (3, 70, 90)
    assert torch.equal(padded[:, 5:-5, 5:-5], image) and (padded[:, :5] == 7).all()
    for seed in range(5):
        short = min(run(ScaleJitter(min_size=30, max_size=40), image, seed).shape[1:])
        assert 30 <= short < 40


def test_color_shift_changes_only_colour_statistics():
    """Colour jitter is per pixel plus global statistics: shuffling the pixels first gives the
    shuffled result, which no geometric transform would."""
    image = pattern(20, 30)
    step = ColorShift(brightness=0.5, contrast=0.5, saturation=0.5, hue=0.2)
    shuffle = torch.randperm(20 * 30, generator=torch.Generator().manual_seed(1))

    def shuffled(t: torch.Tensor) -> torch.Tensor:
        return t.reshape(3, -1)[:, shuffle].reshape(3, 20, 30)

    for seed in (0, 1):
        out = run(step, image, seed)
        assert out.shape == image.shape and not torch.equal(out, image)
        assert torch.equal(run(step, shuffled(image), seed), shuffled(out))
    assert torch.equal(run(ColorShift(0.0, 0.0, 0.0, 0.0), image), image)


def test_grayscale_and_erasing():
    image = pattern()
    gray = run(Grayscale(p=1.0), image)
    assert torch.equal(gray[0], gray[1]) and torch.equal(gray[1], gray[2])
    erased = run(RandomErasing(p=1.0, value=0), image + (image == 0).to(torch.uint8))
    changed = (erased != image + (image == 0).to(torch.uint8)).any(dim=0)
    assert changed.any() and (erased[:, changed] == 0).all()


def test_geometric_warps_keep_the_size_and_change_pixels():
    image = smooth()
    for step in (ElasticWarp(alpha=80.0), Affine(), RandAugment(num_ops=3, magnitude=15)):
        out = run(step, image, seed=3)
        assert out.shape == image.shape and not torch.equal(out, image)


# --- PCA colour augmentation -----------------------------------------------------------------


def test_pca_with_zero_magnitude_is_the_identity():
    image = pattern()
    for eigen in ("imagenet", "image"):
        assert torch.equal(run(PCAColor(std=0.0, eigen=eigen), image, seed=5), image)


def test_pca_adds_the_papers_rgb_offset_to_every_pixel():
    image = smooth()
    seed, std = 11, 0.5
    out = run(PCAColor(std=std), image, seed).to(torch.float64)
    torch.manual_seed(seed)  # the pipeline's only random draw is PCA's alpha
    alpha = (torch.randn(3, dtype=torch.float64) * std).tolist()
    offset = torch.tensor(imagenet_eigen().shift(alpha)) * 255
    expected = (image.to(torch.float64) + offset.view(3, 1, 1)).round().clamp(0, 255)
    assert torch.equal(out, expected)
    assert offset.abs().max() > 5  # a visible shift, not a no-op that passes trivially


def test_pca_eigen_data():
    eigen = imagenet_eigen()
    assert eigen.values == IMAGENET_EIGVAL == (0.2175, 0.0188, 0.0045)
    assert eigen.vectors == IMAGENET_EIGVEC and eigen.vectors[0] == (-0.5675, 0.7192, 0.4009)
    image = smooth()
    own = image_eigen(to_pil(image))
    vectors = torch.tensor(own.vectors, dtype=torch.float64)
    assert torch.allclose(vectors.T @ vectors, torch.eye(3, dtype=vectors.dtype), atol=1e-9)
    assert own.values[0] >= own.values[1] >= own.values[2] >= 0
    pixels = image.reshape(3, -1).to(torch.float64) / 255
    assert math.isclose(sum(own.values), float(pixels.var(dim=1).sum()), rel_tol=1e-9)
    gray = image_eigen(smooth()[:1].expand(3, -1, -1))  # R = G = B
    assert all(math.isclose(abs(v), 1 / math.sqrt(3), rel_tol=1e-6) for v in
               (row[0] for row in gray.vectors))
    assert gray.values[1] < 1e-12


def test_pca_transform_on_pil_float_and_non_image_inputs():
    image = smooth()
    jitter = PCAColorJitter(std=0.3, eigval=IMAGENET_EIGVAL, eigvec=IMAGENET_EIGVEC)
    torch.manual_seed(0)
    from_pil = jitter(to_pil(image))
    torch.manual_seed(0)
    from_tensor = jitter(image)
    assert isinstance(from_pil, Image.Image)
    assert torch.equal(torch.from_numpy(np.array(from_pil)).permute(2, 0, 1), from_tensor)
    torch.manual_seed(0)
    as_float = jitter(image.float() / 255)
    assert as_float.is_floating_point()
    assert (as_float * 255 - from_tensor.float()).abs().max() <= 0.51
    labels = torch.tensor([3])
    assert jitter(labels) is labels
    with pytest.raises(ValueError, match="both"):
        PCAColorJitter(eigval=IMAGENET_EIGVAL)


# --- seeding -----------------------------------------------------------------------------------


def test_same_seed_same_preview_and_global_rng_untouched():
    pipeline = PRESETS["Inception / ResNet ImageNet training"].replace(
        0, RandomResizedCrop(size=32))
    image = smooth(48, 64)
    torch.manual_seed(1234)
    state = torch.get_rng_state()
    first = pipeline.samples(image, 3, seed=7)
    assert torch.equal(torch.get_rng_state(), state)
    second = pipeline.samples(image, 3, seed=7)
    assert all(torch.equal(a, b) for a, b in zip(first, second))
    assert torch.equal(pipeline.apply(image, seed=8), first[1])  # sample k == seed + k
    assert not torch.equal(first[0], first[1])


def test_previews_touch_no_global_state_for_any_augmentation():
    """Every augmentation, the presets and MixUp/CutMix: the global RNG never advances, the
    thread count never changes, and sample k equals `torch.manual_seed(seed + k)` + transform."""
    image = smooth(48, 64)
    torch.manual_seed(99)
    state, threads = torch.get_rng_state(), torch.get_num_threads()
    for cls in AUGMENTATIONS.values():
        pipeline = Pipeline((cls(),))
        samples = pipeline.samples(image, 2, seed=5)
        assert torch.equal(torch.get_rng_state(), state), cls.KIND
        transform = pipeline.to_transform()
        for k, sample in enumerate(samples):
            with torch.random.fork_rng(devices=[]):  # the test's own reference, single thread
                torch.manual_seed(5 + k)
                expected = transform(image).as_subclass(torch.Tensor)
            assert torch.equal(sample, expected), (cls.KIND, k)
    for method in ("mixup", "cutmix"):
        mix_preview(image, image.flip(-1), method=method, size=32, seed=3)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.get_num_threads() == threads


def test_concurrent_previews_equal_the_same_previews_alone():
    image = smooth(48, 64)
    jobs = [(name, seed) for name in PRESETS for seed in (0, 1)]
    small = {name: Pipeline(tuple(
        RandomResizedCrop(size=32) if isinstance(step, RandomResizedCrop) else step
        for step in pipeline.steps)) for name, pipeline in PRESETS.items()}
    alone = {job: small[job[0]].samples(image, 2, seed=job[1]) for job in jobs}
    results: dict[tuple[str, int], list[torch.Tensor]] = {}
    barrier = threading.Barrier(len(jobs))

    def run(job: tuple[str, int]) -> None:
        barrier.wait()
        for _ in range(3):
            results[job] = small[job[0]].samples(image, 2, seed=job[1])
            torch.rand(3)  # another session drawing from the global RNG meanwhile

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for job in jobs:
        assert all(torch.equal(a, b) for a, b in zip(results[job], alone[job])), job
