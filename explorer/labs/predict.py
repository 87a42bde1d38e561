"""Classifying an image: top-k, ten-crop test-time augmentation, ensembles (the pictures are
turned into inputs by explorer.labs.preprocessing).

Inference runs under `torch.inference_mode()` in eval mode; on CUDA the input is channels-last
and the forward pass runs under autocast (bf16 where supported, else fp16). Probabilities are
always computed in float32. Latencies are wall-clock milliseconds of the forward pass (the
device is synchronised before and after); preprocessing is timed separately.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from PIL import Image

from explorer.analysis import pricing
from explorer.core.devices import autocast, synchronize
from explorer.core.errors import WeightsError
from explorer.core.work import JobCancelled, Picture
from explorer.labs.preprocessing import preprocessor_for
from explorer.weights.loading import RANDOM_LABEL, LoadedModel
from explorer.weights.model_cache import worker_model

if TYPE_CHECKING:
    from explorer.analysis.trace import Trace

CROP_POSITIONS = (
    "top-left",
    "top-right",
    "bottom-left",
    "bottom-right",
    "centre",
    "flipped top-left",
    "flipped top-right",
    "flipped bottom-left",
    "flipped bottom-right",
    "flipped centre",
)


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class TopClass:
    label: str
    index: int
    probability: float


@dataclass(frozen=True)
class Prediction:
    """One model's verdict on one image (averaged over crops when `crops` > 1)."""

    architecture: str
    weights: str
    random_weights: bool
    device: str
    top: tuple[TopClass, ...]
    latency_ms: float  # forward pass(es)
    preprocess_ms: float
    crops: int = 1
    probabilities: np.ndarray = field(
        default_factory=lambda: np.zeros(0), repr=False, compare=False
    )
    # What the network saw (8-bit, (H, W) or (H, W, 3)) for a single prediction: the page
    # always shows it, because preprocessing decides more than people expect.
    seen: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def note(self) -> str:
        return RANDOM_LABEL if self.random_weights else ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "architecture": self.architecture,
            "weights": self.weights,
            "random_weights": self.random_weights,
            "note": self.note,
            "device": self.device,
            "crops": self.crops,
            "top": [t.__dict__ for t in self.top],
            "latency_ms": round(self.latency_ms, 3),
            "preprocess_ms": round(self.preprocess_ms, 3),
        }


@dataclass(frozen=True)
class CropResult:
    position: str
    image: np.ndarray = field(repr=False, compare=False)  # what the network saw, 8-bit
    top: TopClass


@dataclass(frozen=True)
class TenCropPrediction:
    averaged: Prediction  # mean of the ten crops' softmax outputs
    crops: tuple[CropResult, ...]

    def to_dict(self) -> dict[str, Any]:
        out = self.averaged.to_dict()
        out["crop_results"] = [{"position": c.position, **c.top.__dict__} for c in self.crops]
        return out


@dataclass(frozen=True)
class EnsemblePrediction:
    members: tuple[Prediction, ...]
    averaged: Prediction  # mean of the members' probabilities
    agreement: float  # share of members whose top class is the ensemble's top class

    @property
    def latency_ms(self) -> float:
        return sum(m.latency_ms for m in self.members)

    def to_dict(self) -> dict[str, Any]:
        out = self.averaged.to_dict()
        out["agreement"] = self.agreement
        out["members"] = [m.to_dict() for m in self.members]
        return out


# --------------------------------------------------------------------------- inference


def probabilities(loaded: LoadedModel, batch: torch.Tensor) -> tuple[torch.Tensor, float]:
    """Softmax outputs (float32, CPU) of a preprocessed batch, and the forward latency in ms."""
    device = loaded.device
    x = batch.to(device)
    if device.type == "cuda":
        x = x.contiguous(memory_format=torch.channels_last)
    synchronize(device)
    start = time.perf_counter()
    with torch.inference_mode(), autocast(device):
        out = loaded.model(x)
        logits = out if isinstance(out, torch.Tensor) else out[0]  # e.g. a namedtuple of heads
        probs = logits.float().softmax(dim=-1)
    synchronize(device)
    latency = (time.perf_counter() - start) * 1000
    return probs.cpu(), latency


def top_k(
    probs: torch.Tensor | np.ndarray, categories: Sequence[str], k: int = 5
) -> tuple[TopClass, ...]:
    p = torch.as_tensor(probs).flatten()
    values, indices = p.topk(max(1, min(int(k), p.numel())))
    return tuple(
        TopClass(label=categories[i], index=int(i), probability=float(v))
        for v, i in zip(values.tolist(), indices.tolist())
    )


def duration_text(ms: float) -> str:
    """A duration as a person writes it: '0.84 ms', '37.5 ms', '15.2 s', '2 min 5 s'."""
    if ms < 1:
        return f"{ms:.2f} ms"
    if ms < 1000:
        return f"{ms:.1f} ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    minutes, seconds = divmod(round(ms / 1000), 60)
    return f"{minutes} min {seconds} s"


def _prediction(
    loaded: LoadedModel,
    probs: torch.Tensor,
    k: int,
    latency: float,
    prep: float,
    crops: int,
    seen: np.ndarray | None = None,
) -> Prediction:
    return Prediction(
        architecture=loaded.architecture,
        weights=loaded.weights,
        random_weights=loaded.random,
        device=str(loaded.device),
        top=top_k(probs, loaded.categories, k),
        latency_ms=latency,
        preprocess_ms=prep,
        crops=crops,
        probabilities=probs.numpy(),
        seen=seen,
    )


def predict(loaded: LoadedModel, image: Image.Image, top: int = 5) -> Prediction:
    """The model's top-`top` classes for one image."""
    start = time.perf_counter()
    pre = preprocessor_for(loaded)
    x = pre.single(image)[None]
    prep = (time.perf_counter() - start) * 1000
    probs, latency = probabilities(loaded, x)
    return _prediction(loaded, probs[0], top, latency, prep, 1, pre.to_display(x[0]))


def predict_many(
    loaded: LoadedModel, images: Sequence[Image.Image], top: int = 5
) -> list[Prediction]:
    """One batched forward pass for several images (latency is the whole batch's)."""
    start = time.perf_counter()
    pre = preprocessor_for(loaded)
    x = torch.stack([pre.single(im) for im in images])
    prep = (time.perf_counter() - start) * 1000
    probs, latency = probabilities(loaded, x)
    return [_prediction(loaded, p, top, latency, prep, 1) for p in probs]


def ten_crop_predict(loaded: LoadedModel, image: Image.Image, top: int = 5) -> TenCropPrediction:
    """Ten-crop test-time augmentation: the softmax outputs of ten crops, averaged (10× compute)."""
    start = time.perf_counter()
    pre = preprocessor_for(loaded)
    x = pre.ten_crop(image)
    prep = (time.perf_counter() - start) * 1000
    probs, latency = probabilities(loaded, x)
    crops = tuple(
        CropResult(
            position=pos, image=pre.to_display(x[i]), top=top_k(probs[i], loaded.categories, 1)[0]
        )
        for i, pos in enumerate(CROP_POSITIONS)
    )
    averaged = _prediction(loaded, probs.mean(dim=0), top, latency, prep, len(crops))
    return TenCropPrediction(averaged=averaged, crops=crops)


def ensemble_predict(
    models: Sequence[LoadedModel],
    image: Image.Image,
    top: int = 5,
    ten_crop: bool = False,
    progress: Callable[..., bool] | None = None,
) -> EnsemblePrediction:
    """Each model's prediction and the average of their probabilities. `progress(done, total,
    label)` is called after each member; JobCancelled is raised when it returns False."""
    if not models:
        raise WeightsError("Pick at least one model for the ensemble.")
    first = models[0]
    for m in models[1:]:
        if m.categories != first.categories:
            raise WeightsError(
                f"{m.label} and {first.label} predict different classes "
                f"({len(m.categories)} vs {len(first.categories)}), so their outputs cannot be "
                "averaged; pick models trained on the same labels."
            )
    done: list[Prediction] = []
    for m in models:
        one = ten_crop_predict(m, image, top).averaged if ten_crop else predict(m, image, top)
        done.append(one)
        if progress is not None and not progress(len(done), len(models), m.label):
            raise JobCancelled("Cancelled.")
    members = tuple(done)
    mean = torch.from_numpy(np.mean([m.probabilities for m in members], axis=0))
    best = int(mean.argmax())
    agreement = sum(m.top[0].index == best for m in members) / len(members)
    averaged = Prediction(
        architecture="ensemble of " + ", ".join(m.architecture for m in members),
        weights=", ".join(m.weights for m in members),
        random_weights=any(m.random_weights for m in members),
        device=", ".join(sorted({m.device for m in members})),
        top=top_k(mean, first.categories, top),
        latency_ms=sum(m.latency_ms for m in members),
        preprocess_ms=sum(m.preprocess_ms for m in members),
        crops=members[0].crops,
        probabilities=mean.numpy(),
    )
    return EnsemblePrediction(members=members, averaged=averaged, agreement=agreement)


# --------------------------------------------------------------------------- the Predict page


@dataclass(frozen=True)
class PagePrediction:
    """What the Predict page shows: the one-image prediction, and the ten crops if asked."""

    single: Prediction
    crops: TenCropPrediction | None = None


def check_page_prediction(one_image: Trace, ten_crop: bool) -> int:
    """The budgets of the page's forward passes (explorer.analysis.pricing.check_forward: a
    ten-crop is
    one batch of 10), from the model's one-image trace, before any work; returns the
    multiply-accumulates of all of them (one image, plus ten crops), which decide whether the
    prediction runs inline or in a worker (explorer.serving.jobs.runs_inline)."""
    one = _checked_forward(one_image, ten_crop=False)
    return one + (_checked_forward(one_image, ten_crop=True) if ten_crop else 0)


def check_ensemble_prediction(one_image: Sequence[Trace], ten_crop: bool) -> int:
    """The same for an ensemble, from each member's one-image trace: the multiply-accumulates
    of every member's forward pass (one image each, or ten crops each)."""
    return sum(_checked_forward(t, ten_crop) for t in one_image)


def _checked_forward(one_image: Trace, ten_crop: bool) -> int:
    """MACs of one forward pass (one image, or ten crops as one batch of 10), within budget."""
    cost = pricing.cost_of(one_image)
    what = f"'{one_image.architecture}'"
    if not ten_crop:
        return pricing.check_forward(cost, what).macs
    ten = replace(cost, peak_forward_bytes=10 * cost.peak_forward_bytes, macs=10 * cost.macs,
                  batch_size=10)  # fmt: skip
    return pricing.check_forward(ten, what, " (a ten-crop prediction)").macs


def page_prediction(
    loaded: LoadedModel,
    image: Image.Image,
    top: int,
    ten_crop: bool,
    progress: Callable[..., bool] | None = None,
) -> PagePrediction | None:
    """The one-image prediction and, with `ten_crop`, the ten crops. `progress(done, total,
    what)` is called after the first: None if it returns False (a cancelled job)."""
    single = predict(loaded, image, top)
    if not ten_crop:
        return PagePrediction(single)
    if progress is not None and not progress(1, 2, "ten crops"):
        return None
    return PagePrediction(single, ten_crop_predict(loaded, image, top))


def prediction_job(
    arch: str,
    weights: str,
    device: str,
    picture: Picture,
    top: int,
    ten_crop: bool,
    upload: bytes | None = None,
    *,
    progress: Callable[..., bool],
) -> PagePrediction | None:
    """`page_prediction` in a worker process (explorer.serving.jobs): the model comes from the
    worker's own cache (an uploaded weights file travels as `upload`, its bytes)."""
    if not progress(0, 2 if ten_crop else 1, "loading the model"):
        return None
    loaded = worker_model(arch, weights, device, upload)
    return page_prediction(loaded, picture.to_image(), top, ten_crop, progress)


def ensemble_job(
    members: tuple[tuple[str, str], ...],
    device: str,
    picture: Picture,
    top: int,
    ten_crop: bool,
    *,
    progress: Callable[..., bool],
) -> EnsemblePrediction | None:
    """`ensemble_predict` in a worker process: members as (architecture, weights), loaded from
    the worker's own cache; progress after each model loaded, then after each prediction."""
    loaded: list[LoadedModel] = []
    for arch, weights in members:
        if not progress(len(loaded), 2 * len(members), f"loading {arch}"):
            return None
        loaded.append(worker_model(arch, weights, device))

    def predicted(done: int, total: int, label: str) -> bool:
        return progress(total + done, 2 * total, label)

    return ensemble_predict(loaded, picture.to_image(), top, ten_crop, predicted)
