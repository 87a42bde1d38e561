"""Previews: seeded draws without global state, picture grids, MixUp/CutMix.

Seeding: sample k of a preview with seed s equals seeding torch's global RNG with s + k, then
`transform(image)` (what the exported code documents), yet neither the global RNG nor any
other process-wide setting is touched: `seeded`/`resumed` (explorer.core.rng) hand every random
draw made in this thread to a private generator.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import PIL.Image
import torch
from torchvision.transforms import v2

from explorer.core.errors import SpecError
from explorer.core.rng import seeded
from explorer.labs.augment.pca import as_image_tensor


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
    v2.MixUp / v2.CutMix on a batch [A, B]; lambda ~ Beta(alpha, alpha), drawn from a
    generator seeded with `seed` (the same draw as the global RNG seeded with `seed` would give)."""
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
    batch = torch.stack([prepare(as_image_tensor(image_a)), prepare(as_image_tensor(image_b))])
    with seeded(seed):
        mixed, soft = mixer(batch, labels)
    # v2 mixes each sample with the batch rolled by one: row 0 is A mixed with B.
    image = (mixed[0].clamp(0.0, 1.0) * 255.0).round().to(torch.uint8)
    return MixPreview(image.as_subclass(torch.Tensor), float(soft[0, 0]), method)
