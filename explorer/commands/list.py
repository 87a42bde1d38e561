"""`explorer list`: every architecture in the catalog."""

from __future__ import annotations

import argparse
import json

from explorer.architectures import specs

NAME = "list"
HELP = "list every architecture in the catalog"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=["table", "json"], default="table")
    parser.add_argument("--family", help="only this family (e.g. ResNet)")


def run(args: argparse.Namespace) -> int:
    rows = [s for s in specs() if args.family is None or s.family.lower() == args.family.lower()]
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
                        "has_weights": s.weights is not None,
                    }
                    for s in rows
                ],
                indent=2,
            )
        )
        return 0
    width = max((len(s.name) for s in rows), default=4)
    for s in rows:
        c, h, w = s.input_size
        size = f"{h}×{w}×{c}"
        print(f"{s.name:<{width}}  {s.family:<18} {size:<11} {s.title}")
    return 0
