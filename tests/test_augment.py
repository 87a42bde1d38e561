"""explorer.augment: each augmentation does what it says, seeds reproduce, exports round-trip."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest
import torch
from PIL import Image

from explorer.augment import (
    AUGMENTATIONS,
    IMAGENET_EIGVAL,
    IMAGENET_EIGVEC,
    PRESETS,
    Affine,
    CenterCrop,
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
    grid_image,
    image_eigen,
    imagenet_eigen,
    mix_preview,
    to_pil,
)
from explorer.errors import BudgetError, SpecError


def pattern(height: int = 24, width: int = 40, seed: int = 0) -> torch.Tensor:
    """A uint8 (3, H, W) image with no symmetry, so every geometric change shows."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (3, height, width), dtype=torch.uint8, generator=generator)


def smooth(height: int = 32, width: int = 48) -> torch.Tensor:
    """Smooth gradients in all three channels, well inside 0..255 (no clamping)."""
    y = torch.linspace(0, 1, height).view(1, height, 1)
    x = torch.linspace(0, 1, width).view(1, 1, width)
    base = torch.stack([60 + 100 * x[0].expand(height, width), 70 + 90 * y[0].expand(height, width),
                        80 + 50 * (x[0] * y[0])])
    return base.round().to(torch.uint8)


def run(step, image: torch.Tensor, seed: int = 0) -> torch.Tensor:
    return Pipeline((step,)).apply(image, seed)


ALL_STEPS = Pipeline(tuple(cls() for cls in AUGMENTATIONS.values()))
# One of each, sized for small test images (the defaults are for 224-pixel training crops).
SMALL_SIZES = {"resize": Resize(size=48), "scale_jitter": ScaleJitter(min_size=40, max_size=64),
               "random_crop": RandomCrop(size=40), "center_crop": CenterCrop(size=40),
               "random_resized_crop": RandomResizedCrop(size=40), "pad": Pad(padding=4)}
ALL_SMALL = Pipeline(tuple(SMALL_SIZES.get(kind, cls()) for kind, cls in AUGMENTATIONS.items()))


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


# --- JSON and code export -----------------------------------------------------------------------


def test_json_round_trip():
    custom = Pipeline((Rotation(min_degrees=-12.5, max_degrees=40, expand=True, fill=9),
                       PCAColor(std=0.25, eigen="image"), RandomCrop(size=64, padding=4)))
    for pipeline in (ALL_STEPS, custom, *PRESETS.values()):
        text = pipeline.to_json()
        assert Pipeline.from_json(text) == pipeline
        assert json.loads(text)["format"] == "cnn-explorer-augmentation"
    assert json.loads(custom.to_json())["steps"][0] == {
        "type": "rotation", "min_degrees": -12.5, "max_degrees": 40.0, "expand": True,
        "interpolation": "bilinear", "fill": 9}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"format": "other"}', "not an augmentation pipeline"),
        ('{"format": "cnn-explorer-augmentation", "version": 9, "steps": []}', "version 9"),
        ('{"format": "cnn-explorer-augmentation", "version": 1, "steps": {}}', "must be a list"),
        ('{"format": "cnn-explorer-augmentation", "version": 1, "steps": [{"type": "blur"}]}',
         "Step 1: unknown augmentation 'blur'"),
        ('{"format": "cnn-explorer-augmentation", "version": 1, '
         '"steps": [{"type": "pad"}, {"type": "pad", "size": 3}]}',
         r"Step 2 \(pad\): unknown parameter\(s\) size"),
        ('{"format": "cnn-explorer-augmentation", "version": 1, '
         '"steps": [{"type": "rotation", "max_degrees": 720}]}', "Step 1: rotation.max_degrees"),
        ('{"format": "cnn-explorer-augmentation", "version": 1, "steps": ['
         + ", ".join(['{"type": "pad"}'] * 40) + "]}", "at most 32 steps"),
    ],
)
def test_bad_pipeline_json_gives_a_clear_error(text, message):
    with pytest.raises(SpecError, match=message):
        Pipeline.from_json(text)


def test_exported_code_gives_the_same_tensors_in_a_fresh_process(tmp_path):
    """The exported Python, run by a separate interpreter, reproduces the preview exactly."""
    image = smooth(40, 56)
    image_file = tmp_path / "image.png"
    to_pil(image).save(image_file)
    pipelines = {
        "all": ALL_SMALL,
        "alexnet": PRESETS["AlexNet 2012 (crop, mirror, PCA colour)"],
        "own_pca": Pipeline((PCAColor(std=0.7, eigen="image"), HorizontalFlip(p=1.0))),
    }
    seeds = {"all": 3, "alexnet": 5, "own_pca": 0}
    for name, pipeline in pipelines.items():
        (tmp_path / f"{name}.py").write_text(pipeline.to_python())
    runner = textwrap.dedent(f"""
        import runpy, sys, torch, PIL.Image
        image = PIL.Image.open({str(image_file)!r}).convert("RGB")
        for name, seed in {seeds!r}.items():
            transform = runpy.run_path(f"{{sys.argv[1]}}/{{name}}.py")["transform"]
            torch.manual_seed(seed)
            out = transform(image).as_subclass(torch.Tensor)
            torch.save(out, f"{{sys.argv[1]}}/{{name}}.pt")
        assert "explorer" not in sys.modules  # the export is self-contained
    """)
    done = subprocess.run([sys.executable, "-c", runner, str(tmp_path)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    pil_image = Image.open(image_file).convert("RGB")
    for name, pipeline in pipelines.items():
        exported = torch.load(tmp_path / f"{name}.pt", weights_only=True)
        assert torch.equal(exported, pipeline.apply(pil_image, seeds[name])), name


def test_exported_code_names_each_step():
    code = PRESETS["AlexNet 2012 (crop, mirror, PCA colour)"].to_python()
    assert "class PCAColorJitter(v2.Transform):" in code
    assert "v2.RandomCrop(size=224, padding=None, pad_if_needed=True),  # Random cropping" in code
    assert "eigval=(0.2175, 0.0188, 0.0045)" in code
    assert "PCAColorJitter" not in Pipeline((HorizontalFlip(),)).to_python()


# --- editing, grids, MixUp/CutMix ----------------------------------------------------------------


def test_pipeline_editing_returns_new_pipelines():
    a, b, c = HorizontalFlip(), Resize(), Pad()
    pipeline = Pipeline((a, b))
    assert pipeline.add(c).steps == (a, b, c)
    assert pipeline.add(c).move(2, -1).steps == (a, c, b)
    assert pipeline.move(0, -5).steps == (a, b) and pipeline.move(0, 9).steps == (b, a)
    assert pipeline.remove(0).steps == (b,)
    assert pipeline.replace(1, c).steps == (a, c)
    assert pipeline.steps == (a, b)
    with pytest.raises(IndexError):
        pipeline.remove(2)


def test_grid_tiles_images_of_different_sizes():
    tiles = [torch.full((3, 10, 20), 0, dtype=torch.uint8), torch.full((3, 20, 10), 100,
             dtype=torch.uint8), torch.full((3, 4, 4), 200, dtype=torch.uint8)]
    grid = grid_image(tiles, columns=2, gap=2)
    assert grid.size == (2 * 20 + 2, 2 * 20 + 2)
    assert grid.getpixel((0, 5)) == (0, 0, 0)  # tile 0 centred vertically in its 20×20 cell
    assert grid.getpixel((0, 0)) == (255, 255, 255)
    assert grid.getpixel((22 + 5, 0)) == (100, 100, 100)
    assert grid.getpixel((8 + 1, 22 + 8 + 1)) == (200, 200, 200)
    with pytest.raises(SpecError):
        grid_image([])


def test_mixup_blends_and_cutmix_pastes_with_matching_labels():
    red, blue = Image.new("RGB", (40, 30), (255, 0, 0)), Image.new("RGB", (50, 50), (0, 0, 255))
    mix = mix_preview(red, blue, method="mixup", size=32, seed=3)
    assert 0.0 < mix.weight_a < 1.0 and math.isclose(mix.weight_a + mix.weight_b, 1.0)
    expected = torch.tensor([255 * mix.weight_a, 0, 255 * mix.weight_b]).round()
    assert (mix.image.float() - expected.view(3, 1, 1)).abs().max() <= 1
    cut = mix_preview(red, blue, method="cutmix", size=32, seed=3)
    from_red = (cut.image[0] == 255) & (cut.image[2] == 0)
    from_blue = (cut.image[0] == 0) & (cut.image[2] == 255)
    assert (from_red | from_blue).all() and from_blue.any()
    assert math.isclose(float(from_red.float().mean()), cut.weight_a, abs_tol=1e-6)
    assert mix_preview(red, blue, seed=3).weight_a == mix.weight_a
    with pytest.raises(SpecError, match="mixup"):
        mix_preview(red, blue, method="blend")


def test_previews_leave_the_thread_count_as_they_found_it():
    before = torch.get_num_threads()
    Pipeline((HorizontalFlip(),)).samples(pattern(), 2)
    grid_image([pattern()])
    assert torch.get_num_threads() == before


def test_grid_shrinks_tiles_over_max_cell():
    big = torch.zeros((3, 100, 50), dtype=torch.uint8)
    assert grid_image([big, big], columns=2, gap=0, max_cell=40).size == (2 * 20, 40)
    assert grid_image([big], max_cell=200).size == (50, 100)


def test_offset_std_matches_the_formula():
    eigen = imagenet_eigen()
    red = 255 * 0.1 * math.sqrt(sum((eigen.vectors[0][j] * eigen.values[j]) ** 2
                                    for j in range(3)))
    assert math.isclose(eigen.offset_std(0.1)[0], red)
    assert math.isclose(red, 3.17, abs_tol=0.005)  # what the page shows for ImageNet, σ = 0.1


# --- CLI -----------------------------------------------------------------------------------------


def test_cli_draws_a_grid_and_writes_code(tmp_path, capsys):
    from explorer.cli import main

    out, code = tmp_path / "grid.png", tmp_path / "aug.py"
    assert main(["augment", "--sample", "coffee", "--preset", "vgg", "--n", "3", "--columns", "3",
                 "--out", str(out), "--code", str(code)]) == 0
    printed = capsys.readouterr().out
    assert "v2.RandomResize(min_size=256, max_size=513, antialias=True)" in printed
    assert "3 samples (seeds 0…2), sizes 224×224" in printed
    assert Image.open(out).size == (3 * 224 + 2 * 4, 224)
    assert code.read_text() == PRESETS["VGG 2014 (scale jittering S∈[256,512], crop, mirror)"
                                       ].to_python()


def test_cli_errors_are_one_clear_line(tmp_path, capsys):
    from explorer.cli import main

    pdf = tmp_path / "photo.jpg"
    pdf.write_bytes(b"%PDF-1.4\n")
    assert main(["augment", str(pdf), "--out", str(tmp_path / "g.png")]) == 2
    assert capsys.readouterr().err == (
        "error: This file is a PDF, not an image. Export the page as PNG or JPEG first.\n")
    assert main(["augment", "--preset", "net"]) == 2
    assert "matches several presets" in capsys.readouterr().err
    bad = tmp_path / "p.json"
    bad.write_text('{"format": "cnn-explorer-augmentation", "version": 1, '
                   '"steps": [{"type": "pad", "padding": -1}]}')
    assert main(["augment", "--pipeline", str(bad)]) == 2
    assert "pad.padding = -1 is outside the allowed range [0, 256]" in capsys.readouterr().err
    assert not (tmp_path / "g.png").exists()


def test_a_step_that_cannot_handle_the_image_is_named():
    pipeline = Pipeline((HorizontalFlip(), RandomCrop(size=64, pad_if_needed=False)))
    with pytest.raises(SpecError, match=r"Step 2 \(Random cropping\) cannot be applied to a "
                                        r"40×24 image: Required crop size \(64, 64\)"):
        pipeline.samples(pattern(), 1)
    assert run(RandomCrop(size=64, pad_if_needed=True), pattern()).shape == (3, 64, 64)


def test_previews_have_a_pixel_budget():
    huge = Pipeline((Resize(size=1024), Pad(padding=256)))  # 2560×1536 each, 126 M for 32
    with pytest.raises(BudgetError, match=r"32 samples .* the limit is 64\.0 megapixels"):
        huge.samples(pattern(8, 16), 32)


def test_output_bounds_hold_for_every_size_changing_step():
    """The budgets use each step's largest output; the real outputs never exceed it."""
    steps = [Rotation(min_degrees=-180, max_degrees=180, expand=True),
             Rotation(min_degrees=10, max_degrees=35, expand=True), Resize(size=40),
             ScaleJitter(min_size=16, max_size=64), Pad(padding=7), RandomCrop(size=48),
             CenterCrop(size=80), RandomResizedCrop(size=24)]
    for height, width in ((24, 40), (1, 64), (57, 13)):
        image = pattern(height, width)
        for step in steps:
            bound_h, bound_w = step.output_bound(height, width)
            for sample in Pipeline((step,)).samples(image, 6, seed=1):
                assert sample.shape[-2] <= bound_h and sample.shape[-1] <= bound_w, step


def test_damaged_pipeline_json_is_a_spec_error_or_a_pipeline():
    """Seeded character flips, cuts and insertions of every preset's JSON: each parses or is
    one SpecError sentence (never a traceback from json, int() or a constructor)."""
    import random

    rng = random.Random(0)
    alphabet = '{}[]",:0123456789.-eE truefalsnul\\'
    for pipeline in PRESETS.values():
        text = pipeline.to_json()
        for _ in range(80):
            chars = list(text)
            for _ in range(rng.randrange(1, 4)):
                where = rng.randrange(len(chars))
                action = rng.randrange(3)
                if action == 0:
                    chars[where] = rng.choice(alphabet)
                elif action == 1:
                    del chars[where]
                else:
                    chars.insert(where, rng.choice(alphabet) * rng.randrange(1, 30))
            try:
                Pipeline.from_json("".join(chars))
            except SpecError as exc:
                assert "\n" not in str(exc)
