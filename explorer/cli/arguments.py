"""argparse types for the command line's numbers and paths: a bad value ends as one line
`error: ...` and exit status 2 (argparse's own path), never as a traceback later on.

Each type states its range, from explorer.core.limits where the number is a budget.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path

from explorer.core import limits
from explorer.core.safe_io import OutputPathError, output_path


def int_in(low: int, high: int, what: str = "a whole number") -> Callable[[str], int]:
    """An int parser accepting low … high (inclusive)."""

    def parse(text: str) -> int:
        digits = text.strip().replace("_", "")
        if len(digits.lstrip("+-")) > limits.NUMBER_MAX_DIGITS:
            raise argparse.ArgumentTypeError(
                f"a {len(digits):,}-character number is outside {low:,} … {high:,}"
            )
        try:
            value = int(digits, 10)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text[:40]!r} is not {what}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text} is outside {low:,} … {high:,}")
        return value

    parse.__name__ = "integer"  # argparse names the type in its messages
    return parse


def float_in(low: float, high: float, *, low_open: bool = False) -> Callable[[str], float]:
    """A finite float parser accepting low … high (low excluded with low_open)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        below = value <= low if low_open else value < low
        if not math.isfinite(value) or below or value > high:
            bracket = "(" if low_open else "["
            raise argparse.ArgumentTypeError(f"{text} is outside {bracket}{low:g}, {high:g}]")
        return value

    parse.__name__ = "number"
    return parse


seed = int_in(0, limits.CLI_MAX_SEED, "a whole-number seed")
trace_batch = int_in(1, limits.TRACE_MAX_BATCH)  # a trace runs on meta: no memory per sample
batch_size = int_in(2, limits.CLI_MAX_BATCH)  # training: BatchNorm needs two samples
epochs = int_in(1, limits.CLI_MAX_EPOCHS)
residual_epochs = int_in(1, limits.RESIDUAL_MAX_EPOCHS)
residual_depth = int_in(2, limits.RESIDUAL_MAX_DEPTH)
port = int_in(1, 65535, "a port number")
learning_rate = float_in(0.0, limits.CLI_MAX_LR, low_open=True)


def output_file(*suffixes: str) -> Callable[[str], Path]:
    """An output path: not a folder, in a folder that exists, with one of `suffixes`."""

    def parse(text: str) -> Path:
        try:
            return output_path(text, suffixes=suffixes)
        except OutputPathError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = "output file"
    return parse
