"""Real builds of a catalog entry or a typed stack, with random weights (explorer.weights
loads trained ones into them).

A user-made network is priced first (explorer.analysis.pricing, on meta): a typed stack over
budget is refused with BudgetError before any weight is allocated.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from explorer.analysis import pricing
from explorer.catalog import ArchSpec, resolve
from explorer.catalog.custom import PREDICTION_BATCH
from explorer.core.rng import LocalGenerator

__all__ = ["build_model", "price_real_build"]


def price_real_build(spec: ArchSpec) -> None:
    """A typed stack is user-made: its weights and a prediction's forward pass (a ten-crop
    for an image, a batch of PREDICTION_BATCH otherwise) are priced on meta before it is
    built for real. Catalog networks are a fixed, vetted list."""
    if spec.source != "custom":
        return
    why = " (a ten-crop prediction)" if not spec.inputs else f" (a batch of {PREDICTION_BATCH})"
    pricing.check_real_build(spec, batch_size=PREDICTION_BATCH, why=why)


def build_model(
    arch: str | ArchSpec,
    *,
    device: str | torch.device = "cpu",
    generator: torch.Generator | None = None,
    **kwargs: Any,
) -> nn.Module:
    """A real, randomly initialised model (weights are loaded by explorer.weights).

    With a `generator`, every random number of the initialisation is drawn from it, never from
    the global RNG (two sessions building at once must not share one random stream): the
    builder runs as it is, its draws handed to the generator (explorer.core.rng), so the
    weights are exactly those of a default build after seeding the global RNG with s, for a
    generator seeded with s, whatever initialisation the builder does (a ViT's class token,
    ConvNeXt's layer scale)."""
    spec = arch if isinstance(arch, ArchSpec) else resolve(arch)
    price_real_build(spec)
    if generator is None:
        model = spec.builder(**kwargs)
    else:
        with LocalGenerator(generator):
            model = spec.builder(**kwargs)
    return model.to(device).eval()
