"""`explorer` command line. Each subcommand lives in its own module in explorer/commands/.

A command module defines NAME, HELP, add_arguments(parser) and run(args) -> int. Errors the
explorer raises on purpose (ExplorerError) exit with status 2 and one clear line on stderr.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import pkgutil
import sys
from collections.abc import Sequence
from types import ModuleType

from explorer import commands
from explorer.errors import ExplorerError


def _command_modules() -> list[ModuleType]:
    found = []
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        found.append(importlib.import_module(f"explorer.commands.{info.name}"))
    return found


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="explorer",
        description="CNN Architecture Explorer: see inside a convolutional network.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in _command_modules():
        p = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    # Everything imported so far (torch, torchvision's ~80 model modules) lives for the whole
    # process: keep it out of the garbage collector's full passes, which otherwise cost the
    # first trace ~100 ms of scanning.
    gc.freeze()
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except ExplorerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `explorer summary vgg16 | head`
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
