"""The drawing canvas is a door for untrusted pictures: what it sends goes through
explorer.core.images.decode_image within the canvas's own size, and nothing in the app opens
user bytes with Pillow anywhere else."""

from __future__ import annotations

import ast
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from components.inside_widgets import canvas_image
from explorer.core import limits
from explorer.core.errors import ImageError

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class _Drawn:
    """The shape of streamlit_drawable_canvas's CanvasResult that the page reads."""

    json_data: dict[str, Any] | None
    image_bytes: bytes | None


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def test_a_drawing_becomes_black_ink_on_white() -> None:
    side = 2 * limits.CANVAS_SIDE  # a HiDPI screen sends two device pixels per CSS pixel
    stroke = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    stroke.paste((0, 0, 0, 255), (100, 100, 140, 300))
    image = canvas_image(_Drawn({"objects": [{}]}, _png(stroke)))
    assert image is not None and image.mode == "RGB" and image.size == (side, side)
    assert image.getpixel((5, 5)) == (255, 255, 255) and image.getpixel((120, 200)) == (0, 0, 0)


def test_nothing_drawn_is_no_picture() -> None:
    assert canvas_image(None) is None
    assert canvas_image(_Drawn(None, None)) is None


def test_a_huge_picture_in_a_canvas_message_is_refused_from_its_header() -> None:
    """The attack: a 12000×12000 PNG (2 GB decoded) in one small message."""
    bomb = _png(Image.new("1", (12_000, 12_000)))
    assert len(bomb) < limits.CANVAS_MAX_BYTES
    with pytest.raises(ImageError, match=r"pixels"):  # read from the header, never decoded
        canvas_image(_Drawn({"objects": []}, bomb))


def test_a_message_over_the_canvas_bytes_is_refused() -> None:
    with pytest.raises(ImageError, match="limit"):
        canvas_image(_Drawn({"objects": []}, b"\x89PNG" + bytes(limits.CANVAS_MAX_BYTES)))


def _pillow_opens(source: str) -> list[int]:
    """Lines that call `Image.open(...)` or `PIL.Image.open(...)` (calls, not strings)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "open"
            and (
                (isinstance(node.func.value, ast.Name) and node.func.value.id == "Image")
                or (isinstance(node.func.value, ast.Attribute) and node.func.value.attr == "Image")
            )
        ):
            found.append(node.lineno)
    return found


def test_only_the_image_door_opens_user_bytes_with_pillow() -> None:
    """explorer/core/images.py parses headers with Pillow's plugins itself; every other module
    goes through it (the code export's `PIL.Image.open('photo.jpg')` is text, not a call)."""
    calls = {
        str(p.relative_to(ROOT)): lines
        for folder in ("explorer", "components")
        for p in (ROOT / folder).rglob("*.py")
        if (lines := _pillow_opens(p.read_text()))
    }
    assert calls == {}
    sample = (
        "from PIL import Image\nimport PIL\nImage.open(b)\nx = PIL.Image.open(f)\n"
        "'Image.open(s)'\n"
    )
    assert _pillow_opens(sample) == [3, 4]  # the scan finds calls, and only calls
