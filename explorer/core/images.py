"""The one safe door for image bytes: limits, format checks, EXIF orientation, mode conversion.

Every page and CLI command that reads an image calls `decode_image`. It checks, in this order,
and stops at the first problem with an `ImageError` whose message a person understands:

1. the byte count (before anything is parsed),
2. the format, from the file's header, against an allow-list (JPEG, PNG, WebP, GIF, BMP, TIFF),
3. width × height from the header against `max_pixels`, and the longer side against
   `limits.IMAGE_MAX_SIDE` (before a single pixel is decoded),
4. for JPEG, the number of scans, counted from the markers (a progressive JPEG decodes every
   scan over the whole picture: thousands of tiny scans make a 12 MB file decode for minutes),
5. the pixel data itself (truncated or corrupt data is an error, never a partial picture),

then applies the EXIF orientation and converts the mode (alpha composited on white, CMYK to
RGB, 16-bit scaled to 8-bit). Pillow's global `Image.MAX_IMAGE_PIXELS` is neither read nor
changed: the header is parsed by the format plugins directly, so our own limit applies.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageFile, ImageOps

from explorer.core import limits
from explorer.core.errors import ImageError
from explorer.core.ledger import LEDGER
from explorer.core.safe_io import read_bounded
from explorer.core.units import format_bytes

__all__ = [
    "ALLOWED_FORMATS",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_PIXELS",
    "SAMPLES_DIR",
    "check_upload_batch",
    "decode_image",
    "fit_within",
    "image_size",
    "jpeg_scan_count",
    "load_sample",
    "read_image_file",
    "sample_names",
    "sample_path",
    "to_png_bytes",
]

DEFAULT_MAX_BYTES = limits.IMAGE_MAX_BYTES  # matches maxUploadSize = 20 in .streamlit/config.toml
DEFAULT_MAX_PIXELS = limits.IMAGE_MAX_PIXELS  # 40 megapixels: a 7000×5700 photo

# Pillow format names we accept (MPO is how Pillow names a multi-picture camera JPEG).
ALLOWED_FORMATS = ("JPEG", "MPO", "PNG", "WEBP", "GIF", "BMP", "TIFF")
_HUMAN_FORMATS = "JPEG, PNG, WebP, GIF, BMP or TIFF"
# The plugins asked to parse a header, in the order tried (MPO comes back from the JPEG one).
_OPEN_ORDER = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")

SAMPLES_DIR = Path(__file__).resolve().parents[2] / "assets" / "samples"

# Magic numbers of common files that are not images we accept, for a specific message.
_NOT_IMAGE_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "This file is a PDF, not an image. Export the page as PNG or JPEG first."),
    (b"PK\x03\x04", "This file is a ZIP archive (or an Office document), not an image."),
    (b"PK\x05\x06", "This file is an empty ZIP archive, not an image."),
    (b"\x1f\x8b", "This file is gzip-compressed data, not an image."),
    (b"Rar!", "This file is a RAR archive, not an image."),
    (b"7z\xbc\xaf\x27\x1c", "This file is a 7-Zip archive, not an image."),
    (b"%!PS", "This file is PostScript, not an image. Export it as PNG or JPEG first."),
    (b"8BPS", "This file is a Photoshop document; save it as PNG or JPEG first."),
    (b"\x00\x00\x01\x00", "This file is a Windows icon (ICO), which is not supported."),
    (b"\x7fELF", "This file is a program, not an image."),
    (b"MZ", "This file is a Windows program, not an image."),
    (b"ID3", "This file is audio (MP3), not an image."),
    (b"OggS", "This file is audio or video (Ogg), not an image."),
    (b"\x00\x00\x00\x0cjP  ", "JPEG 2000 images are not supported; convert to JPEG or PNG."),
)
# Signatures of the formats we accept: a file that starts like one but fails is damaged.
_IMAGE_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)


def decode_image(
    data: bytes | bytearray | memoryview,
    *,
    mode: str = "RGB",
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_side: int | None = None,
) -> Image.Image:
    """Decode untrusted image bytes into a fully loaded `mode` ("RGB" or "L") Pillow image.

    Raises `ImageError` (a ValueError) for empty, oversized, corrupt or non-image input; the
    message names the problem ("This file is a PDF, not an image"). GIF, WebP and TIFF give
    their first frame. The returned image owns its pixels (no open file behind it) and its
    `info` holds `source_format`, `source_mode` and `source_size` (as stored, before EXIF).
    With `max_side`, the result is a thumbnail whose longer side is at most that (a JPEG is
    then decoded at a reduced scale directly: less memory and time than the full picture).
    """
    if mode not in ("RGB", "L"):
        raise ValueError(f"mode must be 'RGB' or 'L', not {mode!r}")
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"decode_image needs bytes, not {type(data).__name__}")
    data = bytes(data)
    if not data:
        raise ImageError("The file is empty (0 bytes).")
    if len(data) > max_bytes:
        raise ImageError(
            f"The file is {format_bytes(len(data))}; the limit is {format_bytes(max_bytes)}."
        )

    image = _open_header(data)
    fmt = image.format or "image"
    width, height = image.size
    if width < 1 or height < 1:
        raise ImageError(f"The {fmt} file says the image is {width}×{height} pixels: empty.")
    if width * height > max_pixels:
        raise ImageError(
            f"The image is {width}×{height} pixels ({_human_pixels(width * height)}); "
            f"the limit is {_human_pixels(max_pixels)}."
        )
    if max(width, height) > limits.IMAGE_MAX_SIDE:
        raise ImageError(
            f"The image is {width:,}×{height:,} pixels; its longer side may be at most "
            f"{limits.IMAGE_MAX_SIDE:,} pixels."
        )

    if fmt in ("JPEG", "MPO"):
        scans = jpeg_scan_count(data)
        if scans > limits.JPEG_MAX_SCANS:
            raise ImageError(
                f"The JPEG file has {scans:,} scans; the limit is {limits.JPEG_MAX_SCANS} "
                "(a photo has at most about a dozen; many tiny scans make decoding take minutes)."
            )
        if max_side is not None:
            image.draft("RGB" if mode == "RGB" else "L", (max_side, max_side))

    source_mode = image.mode
    # The decoded pixels are reserved in the process's memory ledger before they exist, and
    # stay reserved while the picture lives (a page that keeps it keeps its share).
    kept = width * height if max_side is None else min(width * height, max_side * max_side)
    held = LEDGER.reserve(kept * len(mode), "Decoding this picture")
    try:
        result = _decode(image, fmt, source_mode, mode, width, height, max_pixels, max_side)
    except BaseException:
        held.release()
        raise
    return held.hold_while(result)


def _decode(
    image: Image.Image, fmt: str, source_mode: str, mode: str, width: int, height: int,
    max_pixels: int, max_side: int | None,
) -> Image.Image:  # fmt: skip
    """decode_image's pixels, its header checked: frame 0, EXIF orientation, `mode`, size."""
    try:
        image.seek(0)  # first frame of an animation or of a multi-page TIFF
        image.load()
    except _BOMB_ERRORS as exc:  # a plugin's own check while reading frames or tiles
        raise _bomb_error(exc) from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError) as exc:
        raise ImageError(
            f"The {fmt} file is truncated or damaged: its pixels cannot be read."
        ) from exc
    if image.size != (width, height) and image.size[0] * image.size[1] > max_pixels:
        raise ImageError(  # a frame or tile grew the canvas while loading
            f"The image is {image.size[0]}×{image.size[1]} pixels; "
            f"the limit is {_human_pixels(max_pixels)}."
        )

    oriented = _apply_exif_orientation(image)
    try:
        result = _to_mode(oriented, mode)
    except (OSError, ValueError) as exc:
        raise ImageError(
            f"The {fmt} image's colour mode {source_mode} cannot be converted ({exc})."
        ) from None
    result.info = {"source_format": fmt, "source_mode": source_mode, "source_size": (width, height)}
    if max_side is not None:
        result = fit_within(result, max_side)
    return result


def jpeg_scan_count(data: bytes) -> int:
    """How many scans (SOS segments) a JPEG holds, from its markers alone (no decoding).

    Walks the segments from SOI; after each SOS, skips the entropy-coded data to the next
    marker (0xFF followed by anything but a stuffed 0x00 or a restart marker). Stops at EOI, so
    an embedded thumbnail inside an APP segment is skipped with its segment.
    """
    scans = 0
    pos = 2
    end = len(data)
    while pos + 4 <= end:
        if data[pos] != 0xFF:
            pos = data.find(b"\xff", pos)
            if pos < 0:
                break
            continue
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xD9:  # EOI
            break
        if marker in (0x01, *range(0xD0, 0xD8)):  # TEM, RST0-7: no length
            pos += 2
            continue
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        pos += 2 + length
        if marker != 0xDA:
            continue
        scans += 1
        while True:  # entropy-coded data: find the next real marker
            pos = data.find(b"\xff", pos)
            if pos < 0 or pos + 1 >= end:
                return scans
            following = data[pos + 1]
            if following == 0x00 or 0xD0 <= following <= 0xD7 or following == 0xFF:
                pos += 1 if following == 0xFF else 2
                continue
            break
    return scans


def image_size(data: bytes) -> tuple[int, int]:
    """(width, height) from the header alone; ImageError if the bytes are not an image."""
    if len(data) > DEFAULT_MAX_BYTES:
        raise ImageError(
            f"The file is {format_bytes(len(data))}; the limit is "
            f"{format_bytes(DEFAULT_MAX_BYTES)}."
        )
    return _open_header(bytes(data)).size


def check_upload_batch(blobs: list[bytes] | tuple[bytes, ...]) -> None:
    """A batch of uploaded pictures against the batch limits (count, bytes, pixels from the
    headers), before any of them is decoded: BudgetError or ImageError with one sentence."""
    limits.check_uploads([len(b) for b in blobs], [])  # count and bytes before any parsing
    sizes = [image_size(b) for b in blobs]
    limits.check_uploads([len(b) for b in blobs], [w * h for w, h in sizes])


def read_image_file(path: str | Path) -> bytes:
    """The bytes of an image file, its size checked with stat before a byte is read."""
    return read_bounded(path, DEFAULT_MAX_BYTES, what="image file", error=ImageError)


def _open_header(data: bytes) -> ImageFile.ImageFile:
    """Parse the header with the allowed format plugins only; no pixels are decoded here.

    This is what `Image.open(fp, formats=...)` does, minus its decompression-bomb check against
    the process-wide `Image.MAX_IMAGE_PIXELS`: the caller applies its own limit instead.
    """
    Image.init()
    prefix = data[:16]
    for name in _OPEN_ORDER:
        if name not in Image.OPEN:  # a Pillow built without this codec (e.g. no WebP)
            continue
        factory, accept = Image.OPEN[name]
        accepted = accept(prefix) if accept is not None else True
        if isinstance(accepted, str) or not accepted:  # a str is Pillow's "maybe" warning
            continue
        try:
            image = factory(io.BytesIO(data), "")
        except _BOMB_ERRORS as exc:
            # A few plugins check frame/tile sizes themselves against Pillow's global limit
            # while parsing (e.g. a GIF frame larger than its screen).
            raise _bomb_error(exc) from None
        except (SyntaxError, IndexError, TypeError, struct.error, EOFError, ValueError, OSError):
            continue  # the header is damaged; _not_an_image says so below
        if image.format not in ALLOWED_FORMATS:
            continue
        return image
    raise ImageError(_not_an_image(data))


# Pillow's own decompression-bomb signals (the warning too, in case warnings are errors).
_BOMB_ERRORS = (Image.DecompressionBombError, Image.DecompressionBombWarning)


def _bomb_error(exc: Exception) -> ImageError:
    return ImageError(
        f"The image is too large to decode safely: Pillow refused it as a possible "
        f"decompression bomb ({exc})."
    )


def _not_an_image(data: bytes) -> str:
    """The most specific explanation for bytes that no allowed plugin could open."""
    head = data[:64]
    for signature, message in _NOT_IMAGE_SIGNATURES:
        if head.startswith(signature):
            return message
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1"):
            return "HEIC/HEIF photos are not supported; export the photo as JPEG first."
        if brand in (b"avif", b"avis"):
            return "AVIF images are not supported; convert the image to JPEG or PNG first."
        return "This file is a video (MP4/QuickTime), not an image."
    for signature, fmt in _IMAGE_SIGNATURES:
        if head.startswith(signature):
            return f"The file starts like a {fmt} image but is truncated or damaged."
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "The file starts like a WebP image but is truncated or damaged."
    text = _as_text(data[:4096])
    if text is not None:
        lowered = text.lstrip().lower()
        if lowered.startswith("<svg") or (lowered.startswith("<?xml") and "<svg" in lowered):
            return "This file is an SVG drawing; export it as PNG first."
        if lowered.startswith(("<!doctype html", "<html")):
            return "This file is a web page (HTML), not an image."
        return "This file is text, not an image."
    return f"This file is not an image in a supported format ({_HUMAN_FORMATS})."


def _as_text(chunk: bytes) -> str | None:
    """The chunk as text if it looks like text (UTF-8 without control bytes), else None."""
    try:
        text = chunk.decode("utf-8")
    except UnicodeDecodeError:
        # A multi-byte character cut at the chunk's end is still text.
        try:
            text = chunk[:-3].decode("utf-8") if len(chunk) > 3 else ""
        except UnicodeDecodeError:
            return None
        if not text:
            return None
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\n\r\f")
    return text if controls == 0 else None


def _apply_exif_orientation(image: Image.Image) -> Image.Image:
    """Rotate/flip as the EXIF Orientation tag says; damaged EXIF metadata is ignored."""
    try:
        rotated = ImageOps.exif_transpose(image)
    except (OSError, ValueError, SyntaxError, struct.error, KeyError, TypeError):
        return image  # the pixels are fine; only the metadata is unreadable
    return rotated if rotated is not None else image


def _to_mode(image: Image.Image, mode: str) -> Image.Image:
    """Convert any decoded mode to 8-bit "RGB" or "L"; transparency becomes white."""
    src = image.mode
    if src in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        gray = _scale_to_8bit(image)
    elif src in ("1", "L"):
        gray = image.convert("L")
    elif src in ("LA", "La", "PA", "RGBA", "RGBa") or (
        src == "P" and "transparency" in image.info
    ):
        return _on_white(image.convert("RGBA")).convert(mode)
    elif src == "P" and image.palette is not None and image.palette.mode == "L":
        gray = image.convert("L")
    else:  # RGB, RGBX, CMYK, YCbCr, LAB, HSV, P
        return image.convert("RGB").convert(mode)
    return gray if mode == "L" else gray.convert("RGB")


def _scale_to_8bit(image: Image.Image) -> Image.Image:
    """16-bit and 32-bit grayscale to 8 bits: full range 0..65535 maps to 0..255.

    Float images in [0, 1] map to 0..255; any other float range is stretched min..max.
    """
    if image.mode == "F":
        values = np.asarray(image, dtype=np.float32)
        values = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
        lo, hi = float(values.min()), float(values.max())
        if lo >= 0.0 and hi <= 1.0:
            scaled = values * 255.0
        else:
            scaled = (values - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(values)
        return Image.fromarray(np.rint(scaled).astype(np.uint8))
    values = np.clip(np.asarray(image).astype(np.int32), 0, 65535)
    # Round to nearest: 65535 -> 255, 257 -> 1 (the same as taking the high byte, rounded).
    scaled = (values * 255 + 32767) // 65535
    return Image.fromarray(scaled.astype(np.uint8))


def _on_white(rgba: Image.Image) -> Image.Image:
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")


def _human_pixels(n: int) -> str:
    mp = n / 1_000_000
    return f"{mp:.0f} megapixels" if mp == int(mp) else f"{mp:.1f} megapixels"


# --- samples shipped in assets/samples (licences in assets/README.md) -------------------------


def sample_names() -> list[str]:
    """Names of the bundled sample images ("cat", "coffee", ...), sorted."""
    if not SAMPLES_DIR.is_dir():
        return []
    return sorted(p.stem for p in SAMPLES_DIR.glob("*.jpg"))


def sample_path(name: str) -> Path:
    """The file of a bundled sample; ImageError for an unknown name."""
    names = sample_names()
    if name not in names:
        raise ImageError(f"Unknown sample image {name!r}. Available: {', '.join(names)}.")
    return SAMPLES_DIR / f"{name}.jpg"


def load_sample(name: str, *, mode: str = "RGB") -> Image.Image:
    """A bundled sample image, decoded through the same safe door as an upload."""
    return decode_image(sample_path(name).read_bytes(), mode=mode)


def to_png_bytes(image: Image.Image, **save_options: Any) -> bytes:
    """Encode a Pillow image as PNG bytes (for downloads)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", **save_options)
    return buffer.getvalue()


def fit_within(image: Image.Image, max_side: int) -> Image.Image:
    """The image shrunk (aspect kept, Lanczos) so that neither side exceeds max_side pixels,
    with its previous size in `info["unshrunk_size"]`; the same image when it already fits."""
    if max_side < 1:
        raise ValueError(f"max_side must be positive, not {max_side}")
    width, height = image.size
    if max(width, height) <= max_side:
        return image
    scale = max_side / max(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized = image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    resized.info = {**image.info, "unshrunk_size": (width, height)}
    return resized


SHOWN_MAX_WIDTH = 1460  # a page's widest picture: Streamlit's content width, 2 × 730 px
SHOWN_QUALITY = 90  # what Streamlit itself re-encodes a picture at


def shown(image: Image.Image, max_width: int = SHOWN_MAX_WIDTH, lossless: bool = False) -> bytes:
    """A picture as a page sends it: at most `max_width` pixels wide (Lanczos), as JPEG, or as
    PNG where it has transparency or is `lossless` (a small input blown up into square pixels:
    show it with st.image's output_format="PNG"). Given these bytes, `st.image` sends them as
    they are; given a Pillow image, or a wider or a PNG picture, it decodes, resizes and
    re-encodes on every run."""
    if image.width > max_width:
        height = max(1, round(image.height * max_width / image.width))
        image = image.resize((max_width, height), Image.Resampling.LANCZOS)
    if lossless or image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        return to_png_bytes(image)
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=SHOWN_QUALITY)
    return buffer.getvalue()


def shown_format(data: bytes) -> str:
    """"PNG" or "JPEG": what `shown` made (st.image's output_format, so that it sends the
    bytes as they are instead of re-encoding a PNG as JPEG on every run)."""
    return "PNG" if data.startswith(b"\x89PNG\r\n\x1a\n") else "JPEG"
