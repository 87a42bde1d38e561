"""What the Augmentation lab draws (a pipeline's sample grid, the gallery of every step), one
implementation for both places it runs: inline in the server, or as a job in a worker process
(explorer.serving.jobs) when it can take long.

Elastic warping is the slow step: about 0.2 s per sample at the lab's ≤ 512-pixel size on one
core (0.4 s when two processes share the core), so 8 samples take 1.5 to 3 s, 32 samples 6 to
11 s, and one sample of a 2000×2000 picture (the step's budget allows 4 megapixels) 7 s. Every
other step takes milliseconds. So a grid whose pipeline warps, and the gallery (1.4 s, 0.6 s
of it elastic), run as jobs (`grid_job`, `gallery_job`): they report progress after each
sample or augmentation and stop at the next one when cancelled. A job gets the picture's
pixels (`explorer.serving.jobs.Picture`, plain bytes) and returns PNG bytes: the same bytes as the
inline call (`preview_grid`, `gallery`), which tests/test_offload.py checks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import PIL.Image

from explorer.core import images as _images
from explorer.core import limits
from explorer.core.work import Picture
from explorer.labs.augment.memo import PrefixMemo
from explorer.labs.augment.pipeline import Pipeline
from explorer.labs.augment.preview import grid_image
from explorer.labs.augment.steps import AUGMENTATIONS, ElasticWarp

MAX_SIDE = limits.AUGMENT_LAB_MAX_SIDE
GALLERY_SIDE = 256  # the gallery shows every augmentation, so it works on a smaller copy
# Where a default is too gentle to see on a projector, the gallery (and a newly added step)
# uses a stronger setting; the page says which.
VISIBLE_PARAMS: dict[str, dict[str, float]] = {
    "elastic": {"alpha": 150.0, "sigma": 6.0},
    "pca_color": {"std": 1.0},
}
SLOW_STEPS = (ElasticWarp,)  # steps that make a grid a job (see the module's docstring)

Progress = Callable[..., bool]  # explorer.serving.jobs' callback: False once the job is cancelled


@dataclass(frozen=True)
class Grid:
    """A grid of samples as PNG bytes (the download), each sample's (width, height), and the
    grid as the page shows it (images.shown: sent as it is, every run)."""

    png: bytes
    sizes: tuple[tuple[int, int], ...]
    shown: bytes


@dataclass(frozen=True)
class Gallery:
    """The gallery's input size, and per augmentation one row of samples as the page shows it
    (images.shown) and their sizes."""

    size: tuple[int, int]
    rows: dict[str, tuple[bytes, str]]


def needs_worker(pipeline: Pipeline) -> bool:
    """Whether the pipeline's grid can take long enough to run as a job."""
    return any(isinstance(step, SLOW_STEPS) for step in pipeline.steps)


def preview_grid(
    image: PIL.Image.Image,
    pipeline: Pipeline,
    n: int,
    seed: int,
    columns: int,
    *,
    memo: PrefixMemo | None = None,
    progress: Progress | None = None,
) -> Grid | None:
    """The grid of n seeded samples (tiles at most MAX_SIDE), as the page shows it. With
    `progress`, called as progress(done, n) after each sample: None once it returns False."""
    stop = None if progress is None else (lambda done: progress(done, n))
    samples = pipeline.samples(image, n, seed, memo=memo, on_sample=stop)
    if len(samples) < n:
        return None
    grid = grid_image(samples, columns, max_cell=MAX_SIDE)
    sizes = tuple((int(s.shape[-1]), int(s.shape[-2])) for s in samples)
    return Grid(_images.to_png_bytes(grid, compress_level=1), sizes, _images.shown(grid))


def gallery_image(image: PIL.Image.Image) -> PIL.Image.Image:
    """The gallery's copy: shorter side GALLERY_SIDE (not the longer), so that the default
    224-pixel crops fit inside the picture instead of being padded with black bars."""
    scale = GALLERY_SIDE / min(image.size)
    if scale >= 1:
        return image
    size = (round(image.width * scale), round(image.height * scale))
    return image.resize(size, PIL.Image.Resampling.LANCZOS)


def gallery(
    image: PIL.Image.Image, n: int, seed: int, *, progress: Progress | None = None
) -> Gallery | None:
    """For every augmentation with its (visible) default parameters: n seeded samples in one
    row (tiles at their true relative sizes) and their sizes. With `progress`, called as
    progress(done, total, name) after each augmentation: None once it returns False."""
    small = gallery_image(image)
    rows = {}
    for done, (name, cls) in enumerate(AUGMENTATIONS.items(), 1):
        step = cls(**VISIBLE_PARAMS.get(name, {}))
        samples = Pipeline((step,)).samples(small, n, seed)
        sizes = ", ".join(f"{s.shape[-1]}×{s.shape[-2]}" for s in samples)
        rows[name] = (_images.shown(grid_image(samples, n)), sizes)
        if progress is not None and not progress(done, len(AUGMENTATIONS), step.TITLE):
            return None
    return Gallery(small.size, rows)


# --- the same, as jobs in a worker process (explorer.serving.jobs)
# ---------------------------------

_worker_memo: PrefixMemo | None = None  # a worker process's own memo (created on first use)


def grid_job(
    picture: Picture, pipeline_json: str, n: int, seed: int, columns: int, *, progress: Progress
) -> Grid | None:
    """`preview_grid` in a worker: the pipeline as its JSON (parsed strictly again here), with
    this worker's own PrefixMemo, so a step added after elastic warping reruns only itself
    when the same worker draws it (the pixels are the same either way)."""
    global _worker_memo
    if _worker_memo is None:
        _worker_memo = PrefixMemo()
    pipeline = Pipeline.from_json(pipeline_json)
    image = picture.to_image()
    return preview_grid(image, pipeline, n, seed, columns, memo=_worker_memo, progress=progress)


def gallery_job(picture: Picture, n: int, seed: int, *, progress: Progress) -> Gallery | None:
    """`gallery` in a worker."""
    return gallery(picture.to_image(), n, seed, progress=progress)
