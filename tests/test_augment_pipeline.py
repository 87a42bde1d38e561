"""explorer.labs.augment: JSON and code export, editing, grids, MixUp/CutMix, the CLI, budgets."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap

import pytest
import torch
from augment_images import ALL_SMALL, ALL_STEPS, pattern, run, smooth
from PIL import Image

from explorer.core.errors import BudgetError, SpecError
from explorer.labs.augment import (
    PRESETS,
    CenterCrop,
    HorizontalFlip,
    Pad,
    PCAColor,
    Pipeline,
    RandomCrop,
    RandomResizedCrop,
    Resize,
    Rotation,
    ScaleJitter,
    grid_image,
    imagenet_eigen,
    mix_preview,
    to_pil,
)

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
