"""The Look inside page's long work as jobs in worker processes (explorer.serving.jobs).

Each job loads the model from the worker's own cache (an uploaded weights file travels with
the job as its bytes), rebuilds the picture from its pixels and calls the very function the
page calls inline for cheap requests (explorer.inside.activations.record,
explorer.inside.cam.image_class_maps,
explorer.inside.cam.image_occlusion): the result is the same, bit for bit, at the same thread count.
Progress events are (done, total, what); a cancelled job stops at its next report
(explorer.serving.jobs).

The page decides with explorer.serving.jobs.runs_inline on the price that explorer.inside.cam's
`class_map_work` / `occlusion_work` and explorer.inside.activations.check_budget give, after they
have
checked the budgets: a job is never submitted for a refused request.

pytorch-grad-cam's Score-CAM writes a tqdm bar to stderr for every image; in a worker that is
redirected (the worker runs one job at a time, so nothing else writes there meanwhile). Inline,
on the server, the bar is left alone: redirecting stderr there would be a process-wide change.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable

from explorer.core.work import Picture
from explorer.inside.activations import Activations, record
from explorer.inside.cam import ClassMap, OcclusionMap, image_class_maps, image_occlusion
from explorer.weights.model_cache import worker_model


def activations_job(
    arch: str, weights: str, device: str, picture: Picture, upload: bytes | None = None, *,
    progress: Callable[..., bool],
) -> Activations | None:  # fmt: skip
    """`record` (one forward pass, every stage kept) in a worker."""
    if not progress(0, 1, "loading the model"):
        return None
    loaded = worker_model(arch, weights, device, upload)
    if not progress(0, 1, "one forward pass, every layer recorded"):
        return None
    return record(loaded, picture.to_image())


def class_maps_job(
    arch: str, weights: str, device: str, picture: Picture, layer: str, method: str,
    class_index: int | None, ten_crop: bool, upload: bytes | None = None, *,
    progress: Callable[..., bool],
) -> tuple[ClassMap, ...] | None:  # fmt: skip
    """`image_class_maps` in a worker: progress after every forward pass of the model."""
    if not progress(0, 1, "loading the model"):
        return None
    loaded = worker_model(arch, weights, device, upload)
    quiet = contextlib.redirect_stderr(io.StringIO()) if method == "scorecam" else None
    with quiet or contextlib.nullcontext():
        return image_class_maps(loaded, picture.to_image(), layer, method, class_index, ten_crop,
                                progress)  # fmt: skip


def occlusion_job(
    arch: str, weights: str, device: str, picture: Picture, class_index: int | None,
    patch: int, stride: int, ten_crop: bool, upload: bytes | None = None, *,
    progress: Callable[..., bool],
) -> tuple[OcclusionMap, ...] | None:  # fmt: skip
    """`image_occlusion` in a worker: progress after every batch of occluded copies."""
    if not progress(0, 1, "loading the model"):
        return None
    loaded = worker_model(arch, weights, device, upload)
    return image_occlusion(loaded, picture.to_image(), class_index, patch, stride, ten_crop,
                           progress)  # fmt: skip
