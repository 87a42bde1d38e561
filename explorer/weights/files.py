"""Reading a weights file safely: sizes checked from the file's own index before anything is
inflated, then tensors read without unpickling arbitrary objects.

- `.pt`/`.pth`: the zip archive `torch.save` writes (since PyTorch 1.6). Its central directory
  declares every entry's size. Before `torch.load` runs, every entry must be stored
  uncompressed (`torch.save` never compresses; a compressed entry is how a zip bomb inflates
  4 MB into gigabytes), the pickle must be small, and the declared tensor bytes must fit the
  budget for this model. Only then is it read with `torch.load(weights_only=True)` (a file on
  disk memory-mapped, so its tensors are not copied twice). The legacy non-zip format is
  refused: it allocates the storage sizes its pickle claims before reading them.
- `.safetensors`: the JSON header declares every tensor's dtype and shape; it is parsed by us
  (bounded size) and the total checked before safetensors reads anything.
"""

from __future__ import annotations

import io
import json
import math
import pickle
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

import torch
from torch import nn

from explorer.core import limits
from explorer.core.errors import WeightsError
from explorer.core.units import format_bytes

USER_SUFFIXES = (".safetensors", ".pt", ".pth")

# safetensors dtype names and their sizes in bytes
_SAFETENSORS_DTYPES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2,
    "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8,
}


def state_bytes(model: nn.Module) -> int:
    """Bytes of `model`'s state dict (parameters and buffers); works on a meta model."""
    return sum(t.numel() * t.element_size() for t in model.state_dict().values())


def tensor_budget(expected_bytes: int | None) -> int:
    """How many tensor bytes a weights file may declare: three times the model's own (a
    checkpoint may carry an optimizer's moments too) plus 16 MB, never over the absolute cap."""
    if expected_bytes is None:
        return limits.WEIGHTS_MAX_TENSOR_BYTES
    return min(3 * expected_bytes + limits.WEIGHTS_SLACK_BYTES, limits.WEIGHTS_MAX_TENSOR_BYTES)


def read_state_dict(
    source: str | Path | bytes,
    *,
    name: str | None = None,
    expected_bytes: int | None = None,
    verified: bool = False,
) -> dict[str, torch.Tensor]:
    """Tensors from a weights file (a path, or the bytes of an upload named `name`), checked
    against the budget for a model of `expected_bytes` before anything is inflated.

    `verified`: the file's SHA-256 matched a published hash (a torchvision download), so the
    legacy format some of those files use is read too (still with weights_only=True)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data: bytes | None = bytes(source)
        label = name or "the uploaded file"
        path = None
        size = len(source)
        limit = limits.WEIGHTS_UPLOAD_BYTES
    else:
        data = None
        path = Path(source)
        label = path.name
        if not path.is_file():
            raise WeightsError(f"No weights file at {path}.")
        size = path.stat().st_size
        limit = limits.WEIGHTS_MAX_FILE_BYTES
    if size > limit:
        raise WeightsError(f"{label} is {format_bytes(size)}; the limit is {format_bytes(limit)}.")
    if size == 0:
        raise WeightsError(f"{label} is empty (0 bytes).")
    suffix = Path(label).suffix.lower()
    budget = tensor_budget(expected_bytes)
    _check_kind(_first_bytes(path, data), suffix, label)
    if suffix == ".safetensors":
        state = _read_safetensors(path, data, label, size, budget)
    elif suffix in (".pt", ".pth"):
        state = _read_torch(path, data, label, budget, verified)
    else:
        raise WeightsError(
            f"{label}: unsupported weights file type; use one of {', '.join(USER_SUFFIXES)}."
        )
    return as_state_dict(state, label)


_ZIP = b"PK\x03\x04"  # what torch.save writes (a zip archive)


def _first_bytes(path: Path | None, data: bytes | None) -> bytes:
    with _opened(path, data) as file:
        return bytes(file.read(9))


def _looks_like_safetensors(head: bytes) -> bool:
    """8 bytes of header length, then the JSON header's "{"."""
    return len(head) == 9 and head[8:9] == b"{"


def _check_kind(head: bytes, suffix: str, label: str) -> None:
    """A file whose content is the other format than its name says gets that sentence (a
    PyTorch checkpoint named .safetensors read as "a 526,336 TiB safetensors header")."""
    if suffix == ".safetensors" and head.startswith(_ZIP):
        raise WeightsError(
            f"{label} is a PyTorch checkpoint (torch.save's zip format), not safetensors; "
            "rename it to .pt or .pth, or convert it with safetensors.torch.save_file."
        )
    if suffix in (".pt", ".pth") and _looks_like_safetensors(head):
        raise WeightsError(f"{label} is a safetensors file; rename it to .safetensors.")
    if suffix == ".safetensors" and len(head) == 9 and not _looks_like_safetensors(head):
        raise WeightsError(
            f"{label} is not a safetensors file: it does not start with a safetensors header "
            "(8 bytes of length, then its JSON)."
        )


# --------------------------------------------------------------------------- safetensors


def _read_safetensors(
    path: Path | None, data: bytes | None, label: str, size: int, budget: int
) -> Any:
    from safetensors import SafetensorError
    from safetensors.torch import load, load_file

    with _opened(path, data) as file:
        head = file.read(8)
        if len(head) < 8:
            raise WeightsError(f"{label} is not a valid safetensors file (too short).")
        header_len = int.from_bytes(head, "little")
        if header_len > limits.WEIGHTS_MAX_HEADER_BYTES or header_len > size - 8:
            raise WeightsError(
                f"{label} declares a {format_bytes(header_len)} safetensors header; the file is "
                f"{format_bytes(size)} and the limit is "
                f"{format_bytes(limits.WEIGHTS_MAX_HEADER_BYTES)}."
            )
        header_text = file.read(header_len)
    try:
        header = json.loads(header_text)
    except (ValueError, RecursionError):
        raise WeightsError(f"{label} is not a valid safetensors file (bad header).") from None
    if not isinstance(header, dict):
        raise WeightsError(f"{label} is not a valid safetensors file (bad header).")
    total = 0
    for key, entry in header.items():
        if key == "__metadata__":
            continue
        total += _declared_bytes(entry, key, label)
        if total > budget:
            break
    _check_total(label, total, budget)
    try:
        if data is not None:
            return load(data)
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise WeightsError(f"{label} is not a valid safetensors file ({_first(exc)}).") from None


def _declared_bytes(entry: Any, key: str, label: str) -> int:
    bad = WeightsError(f"{label} is not a valid safetensors file (entry {key[:60]!r}).")
    if not isinstance(entry, dict):
        raise bad
    dtype, shape = entry.get("dtype"), entry.get("shape")
    if dtype not in _SAFETENSORS_DTYPES or not isinstance(shape, list) or len(shape) > 16:
        raise bad
    if not all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d < 2**48 for d in shape):
        raise bad
    return math.prod(shape) * _SAFETENSORS_DTYPES[dtype]


# --------------------------------------------------------------------------- torch.save zips


def _read_torch(
    path: Path | None, data: bytes | None, label: str, budget: int, verified: bool
) -> Any:
    with _opened(path, data) as file:
        is_zip = zipfile.is_zipfile(file)
        file.seek(0)
        if not is_zip and file.read(4) == b"PK\x03\x04":
            raise WeightsError(f"{label} is corrupt: a damaged zip archive.")
        if not is_zip and not verified:
            raise WeightsError(
                f"{label} is not in the zip format torch.save has written since PyTorch 1.6 "
                "(the legacy format, which allocates whatever sizes it claims, is not read); "
                "load and save it again with a current PyTorch, or use safetensors."
            )
        file.seek(0)
        if is_zip:
            _check_archive(file, label, budget)
    try:
        if data is not None:
            return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        assert path is not None
        return torch.load(path, map_location="cpu", weights_only=True, mmap=is_zip)
    except pickle.UnpicklingError as exc:
        found = re.search(r"GLOBAL ([\w.]+)", str(exc))
        what = f" It refers to {found.group(1)}." if found else ""
        raise WeightsError(
            f"{label} contains Python objects other than tensors, so it was not loaded "
            f"(files are read with weights_only=True: an arbitrary pickle can run code).{what}"
        ) from None
    except Exception as exc:  # parsing untrusted bytes: any failure is the file's
        raise WeightsError(
            f"{label} is corrupt or not a PyTorch weights file ({_first(exc)})."
        ) from None


def _first(exc: BaseException) -> str:
    """The first sentence of an error, on one line, without file paths of this server."""
    text = " ".join(str(exc).split()).split(". ")[0].strip().rstrip(".")
    return re.sub(r"(/[\w.-]+){2,}", "…", text)[:200] or type(exc).__name__


def _check_archive(file: IO[bytes], label: str, budget: int) -> None:
    """Refuse before inflating: compressed entries, a large pickle, too many entries, or more
    declared tensor bytes than the budget (all read from the zip's central directory)."""
    try:
        with zipfile.ZipFile(file) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise WeightsError(f"{label} is a damaged zip archive ({exc}).") from None
    if len(infos) > limits.WEIGHTS_MAX_ENTRIES:
        raise WeightsError(
            f"{label} holds {len(infos):,} archive entries; the limit is "
            f"{limits.WEIGHTS_MAX_ENTRIES:,}."
        )
    total = 0
    for info in infos:
        if info.compress_type != zipfile.ZIP_STORED:
            raise WeightsError(
                f"{label} has a compressed entry ({info.filename}: "
                f"{format_bytes(info.compress_size)} inflating to {format_bytes(info.file_size)}); "
                "torch.save never compresses, and compressed weights are how a zip bomb "
                "fills the server's memory, so it was not read."
            )
        if info.filename.endswith(".pkl") and info.file_size > limits.WEIGHTS_MAX_PICKLE_BYTES:
            raise WeightsError(
                f"{label}'s index ({info.filename}) is {format_bytes(info.file_size)}; the limit "
                f"is {format_bytes(limits.WEIGHTS_MAX_PICKLE_BYTES)}."
            )
        total += info.file_size
    _check_total(label, total, budget)


def _check_total(label: str, total: int, budget: int) -> None:
    if total > budget:
        raise WeightsError(
            f"{label} declares {format_bytes(total)} of tensors; the limit for this model is "
            f"{format_bytes(budget)}, so it was not read."
        )


def _opened(path: Path | None, data: bytes | None) -> IO[bytes]:
    """A binary file object for a path or for bytes already in memory."""
    if data is not None:
        return io.BytesIO(data)
    assert path is not None
    return path.open("rb")

# --------------------------------------------------------------------------- state dicts


def as_state_dict(state: Any, source: str) -> dict[str, torch.Tensor]:
    """A plain {name: dense tensor} from a state dict or a common checkpoint layout."""
    if isinstance(state, Mapping):
        for key in ("state_dict", "model_state_dict", "model"):  # common checkpoint layouts
            inner = state.get(key)
            if isinstance(inner, Mapping):
                state = inner
                break
    if not isinstance(state, Mapping) or not state:
        raise WeightsError(f"{source} does not hold a state dict (a mapping of names to tensors).")
    bad = [str(k) for k, v in state.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise WeightsError(f"{source}: these entries are not tensors: {listing(bad)}.")
    sparse = [str(k) for k, v in state.items() if v.layout != torch.strided]
    if sparse:
        raise WeightsError(f"{source}: these entries are not dense tensors: {listing(sparse)}.")
    out = {str(k): v for k, v in state.items()}
    if all(k.startswith("module.") for k in out):  # saved from DataParallel
        out = {k[len("module.") :]: v for k, v in out.items()}
    return out


def listing(keys: list[str], limit: int = 8) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f" … and {len(keys) - limit} more" if len(keys) > limit else "")
