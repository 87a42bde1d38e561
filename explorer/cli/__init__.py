"""`explorer` command line. Each subcommand lives in its own module in explorer/cli/commands/.

A command module defines NAME, HELP, add_arguments(parser) and run(args) -> int. A bad
argument, or an error the explorer raises on purpose (ExplorerError), ends with one line
`error: ...` on stderr and exit status 2; anything else is a bug and keeps its traceback.

`explorer app` is dispatched before any other command module is imported: the launcher never
imports torch, and it replaces itself with Streamlit (see explorer/cli/commands/app.py).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import NoReturn

from explorer.cli import commands
from explorer.core.errors import ExplorerError, UnknownArchitectureError
from explorer.core.gc_settings import settle_after_imports


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line `error: ...` (exit 2), not usage + message."""

    def error(self, message: str) -> NoReturn:
        if len(message) > 300:  # argparse echoes the argument: a 5,000-digit one stays short
            message = f"{message[:200]}…{message[-60:]}"
        self.exit(2, f"error: {self.prog.removeprefix('explorer ')}: {message}\n")


def _command_modules(only: str | None = None) -> list[ModuleType]:
    if only is not None:
        return [importlib.import_module(f"explorer.cli.commands.{only}")]
    found = []
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        found.append(importlib.import_module(f"explorer.cli.commands.{info.name}"))
    return found


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="explorer",
        description="CNN Architecture Explorer: see inside a convolutional network.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in _command_modules(only):
        p = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    is_app = bool(args_list) and args_list[0] == "app"
    parser = build_parser("app" if is_app else None)
    if not is_app:
        # Everything imported so far lives for the whole process (explorer.core.gc_settings; the
        # app does the same in components/).
        settle_after_imports()
    args = parser.parse_args(args_list)
    try:
        return int(args._run(args) or 0)
    except ExplorerError as exc:
        unknown = isinstance(exc, UnknownArchitectureError)
        see_all = " Run `explorer list` to see all." if unknown else ""
        print(f"error: {_one_line(str(exc))}{see_all}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `explorer summary vgg16 | head`
        return 0


def _one_line(message: str) -> str:
    return " ".join(message.split())

