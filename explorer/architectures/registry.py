"""The catalog: one registry of architectures, built by name (mirrors torchvision's `_api`).

Paper-faithful families register themselves when their module is imported; every torchvision
classification model is registered automatically. Names are a public contract.
"""

from __future__ import annotations

import difflib
import importlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from explorer.errors import UnknownArchitectureError

Builder = Callable[..., nn.Module]

# Our own families, imported (and so registered) on first use of the catalog, in this order.
FAMILY_MODULES = ("lenet", "alexnet", "vgg", "resnet", "inception", "blocks")


@dataclass(frozen=True)
class PublishedModule:
    """A figure that a paper publishes for one named module (e.g. GoogLeNet's Table 1 rows)."""

    name: str  # module path in our model, e.g. "inception3a"
    params: int | None = None
    macs: int | None = None
    params_tolerance: int = 0  # absolute; how the source rounds (e.g. "159K" -> 1024)
    macs_tolerance: int = 0
    note: str = ""  # e.g. a known erratum in the source


@dataclass(frozen=True)
class Published:
    """Figures published for a whole network, with how precisely they were published."""

    source: str  # "Simonyan & Zisserman 2015, Table 2" or "torchvision weights metadata"
    params: int | None = None
    macs: int | None = None
    params_tolerance: int = 0  # absolute: 500_000 for a figure printed as "138M"
    macs_tolerance: int = 0
    modules: tuple[PublishedModule, ...] = ()
    note: str = ""
    extra: tuple[
        tuple[str, str], ...
    ] = ()  # other published facts, e.g. ("ImageNet top-1", "69.8")


@dataclass(frozen=True)
class ArchSpec:
    """One catalog entry. `builder(**kwargs)` returns a fresh, untrained nn.Module."""

    name: str
    family: str  # grouping shown in the UI: "LeNet", "AlexNet", "VGG", "ResNet", ...
    title: str  # human title, e.g. "VGG-16 (configuration D)"
    builder: Builder = field(repr=False, compare=False)
    input_size: tuple[int, int, int] = (3, 224, 224)  # (C, H, W)
    num_classes: int = 1000
    paper: str = ""  # citation: authors, title, venue, year
    url: str = ""
    year: int | None = None
    notes: str = ""  # markdown: what the lecture says is special about it
    source: str = "explorer"  # "explorer" (paper-faithful, ours), "torchvision", "custom"
    weights: Any = field(default=None, repr=False, compare=False)  # torchvision WeightsEnum class
    published: Published | None = None
    tags: tuple[str, ...] = ()

    def build(self, **kwargs: Any) -> nn.Module:
        """A fresh model on the current default device (use explorer.build for meta/cpu)."""
        return self.builder(**kwargs)


_REGISTRY: dict[str, ArchSpec] = {}
_LOCK = threading.RLock()
_loaded = False


def register(spec: ArchSpec) -> ArchSpec:
    """Add a spec; a second spec under the same name is a bug and raises."""
    with _LOCK:
        if spec.name in _REGISTRY:
            raise ValueError(f"architecture {spec.name!r} is registered twice")
        _REGISTRY[spec.name] = spec
    return spec


def _ensure_loaded() -> None:
    global _loaded
    if _loaded:
        return
    with _LOCK:
        if _loaded:
            return
        for module in FAMILY_MODULES:
            importlib.import_module(f"explorer.architectures.{module}")
        from explorer.architectures import tv  # torchvision last: our names win on a clash

        tv.register_all()
        _loaded = True


def get(name: str) -> ArchSpec:
    """The spec registered under `name`; unknown names suggest the closest ones."""
    _ensure_loaded()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownArchitectureError(name, suggest(name)) from None


def is_registered(spec: ArchSpec) -> bool:
    """True for the catalog's own entry (not a layer stack or a spec built on the fly)."""
    _ensure_loaded()
    return _REGISTRY.get(spec.name) is spec


def suggest(name: str, n: int = 5) -> list[str]:
    _ensure_loaded()
    key = name.strip().lower()
    pool = list(_REGISTRY)
    close = difflib.get_close_matches(key, pool, n=n, cutoff=0.6)
    prefixed = [k for k in pool if key and (k.startswith(key) or key in k) and k not in close]
    return (close + sorted(prefixed))[:n]


def names(family: str | None = None) -> list[str]:
    """All registered names in registration order (ours first), optionally of one family."""
    _ensure_loaded()
    return [k for k, s in _REGISTRY.items() if family is None or s.family == family]


def specs() -> Iterator[ArchSpec]:
    _ensure_loaded()
    return iter(list(_REGISTRY.values()))


def families() -> dict[str, list[str]]:
    """Family -> names, families in first-registration order (for grouped select boxes)."""
    out: dict[str, list[str]] = {}
    for spec in specs():
        out.setdefault(spec.family, []).append(spec.name)
    return out
