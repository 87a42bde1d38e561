"""`explorer predict ARCH IMAGE`: classify an image (top-k, ten-crop) with pretrained weights."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from explorer.cli.arguments import int_in
from explorer.core.devices import DEVICE_CHOICES
from explorer.core.errors import InputSizeError
from explorer.core.units import format_bytes

NAME = "predict"
HELP = "classify an image with a pretrained network (try: explorer predict lenet5-digits digit.png)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("arch", help="architecture name, or lenet5-digits (the shipped demo model)")
    parser.add_argument("image", help="image file (JPEG, PNG, WebP, GIF, BMP, TIFF)")
    parser.add_argument(
        "--weights",
        default="DEFAULT",
        help="DEFAULT, a weights name (see `explorer weights ARCH`), a .safetensors/.pt/.pth "
        "file, or 'random' (predictions are then meaningless)",
    )
    parser.add_argument(
        "--top", type=int_in(1, 1000), default=5, help="how many classes to show (default 5)"
    )
    parser.add_argument("--ten-crop", action="store_true", help="average ten crops (10× compute)")
    parser.add_argument("--device", choices=DEVICE_CHOICES, default="auto")
    parser.add_argument("--download", action="store_true", help="download missing weights first")
    parser.add_argument("--format", choices=("table", "json"), default="table")


def run(args: argparse.Namespace) -> int:
    from explorer.catalog import custom
    from explorer.core import images
    from explorer.labs import predict
    from explorer.weights import loading as weights

    stack = custom.spec_from_text(args.arch) if custom.looks_like_spec(args.arch) else None
    if stack is not None and stack.inputs:  # features, a sequence, a volume or tokens
        raise InputSizeError(
            f"'{stack.name}' takes inputs {stack.inputs}, not an image, so it cannot classify "
            "a picture: a stack for explorer predict starts with 'input HxWxC'."
        )
    path = Path(args.image)
    image = images.decode_image(images.read_image_file(path))  # size checked before reading
    progress = _progress if args.download and args.format == "table" else None
    loaded = weights.load(
        args.arch,
        args.weights,
        device=args.device,
        download_missing=args.download,
        progress=progress,
    )
    channels = loaded.input_size[0]
    if channels not in (1, 3):
        raise InputSizeError(
            f"{loaded.architecture} takes {channels}-channel inputs (it is a block from inside "
            "a network), so it cannot classify a picture, which has 3 channels."
        )
    if args.ten_crop:
        result = predict.ten_crop_predict(loaded, image, args.top)
        pred, data = result.averaged, result.to_dict()
    else:
        pred = predict.predict(loaded, image, args.top)
        data = pred.to_dict()
    data["image"] = str(path)
    if args.format == "json":
        print(json.dumps(data, indent=2))
        return 0
    print(f"{loaded.label} on {pred.device}: {path.name}")
    if pred.random_weights:
        print(f"WARNING: {weights.RANDOM_LABEL}")
    if args.ten_crop:
        print("Ten-crop test-time augmentation: average of 10 crops' probabilities (10× compute).")
        for crop in result.crops:
            print(f"  {crop.position:<22} {crop.top.label} ({crop.top.probability:.1%})")
    width = max(len(t.label) for t in pred.top)
    print(f"{'rank':>4}  {'class':<{width}}  {'index':>5}  probability")
    for rank, t in enumerate(pred.top, 1):
        print(f"{rank:>4}  {t.label:<{width}}  {t.index:>5}  {t.probability:>10.2%}")
    print(f"latency: {pred.latency_ms:.1f} ms forward, {pred.preprocess_ms:.1f} ms preprocessing")
    return 0


def _progress(done: int, total: int) -> None:
    if total:
        print(f"\rdownloading: {format_bytes(done)} / {format_bytes(total)}", end="", flush=True)
        if done >= total:
            print()
