"""`explorer activations ARCH IMAGE`: every layer's feature maps and their statistics."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from explorer.cli.arguments import int_in, output_file
from explorer.core.devices import DEVICE_CHOICES

NAME = "activations"
HELP = (
    "what each layer computes on an image: n_H×n_W×n_C feature maps and channel statistics "
    "(try: explorer activations lenet5-digits digit.png --out grid.png)"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("arch", help="architecture name, or lenet5-digits (the shipped demo model)")
    parser.add_argument("image", help="image file (JPEG, PNG, WebP, GIF, BMP, TIFF)")
    parser.add_argument(
        "--weights",
        default="DEFAULT",
        help="DEFAULT, a weights name, a .safetensors/.pt/.pth file, or 'random' (then the "
        "activations are meaningless)",
    )
    parser.add_argument("--layer", help="one layer (e.g. features.3): its channels in detail")
    parser.add_argument(
        "--out",
        type=output_file(".png"),
        help="write a PNG: the chosen layer's grid, or every layer's grid one below another",
    )
    parser.add_argument("--scale", type=int_in(1, 64), help="pixels per activation in the PNG")
    parser.add_argument("--device", choices=DEVICE_CHOICES, default="auto")
    parser.add_argument("--format", choices=("table", "json"), default="table")


def run(args: argparse.Namespace) -> int:
    from PIL import Image

    from explorer.core import images
    from explorer.core.safe_io import atomic_open
    from explorer.inside import activations
    from explorer.inside import pictures as activation_pictures
    from explorer.weights import loading as weights

    path = Path(args.image)
    image = images.decode_image(images.read_image_file(path))
    loaded = weights.load(args.arch, args.weights, device=args.device)
    acts = activations.record(loaded, image)
    chosen = acts.layer(args.layer) if args.layer else None
    if args.out:
        if chosen is not None:
            grid = activation_pictures.feature_grid(
                chosen, args.scale or max(1, 112 // chosen.shape[1])
            )
            picture = Image.fromarray(grid.image)
        else:
            picture = activation_pictures.overview_image(acts, args.scale)
        with atomic_open(args.out) as f:
            picture.save(f, format="PNG")
    if args.format == "json":
        data = acts.to_dict()
        data["image"] = str(path)
        if chosen is not None:
            data["layers"] = [chosen.to_dict()]
        print(json.dumps(data, indent=2))
        return 0
    _print_table(acts, chosen, path.name, args.out)
    return 0


def _print_table(acts: object, chosen: object, image_name: str, out: str | None) -> None:
    from explorer.inside.activations import Activations, LayerActivation
    from explorer.inside.pictures import strongest_channels

    assert isinstance(acts, Activations)
    best = acts.top[0]
    print(f"{acts.architecture} ({acts.weights}) on {acts.device}: {image_name}")
    if acts.note:
        print(f"WARNING: {acts.note}")
    print(f"prediction: {best.label} ({best.probability:.1%}); forward {acts.latency_ms:.1f} ms")
    if isinstance(chosen, LayerActivation):
        print(f"{chosen.label}")
        print(f"{'channel':>7}  {'mean':>9}  {'std':>9}  {'min':>9}  {'max':>9}  {'>0':>6}")
        for s in chosen.stats:
            print(
                f"{s.channel:>7}  {s.mean:>9.4f}  {s.std:>9.4f}  {s.min:>9.4f}  {s.max:>9.4f}  "
                f"{s.active:>6.1%}"
            )
    else:
        width = max(len(layer.name) for layer in acts.layers)
        print(f"{'layer':<{width}}  {'n_H×n_W×n_C':>13}  {'mean':>8}  {'max':>8}  strongest")
        for layer in acts.layers:
            stats = layer.stats
            mean = sum(s.mean for s in stats) / len(stats)
            peak = max(s.max for s in stats)
            strong = strongest_channels(layer, 3) if layer.spatial else []
            print(
                f"{layer.name:<{width}}  {layer.lecture_shape:>13}  {mean:>8.3f}  {peak:>8.3f}  "
                + ", ".join(str(c) for c in strong)
            )
    if out:
        print(f"wrote {out}")
