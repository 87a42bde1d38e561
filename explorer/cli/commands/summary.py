"""`explorer summary ARCH`: the per-layer table of a catalog architecture or a layer-stack spec."""

from __future__ import annotations

import argparse

from explorer.analysis.trace import parse_input_size, trace
from explorer.catalog import published, resolve
from explorer.cli.arguments import int_in, trace_batch
from explorer.core import report
from explorer.core.inputs import is_image_size

NAME = "summary"
HELP = "per-layer output shapes, parameters and multiply-adds of an architecture"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("arch", help="catalog name (see `explorer list`) or a layer-stack spec")
    parser.add_argument(
        "--input",
        metavar="CxHxW|SIGNATURE",
        help="input size, e.g. 3x224x224 (default: the architecture's); or any input "
        "signature with full shapes: '2x10:int64', '1x3x32x32, 1x3x32x32', "
        "'{image: 1x3x64x64, extra: 1x5}', 'x=1x16, mask=1x16:bool' (see explorer.core.inputs)",
    )
    parser.add_argument("--batch", type=trace_batch, default=1, help="batch size (default 1)")
    parser.add_argument(
        "--depth",
        type=int_in(1, 1000),
        default=None,
        help="show modules down to this depth (default: every module)",
    )
    parser.add_argument("--format", choices=[f.value for f in report.OutputFormat], default="table")


def run(args: argparse.Namespace) -> int:
    if not is_image_size(args.input):  # a full signature: shapes carry their batch
        result = trace(args.arch, inputs=args.input)
        print(report.render(result, args.format, args.depth))
        return 0
    result = trace(args.arch, input_size=args.input, batch_size=args.batch)
    print(report.render(result, args.format, args.depth))
    if args.format == report.OutputFormat.TABLE.value:
        spec = resolve(args.arch)
        default_input = args.input is None or parse_input_size(args.input) == spec.input_size
        if default_input and args.batch == 1:  # published figures are for one default image
            text = published.to_text(spec, result)
            if text:
                print()
                print(text)
    return 0
