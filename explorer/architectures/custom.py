"""Typed layer stacks: 'input 32x32x1 | conv 6 5x5 | avgpool 2 | fc 10' -> nn.Sequential."""

from __future__ import annotations

from explorer.architectures.registry import ArchSpec


def looks_like_spec(text: str) -> bool:
    """True when `text` is a layer-stack spec rather than a catalog name."""
    t = text.strip().lower()
    return "|" in t or t.startswith("input ")


def spec_from_text(text: str) -> ArchSpec:  # pragma: no cover - replaced by the catalog work
    raise NotImplementedError
