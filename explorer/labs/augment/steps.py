"""The augmentation steps: one frozen dataclass per named augmentation (see params.py)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from explorer.core.errors import SpecError
from explorer.labs.augment.params import Augmentation, _interp, _ordered, _param, _Ref
from explorer.labs.augment.pca import IMAGENET_EIGVAL, IMAGENET_EIGVEC

_INTERPOLATIONS = ("bilinear", "nearest")


def _shorter_side_to(height: int, width: int, size: int) -> tuple[int, int]:
    """v2.Resize(size): the shorter side becomes `size`, the longer keeps the aspect (+1 px)."""
    short, long = min(height, width), max(height, width)
    longer = math.ceil(size * long / short) + 1
    return (size, longer) if height <= width else (longer, size)


@dataclass(frozen=True)
class HorizontalFlip(Augmentation):
    KIND = "horizontal_flip"
    TITLE = "Mirroring (horizontal flip)"
    GROUP = "Geometry"
    DESCRIPTION = "Flip left↔right with probability p. The cheapest augmentation, used by AlexNet."
    p: float = _param(0.5, "probability", low=0.0, high=1.0, step=0.05)

    def _call(self) -> tuple[str, dict[str, Any]]:
        return "v2.RandomHorizontalFlip", {"p": self.p}


@dataclass(frozen=True)
class VerticalFlip(Augmentation):
    KIND = "vertical_flip"
    TITLE = "Vertical flip"
    GROUP = "Geometry"
    DESCRIPTION = "Flip top↔bottom with probability p (sensible for aerial or microscope images)."
    p: float = _param(0.5, "probability", low=0.0, high=1.0, step=0.05)

    def _call(self) -> tuple[str, dict[str, Any]]:
        return "v2.RandomVerticalFlip", {"p": self.p}


@dataclass(frozen=True)
class Resize(Augmentation):
    KIND = "resize"
    TITLE = "Scaling (resize)"
    GROUP = "Geometry"
    DESCRIPTION = "Scale so that the shorter side is `size` pixels, keeping the aspect ratio."
    size: int = _param(256, "shorter side (px)", low=8, high=1024, step=8)

    def _call(self) -> tuple[str, dict[str, Any]]:
        return "v2.Resize", {"size": self.size, "antialias": True}

    def output_bound(self, height: int, width: int) -> tuple[int, int]:
        return _shorter_side_to(height, width, self.size)


@dataclass(frozen=True)
class ScaleJitter(Augmentation):
    KIND = "scale_jitter"
    TITLE = "Scale jittering (random resize)"
    GROUP = "Geometry"
    DESCRIPTION = ("Scale the shorter side to a random S in [min, max) — VGG's multi-scale "
                   "training used S ∈ [256, 512].")
    min_size: int = _param(256, "min shorter side (px)", low=8, high=1024, step=8)
    max_size: int = _param(512, "max shorter side (px, exclusive)", low=9, high=1025, step=8)

    def _check(self) -> None:
        if self.min_size >= self.max_size:
            raise SpecError(f"{self.KIND}: min_size ({self.min_size}) must be below max_size "
                            f"({self.max_size}).", token="min_size")

    def _call(self) -> tuple[str, dict[str, Any]]:
        return "v2.RandomResize", {"min_size": self.min_size, "max_size": self.max_size,
                                   "antialias": True}

    def output_bound(self, height: int, width: int) -> tuple[int, int]:
        return _shorter_side_to(height, width, self.max_size - 1)


@dataclass(frozen=True)
class RandomCrop(Augmentation):
    KIND = "random_crop"
    TITLE = "Random cropping"
    GROUP = "Geometry"
    DESCRIPTION = "Cut a size×size patch at a random position (AlexNet: 224 from 256)."
    size: int = _param(224, "crop size (px)", low=8, high=1024, step=8)
    padding: int = _param(0, "padding first (px)", low=0, high=256, step=1)
    pad_if_needed: bool = _param(True, "pad if the image is smaller")

    def _call(self) -> tuple[str, dict[str, Any]]:
        return "v2.RandomCrop", {"size": self.size, "padding": self.padding or None,
                                 "pad_if_needed": self.pad_if_needed}

    def output_bound(self, height: int, width: int) -> tuple[int, int]:
        return self.size, self.size


@dataclass(frozen=True)
class CenterCrop(Augmentation):
    KIND = "center_crop"
    TITLE = "Centre crop"
    GROUP = "Geometry"
    DESCRIPTION = "Cut the central size×size patch (what evaluation usually does)."
    size: int = _param(224, "crop size (px)", low=8, high=1024, step=8)

    def _call(self) -> tuple[str, dict[str, Any]]:
        return "v2.CenterCrop", {"size": self.size}

    def output_bound(self, height: int, width: int) -> tuple[int, int]:
        return self.size, self.size


@dataclass(frozen=True)
class RandomResizedCrop(Augmentation):
    KIND = "random_resized_crop"
    TITLE = "Random resized crop (Inception-style)"
    GROUP = "Geometry"
    DESCRIPTION = ("Crop a random area fraction and aspect ratio, then resize to size×size "
                   "(GoogLeNet; the standard ImageNet training crop).")
    size: int = _param(224, "output size (px)", low=8, high=1024, step=8)
    scale_min: float = _param(0.08, "min area fraction", low=0.01, high=1.0, step=0.01)
    scale_max: float = _param(1.0, "max area fraction", low=0.01, high=1.0, step=0.01)
    ratio_min: float = _param(0.75, "min aspect ratio", low=0.1, high=10.0, step=0.05)
    ratio_max: float = _param(4 / 3, "max aspect ratio", low=0.1, high=10.0, step=0.05)

    def _check(self) -> None:
        _ordered(self.KIND, "scale_min", self.scale_min, "scale_max", self.scale_max)
        _ordered(self.KIND, "ratio_min", self.ratio_min, "ratio_max", self.ratio_max)

    def _call(self) -> tuple[str, dict[str, Any]]:
        return "v2.RandomResizedCrop", {"size": self.size,
                                        "scale": (self.scale_min, self.scale_max),
                                        "ratio": (self.ratio_min, self.ratio_max),
                                        "antialias": True}

    def output_bound(self, height: int, width: int) -> tuple[int, int]:
        return self.size, self.size


@dataclass(frozen=True)
class Pad(Augmentation):
    KIND = "pad"
    TITLE = "Padding"
    GROUP = "Geometry"
    DESCRIPTION = "Add a border on every side: constant colour, or the image's edge/reflection."
    padding: int = _param(32, "border (px)", low=0, high=256, step=1)
    fill: int = _param(0, "fill value (constant mode)", low=0, high=255, step=1)
    padding_mode: str = _param("constant", "mode",
                               choices=("constant", "edge", "reflect", "symmetric"))

    def _call(self) -> tuple[str, dict[str, Any]]:
        return "v2.Pad", {"padding": self.padding, "fill": self.fill,
                          "padding_mode": self.padding_mode}

    def output_bound(self, height: int, width: int) -> tuple[int, int]:
        return height + 2 * self.padding, width + 2 * self.padding


@dataclass(frozen=True)
class Rotation(Augmentation):
    KIND = "rotation"
    TITLE = "Rotation"
    GROUP = "Geometry"
    DESCRIPTION = ("Rotate by a random angle in [min, max] degrees, counter-clockwise; `expand` "
                   "grows the canvas so that no corner is cut off.")
    min_degrees: float = _param(-30.0, "min angle (°)", low=-180.0, high=180.0, step=1.0)
    max_degrees: float = _param(30.0, "max angle (°)", low=-180.0, high=180.0, step=1.0)
    expand: bool = _param(False, "expand canvas")
    interpolation: str = _param("bilinear", "interpolation", choices=_INTERPOLATIONS)
    fill: int = _param(0, "fill value", low=0, high=255, step=1)

    def _check(self) -> None:
        _ordered(self.KIND, "min_degrees", self.min_degrees, "max_degrees", self.max_degrees)

    def _call(self) -> tuple[str, dict[str, Any]]:
        return "v2.RandomRotation", {"degrees": (self.min_degrees, self.max_degrees),
                                     "interpolation": _interp(self.interpolation),
                                     "expand": self.expand, "fill": self.fill}

    def output_bound(self, height: int, width: int) -> tuple[int, int]:
        if not self.expand:
            return height, width
        # The expanded canvas is the rotated rectangle's bounding box; its largest size over
        # the angle range, sampled every 1/8° (+0.3% and 2 px cover what sampling can miss).
        span = self.max_degrees - self.min_degrees
        steps = max(1, math.ceil(span * 8))
        best_h = best_w = 0.0
        for i in range(steps + 1):
            angle = math.radians(self.min_degrees + span * i / steps)
            cos, sin = abs(math.cos(angle)), abs(math.sin(angle))
            best_w = max(best_w, width * cos + height * sin)
            best_h = max(best_h, width * sin + height * cos)
        return math.ceil(best_h * 1.003) + 2, math.ceil(best_w * 1.003) + 2


@dataclass(frozen=True)
class Shear(Augmentation):
    KIND = "shear"
    TITLE = "Shearing"
    GROUP = "Geometry"
    DESCRIPTION = "Slant the image by a random angle up to ±x degrees along x and ±y along y."
    shear_x: float = _param(20.0, "max x shear (°)", low=0.0, high=60.0, step=1.0)
    shear_y: float = _param(0.0, "max y shear (°)", low=0.0, high=60.0, step=1.0)
    interpolation: str = _param("bilinear", "interpolation", choices=_INTERPOLATIONS)
    fill: int = _param(0, "fill value", low=0, high=255, step=1)

    def _call(self) -> tuple[str, dict[str, Any]]:
        shear = (-self.shear_x, self.shear_x, -self.shear_y, self.shear_y)
        return "v2.RandomAffine", {"degrees": 0.0, "shear": shear,
                                   "interpolation": _interp(self.interpolation), "fill": self.fill}


@dataclass(frozen=True)
class Affine(Augmentation):
    KIND = "affine"
    TITLE = "Affine (rotate + shift + scale + shear)"
    GROUP = "Geometry"
    DESCRIPTION = "All four geometric changes at once, each drawn at random within its range."
    degrees: float = _param(15.0, "max rotation (°)", low=0.0, high=180.0, step=1.0)
    translate: float = _param(0.1, "max shift (fraction of size)", low=0.0, high=0.5, step=0.01)
    scale_min: float = _param(0.9, "min scale", low=0.1, high=3.0, step=0.05)
    scale_max: float = _param(1.1, "max scale", low=0.1, high=3.0, step=0.05)
    shear: float = _param(10.0, "max x shear (°)", low=0.0, high=60.0, step=1.0)
    interpolation: str = _param("bilinear", "interpolation", choices=_INTERPOLATIONS)
    fill: int = _param(0, "fill value", low=0, high=255, step=1)

    def _check(self) -> None:
        _ordered(self.KIND, "scale_min", self.scale_min, "scale_max", self.scale_max)

    def _call(self) -> tuple[str, dict[str, Any]]:
        return "v2.RandomAffine", {"degrees": self.degrees,
                                   "translate": (self.translate, self.translate),
                                   "scale": (self.scale_min, self.scale_max),
                                   "shear": (-self.shear, self.shear),
                                   "interpolation": _interp(self.interpolation), "fill": self.fill}


@dataclass(frozen=True)
class Perspective(Augmentation):
    KIND = "perspective"
    TITLE = "Perspective"
    GROUP = "Geometry"
    DESCRIPTION = "Move the four corners at random, as if seen from another viewpoint."
    distortion: float = _param(0.5, "distortion", low=0.0, high=1.0, step=0.05)
    p: float = _param(1.0, "probability", low=0.0, high=1.0, step=0.05)
    fill: int = _param(0, "fill value", low=0, high=255, step=1)

    def _call(self) -> tuple[str, dict[str, Any]]:
        return "v2.RandomPerspective", {"distortion_scale": self.distortion, "p": self.p,
                                        "fill": self.fill}


@dataclass(frozen=True)
class ElasticWarp(Augmentation):
    KIND = "elastic"
    TITLE = "Local warping (elastic)"
    GROUP = "Geometry"
    DESCRIPTION = ("Move every pixel by a smooth random displacement field: alpha is the "
                   "strength, sigma the smoothness (Simard et al. 2003). Slow on a CPU: about "
                   "0.3 s per 512×512 sample.")
    alpha: float = _param(50.0, "alpha (strength)", low=0.0, high=500.0, step=5.0)
    sigma: float = _param(5.0, "sigma (smoothness)", low=0.5, high=20.0, step=0.5)
    fill: int = _param(0, "fill value", low=0, high=255, step=1)

    def _call(self) -> tuple[str, dict[str, Any]]:
        return "v2.ElasticTransform", {"alpha": self.alpha, "sigma": self.sigma,
                                       "fill": self.fill}


@dataclass(frozen=True)
class ColorShift(Augmentation):
    KIND = "color_jitter"
    TITLE = "Colour shifting (brightness, contrast, saturation, hue)"
    GROUP = "Colour"
    DESCRIPTION = ("Each factor is drawn in [1-x, 1+x] (hue: a shift in [-x, x] of the colour "
                   "wheel); the order of the four changes is random too.")
    brightness: float = _param(0.4, "brightness", low=0.0, high=1.0, step=0.05)
    contrast: float = _param(0.4, "contrast", low=0.0, high=1.0, step=0.05)
    saturation: float = _param(0.4, "saturation", low=0.0, high=1.0, step=0.05)
    hue: float = _param(0.1, "hue", low=0.0, high=0.5, step=0.01)

    def _call(self) -> tuple[str, dict[str, Any]]:
        return "v2.ColorJitter", {"brightness": self.brightness, "contrast": self.contrast,
                                  "saturation": self.saturation, "hue": self.hue}


@dataclass(frozen=True)
class PCAColor(Augmentation):
    KIND = "pca_color"
    TITLE = "PCA colour augmentation (AlexNet)"
    GROUP = "Colour"
    DESCRIPTION = ("Add [p1 p2 p3][a1λ1, a2λ2, a3λ3]ᵀ to every pixel, a_i ~ N(0, std²), with "
                   "the RGB principal components of ImageNet or of this image (AlexNet §4.1).")
    std: float = _param(0.1, "std of alpha", low=0.0, high=2.0, step=0.05,
                        help="The paper uses 0.1; larger values exaggerate the effect.")
    eigen: str = _param("imagenet", "principal components of", choices=("imagenet", "image"))

    def _call(self) -> tuple[str, dict[str, Any]]:
        if self.eigen == "imagenet":
            return "PCAColorJitter", {"std": self.std, "eigval": IMAGENET_EIGVAL,
                                      "eigvec": IMAGENET_EIGVEC}
        return "PCAColorJitter", {"std": self.std, "eigval": None, "eigvec": None}


@dataclass(frozen=True)
class Grayscale(Augmentation):
    KIND = "grayscale"
    TITLE = "Grayscale"
    GROUP = "Colour"
    DESCRIPTION = "Drop the colour with probability p (the output keeps 3 equal channels)."
    p: float = _param(0.5, "probability", low=0.0, high=1.0, step=0.05)

    def _call(self) -> tuple[str, dict[str, Any]]:
        return "v2.RandomGrayscale", {"p": self.p}


@dataclass(frozen=True)
class RandomErasing(Augmentation):
    KIND = "random_erasing"
    TITLE = "Random erasing (cutout)"
    GROUP = "Occlusion"
    LECTURE = False
    DESCRIPTION = "Blank out a random rectangle, so the network cannot rely on one part."
    p: float = _param(0.5, "probability", low=0.0, high=1.0, step=0.05)
    scale_min: float = _param(0.02, "min area fraction", low=0.001, high=1.0, step=0.01)
    scale_max: float = _param(0.33, "max area fraction", low=0.001, high=1.0, step=0.01)
    ratio_min: float = _param(0.3, "min aspect ratio", low=0.05, high=20.0, step=0.05)
    ratio_max: float = _param(3.3, "max aspect ratio", low=0.05, high=20.0, step=0.05)
    value: int = _param(0, "fill value", low=0, high=255, step=1)

    def _check(self) -> None:
        _ordered(self.KIND, "scale_min", self.scale_min, "scale_max", self.scale_max)
        _ordered(self.KIND, "ratio_min", self.ratio_min, "ratio_max", self.ratio_max)

    def _call(self) -> tuple[str, dict[str, Any]]:
        return "v2.RandomErasing", {"p": self.p, "scale": (self.scale_min, self.scale_max),
                                    "ratio": (self.ratio_min, self.ratio_max),
                                    "value": self.value}


@dataclass(frozen=True)
class RandAugment(Augmentation):
    KIND = "randaugment"
    TITLE = "RandAugment"
    GROUP = "Policies"
    LECTURE = False
    DESCRIPTION = "Apply num_ops random operations, all at one magnitude (Cubuk et al. 2020)."
    num_ops: int = _param(2, "operations per image", low=1, high=10, step=1)
    magnitude: int = _param(9, "magnitude", low=0, high=30, step=1)

    def _call(self) -> tuple[str, dict[str, Any]]:
        return "v2.RandAugment", {"num_ops": self.num_ops, "magnitude": self.magnitude}


@dataclass(frozen=True)
class TrivialAugment(Augmentation):
    KIND = "trivialaugment"
    TITLE = "TrivialAugmentWide"
    GROUP = "Policies"
    LECTURE = False
    DESCRIPTION = "One random operation at a random magnitude per image (Müller & Hutter 2021)."
    num_magnitude_bins: int = _param(31, "magnitude bins", low=2, high=100, step=1)

    def _call(self) -> tuple[str, dict[str, Any]]:
        return "v2.TrivialAugmentWide", {"num_magnitude_bins": self.num_magnitude_bins}


@dataclass(frozen=True)
class AutoAugment(Augmentation):
    KIND = "autoaugment"
    TITLE = "AutoAugment"
    GROUP = "Policies"
    LECTURE = False
    DESCRIPTION = "A policy learned by search on a data set (Cubuk et al. 2019)."
    policy: str = _param("imagenet", "learned on", choices=("imagenet", "cifar10", "svhn"))

    def _call(self) -> tuple[str, dict[str, Any]]:
        return "v2.AutoAugment", {"policy": _Ref(f"v2.AutoAugmentPolicy.{self.policy.upper()}")}


AUGMENTATIONS: dict[str, type[Augmentation]] = {
    cls.KIND: cls
    for cls in (
        HorizontalFlip, VerticalFlip, Resize, ScaleJitter, RandomCrop, CenterCrop,
        RandomResizedCrop, Pad, Rotation, Shear, Affine, Perspective, ElasticWarp,
        ColorShift, PCAColor, Grayscale, RandomErasing, RandAugment, TrivialAugment, AutoAugment,
    )
}

