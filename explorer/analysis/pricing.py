"""Pricing: what a network costs to build and run, estimated on meta before anything runs.

The server is shared by a lecture hall, so everything a user controls (a typed layer stack, an
input size, a batch, the residual experiment's depths and epochs, transfer-learning training)
is priced first and refused over its limit with one sentence that names the number and the
limit (`BudgetError`). Prices come from a meta-device trace (explorer.analysis.trace: no weights, no
arithmetic), so estimating a 100-GB network costs nothing.

The `Cost` of a request, read from a meta trace, and the checks that compare it with the
limits (explorer.core.limits, the one place for the numbers).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from explorer.core.errors import BudgetError
from explorer.core.limits import (
    FLOAT32,
    FORWARD_MAX_BATCH,
    FORWARD_MAX_BYTES,
    FORWARD_MAX_MACS,
    REAL_MAX_PARAM_BYTES,
)
from explorer.core.units import format_bytes

if TYPE_CHECKING:
    from explorer.analysis.trace import Trace


def _giga(n: int | float) -> str:
    return f"{n / 1e9:,.1f} G" if n >= 1e8 else f"{int(n):,}"


@dataclass(frozen=True)
class Cost:
    """What running a network on a batch costs, read from its meta trace."""

    params: int
    param_bytes: int  # float32 weights and buffers
    activation_bytes: int  # every leaf module's output kept (what training holds for backward)
    peak_forward_bytes: int  # the largest layer's inputs + output (what inference holds)
    macs: int
    batch_size: int


def cost_of(t: Trace) -> Cost:
    """The cost of the forward pass a trace describes (its batch size included)."""
    peak = t.input_bytes
    for record in t.leaves():
        inputs = sum(math.prod(s) for s in record.input_shapes)
        peak = max(peak, (inputs + math.prod(record.output_shape or ())) * FLOAT32)
    return Cost(
        params=t.total_params,
        param_bytes=t.param_bytes,
        activation_bytes=t.activation_bytes,
        peak_forward_bytes=peak,
        macs=t.total_macs,
        batch_size=int(t.input_shape[0]) if t.input_shape else 1,
    )


def estimate(arch: Any, input_size: Any = None, batch_size: int = 1) -> Cost:
    """The cost of `arch` (a name, a typed stack, an ArchSpec or a module) on a batch, from a
    meta-device trace: nothing is allocated."""
    from explorer.analysis.trace import trace

    return cost_of(trace(arch, input_size=input_size, batch_size=batch_size))


def check_param_bytes(n_params: int, what: str, limit: int = REAL_MAX_PARAM_BYTES) -> None:
    n_bytes = n_params * FLOAT32
    if n_bytes > limit:
        raise BudgetError(
            f"{what} needs {format_bytes(n_bytes)} of weights ({n_params:,} parameters × 4 "
            f"bytes); the limit for a real build is {format_bytes(limit)}."
        )


def check_forward(cost: Cost, what: str, why: str = "") -> Cost:
    """Refuse a real forward pass whose activations, MACs or batch are over budget; `why`
    explains the batch (" (a ten-crop prediction)")."""
    n = cost.batch_size
    if n > FORWARD_MAX_BATCH:
        raise BudgetError(
            f"{what} was asked to run {n:,} images at once; the limit is {FORWARD_MAX_BATCH:,}."
        )
    at = (f"at batch {n}" if n != 1 else "on one image") + why
    if cost.peak_forward_bytes > FORWARD_MAX_BYTES:
        raise BudgetError(
            f"One forward pass of {what} {at} needs {format_bytes(cost.peak_forward_bytes)} of "
            f"activations; the limit is {format_bytes(FORWARD_MAX_BYTES)}."
        )
    if cost.macs > FORWARD_MAX_MACS:
        raise BudgetError(
            f"One forward pass of {what} {at} needs {_giga(cost.macs)} multiply-accumulates; "
            f"the limit is {_giga(FORWARD_MAX_MACS)}."
        )
    return cost


def check_real_build(
    arch: Any,
    input_size: Any = None,
    batch_size: int = 1,
    *,
    user_made: bool = True,
    why: str = "",
) -> Cost:
    """Price a real build and its forward pass before any weight is allocated.

    `user_made` networks (typed stacks, modules) are held to REAL_MAX_PARAM_BYTES; catalog
    networks are a fixed list and only their forward pass is checked."""
    cost = estimate(arch, input_size, batch_size)
    what = _label(arch)
    if user_made:
        check_param_bytes(cost.params, what)
    return check_forward(cost, what, why)


def _label(arch: Any) -> str:
    name = getattr(arch, "name", None)
    text = str(name if isinstance(name, str) else arch if isinstance(arch, str) else "")
    if not text:
        return f"the {type(arch).__name__} network"
    return f"'{text[:60]}…'" if len(text) > 60 else f"'{text}'"
