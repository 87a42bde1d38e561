"""Turning a picture into a network's input: torchvision's recipe from its weights, timm's own
transform, LeNet-5's digit cleaning, or the plain ImageNet recipe for random weights; one
tensor or ten crops, and back to a picture for display."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image
from torchvision.transforms import InterpolationMode, v2
from torchvision.transforms import functional as TF

from explorer.labs import digits
from explorer.weights.records import LoadedModel
from explorer.weights.timm_hub import TimmWeights

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# torchvision's TenCrop order: four corners and the centre, then the same of the flipped image.


class Preprocessor:
    """Turns a PIL image into the model's input: one tensor, or ten crops."""

    def single(self, image: Image.Image) -> torch.Tensor:  # (C, H, W)
        raise NotImplementedError

    def ten_crop(self, image: Image.Image) -> torch.Tensor:  # (10, C, H, W)
        raise NotImplementedError

    def to_display(self, x: torch.Tensor) -> np.ndarray:
        """A preprocessed (C, H, W) tensor as an 8-bit picture (H, W) or (H, W, 3)."""
        raise NotImplementedError


@dataclass(frozen=True)
class ImagePreprocessor(Preprocessor):
    """torchvision's ImageClassification recipe: resize the shorter side, centre crop, normalise."""

    resize_size: int
    crop_size: tuple[int, int]
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    interpolation: InterpolationMode = InterpolationMode.BILINEAR
    channels: int = 3

    @classmethod
    def from_weights(cls, member: Any) -> ImagePreprocessor:
        t = member.transforms()  # torchvision.transforms._presets.ImageClassification
        crop = t.crop_size
        return cls(
            resize_size=int(t.resize_size[0]),
            crop_size=(int(crop[0]), int(crop[-1])),
            mean=tuple(t.mean),
            std=tuple(t.std),
            interpolation=t.interpolation,
        )

    @classmethod
    def for_input(cls, input_size: tuple[int, int, int]) -> ImagePreprocessor:
        c, h, w = input_size
        mean, std = (IMAGENET_MEAN, IMAGENET_STD) if c == 3 else ((0.5,) * c, (0.5,) * c)
        return cls(
            resize_size=round(min(h, w) * 256 / 224),
            crop_size=(h, w),
            mean=mean,
            std=std,
            channels=c,
        )

    def _resized(self, image: Image.Image) -> Image.Image:
        image = image.convert("L" if self.channels == 1 else "RGB")
        return TF.resize(
            image, [self.resize_size], interpolation=self.interpolation, antialias=True
        )

    def _tensor(self, image: Image.Image) -> torch.Tensor:
        x = TF.convert_image_dtype(TF.pil_to_tensor(image), torch.float32)
        return TF.normalize(x, list(self.mean), list(self.std))

    def single(self, image: Image.Image) -> torch.Tensor:
        return self._tensor(TF.center_crop(self._resized(image), list(self.crop_size)))

    def ten_crop(self, image: Image.Image) -> torch.Tensor:
        crops = v2.TenCrop(list(self.crop_size))(self._resized(image))
        return torch.stack([self._tensor(c) for c in crops])

    def to_display(self, x: torch.Tensor) -> np.ndarray:
        return _display(x, self.mean, self.std)


class DigitPreprocessor(Preprocessor):
    """lenet5-digits: explorer.labs.digits.prepare_digit; ten crops of 32×32 from a 36×36 canvas."""

    def single(self, image: Image.Image) -> torch.Tensor:
        return digits.preprocess_photo(image)

    def ten_crop(self, image: Image.Image) -> torch.Tensor:
        canvas = torch.nn.functional.pad(digits.photo_digit(image), (2,) * 4)
        return digits.normalize(torch.stack(v2.TenCrop(digits.SIZE)(canvas)))

    def to_display(self, x: torch.Tensor) -> np.ndarray:
        pixels = ((x.detach().float().cpu() * digits.STD + digits.MEAN).clamp(0, 1) * 255).round()
        return pixels.byte()[0].numpy()


@dataclass(frozen=True)
class TimmPreprocessor(Preprocessor):
    """A timm model's own eval transform (timm's `create_transform` over
    `resolve_data_config`), used as it is for one image. Ten crops are cut, with the same
    tensor steps, from the picture as timm resizes it (padded to the crop where timm pads)."""

    transform: Any  # torchvision Compose: resize step(s), a centre crop, to tensor, normalise
    mean: tuple[float, ...]
    std: tuple[float, ...]

    @classmethod
    def from_weights(cls, weights: TimmWeights) -> TimmPreprocessor:
        config = weights.data_config()
        return cls(weights.transform(), tuple(config["mean"]), tuple(config["std"]))

    def single(self, image: Image.Image) -> torch.Tensor:
        out: torch.Tensor = self.transform(image.convert("RGB"))
        return out

    def ten_crop(self, image: Image.Image) -> torch.Tensor:
        steps = list(self.transform.transforms)
        at = next(i for i, s in enumerate(steps) if "Crop" in type(s).__name__)
        crop, tensor_steps = steps[at], steps[at + 1 :]
        resized = image.convert("RGB")
        for step in steps[:at]:
            resized = step(resized)
        size = [int(v) for v in crop.size] if isinstance(crop.size, tuple | list) else [crop.size]
        if resized.height < size[0] or resized.width < size[-1]:
            resized = crop(resized)  # timm pads a picture smaller than its crop
        crops = v2.TenCrop(size)(resized)
        out = []
        for c in crops:
            for step in tensor_steps:
                c = step(c)
            out.append(c)
        return torch.stack(out)

    def to_display(self, x: torch.Tensor) -> np.ndarray:
        return _display(x, self.mean, self.std)


def _display(x: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """A normalised (C, H, W) tensor as an 8-bit picture (H, W) or (H, W, 3)."""
    m = torch.tensor(mean).view(-1, 1, 1)
    s = torch.tensor(std).view(-1, 1, 1)
    pixels = ((x.detach().float().cpu() * s + m).clamp(0, 1) * 255).round().byte()
    return pixels.permute(1, 2, 0).squeeze(-1).numpy()


def preprocessor_for(loaded: LoadedModel) -> Preprocessor:
    if loaded.architecture == "lenet5" and loaded.input_size == (1, 32, 32):
        return DigitPreprocessor()
    if isinstance(loaded.tv_weights, TimmWeights):
        return TimmPreprocessor.from_weights(loaded.tv_weights)
    if loaded.tv_weights is not None:
        return ImagePreprocessor.from_weights(loaded.tv_weights)
    return ImagePreprocessor.for_input(loaded.input_size)
