"""Data augmentation on torchvision `transforms.v2`: typed steps, seeded pipelines, code export.

The package, by concern (each module short enough to read at once):
- `params`: `ParamSpec` (typed, bounded parameters the UI turns into sliders) and the
  `Augmentation` base class (`to_transform()`, `to_code()`, `output_bound()`);
- `steps`: the named augmentations, one frozen dataclass each, and `AUGMENTATIONS`;
- `pca`: the AlexNet paper's PCA colour augmentation, which torchvision lacks;
- `pipeline`: `Pipeline` (run seeded and within the budgets of explorer.core.limits, strict JSON,
  Python export), `DEFAULT_PIPELINE`, `PRESETS`;
- `preview`: seeded draws without global state (`seeded`), picture grids, MixUp/CutMix;
- `memo`: `PrefixMemo`, per-sample states after each step, so a grown pipeline reruns only
  its new steps (same pixels).

Seeding: sample k of a preview with seed s equals seeding torch's global RNG with s + k, then
`transform(image)`, drawn from a private generator: no global RNG state or thread count is
ever changed.
"""

from __future__ import annotations

from explorer.core.rng import seeded
from explorer.labs.augment.memo import PrefixMemo
from explorer.labs.augment.params import Augmentation, ParamSpec
from explorer.labs.augment.pca import (
    IMAGENET_EIGVAL,
    IMAGENET_EIGVEC,
    Eigen,
    PCAColorJitter,
    image_eigen,
    imagenet_eigen,
)
from explorer.labs.augment.pipeline import (
    DEFAULT_PIPELINE,
    JSON_FORMAT,
    JSON_VERSION,
    MAX_JSON_CHARS,
    MAX_SAMPLE_PIXELS,
    MAX_STEPS,
    PRESETS,
    Pipeline,
)
from explorer.labs.augment.preview import MixPreview, grid_image, mix_preview, to_pil
from explorer.labs.augment.steps import (
    AUGMENTATIONS,
    Affine,
    AutoAugment,
    CenterCrop,
    ColorShift,
    ElasticWarp,
    Grayscale,
    HorizontalFlip,
    Pad,
    PCAColor,
    Perspective,
    RandAugment,
    RandomCrop,
    RandomErasing,
    RandomResizedCrop,
    Resize,
    Rotation,
    ScaleJitter,
    Shear,
    TrivialAugment,
    VerticalFlip,
)

__all__ = [
    "AUGMENTATIONS",
    "DEFAULT_PIPELINE",
    "IMAGENET_EIGVAL",
    "IMAGENET_EIGVEC",
    "JSON_FORMAT",
    "JSON_VERSION",
    "MAX_JSON_CHARS",
    "MAX_SAMPLE_PIXELS",
    "MAX_STEPS",
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
    "PrefixMemo",
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
    "seeded",
    "to_pil",
]
