"""A layer's hyper-parameters (kernel_size, stride, ...) as plain values, and their wording."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

_HYPER_ATTRS = (
    "in_channels",
    "out_channels",
    "kernel_size",
    "stride",
    "padding",
    "dilation",
    "groups",
    "in_features",
    "out_features",
    "num_features",
    "output_size",
    "ceil_mode",
    "size",
    "alpha",
    "beta",
    "k",
    "p",
    "start_dim",
    "embed_dim",
    "num_heads",
    "hidden_size",
    "num_layers",
    "num_embeddings",
    "embedding_dim",
)


def plain_value(value: Any) -> Any:
    """Hyper-parameter values as plain ints/floats/strings/tuples (JSON- and cache-friendly)."""
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    if isinstance(value, tuple | list):
        return tuple(plain_value(v) for v in value)
    return str(value)


def module_hyper(module: nn.Module) -> dict[str, Any]:
    """A layer's hyper-parameters (kernel_size, stride, ...) as plain values."""
    out: dict[str, Any] = {}
    attrs = vars(module)
    for attr in _HYPER_ATTRS:
        value = attrs.get(attr)
        if value is None or isinstance(value, nn.Module | torch.Tensor) or callable(value):
            continue
        out[attr] = plain_value(value)
    if "bias" in module._parameters:
        out["bias"] = module._parameters["bias"] is not None
    return out


def describe(hyper: dict[str, Any]) -> str:
    """'kernel 3, stride 2, padding 1' from a layer's hyper-parameters."""
    keys = ("kernel_size", "stride", "padding", "dilation", "output_size")
    parts = [f"{k.replace('_size', '')} {_fmt(hyper[k])}" for k in keys if k in hyper]
    return ", ".join(parts)


def _fmt(value: Any) -> str:
    if isinstance(value, tuple) and len(set(value)) == 1:
        value = value[0]
    if isinstance(value, tuple):
        return "×".join(str(v) for v in value)
    return str(value)
