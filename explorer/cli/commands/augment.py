"""`explorer augment`: seeded augmentation samples of an image as one grid picture.

    explorer augment --sample cat --preset alexnet --n 16 --out grid.png
    explorer augment photo.jpg --pipeline my_pipeline.json --seed 7 --out grid.png --code aug.py
    explorer augment --list
"""

from __future__ import annotations

import argparse

import PIL.Image

from explorer.cli.arguments import int_in, output_file, seed
from explorer.core import limits
from explorer.core.errors import ImageError, SpecError
from explorer.core.images import decode_image, load_sample, read_image_file, sample_names
from explorer.core.safe_io import atomic_open, atomic_write, read_bounded
from explorer.labs.augment import AUGMENTATIONS, DEFAULT_PIPELINE, PRESETS, Pipeline, grid_image

NAME = "augment"
HELP = "draw seeded augmentation samples of an image into one grid picture"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("image", nargs="?", help="image file (JPEG, PNG, WebP, GIF, BMP, TIFF)")
    parser.add_argument("--sample", help=f"a bundled sample instead: {', '.join(sample_names())}")
    parser.add_argument("--preset", help="a preset pipeline: any unique part of its name, "
                                         "e.g. alexnet, vgg, randaugment")
    parser.add_argument("--pipeline", help="a pipeline JSON file (as the app downloads it)")
    parser.add_argument("--n", type=int_in(1, limits.PIPELINE_MAX_SAMPLES), default=16,
                        help=f"number of samples, 1 … {limits.PIPELINE_MAX_SAMPLES} (default 16)")
    parser.add_argument("--seed", type=seed, default=0, help="sample k uses seed + k (default 0)")
    parser.add_argument("--columns", type=int_in(1, 64), default=4)
    parser.add_argument("--out", type=output_file(".png"), help="write the grid here (PNG)")
    parser.add_argument("--code", type=output_file(".py"),
                        help="also write the pipeline as Python code here")
    parser.add_argument("--list", action="store_true", help="list augmentations and presets")


def run(args: argparse.Namespace) -> int:
    if args.list:
        _print_catalogue()
        return 0
    pipeline = _pipeline(args)
    image = _image(args) if args.out else None  # a bad image fails before any output
    print(pipeline.to_python().split("transform = ", 1)[1].rstrip())
    if args.code:
        atomic_write(args.code, pipeline.to_python())
        print(f"wrote {args.code}")
    if args.out and image is not None:
        samples = pipeline.samples(image, args.n, args.seed)
        with atomic_open(args.out) as file:  # two runs at once: one whole PNG wins
            grid_image(samples, args.columns).save(file, format="PNG")
        sizes = sorted({f"{s.shape[-1]}×{s.shape[-2]}" for s in samples})
        print(f"wrote {args.out}: {args.n} samples (seeds {args.seed}…{args.seed + args.n - 1}), "
              f"sizes {', '.join(sizes)}")
    elif not args.code:
        print("(add --out grid.png to draw the samples)")
    return 0


def _pipeline(args: argparse.Namespace) -> Pipeline:
    if args.pipeline and args.preset:
        raise SpecError("Give --preset or --pipeline, not both.")
    if args.pipeline:
        data = read_bounded(args.pipeline, 4 * limits.PIPELINE_MAX_JSON_CHARS,
                            what="pipeline file", error=SpecError)
        return Pipeline.from_json(data.decode("utf-8", errors="replace"))
    if args.preset:
        wanted = args.preset.lower()
        matches = [name for name in PRESETS if wanted in name.lower()]
        if len(matches) != 1:
            known = "; ".join(PRESETS)
            problem = "matches several presets" if matches else "matches no preset"
            raise SpecError(f"--preset {args.preset!r} {problem}. Presets: {known}.")
        return PRESETS[matches[0]]
    return DEFAULT_PIPELINE


def _image(args: argparse.Namespace) -> PIL.Image.Image:
    if args.image and args.sample:
        raise ImageError("Give an image file or --sample, not both.")
    if args.sample or not args.image:
        return load_sample(args.sample or "cat")
    return decode_image(read_image_file(args.image))


def _print_catalogue() -> None:
    print("Augmentations (JSON type: title):")
    for kind, cls in AUGMENTATIONS.items():
        where = "" if cls.LECTURE else "  [beyond the lecture]"
        params = ", ".join(f"{p.name}={p.default!r}" for p in cls.params())
        print(f"  {kind}: {cls.TITLE}{where}\n      {params}")
    print("Presets:")
    for name, pipeline in PRESETS.items():
        print(f"  {name}: {' → '.join(step.KIND for step in pipeline.steps)}")
