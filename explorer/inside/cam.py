"""Where a network looks: class activation maps and occlusion sensitivity.

Class activation maps come from pytorch-grad-cam (`grad-cam` on PyPI): Grad-CAM, Grad-CAM++
and Score-CAM for the predicted class or any class, at any stage of the main path
(explorer.inside.activations). The library hooks the module it is given and runs `backward()`, so it
is given a *private copy* of the model (explorer.weights.model_cache.private_copy: shared weight
storage, detached weights) and never the cached model that every session shares: no hook and
no `.grad` ever lands on it. A hook of our own on the copy's target layer hands the library a
float32 leaf tensor: the backward pass stops there (nothing below the chosen layer is
differentiated) and autocast's half-precision activations still become numpy arrays.

Occlusion sensitivity (Zeiler & Fergus 2014) is a few lines here: slide a patch of the
training images' neutral colour (ImageNet's mean colour, "grey"; black paper for
`lenet5-digits`) over the input and record how much the class probability drops with the
patch at each position. It needs only forward passes (explorer.labs.predict.probabilities).

Both report progress and can be stopped (`progress(done, total, what)` returning False raises
JobCancelled): class activation maps after every forward pass of the model (one per image for
Grad-CAM, one per batch of 16 channels for Score-CAM), occlusion after every batch of occluded
copies. `class_map_work` and `occlusion_work` check the budgets and price the work, which
decides whether the page runs it inline or in a worker (explorer.serving.jobs.runs_inline,
explorer.serving.inside_jobs); either way it is the same function, so the results are the same.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from explorer.core import limits
from explorer.core.devices import autocast
from explorer.core.errors import BudgetError
from explorer.core.ledger import LEDGER
from explorer.core.work import JobCancelled
from explorer.inside import activations as acts
from explorer.inside import pictures as P
from explorer.labs.predict import probabilities
from explorer.labs.preprocessing import DigitPreprocessor, preprocessor_for
from explorer.weights.loading import LoadedModel
from explorer.weights.model_cache import FactsMemo, private_copy

METHODS = {"gradcam": "Grad-CAM", "gradcam++": "Grad-CAM++", "scorecam": "Score-CAM"}
MAX_CAM_MACS = limits.CAM_MAX_MACS
MAX_SCORECAM_MACS = limits.SCORECAM_MAX_MACS
MAX_OCCLUSION_MACS = limits.OCCLUSION_MAX_MACS
MAX_OCCLUSION_POSITIONS = limits.OCCLUSION_MAX_POSITIONS
OCCLUSION_CHUNK = 16  # occluded copies per forward pass (and per progress report)
SCORECAM_BATCH = 16  # masked copies per forward pass of Score-CAM (the library's default)

Progress = Callable[..., bool]


@dataclass(frozen=True)
class ClassMap:
    """Where one image's evidence for one class lies, at one layer."""

    method: str  # "Grad-CAM"
    layer: str  # the stage's output module
    class_index: int
    label: str
    probability: float  # the class's softmax probability for this image
    heatmap: np.ndarray = field(repr=False, compare=False)  # (H, W) in [0, 1], input size
    image: np.ndarray = field(repr=False, compare=False)  # what the network saw, 8-bit

    @property
    def overlay(self) -> np.ndarray:
        return overlay(self.image, self.heatmap)

    def peak(self) -> tuple[int, int]:
        """(row, col) of the map's maximum."""
        r, c = np.unravel_index(int(np.argmax(self.heatmap)), self.heatmap.shape)
        return int(r), int(c)


def overlay(image: np.ndarray, heat: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """A heat map in [0, 1] (colour map "jet") blended over an 8-bit picture: (H, W, 3)."""
    rgb = image if image.ndim == 3 else np.repeat(image[..., None], 3, axis=2)
    colour = P.colorize(heat, 0.0, 1.0, "jet").astype(np.float32)
    return np.asarray(np.round((1 - alpha) * rgb + alpha * colour), dtype=np.uint8)


def cam_layers(loaded: LoadedModel) -> list[acts.Stage]:
    """Stages with feature maps larger than 1×1: where a class activation map can look."""
    return [s for s in acts.stage_plan(loaded) if s.spatial and s.shape[1] * s.shape[2] > 1]


def default_layer(loaded: LoadedModel) -> str:
    """The last convolution or block with a spatial map (Grad-CAM's usual choice)."""
    layers = cam_layers(loaded)
    if not layers:
        raise BudgetError(f"{loaded.architecture} has no feature maps to draw a map on.")
    deep = [s for s in layers if s.kind in ("conv", "block")] or layers
    return deep[-1].output_module


def _stage(loaded: LoadedModel, layer: str | None) -> acts.Stage:
    name = default_layer(loaded) if layer is None else layer
    for s in cam_layers(loaded):
        if name in (s.name, s.output_module):
            return s
    choices = ", ".join(s.name for s in cam_layers(loaded))
    raise BudgetError(f"No layer with feature maps named {name!r}; choose one of: {choices}.")


def _leaf_output(_module: nn.Module, _args: Any, output: torch.Tensor) -> torch.Tensor:
    """The target layer's output as a fresh float32 leaf that requires grad."""
    return output.detach().to(torch.float32, copy=True).requires_grad_(True)


class _Logits(nn.Module):
    """The private copy, returning float32 logits (also for models that return a tuple);
    `after_forward()` is called after each forward pass (the library makes one per image, or
    one per batch of channels for Score-CAM: where progress is reported)."""

    def __init__(self, model: nn.Module, after_forward: Callable[[], None]) -> None:
        super().__init__()
        self.model = model
        self.after_forward = after_forward

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.model(x)
        self.after_forward()
        return (out if isinstance(out, torch.Tensor) else out[0]).float()


def _class_list(classes: int | Sequence[int] | None, n: int, k: int) -> list[int] | None:
    if classes is None:
        return None
    picked = [int(classes)] * n if isinstance(classes, int) else [int(c) for c in classes]
    if len(picked) != n or any(not 0 <= c < k for c in picked):
        raise BudgetError(f"Choose one class in 0..{k - 1} per image ({n} images).")
    return picked


_after: FactsMemo[int] = FactsMemo(256)


def _macs_after_layer(loaded: LoadedModel, layer: str) -> int:
    """Multiply-accumulates of one image's forward pass after `layer`'s output (what Grad-CAM's
    backward pass goes through: it stops at the layer), counted on a meta copy; kept by
    architecture, weights, input size and layer (as explorer.inside.activations.stage_plan: never
    holding the model)."""
    size = tuple(int(s) for s in loaded.input_size)
    key = (loaded.architecture, loaded.weights, size, layer)
    return _after.get(key, lambda: _count_after_layer(loaded, size, layer))


def _count_after_layer(loaded: LoadedModel, size: tuple[int, ...], layer: str) -> int:
    from explorer.engine.building import meta_copy
    from explorer.engine.counting import MacCounter

    meta = meta_copy(loaded.model)
    counted, at_layer = [0], []
    meta.get_submodule(layer).register_forward_hook(lambda *_: at_layer.append(counted[0]))
    try:
        with torch.no_grad(), MacCounter([0], counted):
            meta(torch.empty((1, *size), device="meta"))
        after = counted[0] - (at_layer[0] if at_layer else 0)
    except Exception:  # a model the counter cannot follow: the whole forward, an upper bound
        after = acts.check_budget(loaded)[0]
    return after


def class_map_work(loaded: LoadedModel, n: int, layer: str | None, method: str) -> int:
    """Check the budgets of `n` class activation maps (before any work) and price them: the
    multiply-accumulates they run, which also decide inline or worker (work.runs_inline).
    Grad-CAM(++): per image one forward pass and the backward pass from the logits down to
    the layer (weights are detached: input gradients only, about the forward's MACs of that
    part); Score-CAM: per image one forward pass plus one per channel of the layer."""
    stage = _stage(loaded, layer)
    macs, _ = acts.check_budget(loaded, "Drawing a class activation map of")
    if method not in METHODS:
        raise BudgetError(f"Unknown method {method!r}; choose one of {', '.join(METHODS)}.")
    channels = stage.shape[0]
    if method == "scorecam":
        if n * channels * macs > MAX_SCORECAM_MACS:
            raise BudgetError(
                f"Score-CAM runs one forward pass per channel: {n} × {channels:,} passes of "
                f"{loaded.architecture} is {n * channels * macs / 1e9:,.0f} G "
                f"multiply-accumulates; the limit is {MAX_SCORECAM_MACS / 1e9:,.0f} G (pick a "
                "layer with fewer channels, or Grad-CAM)."
            )
        return n * (1 + channels) * macs
    price = n * (macs + _macs_after_layer(loaded, stage.output_module))
    if price > MAX_CAM_MACS:
        images = f"{n} images" if n > 1 else "one image"
        raise BudgetError(
            f"{METHODS[method]} of {images} with {loaded.architecture} at {stage.name} needs "
            f"about {price / 1e9:,.0f} G multiply-accumulates (forward, and backward down to "
            f"the layer); the limit is {MAX_CAM_MACS / 1e9:,.0f} G."
        )
    return price


def class_maps(
    loaded: LoadedModel,
    batch: torch.Tensor,
    layer: str | None = None,
    method: str = "gradcam",
    classes: int | Sequence[int] | None = None,
    progress: Progress | None = None,
) -> tuple[ClassMap, ...]:
    """One class activation map per preprocessed image of `batch` ((C, H, W) or (N, C, H, W)),
    for `classes` (one for all, one per image, or None: each image's predicted class). The
    images go through the library one at a time; `progress(done, total, what)` hears of every
    forward pass, and stops the work (JobCancelled) by returning False."""
    from pytorch_grad_cam import GradCAM, GradCAMPlusPlus, ScoreCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    x = batch if batch.ndim == 4 else batch[None]
    stage = _stage(loaded, layer)
    class_map_work(loaded, len(x), stage.output_module, method)
    wanted = _class_list(classes, len(x), len(loaded.categories))
    model = private_copy(loaded.model)
    target = model.get_submodule(stage.output_module)
    target.register_forward_hook(_leaf_output)
    passes = 1 + (-(-stage.shape[0] // SCORECAM_BATCH) if method == "scorecam" else 0)
    done = [0]

    def after_forward() -> None:
        done[0] += 1
        if progress is not None:
            image, step = divmod(done[0] - 1, passes)
            what = ""
            if step:  # Score-CAM's passes over masked copies, after the image's own
                first = (step - 1) * SCORECAM_BATCH
                last = min(first + SCORECAM_BATCH, stage.shape[0])
                what = f"channels {first}–{last - 1}" + (
                    f" of image {image + 1}" if len(x) > 1 else ""
                )
            if not progress(done[0], passes * len(x), what):
                raise JobCancelled("Cancelled.")

    kind = {"gradcam": GradCAM, "gradcam++": GradCAMPlusPlus, "scorecam": ScoreCAM}[method]
    device = loaded.device
    cam = kind(model=_Logits(model, after_forward), target_layers=[target])
    cam.batch_size = SCORECAM_BATCH
    heats, logits = [], []
    # One image at a time: its activations and their gradients (Grad-CAM), or a batch of
    # masked copies' activations (Score-CAM), reserved in the memory ledger while it runs.
    _, values = acts.check_budget(loaded, "Drawing a class activation map of")
    copies = SCORECAM_BATCH if method == "scorecam" else 2
    held = LEDGER.reserve(4 * values * copies, f"A class activation map of {loaded.architecture}")
    try:
        for i in range(len(x)):
            xd = x[i : i + 1].to(device)
            if device.type == "cuda":
                xd = xd.contiguous(memory_format=torch.channels_last)
            targets = None if wanted is None else [ClassifierOutputTarget(wanted[i])]
            with torch.enable_grad(), autocast(device):
                heats.append(cam(input_tensor=xd, targets=targets)[0])
            logits.append(cam.outputs.detach().float().cpu()[0])  # the unmasked forward pass
    finally:
        cam.activations_and_grads.release()
        held.release()
    probs = torch.stack(logits).softmax(-1)
    chosen = probs.argmax(-1).tolist() if wanted is None else wanted
    pre = preprocessor_for(loaded)
    return tuple(
        ClassMap(
            method=METHODS[method],
            layer=stage.output_module,
            class_index=int(c),
            label=loaded.categories[int(c)],
            probability=float(probs[i, int(c)]),
            heatmap=np.asarray(heats[i], dtype=np.float32),
            image=pre.to_display(x[i]),
        )
        for i, c in enumerate(chosen)
    )


def _page_batch(loaded: LoadedModel, image: Image.Image, ten_crop: bool) -> torch.Tensor:
    """The page's input: the preprocessed image as a batch of one, or its ten crops."""
    pre = preprocessor_for(loaded)
    return pre.ten_crop(image) if ten_crop else pre.single(image)[None]


def image_class_maps(
    loaded: LoadedModel,
    image: Image.Image,
    layer: str | None,
    method: str,
    class_index: int | None,
    ten_crop: bool,
    progress: Progress | None = None,
) -> tuple[ClassMap, ...]:
    """The page's maps: `class_maps` of the picture, or of each of its ten crops."""
    return class_maps(loaded, _page_batch(loaded, image, ten_crop), layer, method, class_index,
                      progress)  # fmt: skip


# --------------------------------------------------------------------------- occlusion


@dataclass(frozen=True)
class OcclusionMap:
    """How much the class probability drops with the patch at each position."""

    class_index: int
    label: str
    probability: float  # without a patch
    patch: int
    stride: int
    drops: np.ndarray = field(repr=False, compare=False)  # (rows, cols): p - p(occluded)
    heatmap: np.ndarray = field(repr=False, compare=False)  # (H, W): mean drop per pixel
    image: np.ndarray = field(repr=False, compare=False)

    @property
    def overlay(self) -> np.ndarray:
        peak = float(np.abs(self.heatmap).max()) or 1.0
        return overlay(self.image, np.clip(self.heatmap / peak, 0, 1))

    def peak(self) -> tuple[int, int]:
        """(row, col) of the centre of the patch whose cover hurts most."""
        r, c = np.unravel_index(int(np.argmax(self.drops)), self.drops.shape)
        half = self.patch // 2
        return int(r) * self.stride + half, int(c) * self.stride + half


def default_patch(loaded: LoadedModel) -> tuple[int, int]:
    """(patch, stride): a quarter of the input's side, moved by half a patch (7×7 positions)."""
    side = min(loaded.input_size[1:])
    patch = max(2, side // 4)
    return patch, max(1, patch // 2)


def _starts(size: int, patch: int, stride: int) -> list[int]:
    return list(range(0, size - patch + 1, stride))


def occlusion_work(
    loaded: LoadedModel, n: int, patch: int, stride: int, size: tuple[int, int] | None = None
) -> int:
    """Check the budget of occluding `n` images (all of them together, before any work) and
    price it: the multiply-accumulates of every forward pass (one per patch position, plus the
    unoccluded image), which decide inline or worker (explorer.serving.jobs.runs_inline)."""
    h, w = size or (int(loaded.input_size[1]), int(loaded.input_size[2]))
    if not (1 <= patch <= min(h, w)) or stride < 1:
        raise BudgetError(f"The patch must be 1..{min(h, w)} pixels and the stride at least 1.")
    copies = len(_starts(h, patch, stride)) * len(_starts(w, patch, stride))
    macs, _ = acts.check_budget(loaded, "Occluding")
    total = n * (copies + 1) * macs
    if copies > MAX_OCCLUSION_POSITIONS or total > MAX_OCCLUSION_MACS:
        each = f" for each of {n} images" if n > 1 else ""
        raise BudgetError(
            f"A {patch}-pixel patch moved by {stride} makes {copies:,} occluded copies{each}, "
            f"{total / 1e9:,.1f} G multiply-accumulates with {loaded.architecture}; the "
            f"limit is {MAX_OCCLUSION_POSITIONS:,} copies and {MAX_OCCLUSION_MACS / 1e9:,.0f} G "
            "(use a larger patch or stride)."
        )
    return total


def occlusion(
    loaded: LoadedModel,
    x: torch.Tensor,
    class_index: int | None = None,
    patch: int | None = None,
    stride: int | None = None,
    progress: Progress | None = None,
) -> OcclusionMap:
    """Occlusion sensitivity of one preprocessed image (C, H, W) for a class (default: the
    predicted one). `progress(done, total)` hears of every batch of occluded copies (positions
    done of all), and stops the work (JobCancelled) by returning False."""
    x = x[0] if x.ndim == 4 else x
    _, h, w = x.shape
    d_patch, d_stride = default_patch(loaded)
    patch, stride = int(patch or d_patch), int(stride or d_stride)
    occlusion_work(loaded, 1, patch, stride, (h, w))
    rows, cols = _starts(h, patch, stride), _starts(w, patch, stride)
    n = len(rows) * len(cols)
    pre = preprocessor_for(loaded)
    fill = -1.0 if isinstance(pre, DigitPreprocessor) else 0.0  # black paper / mean colour
    base, _ = probabilities(loaded, x[None])
    k = int(base[0].argmax()) if class_index is None else int(class_index)
    if not 0 <= k < base.shape[1]:
        raise BudgetError(f"Choose a class in 0..{base.shape[1] - 1}.")
    p0 = float(base[0, k])
    spots = [(r, c) for r in rows for c in cols]
    drops = torch.empty(n)
    for start in range(0, n, OCCLUSION_CHUNK):
        part = spots[start : start + OCCLUSION_CHUNK]
        copies = x.repeat(len(part), 1, 1, 1)
        for i, (r, c) in enumerate(part):
            copies[i, :, r : r + patch, c : c + patch] = fill
        probs, _ = probabilities(loaded, copies)
        drops[start : start + len(part)] = p0 - probs[:, k]
        if progress is not None and not progress(start + len(part), n):
            raise JobCancelled("Cancelled.")
    grid = drops.view(len(rows), len(cols))
    total, count = torch.zeros(h, w), torch.zeros(h, w)
    for (r, c), d in zip(spots, drops.tolist()):
        total[r : r + patch, c : c + patch] += d
        count[r : r + patch, c : c + patch] += 1
    heat = total / count.clamp_min(1)
    return OcclusionMap(
        class_index=k,
        label=loaded.categories[k],
        probability=p0,
        patch=patch,
        stride=stride,
        drops=grid.numpy(),
        heatmap=heat.numpy(),
        image=pre.to_display(x),
    )


def image_occlusion(
    loaded: LoadedModel,
    image: Image.Image,
    class_index: int | None,
    patch: int,
    stride: int,
    ten_crop: bool,
    progress: Progress | None = None,
) -> tuple[OcclusionMap, ...]:
    """The page's occlusion maps: of the picture, or of each of its ten crops (their budget
    checked together first); `progress(done, total, what)` counts positions over all crops."""
    batch = _page_batch(loaded, image, ten_crop)
    occlusion_work(loaded, len(batch), patch, stride, (int(batch.shape[2]), int(batch.shape[3])))
    maps = []
    for i, x in enumerate(batch):

        def report(done: int, total: int, i: int = i) -> bool:
            what = f"crop {i + 1} of {len(batch)}" if len(batch) > 1 else ""
            return progress is None or progress(i * total + done, len(batch) * total, what)

        maps.append(occlusion(loaded, x, class_index, patch, stride, report))
    return tuple(maps)
