"""Pretrained timm weights, through timm's own loading (Hugging Face hub cache, progress bars).

A timm model's weights live on the Hugging Face hub (`timm/<model>.<tag>`) and are cached by
huggingface_hub (HF_HOME, `~/.cache/huggingface/hub` by default). What is shown about them
(tags, image size, categories) comes from timm's offline metadata; a download happens only
when asked for. Without a network, the error names the file and where to put it: a file
dropped at `<torch hub>/checkpoints/timm/<model>.<tag>.safetensors` is loaded from there, by
timm (safetensors, or torch.load with weights_only=True), never unpickled.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from explorer.catalog import ArchSpec
from explorer.catalog.timm_models import is_deploy, reparameterized, timm_name
from explorer.core.errors import WeightsError
from explorer.weights.records import LoadedModel


@dataclass(frozen=True)
class TimmWeights:
    """One pretrained tag of one timm model, from its pretrained config (no network)."""

    model: str  # timm's name, "resnet50"
    tag: str  # "a1_in1k"
    hub_id: str  # "timm/resnet50.a1_in1k"
    filename: str  # "model.safetensors"
    input_size: tuple[int, int, int]
    num_classes: int
    crop_pct: float
    interpolation: str
    mean: tuple[float, ...]
    std: tuple[float, ...]

    @property
    def url(self) -> str:
        return f"https://huggingface.co/{self.hub_id}/resolve/main/{self.filename}"

    @property
    def local_path(self) -> Path:
        """Where a file copied by hand is looked for (a machine without a network)."""
        return Path(torch.hub.get_dir()) / "checkpoints" / "timm" / f"{self.model}.{self.tag}"\
            f"{Path(self.filename).suffix}"

    def cached_path(self) -> Path | None:
        """The file on this machine, in the hub cache or at `local_path`; None if absent."""
        if self.local_path.is_file():
            return self.local_path
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(self.hub_id, self.filename)
        return Path(found) if isinstance(found, str) else None

    def data_config(self) -> dict[str, Any]:
        """timm's own preprocessing settings for this tag (`resolve_data_config` over its
        pretrained config: input size, interpolation, mean, std, crop_pct, crop_mode)."""
        from timm.data import resolve_data_config
        from timm.models import get_pretrained_cfg

        cfg = get_pretrained_cfg(f"{self.model}.{self.tag}")
        if cfg is None:  # `available` listed it from the same registry
            raise WeightsError(f"timm has no pretrained config for {self.model}.{self.tag}.")
        config: dict[str, Any] = resolve_data_config({}, pretrained_cfg=cfg.to_dict())
        return config

    def transform(self) -> Any:
        """timm's eval transform for this tag (`create_transform`): the one way to preprocess
        for a timm model (a `squash` tag resizes to the input size, `border` keeps the ratio
        and pads, `center` resizes the shorter side by crop_pct and centre-crops)."""
        from timm.data import create_transform

        return create_transform(**self.data_config())


def available(spec: ArchSpec) -> list[TimmWeights]:
    """Every pretrained tag of a timm catalog entry, its default tag first."""
    import timm
    from timm.models import get_pretrained_cfg

    name = timm_name(spec.name)
    out = []
    for full in timm.list_pretrained(f"{name}.*"):
        if full.split(".", 1)[0] != name:
            continue
        cfg = get_pretrained_cfg(full)
        if cfg is None or not cfg.hf_hub_id:
            continue
        out.append(
            TimmWeights(
                model=name,
                tag=full.split(".", 1)[1],
                hub_id=cfg.hf_hub_id,
                filename=cfg.hf_hub_filename or "model.safetensors",
                input_size=tuple(int(v) for v in cfg.input_size),  # type: ignore[arg-type]
                num_classes=int(cfg.num_classes or 0),
                crop_pct=float(cfg.crop_pct or 0.875),
                interpolation=str(cfg.interpolation or "bilinear"),
                mean=tuple(cfg.mean),
                std=tuple(cfg.std),
            )
        )
    return sorted(out, key=lambda w: w.tag != spec.pretrained)


def find(spec: ArchSpec, tag: str = "DEFAULT") -> TimmWeights:
    weights = available(spec)
    if not weights:
        raise WeightsError(
            f"{spec.name} has no pretrained weights in timm. Use --weights random (predictions "
            "are meaningless) or your own weights file."
        )
    wanted = tag.strip()
    for w in weights:
        if wanted.upper() == "DEFAULT" or w.tag == wanted or f"{w.model}.{w.tag}" == wanted:
            return w
    choices = ", ".join(["DEFAULT", *(w.tag for w in weights)])
    raise WeightsError(f"{spec.name} has no timm weights named {tag!r}; choose one of: {choices}.")


def needed_message(w: TimmWeights) -> str:
    return (
        f"The weights file {w.filename} of {w.hub_id} (timm/{w.model}) is not on this machine. "
        f"Download it from {w.url} and put it at {w.local_path} (or run with a network and "
        "download it: timm keeps it in the Hugging Face hub cache)."
    )


def categories(w: TimmWeights) -> tuple[str, ...]:
    """Class names from timm's bundled ImageNet metadata (offline); 'class i' otherwise."""
    from timm.data import ImageNetInfo, infer_imagenet_subset
    from timm.models import get_pretrained_cfg

    subset = infer_imagenet_subset(get_pretrained_cfg(f"{w.model}.{w.tag}"))
    if subset:
        names = tuple(ImageNetInfo(subset).label_descriptions())
        if len(names) == w.num_classes:
            return names
    return tuple(f"class {i}" for i in range(w.num_classes))


def build_pretrained(w: TimmWeights, *, download_missing: bool = False) -> nn.Module:
    """A real model with `w` loaded by timm (hub download with its progress bar if asked)."""
    import timm

    path = w.cached_path()
    if path is None and not download_missing:
        raise WeightsError(needed_message(w))
    overlay = {"file": str(path)} if path is not None else None
    try:
        return timm.create_model(
            f"{w.model}.{w.tag}", pretrained=True, pretrained_cfg_overlay=overlay
        ).eval()
    except (OSError, RuntimeError, ValueError) as exc:  # offline, corrupt or mismatched file
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WeightsError(f"{first[:200]}. {needed_message(w)}") from None


def load(
    spec: ArchSpec, tag: str, device: torch.device, *, download_missing: bool = False
) -> Any:
    """explorer.weights.loading.load for a timm entry's pretrained tag: a LoadedModel whose
    preprocessing is timm's own (TimmWeights.transform). A deploy form loads its training
    form's weights and fuses them, as timm does before inference."""

    w = find(spec, tag)
    model = build_pretrained(w, download_missing=download_missing)
    if is_deploy(spec.name):
        model = reparameterized(model)
    model = model.to(device)
    return LoadedModel(
        architecture=spec.name,
        weights=w.tag,
        model=model,
        device=device,
        categories=categories(w),
        input_size=w.input_size,
        tv_weights=w,  # its transform() preprocesses (explorer.labs.preprocessing.preprocessor_for)
    )
