"""Meta models of catalog entries and typed stacks: built on the meta device, kept for re-tracing.

The meta build itself is explorer.engine.building's (an empty-weights mode, per thread); here a
name or spec is resolved and the meta models of catalog entries are kept.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from torch import nn

from explorer.catalog import ArchSpec, resolve
from explorer.catalog.registry import is_registered
from explorer.engine.building import build_on_meta

__all__ = ["borrowed_meta_model", "build_meta"]


def build_meta(arch: str | ArchSpec, **kwargs: Any) -> nn.Module:
    """The architecture with every parameter and buffer on the meta device, in eval mode."""
    spec = arch if isinstance(arch, ArchSpec) else resolve(arch)  # a name: resolved here, once
    return build_on_meta(spec.builder, **kwargs)


# Meta models of catalog architectures, kept for re-tracing (another input size or batch is a
# new trace of the same model; finished analyses are cached too). One is about 1-3 MB and
# ~10,000 Python objects, and every full garbage collection walks all of them, pausing every
# thread: with 32 models kept, a walk through the timm catalog spent 18% of its time in 90 ms
# collections; with 8, a quarter of that. Each has its own lock: a trace adds hooks to the
# model, so two threads never trace the same model at once.
META_CACHE_SIZE = 8
_meta_cache: OrderedDict[str, tuple[nn.Module, threading.Lock]] = OrderedDict()
_meta_cache_lock = threading.Lock()


@contextmanager
def borrowed_meta_model(arch: str | ArchSpec) -> Iterator[nn.Module]:
    """A meta model of `arch`, held exclusively while the block runs; cached for catalog
    entries, built fresh for anything else (layer stacks, unregistered specs)."""
    spec = arch if isinstance(arch, ArchSpec) else resolve(arch)
    if not is_registered(spec):
        yield build_meta(spec)
        return
    with _meta_cache_lock:
        entry = _meta_cache.get(spec.name)
        if entry is not None:
            _meta_cache.move_to_end(spec.name)
    if entry is None:
        built = (build_meta(spec), threading.Lock())
        with _meta_cache_lock:
            entry = _meta_cache.setdefault(spec.name, built)
            while len(_meta_cache) > META_CACHE_SIZE:
                _meta_cache.popitem(last=False)
    model, lock = entry
    with lock:
        yield model
