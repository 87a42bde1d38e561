"""What kind of layer a module is: the one function that decides it, from the class name alone,
so a record, a graph node and a page all agree ("conv", "pool", "norm", "linear", "act",
"attention", "dropout", "flatten", "block" for a container, "other")."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

KINDS = ("conv", "pool", "norm", "linear", "attention", "dropout", "flatten", "act", "block",
         "other")  # fmt: skip


def kind_of(type_name: str, is_leaf: bool = True) -> str:
    """The kind of a module, from its class name: the colour group of its diagram box, the
    rows of the shape chart, the layer table's Kind column. A container is a "block" (a
    torchvision Conv2dNormActivation, timm's ConvNormAct: conv + norm + activation inside)."""
    t = type_name.lower()
    if "conv" in t:
        return "conv" if is_leaf else "block"
    if "pool" in t:
        return "pool"
    if "norm" in t:
        return "norm"
    if t in ("linear", "bilinear", "lazylinear"):
        return "linear"
    if "attention" in t:
        return "attention"
    if "dropout" in t:
        return "dropout"
    if t in ("flatten", "unflatten"):
        return "flatten"
    if t in {
        "relu",
        "relu6",
        "tanh",
        "sigmoid",
        "gelu",
        "silu",
        "hardswish",
        "hardsigmoid",
        "softmax",
        "logsoftmax",
        "leakyrelu",
        "elu",
        "prelu",
        "mish",
        "selu",
    }:
        return "act"
    if t in ("identity",):
        return "other"
    return "other" if is_leaf else "block"


def lecture_labels(layers: Iterable[Any]) -> dict[str, str]:
    """The names the lecture writes (CONV1, POOL1, …, FC6) for the leaf layers of a pass, by
    module path, in the order given (the forward pass's): each convolution or fully connected
    layer takes the next number, as the papers number their layers with weights, and a pooling
    layer the number of the layer it follows (LeNet-5: CONV1 POOL1 CONV2 POOL2 FC3 FC4 FC5;
    AlexNet: CONV1 … CONV5 POOL5 FC6 FC7 FC8). `layers` are records with name, kind, is_leaf
    and calls (explorer.core.records.LayerRecord)."""
    labels: dict[str, str] = {}
    number = 0
    for layer in layers:
        if not layer.is_leaf or layer.calls == 0:
            continue
        if layer.kind in ("conv", "linear"):
            number += 1
            labels[layer.name] = f"{'CONV' if layer.kind == 'conv' else 'FC'}{number}"
        elif layer.kind == "pool":
            labels[layer.name] = f"POOL{max(number, 1)}"
    return labels
