"""Data augmentation on torchvision `transforms.v2`: typed steps, seeded pipelines, code export.

Each augmentation is a frozen dataclass whose fields are its parameters, each with bounds
(`ParamSpec`) that are checked on construction (`SpecError` when out of range) and that the UI
turns into sliders. `to_transform()` gives the torchvision v2 transform; `to_code()` the same
call as Python source, so the exported code and the preview cannot disagree. Torchvision
lacks the AlexNet paper's PCA colour augmentation; `PCAColorJitter` implements it as a v2
transform whose source is copied verbatim into exported code.

Seeding: sample k of a preview with seed s is `torch.manual_seed(s + k); transform(image)`,
run inside `torch.random.fork_rng()` so the caller's global RNG state is left untouched.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import json
import math
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import PIL.Image
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

from explorer.errors import SpecError

__all__ = [
    "AUGMENTATIONS",
    "DEFAULT_PIPELINE",
    "IMAGENET_EIGVAL",
    "IMAGENET_EIGVEC",
    "PRESETS",
    "Affine",
    "Augmentation",
    "AutoAugment",
    "CenterCrop",
    "ColorShift",
    "Eigen",
    "ElasticWarp",
    "Grayscale",
    "HorizontalFlip",
    "MixPreview",
    "PCAColor",
    "PCAColorJitter",
    "Pad",
    "ParamSpec",
    "Perspective",
    "Pipeline",
    "RandAugment",
    "RandomCrop",
    "RandomErasing",
    "RandomResizedCrop",
    "Resize",
    "Rotation",
    "ScaleJitter",
    "Shear",
    "TrivialAugment",
    "VerticalFlip",
    "grid_image",
    "image_eigen",
    "imagenet_eigen",
    "mix_preview",
    "to_pil",
]

# ImageNet RGB covariance eigen-decomposition for pixels in [0, 1], from fb.resnet.torch
# (datasets/transforms.lua, "Lighting"), for the AlexNet paper's §4.1 "altering the
# intensities of the RGB channels". Eigenvectors are the columns of IMAGENET_EIGVEC.
IMAGENET_EIGVAL: tuple[float, float, float] = (0.2175, 0.0188, 0.0045)
IMAGENET_EIGVEC: tuple[tuple[float, float, float], ...] = (
    (-0.5675, 0.7192, 0.4009),
    (-0.5808, -0.0045, -0.8140),
    (-0.5836, -0.6948, 0.4203),
)

JSON_FORMAT = "cnn-explorer-augmentation"
JSON_VERSION = 1
MAX_STEPS = 32
MAX_SAMPLE_PIXELS = 64_000_000  # all samples of one call together: ~190 MB of uint8 RGB
MAX_JSON_CHARS = 100_000


# --- PCA colour augmentation (AlexNet, Krizhevsky et al. 2012, §4.1) ---------------------------
# This class is copied verbatim into exported code: it may use only torch, tv_tensors, v2, PIL
# and Any, and must not use names defined elsewhere in this module.


class PCAColorJitter(v2.Transform):
    """PCA colour augmentation ("fancy PCA") from the AlexNet paper, §4.1.

    To every pixel [R, G, B] add [p1 p2 p3][a1*l1, a2*l2, a3*l3]^T, where p_i and l_i are the
    eigenvectors and eigenvalues of the RGB covariance (pixels scaled to [0, 1]) and each a_i is
    drawn once per image from N(0, std^2); the paper uses std = 0.1. With eigval/eigvec None,
    the image's own covariance is used instead of ImageNet's.
    """

    def __init__(
        self,
        std: float = 0.1,
        eigval: Any = None,
        eigvec: Any = None,
    ) -> None:
        super().__init__()
        if (eigval is None) != (eigvec is None):
            raise ValueError("give both eigval and eigvec, or neither (the image's own)")
        self.std = float(std)
        self.eigval = None if eigval is None else torch.tensor(eigval, dtype=torch.float64)
        self.eigvec = None if eigvec is None else torch.tensor(eigvec, dtype=torch.float64)

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        return {"alpha": torch.randn(3, dtype=torch.float64) * self.std}

    @staticmethod
    def eigen_of(rgb: Any) -> tuple[Any, Any]:
        """Eigenvalues (descending) and eigenvectors (columns) of the RGB covariance of a
        (3, H, W) image; integer images are scaled to [0, 1] first."""
        pixels = rgb.reshape(3, -1).to(torch.float64)
        if not rgb.is_floating_point():
            pixels = pixels / float(torch.iinfo(rgb.dtype).max)
        centred = pixels - pixels.mean(dim=1, keepdim=True)
        covariance = centred @ centred.T / max(pixels.shape[1] - 1, 1)
        eigval, eigvec = torch.linalg.eigh(covariance)
        eigval, eigvec = eigval.flip(0).clamp(min=0.0), eigvec.flip(1)
        # eigh's signs are arbitrary: make each vector's largest entry negative, as ImageNet's.
        biggest = eigvec.gather(0, eigvec.abs().argmax(dim=0, keepdim=True))
        eigvec = eigvec * torch.where(biggest > 0, -1.0, 1.0).to(eigvec.dtype)
        return eigval, eigvec

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if isinstance(inpt, PIL.Image.Image):
            tensor = v2.functional.pil_to_tensor(inpt)
            return v2.functional.to_pil_image(self.transform(tensor, params), mode=inpt.mode)
        is_image = isinstance(inpt, (tv_tensors.Image, tv_tensors.Video))
        is_plain = type(inpt) is torch.Tensor
        if not (is_image or is_plain) or inpt.ndim < 3 or inpt.shape[-3] != 3:
            return inpt  # boxes, masks, labels, grayscale: colour augmentation does not apply
        if self.eigval is None:
            eigval, eigvec = self.eigen_of(inpt.reshape(-1, *inpt.shape[-3:])[0])
        else:
            eigval, eigvec = self.eigval, self.eigvec
        shift = eigvec @ (params["alpha"] * eigval)  # one RGB offset, in [0, 1] units
        if inpt.is_floating_point():
            out = (inpt + shift.to(inpt.dtype).view(3, 1, 1)).clamp(0.0, 1.0)
        else:
            top = float(torch.iinfo(inpt.dtype).max)
            out = (inpt.to(torch.float64) + (shift * top).view(3, 1, 1)).round().clamp(0.0, top)
            out = out.to(inpt.dtype)
        return tv_tensors.wrap(out, like=inpt) if is_image else out


@dataclass(frozen=True)
class Eigen:
    """RGB covariance eigen-decomposition: `vectors[i][j]` is component i of eigenvector j."""

    values: tuple[float, float, float]
    vectors: tuple[tuple[float, float, float], ...]
    source: str  # "ImageNet (fb.resnet.torch)" or "this image"

    def offset_std(self, std: float) -> tuple[float, float, float]:
        """Standard deviation of each channel's offset, in 0..255 units, for alpha ~ N(0, std²)."""
        return tuple(  # type: ignore[return-value]
            255.0 * std * math.sqrt(sum((self.vectors[i][j] * self.values[j]) ** 2
                                        for j in range(3)))
            for i in range(3)
        )

    def shift(self, alpha: Sequence[float]) -> tuple[float, float, float]:
        """The RGB offset [p1 p2 p3][a1 l1, a2 l2, a3 l3]^T for these alphas, in [0, 1] units."""
        return tuple(  # type: ignore[return-value]
            sum(self.vectors[i][j] * alpha[j] * self.values[j] for j in range(3)) for i in range(3)
        )


def imagenet_eigen() -> Eigen:
    return Eigen(IMAGENET_EIGVAL, IMAGENET_EIGVEC, "ImageNet (fb.resnet.torch)")


def image_eigen(image: PIL.Image.Image | torch.Tensor) -> Eigen:
    """The image's own RGB covariance eigen-decomposition (pixels scaled to [0, 1])."""
    tensor = _as_image_tensor(image)
    if tensor.shape[0] != 3:
        raise SpecError("PCA colour augmentation needs an RGB image.")
    with _one_intra_op_thread():
        values, vectors = PCAColorJitter.eigen_of(tensor)
    return Eigen(
        tuple(float(v) for v in values),  # type: ignore[arg-type]
        tuple(tuple(float(x) for x in row) for row in vectors.tolist()),  # type: ignore[misc]
        "this image",
    )


# --- typed, bounded parameters -----------------------------------------------------------------


@dataclass(frozen=True)
class ParamSpec:
    """One parameter of an augmentation: what the UI shows and what validation enforces."""

    name: str
    label: str
    kind: str  # "float", "int", "bool" or "choice"
    default: Any
    low: float | None = None
    high: float | None = None
    step: float | None = None
    choices: tuple[str, ...] = ()
    help: str = ""


def _param(
    default: Any,
    label: str,
    *,
    low: float | None = None,
    high: float | None = None,
    step: float | None = None,
    choices: Sequence[str] = (),
    help: str = "",
) -> Any:
    meta = {"label": label, "low": low, "high": high, "step": step, "choices": tuple(choices),
            "help": help}
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class _Ref:
    """A dotted name (e.g. `v2.InterpolationMode.BILINEAR`) used as an argument value."""

    path: str

    def resolve(self) -> Any:
        head, *rest = self.path.split(".")
        value: Any = _CODE_NAMESPACE[head]
        for part in rest:
            value = getattr(value, part)
        return value


_CODE_NAMESPACE: dict[str, Any] = {"v2": v2, "PCAColorJitter": PCAColorJitter}


def _interp(name: str) -> _Ref:
    return _Ref(f"v2.InterpolationMode.{name.upper()}")


@dataclass(frozen=True)
class Augmentation:
    """Base of all augmentation steps. Subclasses set the class constants and `_call()`."""

    KIND: ClassVar[str] = ""  # the JSON "type"
    TITLE: ClassVar[str] = ""
    GROUP: ClassVar[str] = ""  # "Geometry", "Colour", "Policies", "Occlusion"
    LECTURE: ClassVar[bool] = True  # named in the lecture, or beyond it
    DESCRIPTION: ClassVar[str] = ""

    def __post_init__(self) -> None:
        for spec in self.params():
            value = getattr(self, spec.name)
            _check_value(self.KIND, spec, value)
            if spec.kind == "float" and isinstance(value, int):
                object.__setattr__(self, spec.name, float(value))
        self._check()

    def _check(self) -> None:
        """Cross-parameter checks (e.g. min ≤ max); raise SpecError."""

    def _call(self) -> tuple[str, dict[str, Any]]:
        """(callable path, keyword arguments), e.g. ("v2.RandomHorizontalFlip", {"p": 0.5})."""
        raise NotImplementedError

    @classmethod
    def params(cls) -> tuple[ParamSpec, ...]:
        specs = []
        for f in dataclasses.fields(cls):
            meta = f.metadata
            if meta.get("choices"):
                kind = "choice"
            elif isinstance(f.default, bool):
                kind = "bool"
            elif isinstance(f.default, int):
                kind = "int"
            else:
                kind = "float"
            specs.append(ParamSpec(f.name, meta["label"], kind, f.default, meta["low"],
                                   meta["high"], meta["step"], meta["choices"], meta["help"]))
        return tuple(specs)

    def to_transform(self) -> v2.Transform:
        path, kwargs = self._call()
        factory = _Ref(path).resolve()
        return factory(**{k: _resolve(v) for k, v in kwargs.items()})

    def to_code(self) -> str:
        path, kwargs = self._call()
        return f"{path}({', '.join(f'{k}={_code(v)}' for k, v in kwargs.items())})"

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.KIND, **{p.name: getattr(self, p.name) for p in self.params()}}

    def replace(self, **changes: Any) -> Augmentation:
        return dataclasses.replace(self, **changes)


def _check_value(kind: str, spec: ParamSpec, value: Any) -> None:
    where = f"{kind}.{spec.name}"
    if spec.kind == "bool":
        if not isinstance(value, bool):
            raise SpecError(f"{where} must be true or false, not {value!r}.", token=spec.name)
        return
    if spec.kind == "choice":
        if value not in spec.choices:
            raise SpecError(f"{where} must be one of {', '.join(spec.choices)}; got {value!r}.",
                            token=spec.name)
        return
    allowed = isinstance(value, int) if spec.kind == "int" else isinstance(value, (int, float))
    if isinstance(value, bool) or not allowed:
        noun = "a whole number" if spec.kind == "int" else "a number"
        raise SpecError(f"{where} must be {noun}, not {value!r}.", token=spec.name)
    number = float(value)
    if not math.isfinite(number):
        raise SpecError(f"{where} must be finite, not {value!r}.", token=spec.name)
    low, high = spec.low, spec.high
    if (low is not None and number < low) or (high is not None and number > high):
        raise SpecError(f"{where} = {value!r} is outside the allowed range [{low}, {high}].",
                        token=spec.name)


def _ordered(kind: str, low_name: str, low: float, high_name: str, high: float) -> None:
    if low > high:
        raise SpecError(f"{kind}: {low_name} ({low}) must not exceed {high_name} ({high}).",
                        token=low_name)


def _resolve(value: Any) -> Any:
    if isinstance(value, _Ref):
        return value.resolve()
    if isinstance(value, tuple):
        return tuple(_resolve(v) for v in value)
    return value


def _code(value: Any) -> str:
    if isinstance(value, _Ref):
        return value.path
    if isinstance(value, tuple):
        inner = ", ".join(_code(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    return repr(value)


# --- the augmentations ---------------------------------------------------------------------------

_INTERPOLATIONS = ("bilinear", "nearest")


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


@dataclass(frozen=True)
class CenterCrop(Augmentation):
    KIND = "center_crop"
    TITLE = "Centre crop"
    GROUP = "Geometry"
    DESCRIPTION = "Cut the central size×size patch (what evaluation usually does)."
    size: int = _param(224, "crop size (px)", low=8, high=1024, step=8)

    def _call(self) -> tuple[str, dict[str, Any]]:
        return "v2.CenterCrop", {"size": self.size}


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


# --- pipelines -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pipeline:
    """An ordered, immutable list of augmentation steps."""

    steps: tuple[Augmentation, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "steps", tuple(self.steps))
        if len(self.steps) > MAX_STEPS:
            raise SpecError(f"A pipeline has at most {MAX_STEPS} steps, not {len(self.steps)}.")
        for step in self.steps:
            if not isinstance(step, Augmentation):
                raise TypeError(f"pipeline steps must be Augmentation objects, not {step!r}")

    # editing (each returns a new pipeline)
    def add(self, step: Augmentation) -> Pipeline:
        return Pipeline((*self.steps, step))

    def remove(self, index: int) -> Pipeline:
        self._index(index)
        return Pipeline(self.steps[:index] + self.steps[index + 1:])

    def move(self, index: int, offset: int) -> Pipeline:
        """Move step `index` by `offset` places (-1: up), clamped to the ends."""
        self._index(index)
        target = min(max(index + offset, 0), len(self.steps) - 1)
        steps = list(self.steps)
        steps.insert(target, steps.pop(index))
        return Pipeline(tuple(steps))

    def replace(self, index: int, step: Augmentation) -> Pipeline:
        self._index(index)
        return Pipeline((*self.steps[:index], step, *self.steps[index + 1:]))

    def _index(self, index: int) -> None:
        if not 0 <= index < len(self.steps):
            raise IndexError(f"step {index} does not exist (the pipeline has {len(self.steps)})")

    # running
    def to_transform(self) -> v2.Compose:
        """`v2.Compose([v2.ToImage(), *steps])`: PIL image in, uint8 tensor (C, H, W) out."""
        return v2.Compose([v2.ToImage(), *(step.to_transform() for step in self.steps)])

    def apply(self, image: PIL.Image.Image | torch.Tensor, seed: int = 0) -> torch.Tensor:
        """The augmented image as a uint8 tensor (C, H, W); same seed, same result."""
        return self.samples(image, 1, seed)[0]

    def samples(
        self, image: PIL.Image.Image | torch.Tensor, n: int, seed: int = 0
    ) -> list[torch.Tensor]:
        """n augmented versions; sample k is `torch.manual_seed(seed + k); transform(image)`.

        Runs inside `torch.random.fork_rng`, so the global RNG state is unchanged afterwards.
        """
        if not 0 <= n <= 256:
            raise SpecError(f"Between 0 and 256 samples, please (not {n}).")
        if isinstance(image, PIL.Image.Image) and image.mode != "RGB":
            image = image.convert("RGB")
        # The steps run one by one, exactly as v2.Compose runs them (same random draws), so
        # that a step that cannot handle this image is named in the error.
        transforms = self.to_transform().transforms
        out: list[torch.Tensor] = []
        total = 0
        with _one_intra_op_thread(), torch.random.fork_rng(devices=[]):
            for k in range(n):
                torch.manual_seed(seed + k)
                result: Any = image
                for index, transform in enumerate(transforms):
                    result = self._run_step(index, transform, result)
                out.append(result.as_subclass(torch.Tensor))
                total += out[-1].shape[-2] * out[-1].shape[-1]
                if total > MAX_SAMPLE_PIXELS:
                    raise SpecError(
                        f"{n} samples of {out[-1].shape[-1]}×{out[-1].shape[-2]} pixels are too "
                        f"many pixels to preview; use fewer samples or a smaller output size.")
        return out

    def _run_step(self, index: int, transform: Any, image: Any) -> Any:
        try:
            return transform(image)
        except (ValueError, RuntimeError, TypeError, IndexError) as exc:
            if index == 0:  # v2.ToImage: not a picture at all; a programming error
                raise
            step = self.steps[index - 1]
            height, width = image.shape[-2:]
            raise SpecError(f"Step {index} ({step.TITLE}) cannot be applied to a "
                            f"{width}×{height} image: {exc}", token=step.KIND) from exc

    # serialising
    def to_dict(self) -> dict[str, Any]:
        return {"format": JSON_FORMAT, "version": JSON_VERSION,
                "steps": [step.to_dict() for step in self.steps]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, data: Any) -> Pipeline:
        if not isinstance(data, dict) or data.get("format") != JSON_FORMAT:
            raise SpecError(f"This is not an augmentation pipeline (expected \"format\": "
                            f"\"{JSON_FORMAT}\").")
        if data.get("version") != JSON_VERSION:
            raise SpecError(f"Unsupported pipeline version {data.get('version')!r}; "
                            f"this program reads version {JSON_VERSION}.")
        steps = data.get("steps")
        if not isinstance(steps, list):
            raise SpecError("The pipeline's \"steps\" must be a list.")
        if len(steps) > MAX_STEPS:
            raise SpecError(f"A pipeline has at most {MAX_STEPS} steps, not {len(steps)}.")
        return cls(tuple(_step_from_dict(i, step) for i, step in enumerate(steps)))

    @classmethod
    def from_json(cls, text: str) -> Pipeline:
        if len(text) > MAX_JSON_CHARS:
            raise SpecError(f"The pipeline file is too long ({len(text)} characters).")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SpecError(f"The pipeline is not valid JSON: {exc.msg} (line {exc.lineno}, "
                            f"column {exc.colno}).", position=exc.pos) from None
        return cls.from_dict(data)

    def to_python(self) -> str:
        """Runnable Python: imports, PCAColorJitter's source if used, `transform = ...`."""
        uses_pca = any(isinstance(step, PCAColor) for step in self.steps)
        lines = [
            '"""Augmentation pipeline exported from CNN Architecture Explorer.',
            "",
            "Usage:",
            "    image = PIL.Image.open('photo.jpg').convert('RGB')",
            "    augmented = transform(image)  # uint8 tensor (3, H, W)",
            "",
            "The explorer's preview sample k with seed s is:",
            "    torch.manual_seed(s + k); augmented = transform(image)",
            '"""',
            "",
        ]
        if uses_pca:
            lines.append("from typing import Any")
            lines.append("")
        lines += ["import PIL.Image", "import torch"]
        if uses_pca:
            lines.append("from torchvision import tv_tensors")
        lines += ["from torchvision.transforms import v2", ""]
        if uses_pca:
            lines += ["", inspect.getsource(PCAColorJitter).rstrip(), "", ""]
        lines.append("transform = v2.Compose([")
        lines.append("    v2.ToImage(),  # PIL image -> uint8 tensor (C, H, W)")
        lines += [f"    {step.to_code()},  # {step.TITLE}" for step in self.steps]
        lines.append("])")
        return "\n".join(lines) + "\n"


def _step_from_dict(index: int, data: Any) -> Augmentation:
    where = f"Step {index + 1}"
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise SpecError(f"{where} must be an object with a \"type\".")
    kind = data["type"]
    if kind not in AUGMENTATIONS:
        raise SpecError(f"{where}: unknown augmentation {kind!r}. Known: "
                        f"{', '.join(sorted(AUGMENTATIONS))}.", token=kind)
    cls = AUGMENTATIONS[kind]
    allowed = {p.name for p in cls.params()}
    unknown = sorted(set(data) - allowed - {"type"})
    if unknown:
        raise SpecError(f"{where} ({kind}): unknown parameter(s) {', '.join(unknown)}; "
                        f"allowed: {', '.join(sorted(allowed))}.", token=unknown[0])
    try:
        return cls(**{k: v for k, v in data.items() if k != "type"})
    except SpecError as exc:
        raise SpecError(f"{where}: {exc}", token=exc.token) from None


# What the Augmentation lab starts with: the standard ImageNet training recipe of the lecture.
DEFAULT_PIPELINE = Pipeline((RandomResizedCrop(), HorizontalFlip(), ColorShift(), PCAColor()))

PRESETS: dict[str, Pipeline] = {
    "AlexNet 2012 (crop, mirror, PCA colour)": Pipeline((
        Resize(256), RandomCrop(224), HorizontalFlip(), PCAColor())),
    "VGG 2014 (scale jittering S∈[256,512], crop, mirror)": Pipeline((
        ScaleJitter(256, 513), RandomCrop(224), HorizontalFlip())),
    "Inception / ResNet ImageNet training": Pipeline((
        RandomResizedCrop(224), HorizontalFlip(), ColorShift(0.4, 0.4, 0.4, 0.0), PCAColor())),
    "Geometry tour (rotate, shear, warp)": Pipeline((
        Rotation(), Shear(), ElasticWarp())),
    "RandAugment + erasing": Pipeline((
        RandomResizedCrop(224), HorizontalFlip(), RandAugment(), RandomErasing())),
    "TrivialAugment": Pipeline((RandomResizedCrop(224), HorizontalFlip(), TrivialAugment())),
}


# --- previews --------------------------------------------------------------------------------


def _as_image_tensor(image: PIL.Image.Image | torch.Tensor) -> torch.Tensor:
    if isinstance(image, PIL.Image.Image):
        return v2.functional.pil_to_tensor(image.convert("RGB"))
    return image.as_subclass(torch.Tensor)


def to_pil(tensor: torch.Tensor) -> PIL.Image.Image:
    """A uint8 (C, H, W) tensor as a Pillow image (float tensors are taken as [0, 1])."""
    if tensor.is_floating_point():
        tensor = (tensor.clamp(0.0, 1.0) * 255.0).round().to(torch.uint8)
    return v2.functional.to_pil_image(tensor.as_subclass(torch.Tensor))


def grid_image(
    images: Sequence[torch.Tensor],
    columns: int = 4,
    *,
    gap: int = 4,
    background: int = 255,
    max_cell: int | None = None,
) -> PIL.Image.Image:
    """Tile uint8 (3, H, W) tensors of any sizes into one picture, each centred in its cell.

    With `max_cell`, tiles larger than max_cell×max_cell are shrunk (aspect kept) to fit.
    """
    if not images:
        raise SpecError("There are no images to put in a grid.")
    with _one_intra_op_thread():
        return _grid(images, columns, gap, background, max_cell)


def _grid(
    images: Sequence[torch.Tensor], columns: int, gap: int, background: int, max_cell: int | None
) -> PIL.Image.Image:
    if max_cell is not None:
        images = [_shrink(t.as_subclass(torch.Tensor), max_cell) for t in images]
    columns = max(1, min(columns, len(images)))
    rows = math.ceil(len(images) / columns)
    cell_h = max(int(t.shape[-2]) for t in images)
    cell_w = max(int(t.shape[-1]) for t in images)
    height = rows * cell_h + (rows - 1) * gap
    width = columns * cell_w + (columns - 1) * gap
    canvas = torch.full((3, height, width), background, dtype=torch.uint8)
    for i, tile in enumerate(images):
        tile = tile.as_subclass(torch.Tensor)
        if tile.shape[0] == 1:
            tile = tile.expand(3, -1, -1)
        h, w = int(tile.shape[-2]), int(tile.shape[-1])
        top = (i // columns) * (cell_h + gap) + (cell_h - h) // 2
        left = (i % columns) * (cell_w + gap) + (cell_w - w) // 2
        canvas[:, top:top + h, left:left + w] = tile
    return to_pil(canvas)


def _shrink(tile: torch.Tensor, max_side: int) -> torch.Tensor:
    h, w = int(tile.shape[-2]), int(tile.shape[-1])
    if max(h, w) <= max_side:
        return tile
    scale = max_side / max(h, w)
    size = [max(1, round(h * scale)), max(1, round(w * scale))]
    return v2.functional.resize(tile, size, antialias=True)


_THREADS_LOCK = threading.RLock()


@contextlib.contextmanager
def _one_intra_op_thread() -> Iterator[None]:
    """Run previews with one intra-op thread, restoring the previous setting afterwards.

    A preview is many small operations on one image; on a busy 2-core machine OpenMP's thread
    hand-offs made them 10-100× slower than one thread (see benchmarks/augment_speed.py). The
    lock serialises previews from concurrent sessions so that the restore is never lost.
    """
    with _THREADS_LOCK:
        previous = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(previous)


@dataclass(frozen=True)
class MixPreview:
    """A MixUp or CutMix of image A with image B, and the soft label it trains towards."""

    image: torch.Tensor  # uint8 (3, size, size)
    weight_a: float  # the label's share of A's class; B's is 1 - weight_a
    method: str

    @property
    def weight_b(self) -> float:
        return 1.0 - self.weight_a


def mix_preview(
    image_a: PIL.Image.Image | torch.Tensor,
    image_b: PIL.Image.Image | torch.Tensor,
    *,
    method: str = "mixup",
    alpha: float = 1.0,
    size: int = 256,
    seed: int = 0,
) -> MixPreview:
    """MixUp (Zhang et al. 2018) or CutMix (Yun et al. 2019) of two images, with torchvision's
    v2.MixUp / v2.CutMix on a batch [A, B]; lambda ~ Beta(alpha, alpha), drawn under `seed`."""
    if method not in ("mixup", "cutmix"):
        raise SpecError(f"method must be 'mixup' or 'cutmix', not {method!r}.", token=method)
    if not (0.05 <= alpha <= 10.0):
        raise SpecError(f"alpha must be in [0.05, 10], not {alpha}.", token="alpha")
    if not (8 <= size <= 1024):
        raise SpecError(f"size must be in [8, 1024], not {size}.", token="size")
    prepare = v2.Compose([v2.ToImage(), v2.Resize(size, antialias=True), v2.CenterCrop(size),
                          v2.ToDtype(torch.float32, scale=True)])
    labels = torch.tensor([0, 1])
    mixer = v2.MixUp(alpha=alpha, num_classes=2) if method == "mixup" else v2.CutMix(
        alpha=alpha, num_classes=2)
    with _one_intra_op_thread(), torch.random.fork_rng(devices=[]):
        batch = torch.stack([prepare(_as_image_tensor(image_a)),
                             prepare(_as_image_tensor(image_b))])
        torch.manual_seed(seed)
        mixed, soft = mixer(batch, labels)
    # v2 mixes each sample with the batch rolled by one: row 0 is A mixed with B.
    image = (mixed[0].clamp(0.0, 1.0) * 255.0).round().to(torch.uint8)
    return MixPreview(image.as_subclass(torch.Tensor), float(soft[0, 0]), method)
