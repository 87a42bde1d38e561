"""The architecture catalog (see registry.py).

This package wires the catalog's sources into the registry: our paper-faithful families
first, then every torchvision classifier (our names win on a clash), then every timm model
under `timm/<name>`, loaded only when a timm name or the whole catalog is asked for.
"""

from __future__ import annotations

import importlib

from explorer.catalog import custom, registry
from explorer.catalog.registry import (
    ArchSpec,
    Published,
    PublishedModule,
    families,
    get,
    names,
    register,
    search,
    specs,
    suggest,
)

# Our own families, imported (and so registered) on first use of the catalog, in this order.
FAMILY_MODULES = ("lenet", "alexnet", "vgg", "resnet", "inception", "blocks")


def _load_ours() -> None:
    for module in FAMILY_MODULES:
        importlib.import_module(f"explorer.catalog.{module}")


def _load_torchvision() -> None:
    from explorer.catalog import tv

    tv.register_all()


def _load_timm() -> None:
    from explorer.catalog import timm_models

    timm_models.register_all()


registry.add_source("explorer", _load_ours)
registry.add_source("torchvision", _load_torchvision)
registry.add_source("timm", _load_timm, prefix="timm/")


def resolve(arch: str | ArchSpec) -> ArchSpec:
    """A spec from a catalog name, a typed layer-stack spec, or a spec itself."""
    if isinstance(arch, ArchSpec):
        return arch
    if custom.looks_like_spec(arch):
        return custom.spec_from_text(arch)
    return get(arch.strip())


__all__ = [
    "ArchSpec",
    "Published",
    "PublishedModule",
    "families",
    "get",
    "names",
    "register",
    "resolve",
    "search",
    "specs",
    "suggest",
]
