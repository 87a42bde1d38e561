"""CNN Architecture Explorer: per-layer shapes, parameters and multiply-adds of any CNN."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from explorer.core.errors import (
    ExplorerError,
    ImageError,
    InputSizeError,
    InputTooSmallError,
    SpecError,
    UnknownArchitectureError,
    WeightsError,
)

if TYPE_CHECKING:
    from explorer.analysis.analysis import Analysis, analyse
    from explorer.analysis.building import build_model
    from explorer.analysis.meta_models import build_meta
    from explorer.analysis.notebook import summary
    from explorer.analysis.trace import trace
    from explorer.catalog import ArchSpec, families, get, names, resolve, search
    from explorer.core.gc_settings import settle_after_imports
    from explorer.core.images import decode_image
    from explorer.core.inputs import Signature
    from explorer.core.records import LayerRecord, Trace
    from explorer.engine.meta_limits import MetaTraceError

# The rest of the public names are imported on first use (PEP 562), so that `explorer app`
# can start Streamlit without importing torch in the launcher.
_LAZY = {
    "ArchSpec": "explorer.catalog",
    "families": "explorer.catalog",
    "get": "explorer.catalog",
    "names": "explorer.catalog",
    "resolve": "explorer.catalog",
    "search": "explorer.catalog",
    "build_meta": "explorer.analysis.meta_models",
    "build_model": "explorer.analysis.building",
    "decode_image": "explorer.core.images",
    "Signature": "explorer.core.inputs",
    "MetaTraceError": "explorer.engine.meta_limits",
    "summary": "explorer.analysis.notebook",
    "LayerRecord": "explorer.core.records",
    "Trace": "explorer.core.records",
    "Analysis": "explorer.analysis.analysis",
    "analyse": "explorer.analysis.analysis",
    "trace": "explorer.analysis.trace",
    "settle_after_imports": "explorer.core.gc_settings",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'explorer' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


__version__ = "0.1.0"

__all__ = [
    "Analysis",
    "ArchSpec",
    "ExplorerError",
    "ImageError",
    "InputSizeError",
    "InputTooSmallError",
    "LayerRecord",
    "MetaTraceError",
    "Signature",
    "SpecError",
    "Trace",
    "UnknownArchitectureError",
    "WeightsError",
    "__version__",
    "analyse",
    "build_meta",
    "build_model",
    "decode_image",
    "families",
    "get",
    "names",
    "resolve",
    "search",
    "settle_after_imports",
    "summary",
    "trace",
]
