"""CNN Architecture Explorer: per-layer shapes, parameters and multiply-adds of any CNN."""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

from explorer.errors import (
    ExplorerError,
    ImageError,
    InputSizeError,
    InputTooSmallError,
    SpecError,
    UnknownArchitectureError,
    WeightsError,
)

if TYPE_CHECKING:
    from explorer.architectures import ArchSpec, families, get, names, resolve, search
    from explorer.building import build_meta, build_model
    from explorer.images import decode_image
    from explorer.inputs import Signature
    from explorer.meta_limits import MetaTraceError
    from explorer.notebook import summary
    from explorer.trace import LayerRecord, Trace, trace

# The rest of the public names are imported on first use (PEP 562), so that `explorer app`
# can start Streamlit without importing torch in the launcher.
_LAZY = {
    "ArchSpec": "explorer.architectures",
    "families": "explorer.architectures",
    "get": "explorer.architectures",
    "names": "explorer.architectures",
    "resolve": "explorer.architectures",
    "search": "explorer.architectures",
    "build_meta": "explorer.building",
    "build_model": "explorer.building",
    "decode_image": "explorer.images",
    "Signature": "explorer.inputs",
    "MetaTraceError": "explorer.meta_limits",
    "summary": "explorer.notebook",
    "LayerRecord": "explorer.trace",
    "Trace": "explorer.trace",
    "trace": "explorer.trace",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'explorer' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


class _Package(types.ModuleType):
    """`explorer.trace` stays the function once the submodule of that name is imported (the
    import system would otherwise bind the submodule over it, as the eager import used to
    prevent by importing the function last)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _LAZY and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

__version__ = "0.1.0"

__all__ = [
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
    "build_meta",
    "build_model",
    "decode_image",
    "families",
    "get",
    "names",
    "resolve",
    "search",
    "summary",
    "trace",
]
