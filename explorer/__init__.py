"""CNN Architecture Explorer: per-layer shapes, parameters and multiply-adds of any CNN."""

from __future__ import annotations

from explorer.architectures import ArchSpec, families, get, names, resolve
from explorer.building import build_meta, build_model
from explorer.errors import (
    ExplorerError,
    ImageError,
    InputSizeError,
    InputTooSmallError,
    SpecError,
    UnknownArchitectureError,
    WeightsError,
)
from explorer.images import decode_image
from explorer.trace import LayerRecord, Trace, trace

__version__ = "0.1.0"

__all__ = [
    "ArchSpec",
    "ExplorerError",
    "ImageError",
    "InputSizeError",
    "InputTooSmallError",
    "LayerRecord",
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
    "trace",
]
