"""What a trained network computes: the activations of every layer on the main path.

One real forward pass gives both the prediction and the activations, so what the page shows
and what the network predicted always agree. The pass runs on a *private copy* of the model
(`explorer.weights.model_cache.private_copy`): a structural copy whose weights share storage with
the model (no weight
data is copied) but are detached, so that hooks, gradients and mode changes stay with the
caller. The model itself is cached and shared by every session of the app and is only read.

The main path: the stem's convolutions and pools, every block of a network made of blocks
(a ResNet bottleneck, an inception module, an MBConv: their output, not their insides), and
the fully connected layers. A convolution or linear layer followed by its batch norm and
activation (or a block followed by an activation) is one *stage*, recorded after the last
of them, as the lecture draws a "conv" layer. Feature maps are drawn as grids of exactly
n_C tiles of n_H×n_W; fully connected layers and the logits are vectors.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from explorer.core import layer_math, limits
from explorer.core.devices import autocast, synchronize
from explorer.core.errors import BudgetError, UnknownArchitectureError
from explorer.core.ledger import LEDGER
from explorer.labs.predict import TopClass, top_k
from explorer.labs.preprocessing import preprocessor_for
from explorer.weights.loading import RANDOM_LABEL, LoadedModel
from explorer.weights.model_cache import FactsMemo, private_copy

MAX_STAGES = limits.INSIDE_MAX_STAGES
MAX_RECORDED_VALUES = limits.INSIDE_MAX_RECORDED_VALUES
MAX_MACS = limits.INSIDE_MAX_MACS

_POOLS = (
    nn.modules.pooling._MaxPoolNd,
    nn.modules.pooling._AvgPoolNd,
    nn.modules.pooling._AdaptiveAvgPoolNd,
    nn.modules.pooling._AdaptiveMaxPoolNd,
    nn.modules.pooling._LPPoolNd,
)
_NORMS = (
    nn.modules.batchnorm._NormBase,
    nn.GroupNorm,
    nn.LayerNorm,
    nn.LocalResponseNorm,
)


def _kind(module: nn.Module) -> str:
    """conv, pool, fc, block (a module with children), follow (norm, activation, dropout)."""
    if isinstance(module, nn.modules.conv._ConvNd):
        return "conv"
    if isinstance(module, _POOLS):
        return "pool"
    if isinstance(module, nn.Linear):
        return "fc"
    if any(True for _ in module.children()):
        return "block"
    if (
        isinstance(module, (*_NORMS, nn.modules.dropout._DropoutNd))
        or type(module).__module__ == "torch.nn.modules.activation"
    ):
        return "follow"
    return "other"  # Flatten, Identity, a custom leaf: not a stage of its own


def _walk(module: nn.Module, prefix: str = "") -> list[tuple[str, nn.Module]]:
    """The modules whose outputs can be stages: leaves outside blocks and the blocks
    themselves; plain containers (Sequential, ModuleList) are walked through."""
    found: list[tuple[str, nn.Module]] = []
    for name, child in module.named_children():
        path = f"{prefix}.{name}" if prefix else name
        if isinstance(child, (nn.Sequential, nn.ModuleList)):
            found += _walk(child, path)
        else:
            found.append((path, child))
    return found


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class ChannelStats:
    channel: int
    mean: float
    std: float
    min: float
    max: float
    active: float  # share of positions > 0

    def to_dict(self) -> dict[str, float | int]:
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class LayerActivation:
    """One stage's output for one image: (C, H, W) feature maps, or a (F,) vector."""

    name: str  # the stage's first module ("features.0", "layer1.0")
    kind: str  # conv, pool, block, fc
    modules: tuple[str, ...]  # every module of the stage, first to last
    types: tuple[str, ...]  # their class names
    values: np.ndarray = field(repr=False, compare=False)  # float32, read-only

    @cached_property
    def stats(self) -> tuple[ChannelStats, ...]:
        """Per channel (one entry for a vector): mean, std, min, max, share > 0; computed on
        first use (the page needs them for one layer at a time)."""
        return _stats(self.values)

    @property
    def output_module(self) -> str:
        """The module whose output this is (where a class activation map looks)."""
        return self.modules[-1]

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(int(s) for s in self.values.shape)

    @property
    def spatial(self) -> bool:
        return self.values.ndim == 3

    @property
    def lecture_shape(self) -> str:
        """n_H×n_W×n_C as the lecture writes it ("28×28×6"), or the vector's length."""
        return layer_math.lecture_shape((1, *self.shape))

    @property
    def label(self) -> str:
        extra = [t for t in self.types[1:]]
        what = self.types[0] + (" + " + " + ".join(extra) if extra else "")
        return f"{self.name} ({what}) {self.lecture_shape}"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "modules": list(self.modules),
            "types": list(self.types),
            "shape": list(self.shape),
            "lecture_shape": self.lecture_shape,
        }
        if self.spatial:
            out["channels"] = [s.to_dict() for s in self.stats]
        else:
            out["summary"] = self.stats[0].to_dict() | {"channel": None}
            if self.values.size <= 128:
                out["values"] = [round(float(v), 6) for v in self.values]
        return out


@dataclass(frozen=True)
class Activations:
    """The activations of every stage and the prediction, from one forward pass."""

    architecture: str
    weights: str
    random_weights: bool
    device: str
    input_shape: tuple[int, int, int]  # (C, H, W) of the preprocessed input
    seen: np.ndarray = field(repr=False, compare=False)  # what the network saw, 8-bit
    layers: tuple[LayerActivation, ...]
    logits: np.ndarray = field(repr=False, compare=False)
    probabilities: np.ndarray = field(repr=False, compare=False)
    top: tuple[TopClass, ...]
    latency_ms: float  # the forward pass, hooks and copies to the CPU included

    @property
    def note(self) -> str:
        return RANDOM_LABEL if self.random_weights else ""

    @property
    def spatial_layers(self) -> tuple[LayerActivation, ...]:
        return tuple(layer for layer in self.layers if layer.spatial)

    def layer(self, name: str) -> LayerActivation:
        for layer in self.layers:
            if name in (layer.name, layer.output_module):
                return layer
        choices = ", ".join(layer.name for layer in self.layers)
        raise BudgetError(f"No recorded layer named {name!r}; choose one of: {choices}.")

    def to_dict(self) -> dict[str, Any]:
        return {
            "architecture": self.architecture,
            "weights": self.weights,
            "random_weights": self.random_weights,
            "note": self.note,
            "device": self.device,
            "input_shape": list(self.input_shape),
            "top": [t.__dict__ for t in self.top],
            "latency_ms": round(self.latency_ms, 3),
            "layers": [layer.to_dict() for layer in self.layers],
        }


# --------------------------------------------------------------------------- budget


@lru_cache(maxsize=64)
def _cost(architecture: str, input_size: tuple[int, int, int]) -> tuple[int, int]:
    """(MACs, float32 outputs of every leaf) of one image, from a meta trace."""
    from explorer.analysis.pricing import estimate

    cost = estimate(architecture, input_size, 1)
    return cost.macs, cost.activation_bytes // 4


def check_budget(loaded: LoadedModel, what: str = "Looking inside") -> tuple[int, int]:
    """Refuse, before any work, a network too big to look inside here; (MACs, values)."""
    c, h, w = (int(s) for s in loaded.input_size)
    try:
        macs, values = _cost(loaded.architecture, (c, h, w))
    except UnknownArchitectureError:  # a module made elsewhere (a test's): trace it instead
        from explorer.analysis.pricing import estimate

        cost = estimate(loaded.model, (c, h, w), 1)
        macs, values = cost.macs, cost.activation_bytes // 4
    return _within_budget(loaded.architecture, macs, values, what)


def check_budget_of(
    architecture: str, input_size: tuple[int, int, int], what: str = "Looking inside"
) -> tuple[int, int]:
    """check_budget for a catalog network before it is loaded: priced on meta, so a network
    too big to look inside (vit_h_14: +1.5 GB to build) is refused before any weight exists."""
    macs, values = _cost(architecture, input_size)
    return _within_budget(architecture, macs, values, what)


def _within_budget(architecture: str, macs: int, values: int, what: str) -> tuple[int, int]:
    if macs > MAX_MACS:
        raise BudgetError(
            f"{what} {architecture} needs {macs / 1e9:,.1f} G multiply-accumulates for "
            f"one image; the limit is {MAX_MACS / 1e9:,.0f} G."
        )
    if values > MAX_RECORDED_VALUES:
        raise BudgetError(
            f"{what} {architecture} would keep {values / 1e6:,.1f} M activation values; "
            f"the limit is {MAX_RECORDED_VALUES / 1e6:,.0f} M."
        )
    return macs, values


# --------------------------------------------------------------------------- recording


def _stats(values: np.ndarray) -> tuple[ChannelStats, ...]:
    flat = values.reshape(values.shape[0], -1) if values.ndim == 3 else values.reshape(1, -1)
    mean = flat.mean(1, dtype=np.float64)
    std = np.sqrt(np.maximum((flat * flat).mean(1, dtype=np.float64) - mean * mean, 0.0))
    lo, hi = flat.min(1), flat.max(1)
    active = (flat > 0).mean(1)
    rows = zip(mean.tolist(), std.tolist(), lo.tolist(), hi.tolist(), active.tolist())
    return tuple(ChannelStats(i, *(float(v) for v in row)) for i, row in enumerate(rows))


class _Recorder:
    """Forward hooks on a private copy: each candidate module's output, in execution order."""

    def __init__(self, model: nn.Module) -> None:
        self.events: list[tuple[str, nn.Module, Any, Any, torch.Tensor | None]] = []
        self.handles = []
        modules = _walk(model) or [("", model)]
        for path, module in modules:
            self.handles.append(module.register_forward_hook(self._hook(path)))

    def _hook(self, path: str) -> Any:
        def hook(module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
            value = None
            if isinstance(output, torch.Tensor) and output.ndim in (2, 4):
                if output.is_meta:  # planning on a meta copy: shapes only
                    value = output.detach()[0]
                else:  # a copy now: a later in-place op (ReLU(inplace=True)) must not change it
                    value = output.detach().to("cpu", torch.float32, copy=True)[0]
            first = args[0] if args else None
            self.events.append((path, module, first, output, value))

        return hook

    def groups(self) -> list[dict[str, Any]]:
        """Events grouped into stages: a conv/pool/fc/block starts one; a norm, activation
        or dropout applied to the stage's output (tensor identity) extends it."""
        groups: list[dict[str, Any]] = []
        for path, module, first, output, value in self.events:
            kind = _kind(module)
            last = groups[-1] if groups else None
            if kind in ("follow", "other") and last is not None and first is last["out"]:
                if value is not None and value.shape == last["value"].shape:
                    last.update(out=output, value=value)
                    last["modules"].append(path)
                    last["types"].append(type(module).__name__)
                continue
            if kind in ("conv", "pool", "fc", "block") and value is not None:
                groups.append(
                    {
                        "kind": kind,
                        "out": output,
                        "value": value,
                        "modules": [path],
                        "types": [type(module).__name__],
                    }
                )
        return groups

    def stages(self) -> list[LayerActivation]:
        out = []
        for g in self.groups():
            values = g["value"].contiguous()
            array = values.numpy()
            array.flags.writeable = False  # results are shared read-only (app caches)
            out.append(
                LayerActivation(
                    name=g["modules"][0],
                    kind=g["kind"],
                    modules=tuple(g["modules"]),
                    types=tuple(g["types"]),
                    values=array,
                )
            )
        return out

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()


def record_tensor(loaded: LoadedModel, x: torch.Tensor, top: int = 5) -> Activations:
    """Activations and prediction of one preprocessed (C, H, W) or (1, C, H, W) input. Its
    recorded values are reserved in the process's memory ledger before the forward pass, and
    stay reserved while the result lives (a cached result holds them)."""
    _, values = check_budget(loaded)
    batch = x if x.ndim == 4 else x[None]
    if batch.shape[0] != 1:
        raise BudgetError(f"Look inside one image at a time, not {batch.shape[0]}.")
    held = LEDGER.reserve(4 * values, f"Looking inside {loaded.architecture}")
    try:
        return held.hold_while(_record(loaded, batch, top))
    except BaseException:
        held.release()
        raise


def _record(loaded: LoadedModel, batch: torch.Tensor, top: int) -> Activations:
    device = loaded.device
    copy_ = private_copy(loaded.model)
    recorder = _Recorder(copy_)
    xb = batch.to(device)
    if device.type == "cuda":
        xb = xb.contiguous(memory_format=torch.channels_last)
    synchronize(device)
    start = time.perf_counter()
    try:
        with torch.inference_mode(), autocast(device):
            out = copy_(xb)
        logits_t = (out if isinstance(out, torch.Tensor) else out[0]).detach().float().cpu()[0]
        synchronize(device)
        latency = (time.perf_counter() - start) * 1000
        stages = recorder.stages()
    finally:
        recorder.remove()
    if len(stages) > MAX_STAGES:
        raise BudgetError(
            f"{loaded.architecture} has {len(stages)} stages on its main path; the limit is "
            f"{MAX_STAGES}."
        )
    probs = logits_t.softmax(-1)
    seen = preprocessor_for(loaded).to_display(batch[0])
    return Activations(
        architecture=loaded.architecture,
        weights=loaded.weights,
        random_weights=loaded.random,
        device=str(device),
        input_shape=(int(batch.shape[1]), int(batch.shape[2]), int(batch.shape[3])),
        seen=seen,
        layers=tuple(stages),
        logits=logits_t.numpy(),
        probabilities=probs.numpy(),
        top=top_k(probs, loaded.categories, top),
        latency_ms=latency,
    )


def record(loaded: LoadedModel, image: Image.Image, top: int = 5) -> Activations:
    """Activations and prediction of one image, preprocessed exactly as for a prediction."""
    return record_tensor(loaded, preprocessor_for(loaded).single(image), top)


@dataclass(frozen=True)
class Stage:
    """A stage of the main path, planned on the meta device (names and shapes only)."""

    name: str
    kind: str
    output_module: str
    shape: tuple[int, ...]  # (C, H, W) or (F,)

    @property
    def spatial(self) -> bool:
        return len(self.shape) == 3

    @property
    def lecture_shape(self) -> str:
        return layer_math.lecture_shape((1, *self.shape))


_plans: FactsMemo[tuple[Stage, ...]] = FactsMemo(64)


def stage_plan(loaded: LoadedModel) -> tuple[Stage, ...]:
    """The main path's stages of `loaded`, from a forward pass on a meta copy (shapes only, no
    arithmetic), cached by architecture, weights and input size (never holding the model)."""
    c, h, w = loaded.input_size
    key = (loaded.architecture, loaded.weights, (int(c), int(h), int(w)))
    return _plans.get(key, lambda: _stage_plan(loaded))


def _stage_plan(loaded: LoadedModel) -> tuple[Stage, ...]:
    from explorer.engine.building import meta_copy

    meta = meta_copy(loaded.model)
    recorder = _Recorder(meta)
    try:
        with torch.no_grad():
            meta(torch.empty((1, *loaded.input_size), device="meta"))
        groups = recorder.groups()
    finally:
        recorder.remove()
    return tuple(
        Stage(g["modules"][0], g["kind"], g["modules"][-1], tuple(int(s) for s in g["value"].shape))
        for g in groups
    )
