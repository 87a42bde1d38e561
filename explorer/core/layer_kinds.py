"""What kind of layer a module is: the one function that decides it, from the class name alone,
so a record, a graph node and a page all agree ("conv", "pool", "norm", "linear", "act",
"attention", "dropout", "flatten", "block" for a container, "other")."""

from __future__ import annotations

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
