"""What the weights layer hands out: a set of weights (`WeightsInfo`, from offline metadata) and
a model loaded with them (`LoadedModel`). Plain frozen records; loading is
explorer.weights.loading's, downloading explorer.weights.downloads'.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from explorer.core.units import MiB, format_bytes
from explorer.weights.shipped import SHIPPED

RANDOM = "random"
RANDOM_LABEL = "random weights — predictions are meaningless"


@dataclass(frozen=True)
class WeightsInfo:
    """One set of weights for one architecture, from offline metadata."""

    architecture: str
    name: str  # "IMAGENET1K_V2", or "lenet5-digits"
    is_default: bool
    source: str  # "torchvision" or "shipped"
    url: str
    path: Path  # where the file is (or would be) on this machine
    size_mb: float
    num_params: int
    categories: tuple[str, ...]
    metrics: tuple[tuple[str, float], ...]  # ("ImageNet-1K acc@1", 80.858), ...

    @property
    def size_text(self) -> str:
        """The file's size as every page and command writes bytes ('97.8 MiB')."""
        return format_bytes(self.size_mb * MiB)

    @property
    def filename(self) -> str:
        return self.path.name

    @property
    def cached(self) -> bool:
        """The file is here and has the size torchvision's metadata gives (a download cut
        short is never written under this name; an older broken one is not counted)."""
        try:
            size = self.path.stat().st_size
        except OSError:
            return False
        if self.source != "torchvision" or not self.size_mb:
            return True
        return abs(size / (1 << 20) - self.size_mb) < 0.0006  # _file_size: MiB, 3 decimals

    @property
    def top1(self) -> float | None:
        for key, value in self.metrics:
            if key.endswith("acc@1"):
                return value
        return None


@dataclass(frozen=True)
class LoadedModel:
    """A model ready for inference, with what is needed to preprocess and label its inputs."""

    architecture: str  # catalog name ("lenet5", "resnet50")
    weights: str  # "IMAGENET1K_V2", "lenet5-digits", "file: my.pth", "random"
    model: nn.Module
    device: torch.device
    categories: tuple[str, ...]
    input_size: tuple[int, int, int]  # (C, H, W)
    # torchvision's Weights member (its transforms()) or timm's TimmWeights (its transform()):
    # what preprocesses the model's input; None for a network's plain default recipe
    tv_weights: Any = None

    @property
    def random(self) -> bool:
        return self.weights == RANDOM

    @property
    def label(self) -> str:
        """Display name: 'resnet50 (IMAGENET1K_V2)', or '... — random weights …'."""
        if self.random:
            return f"{self.architecture} ({RANDOM_LABEL})"
        if self.weights in SHIPPED:
            return self.weights
        return f"{self.architecture} ({self.weights})"
