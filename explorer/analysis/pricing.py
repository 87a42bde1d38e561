"""Budgets: how much work one request may ask for, estimated before anything runs.

The server is shared by a lecture hall, so everything a user controls (a typed layer stack, an
input size, a batch, the residual experiment's depths and epochs, transfer-learning training)
is priced first and refused over its limit with one sentence that names the number and the
limit (`BudgetError`). Prices come from a meta-device trace (explorer.trace: no weights, no
arithmetic), so estimating a 100-GB network costs nothing.

A plain module: named constants, the `Cost` of a request, and one `check_*` per kind of work.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from explorer.errors import BudgetError

if TYPE_CHECKING:
    from explorer.trace import Trace

FLOAT32 = 4  # bytes per weight and activation value
GB = 10**9  # messages use decimal gigabytes, as the README and the issue do

# --- Real builds and forward passes (predictions, ten-crop, transfer features) ---------------
#: Weights a typed layer stack (or any user-made network) may allocate for real: 250M float32
#: parameters, more than VGG-16's 138M. Catalog networks are a fixed, vetted list.
REAL_MAX_PARAM_BYTES = 1_000_000_000
#: Activation memory of one forward pass (largest layer's input + output, batch included).
FORWARD_MAX_BYTES = 1_000_000_000
#: Multiply-accumulates of one forward pass, batch included (ten-crop of VGG-19: 196 G).
FORWARD_MAX_MACS = 10**12
#: Images in one batched forward pass (predict_many, feature extraction chunks).
FORWARD_MAX_BATCH = 256

# --- Traces (meta device: no weight memory, but the numbers must stay meaningful) ------------
#: Parameters a typed layer stack may describe at all (traced on meta, never allocated).
STACK_MAX_PARAMS = 2_000_000_000
#: Batch size of a trace, and the largest input side / channel count of a trace.
TRACE_MAX_BATCH = 1_000_000
TRACE_MAX_SIDE = 8_192
TRACE_MAX_CHANNELS = 4_096

# --- The residual experiment -------------------------------------------------------------
#: Deepest network (6n+2 layers): the paper's 110-layer CIFAR net.
RESIDUAL_MAX_DEPTH = 110
RESIDUAL_MAX_EPOCHS = 100
#: Sum of the chosen depths × epochs: the page's largest setting (all six depths, 40 epochs)
#: is 174 × 40 = 6,960. The default (8 + 20 + 56) × 10 = 840 takes about 35 s on one core.
RESIDUAL_MAX_LAYER_EPOCHS = 7_000

# --- Transfer learning ---------------------------------------------------------------------
TRANSFER_MAX_IMAGES = 500  # images whose features are computed in one request
TRANSFER_MAX_STEPS = 2_000  # optimiser steps for a new head
TRANSFER_MAX_FEATURE_VALUES = 50_000_000  # examples × feature size of the training set (200 MB)


def gigabytes(n_bytes: int | float) -> str:
    """7_920_476_000 -> '7.9 GB'; small numbers keep a significant digit ('0.004 GB')."""
    value = n_bytes / GB
    return f"{value:,.1f} GB" if value >= 0.1 else f"{value:.2g} GB"


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
    from explorer.trace import trace

    return cost_of(trace(arch, input_size=input_size, batch_size=batch_size))


def check_param_bytes(n_params: int, what: str, limit: int = REAL_MAX_PARAM_BYTES) -> None:
    n_bytes = n_params * FLOAT32
    if n_bytes > limit:
        raise BudgetError(
            f"{what} needs {gigabytes(n_bytes)} of weights ({n_params:,} parameters × 4 "
            f"bytes); the limit for a real build is {gigabytes(limit)}."
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
            f"One forward pass of {what} {at} needs {gigabytes(cost.peak_forward_bytes)} of "
            f"activations; the limit is {gigabytes(FORWARD_MAX_BYTES)}."
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


def check_trace_request(input_size: Sequence[int] | None, batch_size: int) -> None:
    """Bounds of a trace's input: batch, sides and channels (a meta trace allocates nothing,
    but a 10^19 batch would overflow the element counts)."""
    if not 1 <= batch_size <= TRACE_MAX_BATCH:
        raise BudgetError(
            f"The batch size is {batch_size:,}; it must be between 1 and {TRACE_MAX_BATCH:,}."
        )
    if input_size is None:
        return
    c, *sides = (int(v) for v in input_size)
    if c > TRACE_MAX_CHANNELS:
        raise BudgetError(f"The input has {c:,} channels; the limit is {TRACE_MAX_CHANNELS:,}.")
    for side in sides:
        if side > TRACE_MAX_SIDE:
            raise BudgetError(
                f"The input is {side:,} pixels on a side; the limit is {TRACE_MAX_SIDE:,}."
            )


def check_residual(depths: Sequence[int], epochs: int) -> None:
    """The residual experiment's depths and epochs (validity of 6n+2 is checked there)."""
    deepest = max(depths, default=0)
    if deepest > RESIDUAL_MAX_DEPTH:
        raise BudgetError(
            f"A {deepest}-layer network is deeper than the limit of {RESIDUAL_MAX_DEPTH} layers."
        )
    if epochs > RESIDUAL_MAX_EPOCHS:
        raise BudgetError(f"{epochs} epochs is more than the limit of {RESIDUAL_MAX_EPOCHS}.")
    work = sum(depths) * epochs
    if work > RESIDUAL_MAX_LAYER_EPOCHS:
        raise BudgetError(
            f"Depths {' + '.join(map(str, depths))} for {epochs} epochs is {work:,} "
            f"layer-epochs of training; the limit is {RESIDUAL_MAX_LAYER_EPOCHS:,}."
        )


def check_transfer_images(n_images: int) -> None:
    if n_images > TRANSFER_MAX_IMAGES:
        raise BudgetError(
            f"{n_images:,} images is more than the {TRANSFER_MAX_IMAGES:,} whose features "
            "one request may compute."
        )


def check_transfer_training(n_examples: int, n_features: int, steps: int) -> None:
    if not 1 <= steps <= TRANSFER_MAX_STEPS:
        raise BudgetError(
            f"{steps:,} training steps is outside the allowed 1 to {TRANSFER_MAX_STEPS:,}."
        )
    values = n_examples * n_features
    if values > TRANSFER_MAX_FEATURE_VALUES:
        raise BudgetError(
            f"{n_examples:,} examples × {n_features:,} features is {values:,} values; the "
            f"limit for training a new head is {TRANSFER_MAX_FEATURE_VALUES:,}."
        )
