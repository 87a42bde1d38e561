"""Synthetic photos of handwritten digits: a test set for the photo preprocessing.

Each photo starts from one of the 360 *held-out* digits of scikit-learn's set (never seen in
training), so its label is known. The 8×8 digit is blown up into a smooth ink field and drawn
with one of several pens (thin ballpoint, felt-tip, thick marker, pencil) on paper-like
backgrounds: tinted paper, uneven lighting (a shadow across the page), sensor noise, a little
blur, a little rotation and a random place and size on the page. `explorer.labs.digits` must read
these right about as often as the held-out digits themselves; tests/test_digits.py checks
that at least 95% are.

    from explorer.labs import digits
    for photo, label, pen in digits.held_out_photos(60): ...
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont


@dataclass(frozen=True)
class Pen:
    name: str
    level: float  # the ink field's threshold: higher = thinner stroke
    ink: tuple[int, int, int]  # RGB
    opacity: float  # 1 = solid ink; a pencil is lighter and grainy
    grain: float = 0.0


PENS = (
    Pen("ballpoint", 0.45, (25, 35, 110), 0.95),
    Pen("felt-tip", 0.38, (20, 20, 25), 1.0),
    Pen("marker", 0.28, (10, 10, 10), 1.0),
    Pen("pencil", 0.42, (70, 70, 75), 0.8, grain=0.25),
)


def _ink_mask(raw: np.ndarray, pen: Pen, side: int, angle: float) -> np.ndarray:
    """The pen's stroke (0..1 coverage) for an 8×8 digit (values 0..16), side×side pixels."""
    padded = np.pad(np.clip(raw / 16.0, 0, 1), 1)  # strokes that touch the 8×8 edge end round
    field = Image.fromarray(np.uint8(padded * 255), mode="L")
    field = field.resize((side, side), Image.Resampling.BICUBIC).filter(
        ImageFilter.GaussianBlur(side / 40)
    )
    a = np.asarray(field, dtype=np.float32) / 255.0
    mask = np.clip((a - pen.level) / 0.06, 0.0, 1.0)  # a soft-edged stroke
    stroke = Image.fromarray(np.uint8(mask * 255), mode="L")
    stroke = stroke.rotate(angle, resample=Image.Resampling.BILINEAR, expand=True)
    return np.asarray(stroke, dtype=np.float32) / 255.0


def photo(raw: np.ndarray, pen: Pen, rng: np.random.Generator, desk: bool = False) -> Image.Image:
    """One photo (RGB) of the 8×8 digit `raw` drawn with `pen` on a random sheet of paper
    (`desk`: the sheet's corner lies on a darker desk, which shows in the photo)."""
    width, height = int(rng.integers(180, 260)), int(rng.integers(180, 260))
    side = int(rng.integers(90, 130))
    mask = _ink_mask(raw, pen, side, float(rng.uniform(-10, 10)))
    return _on_paper(mask, pen, rng, width, height, desk)


# Printed digits: the fonts every installation has (matplotlib ships them). The model trains
# on DejaVu's faces; STIX (a Times face) and Computer Modern (TeX's) are kept for the check.
TRAINING_FONTS = (
    "DejaVuSans", "DejaVuSans-Bold", "DejaVuSans-Oblique", "DejaVuSans-BoldOblique",
    "DejaVuSerif", "DejaVuSerif-Bold", "DejaVuSerif-Italic", "DejaVuSerif-BoldItalic",
    "DejaVuSansMono", "DejaVuSansMono-Bold", "DejaVuSansMono-Oblique",
    "DejaVuSansMono-BoldOblique",
)  # fmt: skip
HELD_OUT_FONTS = (
    "STIXGeneral", "STIXGeneralBol", "STIXGeneralItalic", "cmr10", "cmss10", "cmtt10", "cmb10",
    "cmti10",
)  # fmt: skip


def font_dir() -> Path:
    """Where matplotlib keeps the fonts it ships (imported only when a digit is printed)."""
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


def _glyph_mask(digit: int, font: str, side: int, angle: float) -> np.ndarray:
    """The printed digit (0..1 coverage), its height about `side` pixels, turned by `angle`."""
    face = ImageFont.truetype(str(font_dir() / f"{font}.ttf"), side)
    canvas = Image.new("L", (2 * side, 2 * side), 0)
    ImageDraw.Draw(canvas).text((side // 2, side // 4), str(digit), font=face, fill=255)
    box = canvas.getbbox()
    glyph = canvas.crop(box) if box else canvas
    glyph = glyph.rotate(angle, resample=Image.Resampling.BILINEAR, expand=True)
    margin = side // 6  # paper around the digit, as a handwritten digit's blank border
    return np.pad(np.asarray(glyph, dtype=np.float32) / 255.0, margin)


def printed_photo(
    digit: int, font: str, pen: Pen, rng: np.random.Generator, desk: bool = False
) -> Image.Image:
    """One photo (RGB) of `digit` printed in `font` (a printer's or a pen's ink colour) on a
    random sheet of paper, as `photo` takes a handwritten one."""
    width, height = int(rng.integers(180, 260)), int(rng.integers(180, 260))
    mask = _glyph_mask(digit, font, int(rng.integers(70, 120)), float(rng.uniform(-6, 6)))
    return _on_paper(mask, pen, rng, width, height, desk)


def printed_set(
    fonts: tuple[str, ...], per_digit: int = 1, seed: int = 0
) -> Iterator[tuple[Image.Image, int, str]]:
    """`per_digit` photos of every digit in every font: (photo, label, font)."""
    rng = np.random.default_rng(seed)
    i = 0
    for font in fonts:
        for digit in range(10):
            for _ in range(per_digit):
                pen = PENS[i % len(PENS)]
                yield printed_photo(digit, font, pen, rng, desk=i % 5 == 4), digit, font
                i += 1


def _on_paper(
    mask: np.ndarray, pen: Pen, rng: np.random.Generator, width: int, height: int, desk: bool
) -> Image.Image:
    """The ink `mask` at a random place on a random sheet: tint, shadow, noise, blur."""
    if pen.grain:
        mask = mask * (1 - pen.grain * rng.random(mask.shape, dtype=np.float32))
    canvas = np.zeros((height, width), np.float32)
    mh, mw = mask.shape
    mh, mw = min(mh, height), min(mw, width)
    # On a desk photo the digit stays clear of the desk strips (top and right fifths).
    low_top, high_left = (height // 5, width - width // 5) if desk else (0, width)
    top = int(rng.integers(min(low_top, height - mh), height - mh + 1))
    left = int(rng.integers(0, max(high_left - mw, 0) + 1))
    canvas[top : top + mh, left : left + mw] = mask[:mh, :mw]
    coverage = canvas[..., None] * pen.opacity

    # Paper: a tint, lighting that falls off across the page (a shadow), noise.
    tint = np.array([rng.uniform(215, 250) for _ in range(3)], np.float32)
    tint = np.minimum(tint, tint.min() + 15)  # white, cream or grey paper, not coloured
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    direction = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(direction) * xx / width + np.sin(direction) * yy / height + 1) / 2
    shadow = 1 - rng.uniform(0.05, 0.3) * ramp
    paper = tint[None, None, :] * shadow[..., None]
    ink = np.array(pen.ink, np.float32)[None, None, :] * shadow[..., None]
    picture = paper * (1 - coverage) + ink * coverage
    if desk:  # the sheet does not fill the frame: a darker desk shows along two edges
        dy, dx = int(rng.integers(12, height // 5)), int(rng.integers(12, width // 5))
        shade = np.array([rng.uniform(60, 140)] * 3, np.float32)
        picture[:dy] = shade
        picture[:, width - dx :] = shade
    picture += rng.normal(0, rng.uniform(2, 8), (height, width, 1))
    out = Image.fromarray(np.uint8(np.clip(picture, 0, 255)), mode="RGB")
    return out.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.3, 1.2))))


def photo_set(
    raws: np.ndarray, labels: np.ndarray, n: int = 360, seed: int = 0
) -> Iterator[tuple[Image.Image, int, str]]:
    """`n` photos of the 8×8 digits `raws` (0..16) labelled `labels`, taken in turn (every pen
    in turn; every fifth on a sheet lying on a darker desk): (photo, label, pen name).
    explorer.labs.digits.held_out_photos gives those of the held-out digits."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        k = i % len(raws)
        pen = PENS[i % len(PENS)]
        desk = i % 5 == 4
        yield photo(raws[k], pen, rng, desk), int(labels[k]), pen.name
