"""Every torchvision classification model, registered under torchvision's own name.

Each is built the way its DEFAULT weights would build it (googlenet without aux heads, vit
models at their weights' image size, ...) so that our totals can be checked against the
weights' offline metadata (`num_params`, `_ops` in GMACs).
"""

from __future__ import annotations

import functools
from typing import Any

import torchvision
from torchvision.models import get_model, get_model_weights, list_models

from explorer.architectures.registry import _REGISTRY, ArchSpec, Published, register

_FAMILY_PREFIXES = (
    ("alexnet", "AlexNet"),
    ("vgg", "VGG"),
    ("resnext", "ResNeXt"),
    ("wide_resnet", "Wide ResNet"),
    ("resnet", "ResNet"),
    ("googlenet", "Inception"),
    ("inception", "Inception"),
    ("densenet", "DenseNet"),
    ("squeezenet", "SqueezeNet"),
    ("mobilenet", "MobileNet"),
    ("mnasnet", "MnasNet"),
    ("shufflenet", "ShuffleNet"),
    ("efficientnet", "EfficientNet"),
    ("regnet", "RegNet"),
    ("convnext", "ConvNeXt"),
    ("vit", "Vision Transformer"),
    ("swin", "Swin Transformer"),
    ("maxvit", "MaxViT"),
)


def family_of(name: str) -> str:
    for prefix, family in _FAMILY_PREFIXES:
        if name.startswith(prefix):
            return family
    return "Other"


def default_build_kwargs(name: str, weights: Any) -> dict[str, Any]:
    """The keyword arguments torchvision's builder applies when given its DEFAULT weights."""
    kwargs: dict[str, Any] = {}
    if weights is None:
        return kwargs
    meta = weights.meta
    kwargs["num_classes"] = len(meta["categories"])
    if name == "googlenet":
        kwargs.update(aux_logits=False, init_weights=False, transform_input=True)
    elif name == "inception_v3":
        kwargs.update(aux_logits=True, init_weights=False, transform_input=True)
    elif name.startswith("vit_") and "min_size" in meta:
        kwargs["image_size"] = meta["min_size"][0]
    return kwargs


def default_input_size(weights: Any) -> tuple[int, int, int]:
    if weights is None:
        return (3, 224, 224)
    crop = weights.transforms().crop_size
    size = crop[0] if isinstance(crop, (list, tuple)) else crop
    return (3, int(size), int(size))


def _published(weights: Any) -> Published | None:
    if weights is None:
        return None
    meta = weights.meta
    extra = []
    for dataset, metrics in meta.get("_metrics", {}).items():
        for metric, value in metrics.items():
            extra.append((f"{dataset} {metric.replace('acc@', 'top-')}", f"{value}"))
    ops = meta.get("_ops")
    return Published(
        source=f"torchvision weights metadata ({weights})",
        params=meta.get("num_params"),
        macs=None if ops is None else round(ops * 1e9),
        # `_ops` is printed in GMACs with three decimals.
        macs_tolerance=500_000,
        extra=tuple(extra),
    )


def register_all() -> None:
    for name in list_models(module=torchvision.models):
        if name in _REGISTRY:
            continue
        enum = get_model_weights(name)
        weights = enum.DEFAULT if hasattr(enum, "DEFAULT") else None
        kwargs = default_build_kwargs(name, weights)
        builder = functools.partial(_build, name, kwargs)
        register(
            ArchSpec(
                name=name,
                family=family_of(name),
                title=f"{name} (torchvision)",
                builder=builder,
                input_size=default_input_size(weights),
                num_classes=kwargs.get("num_classes", 1000),
                paper=weights.meta.get("recipe", "") if weights is not None else "",
                url=weights.meta.get("recipe", "") if weights is not None else "",
                source="torchvision",
                weights=enum,
                published=_published(weights),
            )
        )


def _build(name: str, defaults: dict[str, Any], **overrides: Any) -> Any:
    return get_model(name, weights=None, **{**defaults, **overrides})
