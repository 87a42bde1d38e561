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

from explorer.catalog.registry import _REGISTRY, ArchSpec, Published, register

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


# The paper behind each torchvision family (title, authors, venue, year), for the info panel.
_PAPERS: dict[str, tuple[str, int]] = {
    "AlexNet": ("Krizhevsky, Sutskever, Hinton. ImageNet Classification with Deep Convolutional "
                "Neural Networks. NeurIPS 2012 (torchvision follows the one-GPU variant of "
                "'One weird trick', Krizhevsky 2014).", 2012),
    "VGG": ("Simonyan, Zisserman. Very Deep Convolutional Networks for Large-Scale Image "
            "Recognition. ICLR 2015.", 2015),
    "ResNet": ("He, Zhang, Ren, Sun. Deep Residual Learning for Image Recognition. CVPR 2016 "
               "(torchvision's bottleneck nets are v1.5: stride in the 3×3 conv).", 2015),
    "ResNeXt": ("Xie, Girshick, Dollár, Tu, He. Aggregated Residual Transformations for Deep "
                "Neural Networks. CVPR 2017.", 2017),
    "Wide ResNet": ("Zagoruyko, Komodakis. Wide Residual Networks. BMVC 2016.", 2016),
    "Inception": ("Szegedy et al. Going Deeper with Convolutions (GoogLeNet), CVPR 2015; "
                  "Rethinking the Inception Architecture (Inception v3), CVPR 2016.", 2014),
    "DenseNet": ("Huang, Liu, van der Maaten, Weinberger. Densely Connected Convolutional "
                 "Networks. CVPR 2017.", 2017),
    "SqueezeNet": ("Iandola et al. SqueezeNet: AlexNet-level accuracy with 50x fewer "
                   "parameters and <0.5MB model size. 2016.", 2016),
    "MobileNet": ("Sandler et al. MobileNetV2: Inverted Residuals and Linear Bottlenecks, CVPR "
                  "2018; Howard et al. Searching for MobileNetV3, ICCV 2019.", 2018),
    "MnasNet": ("Tan et al. MnasNet: Platform-Aware Neural Architecture Search for Mobile. "
                "CVPR 2019.", 2019),
    "ShuffleNet": ("Ma, Zhang, Zheng, Sun. ShuffleNet V2: Practical Guidelines for Efficient "
                   "CNN Architecture Design. ECCV 2018.", 2018),
    "EfficientNet": ("Tan, Le. EfficientNet: Rethinking Model Scaling for Convolutional Neural "
                     "Networks, ICML 2019; EfficientNetV2, ICML 2021.", 2019),
    "RegNet": ("Radosavovic et al. Designing Network Design Spaces. CVPR 2020.", 2020),
    "ConvNeXt": ("Liu et al. A ConvNet for the 2020s. CVPR 2022.", 2022),
    "Vision Transformer": ("Dosovitskiy et al. An Image is Worth 16x16 Words: Transformers for "
                           "Image Recognition at Scale. ICLR 2021.", 2020),
    "Swin Transformer": ("Liu et al. Swin Transformer: Hierarchical Vision Transformer using "
                         "Shifted Windows. ICCV 2021.", 2021),
    "MaxViT": ("Tu et al. MaxViT: Multi-Axis Vision Transformer. ECCV 2022.", 2022),
}


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
        top1=meta.get("_metrics", {}).get("ImageNet-1K", {}).get("acc@1"),
    )


def register_all() -> None:
    for name in list_models(module=torchvision.models):
        if name in _REGISTRY:
            continue
        enum = get_model_weights(name)
        weights = enum.DEFAULT if hasattr(enum, "DEFAULT") else None
        kwargs = default_build_kwargs(name, weights)
        builder = functools.partial(_build, name, kwargs)
        family = family_of(name)
        paper, year = _PAPERS.get(family, ("", None))
        register(
            ArchSpec(
                name=name,
                family=family,
                title=f"{name} (torchvision)",
                builder=builder,
                input_size=default_input_size(weights),
                num_classes=kwargs.get("num_classes", 1000),
                paper=paper,
                year=year,
                url=weights.meta.get("recipe", "") if weights is not None else "",
                source="torchvision",
                weights=enum,
                published=_published(weights),
            )
        )


def _build(name: str, defaults: dict[str, Any], **overrides: Any) -> Any:
    return get_model(name, weights=None, **{**defaults, **overrides})
