"""`explorer list`: every architecture in the catalog, or those a search or filter keeps."""

from __future__ import annotations

import argparse
import json

from explorer.catalog import search, specs

NAME = "list"
HELP = "list every architecture in the catalog (--search to find one among 1,400+)"
SOURCES = ("explorer", "torchvision", "timm")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=["table", "json"], default="table")
    parser.add_argument("--family", help="only this family (e.g. ResNet, timm/resnet)")
    parser.add_argument("--source", choices=SOURCES, help="only the networks from this source")
    parser.add_argument(
        "--search",
        metavar="WORDS",
        help="only names whose name, family or title contain every word (e.g. 'vit base 384')",
    )


def run(args: argparse.Namespace) -> int:
    rows = [
        s
        for s in specs()
        if (args.family is None or s.family.lower() == args.family.lower())
        and (args.source is None or s.source == args.source)
    ]
    if args.search:
        keep = set(search(args.search, [s.name for s in rows]))
        rows = [s for s in rows if s.name in keep]
    if args.format == "json":
        print(
            json.dumps(
                [
                    {
                        "name": s.name,
                        "family": s.family,
                        "title": s.title,
                        "source": s.source,
                        "input_size": list(s.input_size),
                        "num_classes": s.num_classes,
                        "year": s.year,
                        "paper": s.paper,
                        "has_weights": s.weights is not None or bool(s.pretrained),
                    }
                    for s in rows
                ],
                indent=2,
            )
        )
        return 0
    width = max((len(s.name) for s in rows), default=4)
    family_width = max((len(s.family) for s in rows), default=6)
    for s in rows:
        c, h, w = s.input_size
        size = f"{h}×{w}×{c}"
        print(f"{s.name:<{width}}  {s.family:<{family_width}} {size:<11} {s.title}")
    if not rows:
        print("No architecture matches; try fewer words, or `explorer list --source timm`.")
    return 0
