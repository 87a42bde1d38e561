"""The architecture catalog (see registry.py)."""

from __future__ import annotations

from explorer.architectures import custom
from explorer.architectures.registry import (
    ArchSpec,
    Published,
    PublishedModule,
    families,
    get,
    names,
    register,
    specs,
    suggest,
)


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
    "specs",
    "suggest",
]
