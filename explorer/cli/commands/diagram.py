"""`explorer diagram ARCH`: the block diagram as DOT, SVG or PNG."""

from __future__ import annotations

import argparse
import sys

from explorer.cli.arguments import output_file
from explorer.core.errors import ExplorerError
from explorer.core.safe_io import atomic_write

NAME = "diagram"
HELP = "draw an architecture's block diagram (graphviz DOT, SVG or PNG)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("arch", help="catalog name (see `explorer list`) or a layer-stack spec")
    parser.add_argument(
        "--depth",
        type=int,
        default=None,
        help="detail level: 1 = top-level blocks, larger = expand blocks (default: the most "
        "detailed level that stays readable)",
    )
    parser.add_argument("--format", choices=("dot", "svg", "png"), default="dot")
    parser.add_argument("-o", "--output", type=output_file(), help="write to FILE (default stdout)")
    parser.add_argument("--input", metavar="CxHxW", help="input size, e.g. 3x224x224 (default: "
                        "the architecture's), as in `explorer summary`")
    parser.add_argument("--input-size", type=int, nargs=3, metavar=("C", "H", "W"), default=None,
                        help="the same as three numbers")
    parser.add_argument(
        "--no-collapse", action="store_true", help="draw every block, even identical repeats"
    )
    parser.add_argument("--left-right", action="store_true", help="draw left to right")


def run(args: argparse.Namespace) -> int:
    from explorer.analysis.analysis import data_flow
    from explorer.analysis.trace import parse_input_size
    from explorer.graph import diagram

    if args.depth is not None and args.depth < 1:
        raise ExplorerError("--depth must be 1 or more.")
    if args.format == "png" and args.output is None and sys.stdout.isatty():
        raise ExplorerError("PNG is binary: write it to a file with -o FILE.")
    size = args.input or args.input_size
    graph = data_flow(
        args.arch,
        parse_input_size(size) if size else None,
        args.depth,
        collapse=not args.no_collapse,
    )
    rankdir = "LR" if args.left_right else "TB"
    if args.format == "dot":
        data = diagram.to_dot(graph, rankdir=rankdir).encode()
    else:
        data = diagram.render(graph, args.format, rankdir=rankdir)
    if args.output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        atomic_write(args.output, data)  # explorer.core.safe_io: temp file + rename
        print(
            f"wrote {args.output} ({graph.architecture}, depth {graph.depth}, "
            f"{len(graph.nodes)} boxes)",
            file=sys.stderr,
        )
    return 0
