"""The catalog: one registry of architectures, built by name (mirrors torchvision's `_api`).

The registry only stores specs. Where they come from is a list of *sources* (a name and a
loader) that `explorer.catalog` adds at import: our paper-faithful families, every
torchvision classifier, every timm model. A source is loaded the first time the catalog is
read; a source with a name prefix (timm's `timm/`) is loaded only when a name with that prefix
is asked for or the whole catalog is listed, so `get("resnet50")` never imports timm. The
registry imports none of its sources (no import circle). Names are a public contract.
"""

from __future__ import annotations

import difflib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from explorer.core.errors import UnknownArchitectureError

Builder = Callable[..., nn.Module]

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
    # A source counting MACs its own way (timm: "fvcore"): explorer.catalog.published then also
    # shows
    # our total under that convention (architectures.timm_models.CONVENTIONS), which explains
    # the difference when it agrees.
    macs_convention: str = ""
    extra: tuple[
        tuple[str, str], ...
    ] = ()  # other published facts, e.g. ("ImageNet top-1", "69.8")
    top1: float | None = None  # ImageNet-1K top-1 accuracy, %, where the source gives it


@dataclass(frozen=True)
class ArchSpec:
    """One catalog entry. `builder(**kwargs)` returns a fresh, untrained nn.Module."""

    name: str
    family: str  # grouping shown in the UI: "LeNet", "AlexNet", "VGG", "ResNet", ...
    title: str  # human title, e.g. "VGG-16 (configuration D)"
    builder: Builder = field(repr=False, compare=False)
    input_size: tuple[int, int, int] = (3, 224, 224)  # (C, H, W)
    # A network that takes no image (a typed stack on features, a sequence, a volume or
    # tokens): its input signature at batch 1 in explorer.core.inputs text ("1x784", "1x16:int64"),
    # which trace() uses instead of input_size; "" for an image network.
    inputs: str = ""
    num_classes: int = 1000
    paper: str = ""  # citation: authors, title, venue, year
    url: str = ""
    year: int | None = None
    notes: str = ""  # markdown: what the lecture says is special about it
    source: str = "explorer"  # "explorer" (paper-faithful, ours), "torchvision", "custom"
    weights: Any = field(default=None, repr=False, compare=False)  # torchvision WeightsEnum class
    pretrained: str = ""  # timm: the default pretrained tag (e.g. "a1_in1k"); "" when none
    published: Published | None = None
    tags: tuple[str, ...] = ()

    def build(self, **kwargs: Any) -> nn.Module:
        """A fresh model on the current default device (use explorer.build for meta/cpu)."""
        return self.builder(**kwargs)


@dataclass
class _Source:
    name: str
    load: Callable[[], None]
    prefix: str  # "" = loaded with the catalog; else only when a name with it is needed
    loaded: bool = False


_REGISTRY: dict[str, ArchSpec] = {}
_SOURCES: list[_Source] = []
_LOCK = threading.RLock()


def register(spec: ArchSpec) -> ArchSpec:
    """Add a spec; a second spec under the same name is a bug and raises."""
    with _LOCK:
        if spec.name in _REGISTRY:
            raise ValueError(f"architecture {spec.name!r} is registered twice")
        _REGISTRY[spec.name] = spec
    return spec


def add_source(name: str, load: Callable[[], None], prefix: str = "") -> None:
    """Register a loader of specs; sources load in the order they were added."""
    with _LOCK:
        _SOURCES.append(_Source(name, load, prefix))


def _ensure_loaded(name: str | None = None, everything: bool = False) -> None:
    """Load the sources a lookup needs: the eager ones, plus a lazy one whose prefix `name`
    has (or every lazy one when `everything`)."""
    pending = [
        s
        for s in _SOURCES
        if not s.loaded
        and (
            not s.prefix or everything or (name is not None and name.startswith(s.prefix))
        )
    ]
    if not pending:
        return
    with _LOCK:
        for source in pending:
            if not source.loaded:
                source.load()
                source.loaded = True


def get(name: str) -> ArchSpec:
    """The spec registered under `name`; unknown names suggest the closest ones."""
    _ensure_loaded(name)
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownArchitectureError(name, suggest(name)) from None


def known(name: str) -> bool:
    """`name` is a catalog entry (checked without working out suggestions, as `get` would)."""
    _ensure_loaded(name)
    return name in _REGISTRY


def is_registered(spec: ArchSpec) -> bool:
    """True for the catalog's own entry (not a layer stack or a spec built on the fly)."""
    _ensure_loaded(spec.name)
    return _REGISTRY.get(spec.name) is spec


def suggest(name: str, n: int = 5) -> list[str]:
    """The closest catalog names: an exact name under a source's prefix first (`resnet50d` ->
    `timm/resnet50d`), then close spellings, then names containing what was typed."""
    _ensure_loaded(everything=True)
    key = name.strip().lower()
    pool = list(_REGISTRY)
    prefixed_exact = [s.prefix + key for s in _SOURCES if s.prefix and s.prefix + key in pool]
    close = difflib.get_close_matches(key, pool, n=n, cutoff=0.6)
    contains = sorted(k for k in pool if key and key in k)
    out: list[str] = []
    for k in prefixed_exact + close + contains:
        if k not in out:
            out.append(k)
    return out[:n]


def search(query: str, names_: list[str] | None = None) -> list[str]:
    """Names matching every word of `query` (case-insensitive, in the name, family or title),
    in catalog order: what the CLI's `--search` and the app's picker use."""
    words = query.lower().split()
    pool = names_ if names_ is not None else names()
    if not words:
        return list(pool)
    out = []
    for n in pool:
        spec = _REGISTRY[n]
        text = f"{n} {spec.family} {spec.title}".lower()
        if all(w in text for w in words):
            out.append(n)
    # Names that start with the first word come first ("vit" before "maxvit"), order kept.
    return sorted(out, key=lambda n: not n.split("/")[-1].startswith(words[0]))


def names(family: str | None = None) -> list[str]:
    """All registered names in registration order (ours first), optionally of one family."""
    _ensure_loaded(everything=True)
    return [k for k, s in _REGISTRY.items() if family is None or s.family == family]


def specs() -> Iterator[ArchSpec]:
    _ensure_loaded(everything=True)
    return iter(list(_REGISTRY.values()))


def families() -> dict[str, list[str]]:
    """Family -> names, families in first-registration order (for grouped select boxes)."""
    out: dict[str, list[str]] = {}
    for spec in specs():
        out.setdefault(spec.family, []).append(spec.name)
    return out
