"""Weights: which exist, whether they are cached, downloading them, loading them safely.

Three sources, one result (`LoadedModel`):
- torchvision's weights (`spec.weights`, a WeightsEnum): everything shown about them (size,
  ImageNet accuracy, categories) comes from offline metadata; the file lives in torch's hub
  cache, `torch.hub.get_dir()/checkpoints/<basename of url>` (TORCH_HOME), and is downloaded
  only on request, with its SHA-256 prefix checked;
- the shipped `lenet5-digits` weights (assets/, see explorer.labs.digits);
- a user's own file: `.safetensors`, or `.pt`/`.pth` read with `torch.load(weights_only=True)`,
  which refuses to unpickle arbitrary objects.
`random` builds the architecture with fresh random weights; predictions say so.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import torch
from torch import nn

from explorer.analysis.analysis import analyse
from explorer.analysis.building import build_model
from explorer.analysis.meta_models import build_meta
from explorer.catalog import ArchSpec, get, names, resolve
from explorer.core import limits
from explorer.core.devices import pick_device
from explorer.core.errors import SpecError, WeightsError
from explorer.core.layer_math import lecture_shape
from explorer.core.units import format_bytes
from explorer.weights import files as weight_files
from explorer.weights import shipped as digits
from explorer.weights.downloads import Progress, download, needed_message, verify_cached
from explorer.weights.records import RANDOM, RANDOM_LABEL, LoadedModel, WeightsInfo

# The weights layer's public names: the records are re-exported, so `weights.RANDOM` and
# `weights.LoadedModel` read as one surface with `weights.load`.
__all__ = [
    "DEFAULT",
    "RANDOM",
    "RANDOM_LABEL",
    "LoadedModel",
    "WeightsInfo",
    "WeightsKind",
    "WeightsRef",
    "available",
    "cached",
    "find",
    "held_upload",
    "hold_upload",
    "load",
    "split_name",
    "with_weights",
]

DEFAULT = "DEFAULT"
USER_SUFFIXES = weight_files.USER_SUFFIXES



def checkpoint_dir() -> Path:
    """torch's hub cache for weights files (follows TORCH_HOME at call time)."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def _tv_info(arch: str, member: Any, default: Any) -> WeightsInfo:
    meta = member.meta
    metrics = tuple(
        (f"{dataset} {metric}", float(value))
        for dataset, values in meta.get("_metrics", {}).items()
        for metric, value in values.items()
    )
    return WeightsInfo(
        architecture=arch,
        name=member.name,
        is_default=member is default,
        source="torchvision",
        url=member.url,
        path=checkpoint_dir() / os.path.basename(member.url),
        size_mb=float(meta.get("_file_size", 0.0)),
        num_params=int(meta.get("num_params", 0)),
        categories=tuple(meta.get("categories") or ()),
        metrics=metrics,
    )


def _digits_info(name: str = digits.WEIGHTS_NAME) -> WeightsInfo:
    path = digits.weights_file(name)
    accuracy: tuple[tuple[str, float], ...] = ()
    if path.with_suffix(".json").is_file():
        meta = digits.shipped_metadata(name)
        accuracy = (("sklearn digits (held-out) acc@1", round(100 * meta["test_accuracy"], 2)),)
    size = path.stat().st_size / 1e6 if path.is_file() else 0.0
    return WeightsInfo(
        architecture="lenet5",
        name=name,
        is_default=name == digits.WEIGHTS_NAME,
        source="shipped",
        url="",
        path=path,
        size_mb=round(size, 3),
        num_params=61_706,
        categories=digits.CATEGORIES,
        metrics=accuracy,
    )


def _shipped() -> list[str]:
    return [n for n in digits.SHIPPED if digits.weights_file(n).is_file()]


def _spec(arch: str | ArchSpec) -> ArchSpec:
    """resolve(), also accepting the weights name lenet5-digits for its architecture."""
    if isinstance(arch, str) and arch.strip() in digits.SHIPPED:
        return get("lenet5")
    return resolve(arch)


def available(arch: str | ArchSpec) -> list[WeightsInfo]:
    """Every set of weights known for `arch` (default first); [] if it has none."""
    spec = _spec(arch)
    if spec.name == "lenet5":
        return [_digits_info(n) for n in _shipped()]
    if spec.weights is None:
        return []
    default = getattr(spec.weights, "DEFAULT", None)
    infos = [_tv_info(spec.name, m, default) for m in spec.weights]
    return sorted(infos, key=lambda i: not i.is_default)


def with_weights() -> list[str]:
    """Catalog names that have pretrained weights ("lenet5-digits" stands for lenet5's)."""
    out = _shipped()
    out += [n for n in names() if n != "lenet5" and get(n).weights is not None]
    return out


def cached() -> list[WeightsInfo]:
    """The weights whose files are on this machine now (the shipped ones always are)."""
    found = [_digits_info(n) for n in _shipped()]
    folder = checkpoint_dir()
    present = {p.name for p in folder.iterdir()} if folder.is_dir() else set()
    if present:
        for name in names():
            spec = get(name)
            if spec.weights is None or name == "lenet5":
                continue
            for member in spec.weights:
                if os.path.basename(member.url) in present:
                    info = _tv_info(name, member, getattr(spec.weights, "DEFAULT", None))
                    if info.cached:  # the published size, not a broken leftover
                        found.append(info)
    return found


def split_name(arch: str, weights: str | None = None) -> tuple[str, str]:
    """("lenet5-digits", None) -> ("lenet5", "lenet5-digits"); else (arch, weights or DEFAULT).

    The shipped digits weights' names stand for lenet5 with those weights."""
    if arch.strip() in digits.SHIPPED:
        if weights not in (None, DEFAULT, arch.strip()):
            return "lenet5", weights  # e.g. lenet5-digits --weights random
        return "lenet5", arch.strip()
    return arch.strip(), (weights or DEFAULT)


def find(arch: str | ArchSpec, name: str = DEFAULT) -> WeightsInfo:
    """The named weights of `arch` ("DEFAULT" is its recommended set)."""
    spec = _spec(arch)
    infos = available(spec)
    if not infos:
        raise WeightsError(
            f"{spec.name} has no pretrained weights. Use --weights random (predictions are "
            "meaningless) or your own weights file."
        )
    wanted = name.strip()
    for info in infos:
        if info.name.lower() == wanted.lower() or (wanted.upper() == DEFAULT and info.is_default):
            return info
    choices = ", ".join([DEFAULT, *(i.name for i in infos)])
    raise WeightsError(f"{spec.name} has no weights named {name!r}; choose one of: {choices}.")


# --------------------------------------------------------------------------- reading files


def read_state_dict(
    path: str | Path | bytes,
    *,
    name: str | None = None,
    expected_bytes: int | None = None,
    verified: bool = False,
) -> dict[str, torch.Tensor]:
    """Tensors from a weights file, sizes checked first, never unpickling arbitrary objects
    (explorer.weights.files)."""
    return weight_files.read_state_dict(
        path, name=name, expected_bytes=expected_bytes, verified=verified
    )


_listing = weight_files.listing


def _fix_legacy_keys(arch: str, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """torchvision's densenet files use old key names ('norm.1'); rename as torchvision does."""
    if not arch.startswith("densenet"):
        return state
    pattern = re.compile(
        r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$"
    )
    fixed = {}
    for key, value in state.items():
        m = pattern.match(key)
        fixed[m.group(1) + m.group(2) if m else key] = value
    return fixed


def apply_state_dict(model: nn.Module, state: Mapping[str, torch.Tensor], source: str) -> None:
    """Load `state` into `model`; any missing, unexpected or mis-shaped key is a clear error."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [
        f"{k} (file {tuple(state[k].shape)}, model {tuple(v.shape)})"
        for k, v in expected.items()
        if k in state and tuple(state[k].shape) != tuple(v.shape)
    ]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"missing keys: {_listing(missing)}")
        if unexpected:
            parts.append(f"unexpected keys: {_listing(unexpected)}")
        if shapes:
            parts.append(f"shape mismatches: {_listing(shapes)}")
        raise WeightsError(f"{source} does not fit this model: " + "; ".join(parts) + ".")
    kinds = [  # load_state_dict would silently cast integer or boolean tensors into floats
        f"{k} ({str(state[k].dtype).removeprefix('torch.')})"
        for k, v in expected.items()
        if v.is_floating_point() and not state[k].is_floating_point()
    ]
    if kinds:
        raise WeightsError(
            f"{source} holds whole numbers where the model has real-valued weights: "
            f"{_listing(kinds)}. It is not a set of trained weights for this model."
        )
    broken = [k for k, t in state.items() if t.is_floating_point() and not bool(t.isfinite().all())]
    if broken:
        raise WeightsError(
            f"{source} has NaN or infinite values in {_listing(broken)}: the training that "
            "made it diverged, so every prediction would be meaningless."
        )
    try:
        model.load_state_dict(dict(state), strict=True)
    except RuntimeError as exc:  # e.g. complex or bool tensors where the model has floats
        first = " ".join(str(exc).split())[:200]
        raise WeightsError(f"{source} does not fit this model ({first}).") from None


# --------------------------------------------------------------------------- loading a model


def _categories(spec: ArchSpec, num_classes: int, member: Any) -> tuple[str, ...]:
    if spec.name == "lenet5" and num_classes == 10:
        return digits.CATEGORIES
    source = member if member is not None else getattr(spec.weights, "DEFAULT", None)
    if source is not None and len(source.meta.get("categories", ())) == num_classes:
        return tuple(source.meta["categories"])
    return tuple(f"class {i}" for i in range(num_classes))


UPLOAD_PREFIX = "upload:"
_HELD: OrderedDict[str, bytes] = OrderedDict()  # token -> an uploaded file's bytes
_HELD_LOCK = threading.Lock()


def hold_upload(data: bytes, filename: str) -> str:
    """Keep an uploaded weights file in memory (it is never written to disk) and return the
    token, "upload:<sha256 prefix>:<name>", that stands for it wherever a weights name or path
    is accepted. The last limits.WEIGHTS_UPLOADS_HELD uploads are held."""
    name = re.split(r"[\\/]", filename)[-1]  # a browser may send a Windows path
    if Path(name).suffix.lower() not in USER_SUFFIXES:
        raise WeightsError(f"{name}: use one of {', '.join(USER_SUFFIXES)}.")
    if len(data) > limits.WEIGHTS_UPLOAD_BYTES:
        raise WeightsError(
            f"{name} is {format_bytes(len(data))}; the limit is "
            f"{format_bytes(limits.WEIGHTS_UPLOAD_BYTES)}."
        )
    token = f"{UPLOAD_PREFIX}{hashlib.sha256(data).hexdigest()[:16]}:{name}"
    with _HELD_LOCK:
        _HELD[token] = bytes(data)
        _HELD.move_to_end(token)
        while len(_HELD) > limits.WEIGHTS_UPLOADS_HELD:
            _HELD.popitem(last=False)
    return token


def held_upload(token: str) -> tuple[bytes, str]:
    """The bytes and file name of an upload held by `hold_upload` (what a job worker is sent);
    WeightsError, in one sentence, once it is no longer held."""
    with _HELD_LOCK:
        data = _HELD.get(token)
    name = token.split(":", 2)[-1]
    if data is None:
        raise WeightsError(f"The uploaded {name} is no longer held on the server; upload it again.")
    return data, name


class WeightsKind(str, Enum):
    DEFAULT = "default"  # the architecture's recommended set (torchvision/timm DEFAULT, shipped)
    NAMED = "named"  # one named set: "IMAGENET1K_V2", "lenet5-digits-seed1", a timm tag
    FILE = "file"  # a user's .safetensors / .pt / .pth on this machine (CLI)
    UPLOAD = "upload"  # an uploaded file held in the server's memory, by token
    RANDOM = "random"  # seeded random weights: predictions are meaningless


@dataclass(frozen=True)
class WeightsRef:
    """Which weights to load, typed: made once at the edge (`parse` of a CLI argument or a
    widget's value) and dispatched on its kind by `load`, never by looking at a string again.
    `str(ref)` is the text `parse` reads back (what caches and jobs are keyed by)."""

    kind: WeightsKind
    value: str = ""  # the name, the path or the upload token; "" for DEFAULT and RANDOM

    @classmethod
    def parse(cls, text: str | Path | None) -> WeightsRef:
        """The reference a text names: "DEFAULT" (or nothing), "random", an upload's token
        ("upload:<sha>:<name>"), a path (a weights file suffix, or a folder in it) or else a
        weights name. Nothing on disk is looked at."""
        raw = "" if text is None else str(text).strip()
        if raw in ("", DEFAULT):
            return cls(WeightsKind.DEFAULT)
        if raw.lower() == RANDOM:
            return cls(WeightsKind.RANDOM)
        if raw.startswith(UPLOAD_PREFIX):
            return cls(WeightsKind.UPLOAD, raw)
        if raw.lower().endswith(USER_SUFFIXES) or os.sep in raw or "/" in raw:
            return cls(WeightsKind.FILE, raw)
        return cls(WeightsKind.NAMED, raw)

    def __str__(self) -> str:
        if self.kind is WeightsKind.DEFAULT:
            return DEFAULT
        if self.kind is WeightsKind.RANDOM:
            return RANDOM
        return self.value

    def load(
        self,
        arch: str,
        *,
        device: str | torch.device | None = "auto",
        download_missing: bool = False,
        progress: Progress | None = None,
    ) -> LoadedModel:
        """`arch` built and loaded with these weights (the one loading method)."""
        return load(arch, self, device=device, download_missing=download_missing,
                    progress=progress)  # fmt: skip


def load(
    arch: str,
    weights: WeightsRef | str | Path | None = DEFAULT,
    *,
    device: str | torch.device | None = "auto",
    download_missing: bool = False,
    progress: Progress | None = None,
    data: bytes | None = None,
) -> LoadedModel:
    """Build `arch` with `weights`: a WeightsRef, or its text (DEFAULT, a weights name, a file
    path, "random", an upload's token), parsed here once.

    With `data`, the weights are an upload's bytes and `weights` is its file name: they are
    read from memory, never written to disk.
    """
    text = None if weights is None else str(weights)
    arch_name, shipped_choice = split_name(str(arch), text)
    if isinstance(weights, WeightsRef) and shipped_choice == text:
        ref = weights
    else:
        ref = WeightsRef.parse(shipped_choice)
    spec = resolve(arch_name)
    if spec.source == "custom":
        _check_classifier(spec)
    dev = pick_device(device)
    kind = WeightsKind.FILE if data is not None else ref.kind
    if spec.source == "timm" and kind in (WeightsKind.DEFAULT, WeightsKind.NAMED):
        from explorer.weights import timm_hub as timm_weights  # timm loads its own weights

        return timm_weights.load(spec, str(ref), dev, download_missing=download_missing)
    member = None
    kwargs: dict[str, Any] = {}
    state: dict[str, torch.Tensor] | None = None
    if kind is WeightsKind.UPLOAD:
        data, upload_name = held_upload(ref.value)
        kind, ref = WeightsKind.FILE, WeightsRef(WeightsKind.FILE, upload_name)
    if data is not None:
        name = Path(ref.value).name
        state = read_state_dict(data, name=name, expected_bytes=_expected_bytes(spec))
        label = f"file: {name}"
    elif kind is WeightsKind.RANDOM:
        label = RANDOM
    elif kind is WeightsKind.FILE:
        path = Path(ref.value).expanduser()
        state = read_state_dict(path, expected_bytes=_expected_bytes(spec))
        label = f"file: {path.name}"
    else:
        info = find(spec, str(ref))
        if not info.cached:
            if not download_missing:
                raise WeightsError(needed_message(info))
            download(info, progress)
        label = info.name
        if not info.categories:
            raise WeightsError(
                f"{spec.name} {info.name} are feature-extractor weights without a classifier; "
                f"choose {find(spec).name} to classify images."
            )
        if info.source == "torchvision":
            from explorer.catalog.tv import default_build_kwargs

            member = spec.weights[info.name]
            kwargs = default_build_kwargs(spec.name, member)
        state = read_state_dict(
            verify_cached(info),
            expected_bytes=_expected_bytes(spec, kwargs),
            verified=info.source == "torchvision",
        )
    model = _random_model(spec) if label == RANDOM else build_model(spec, **kwargs)
    if state is not None:
        apply_state_dict(model, _fix_legacy_keys(spec.name, state), label.removeprefix("file: "))
    model = model.to(dev).eval()
    if dev.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    num_classes = int(kwargs.get("num_classes", spec.num_classes))
    input_size = spec.input_size
    if member is not None:
        from explorer.catalog.tv import default_input_size

        input_size = default_input_size(member)
    return LoadedModel(
        architecture=spec.name,
        weights=label,
        model=model,
        device=dev,
        categories=_categories(spec, num_classes, member),
        input_size=input_size,
        tv_weights=member if member is not None else _tv_default(spec, label),
    )


def _check_classifier(spec: ArchSpec) -> None:
    """A loaded model classifies: a typed stack must end in one score per class, (N, K).
    Read from its meta analysis (cached, nothing allocated) before anything is built."""
    out = analyse(spec).trace.output_shape
    if len(out) != 2:
        shape = lecture_shape(out) if len(out) == 4 else "×".join(map(str, out[1:])) or "()"
        raise SpecError(
            f"The stack ends in an output of shape {shape}, not one score per class, so it "
            "cannot classify a picture: end it with `fc N` for N classes (e.g. "
            f"'{spec.name[:60]} | flatten | fc 10')."
        )


RANDOM_SEED = 0  # "random" weights: the same draw in every process (a job worker's copy too)


def _random_model(spec: ArchSpec) -> nn.Module:
    """Random weights from a generator seeded RANDOM_SEED (no global RNG): the same model in
    the server and in a worker process (explorer.serving.jobs), for every architecture."""
    return build_model(spec, generator=torch.Generator().manual_seed(RANDOM_SEED))


def _expected_bytes(spec: ArchSpec, kwargs: Mapping[str, Any] | None = None) -> int:
    """Bytes of the model's state dict, from an empty-weights build (no memory, no init)."""
    return weight_files.state_bytes(build_meta(spec, **(kwargs or {})))


def _tv_default(spec: ArchSpec, label: str) -> Any:
    """For random weights or a user's file of a torchvision model: its DEFAULT preprocessing."""
    if spec.weights is None or spec.name == "lenet5":
        return None
    return getattr(spec.weights, "DEFAULT", None)
