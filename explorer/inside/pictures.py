"""Pictures of activations: feature-map grids (exactly n_C tiles of n_H×n_W at a common
scale), the strongest channels, an overview of every layer, the first layer's filters.

Numbers in, 8-bit pictures out (numpy arrays or PIL images); explorer.inside.activations records
the numbers. Colours come from matplotlib's colour maps (viridis for activations)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from torch import nn

from explorer.core import limits
from explorer.core.errors import BudgetError
from explorer.inside.activations import Activations, LayerActivation
from explorer.weights.loading import LoadedModel

MAX_GRID_TILES = limits.GRID_MAX_TILES
MAX_GRID_PIXELS = limits.GRID_MAX_PIXELS
MAX_FILTERS = limits.FILTERS_MAX
#: The largest feature map is drawn this many pixels high in the overview; all layers use
#: the same pixels per activation, so smaller maps are drawn smaller.
OVERVIEW_SIDE = 112
GAP = 1  # pixels between tiles


@lru_cache(maxsize=4)
def _colormap(name: str = "viridis") -> np.ndarray:
    """256×3 uint8 lookup table of a matplotlib colour map."""
    import matplotlib

    table = matplotlib.colormaps[name](np.linspace(0.0, 1.0, 256))[:, :3]
    return np.asarray(np.round(table * 255), dtype=np.uint8)


def colorize(values: np.ndarray, lo: float, hi: float, cmap: str = "viridis") -> np.ndarray:
    """Values mapped linearly from [lo, hi] to a colour map: (..., 3) uint8."""
    span = hi - lo if hi > lo else 1.0
    index = np.clip(np.round((np.asarray(values, np.float32) - lo) / span * 255), 0, 255)
    return _colormap(cmap)[index.astype(np.intp)]


@dataclass(frozen=True)
class Grid:
    """A layer's feature maps as one picture: exactly n_C tiles of n_H×n_W, each drawn
    `scale` pixels per activation, channel i at `origins[i]` (top, left)."""

    image: np.ndarray = field(repr=False)  # (H, W, 3) uint8
    rows: int
    cols: int
    tile: tuple[int, int]  # (n_H, n_W) of one feature map
    scale: int
    origins: tuple[tuple[int, int], ...]
    lo: float  # the layer's range mapped to the colour map
    hi: float

    @property
    def count(self) -> int:
        return len(self.origins)


def grid_layout(channels: int) -> tuple[int, int]:
    """(rows, cols) of a nearly square grid of `channels` tiles."""
    cols = max(1, math.ceil(math.sqrt(channels)))
    return math.ceil(channels / cols), cols


def feature_grid(
    layer: LayerActivation,
    scale: int = 1,
    channels: Sequence[int] | None = None,
    background: tuple[int, int, int] = (255, 255, 255),
) -> Grid:
    """Feature maps as tiles (all of them by default), coloured by the layer's own range."""
    if not layer.spatial:
        raise BudgetError(f"{layer.name} is a vector of {layer.shape[0]}, not feature maps.")
    c, h, w = layer.shape
    picked = list(range(c)) if channels is None else [int(i) for i in channels]
    rows, cols = grid_layout(len(picked))
    scale = max(1, int(scale))
    th, tw = h * scale, w * scale
    height, width = rows * (th + GAP) - GAP, cols * (tw + GAP) - GAP
    if len(picked) > MAX_GRID_TILES or height * width > MAX_GRID_PIXELS:
        raise BudgetError(
            f"{layer.name}: {len(picked):,} tiles of {th}×{tw} pixels make a "
            f"{width:,}×{height:,} picture; the limit is {MAX_GRID_TILES:,} tiles and "
            f"{MAX_GRID_PIXELS / 1e6:.0f} M pixels (pick fewer channels or a smaller scale)."
        )
    lo, hi = float(layer.values.min()), float(layer.values.max())
    image = np.empty((height, width, 3), np.uint8)
    image[:] = background
    origins = []
    for k, ch in enumerate(picked):
        top, left = (k // cols) * (th + GAP), (k % cols) * (tw + GAP)
        tile = colorize(layer.values[ch], lo, hi)
        image[top : top + th, left : left + tw] = tile.repeat(scale, 0).repeat(scale, 1)
        origins.append((top, left))
    return Grid(image, rows, cols, (h, w), scale, tuple(origins), lo, hi)


def overview_scale(acts: Activations, side: int = OVERVIEW_SIDE) -> int:
    """Pixels per activation for every grid of the overview: the largest map is about `side`
    pixels high, and the same scale for all makes n_H, n_W visibly shrink."""
    tallest = max((layer.shape[1] for layer in acts.spatial_layers), default=1)
    return max(1, side // tallest)


def strongest_channels(layer: LayerActivation, k: int = 8) -> list[int]:
    """The channels that respond most to this image (highest mean activation)."""
    means = np.array([s.mean for s in layer.stats])
    return [int(i) for i in np.argsort(-means, kind="stable")[: max(1, k)]]


def strongest_units(layer: LayerActivation, k: int = 20) -> list[int]:
    """The highest values of a vector (logits: the likeliest classes first)."""
    return [int(i) for i in np.argsort(-layer.values.ravel(), kind="stable")[: max(1, k)]]


def overview_image(acts: Activations, scale: int | None = None) -> Image.Image:
    """Every spatial stage's grid, one below the other, each labelled n_H×n_W×n_C."""
    scale = overview_scale(acts) if scale is None else scale
    grids = [(layer, feature_grid(layer, scale)) for layer in acts.spatial_layers]
    label_h = 16
    width = max((g.image.shape[1] for _, g in grids), default=1)
    height = sum(g.image.shape[0] + label_h + 8 for _, g in grids) or 1
    if width * height > 4 * MAX_GRID_PIXELS:
        raise BudgetError(
            f"The overview of {acts.architecture} would be {width:,}×{height:,} pixels; the "
            f"limit is {4 * MAX_GRID_PIXELS / 1e6:.0f} M pixels (write one --layer instead)."
        )
    canvas = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(canvas)
    font = _font()
    y = 0
    for layer, g in grids:
        draw.text((0, y + 1), _drawable(layer.label, font), fill="black", font=font)
        y += label_h
        canvas.paste(Image.fromarray(g.image), (0, y))
        y += g.image.shape[0] + 8
    return canvas


@lru_cache(maxsize=1)
def _font() -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:  # DejaVu has the lecture's ×; Pillow's built-in bitmap font does not
        return ImageFont.truetype("DejaVuSans.ttf", 12)
    except OSError:
        return ImageFont.load_default()


def _drawable(text: str, font: Any) -> str:
    return text if isinstance(font, ImageFont.FreeTypeFont) else text.replace("×", "x")


@dataclass(frozen=True)
class Filters:
    """The first convolution's kernels as tiles (RGB for 3 input channels, else grey)."""

    layer: str
    shape: tuple[int, int, int, int]  # (out, in, kH, kW)
    image: np.ndarray = field(repr=False)  # the grid, uint8 (H, W, 3)
    scale: int
    rgb: bool


def first_conv(model: nn.Module) -> tuple[str, nn.Conv2d]:
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            return name, module
    raise BudgetError("This network has no 2-D convolution, so it has no filters to draw.")


def filters(loaded: LoadedModel, tile_side: int = 64) -> Filters:
    """The first convolution's filters, each scaled to its own range (as in the AlexNet
    paper's figure 3), enlarged with nearest-neighbour pixels to about `tile_side`."""
    name, conv = first_conv(loaded.model)
    w = conv.weight.detach().float().cpu()
    out_c, in_c, kh, kw = (int(s) for s in w.shape)
    if out_c > MAX_FILTERS:
        raise BudgetError(f"{name} has {out_c:,} filters; the limit drawn is {MAX_FILTERS}.")
    rgb = in_c == 3
    tiles = w if rgb else w.mean(1, keepdim=True)
    flat = tiles.reshape(out_c, -1)
    lo, hi = flat.min(1).values.view(-1, 1, 1, 1), flat.max(1).values.view(-1, 1, 1, 1)
    tiles = ((tiles - lo) / (hi - lo).clamp_min(1e-12) * 255).round().byte()
    scale = max(1, tile_side // max(kh, kw))
    rows, cols = grid_layout(out_c)
    th, tw, gap = kh * scale, kw * scale, 2
    image = np.full((rows * (th + gap) - gap, cols * (tw + gap) - gap, 3), 255, np.uint8)
    for k in range(out_c):
        tile = tiles[k].permute(1, 2, 0).numpy()
        tile = np.repeat(np.repeat(tile, scale, 0), scale, 1)
        top, left = (k // cols) * (th + gap), (k % cols) * (tw + gap)
        image[top : top + th, left : left + tw] = tile if rgb else tile.repeat(3, axis=2)
    return Filters(name, (out_c, in_c, kh, kw), image, scale, rgb)
