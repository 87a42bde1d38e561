"""Small test pictures and pipelines shared by tests/test_augment*.py (not a test module)."""

from __future__ import annotations

import torch

from explorer.labs.augment import (
    AUGMENTATIONS,
    CenterCrop,
    Pad,
    Pipeline,
    RandomCrop,
    RandomResizedCrop,
    Resize,
    ScaleJitter,
)


def pattern(height: int = 24, width: int = 40, seed: int = 0) -> torch.Tensor:
    """A uint8 (3, H, W) image with no symmetry, so every geometric change shows."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (3, height, width), dtype=torch.uint8, generator=generator)


def smooth(height: int = 32, width: int = 48) -> torch.Tensor:
    """Smooth gradients in all three channels, well inside 0..255 (no clamping)."""
    y = torch.linspace(0, 1, height).view(1, height, 1)
    x = torch.linspace(0, 1, width).view(1, 1, width)
    base = torch.stack([60 + 100 * x[0].expand(height, width), 70 + 90 * y[0].expand(height, width),
                        80 + 50 * (x[0] * y[0])])
    return base.round().to(torch.uint8)


def run(step, image: torch.Tensor, seed: int = 0) -> torch.Tensor:
    return Pipeline((step,)).apply(image, seed)


ALL_STEPS = Pipeline(tuple(cls() for cls in AUGMENTATIONS.values()))
# One of each, sized for small test images (the defaults are for 224-pixel training crops).
SMALL_SIZES = {"resize": Resize(size=48), "scale_jitter": ScaleJitter(min_size=40, max_size=64),
               "random_crop": RandomCrop(size=40), "center_crop": CenterCrop(size=40),
               "random_resized_crop": RandomResizedCrop(size=40), "pad": Pad(padding=4)}
ALL_SMALL = Pipeline(tuple(SMALL_SIZES.get(kind, cls()) for kind, cls in AUGMENTATIONS.items()))
