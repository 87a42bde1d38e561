"""PCA colour augmentation from the AlexNet paper (Krizhevsky et al. 2012, §4.1), which
torchvision lacks: `PCAColorJitter` (a v2 transform, copied verbatim into exported code) and
the eigen-decompositions it uses (ImageNet's, or the image's own)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import PIL.Image
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

from explorer.core.errors import SpecError

# ImageNet RGB covariance eigen-decomposition for pixels in [0, 1], from fb.resnet.torch
# (datasets/transforms.lua, "Lighting"), for the AlexNet paper's §4.1 "altering the
# intensities of the RGB channels". Eigenvectors are the columns of IMAGENET_EIGVEC.
IMAGENET_EIGVAL: tuple[float, float, float] = (0.2175, 0.0188, 0.0045)
IMAGENET_EIGVEC: tuple[tuple[float, float, float], ...] = (
    (-0.5675, 0.7192, 0.4009),
    (-0.5808, -0.0045, -0.8140),
    (-0.5836, -0.6948, 0.4203),
)


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



def as_image_tensor(image: PIL.Image.Image | torch.Tensor) -> torch.Tensor:
    """A (C, H, W) tensor of a Pillow image (as RGB) or of a tensor (as a plain tensor)."""
    if isinstance(image, PIL.Image.Image):
        return v2.functional.pil_to_tensor(image.convert("RGB"))
    return image.as_subclass(torch.Tensor)


def image_eigen(image: PIL.Image.Image | torch.Tensor) -> Eigen:
    """The image's own RGB covariance eigen-decomposition (pixels scaled to [0, 1])."""
    tensor = as_image_tensor(image)
    if tensor.shape[0] != 3:
        raise SpecError("PCA colour augmentation needs an RGB image.")
    values, vectors = PCAColorJitter.eigen_of(tensor)
    return Eigen(
        tuple(float(v) for v in values),  # type: ignore[arg-type]
        tuple(tuple(float(x) for x in row) for row in vectors.tolist()),  # type: ignore[misc]
        "this image",
    )

