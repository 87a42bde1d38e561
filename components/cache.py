"""All Streamlit caches of what the pages compute, in one place (what they send, made from
these, is kept ready in components/ready.py).

st.cache_resource: shared immutable objects, one copy for all sessions, never changed: an
`Analysis` per (network, input, batch), which every Explore view reads (trace, graphs,
diagrams, main path, depth, receptive fields), models with weights, inline predictions,
decoded pictures.
st.cache_data: results that hold per-session data or that a page changes (copied per session).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

import streamlit as st
from PIL import Image as _PILImage

import explorer
from components.tables import Table
from explorer.analysis.analysis import Analysis
from explorer.core import images as _images
from explorer.core.gc_settings import settle_after_imports
from explorer.core.records import Trace
from explorer.graph import diagram as _diagram
from explorer.graph.main_path import ShapePoint
from explorer.labs import augment as _augment
from explorer.labs import digits as _digits
from explorer.labs import predict as _predict
from explorer.labs import transfer as _transfer
from explorer.labs.augment import lab as _lab
from explorer.labs.preprocessing import preprocessor_for
from explorer.labs.real_layer import LayerPosition, explain_layer
from explorer.serving import jobs as _jobs
from explorer.weights import labels as _labels
from explorer.weights import loading as _weights
from explorer.weights import shipped as _shipped

# Imported once per server process, by the first page. Everything loaded so far (torch,
# torchvision's model modules, the catalog) lives as long as the server (explorer.core.gc_settings).
explorer.names()
settle_after_imports()

# --- Explore pages: one analysis per (network, input, batch) ---------------------------------

Size = tuple[int, int, int] | None


@st.cache_resource(max_entries=64, show_spinner="Tracing the network…")
def analysis(arch: str, input_size: Size = None, batch_size: int = 1) -> Analysis:
    """One meta build and one recorded forward pass of `arch` (a catalog name or a typed
    stack, resolved once inside): the trace, the data flow at every depth, the main path, the
    depth and the receptive fields all come from it. Immutable, so it is shared by every view
    and every session, never copied."""
    return explorer.analyse(arch, input_size, batch_size)


def trace(arch: str, input_size: Size = None, batch_size: int = 1) -> Trace:
    return analysis(arch, input_size, batch_size).trace






def diagram_image(
    arch: str,
    input_size: Size,
    batch_size: int,
    depth: int | None,
    collapse: bool,
    fmt: str,
    rankdir: str = "TB",
) -> bytes:
    with st.spinner("Rendering the diagram…"):
        return analysis(arch, input_size, batch_size).diagram(fmt, depth, collapse, rankdir)


@st.cache_resource(max_entries=64, show_spinner="Drawing the diagram…")
def diagram_svg(
    arch: str, input_size: Size, batch_size: int, depth: int | None, collapse: bool, rankdir: str
) -> str:
    """The diagram as inline SVG, drawn on the server: the page shows the same picture as the
    SVG download, and a rerun replaces it whole (no in-browser re-layout, issue 11)."""
    svg = diagram_image(arch, input_size, batch_size, depth, collapse, "svg", rankdir)
    return _diagram.inline_svg(svg)


@st.cache_resource(max_entries=128, show_spinner="Drawing the diagram…")
def dot_svg(dot: str) -> str:
    """Any DOT text (Cost lab, Transfer, Custom network) as inline SVG."""
    return _diagram.inline_svg(_diagram.svg_from_dot(dot))




def main_path(arch: str, input_size: Size = None, batch_size: int = 1) -> list[ShapePoint]:
    """The tensors on the input→output main path (the shape chart's default)."""
    return analysis(arch, input_size, batch_size).main_path


def receptive_fields(arch: str, input_size: Size = None) -> dict[str, int]:
    return analysis(arch, input_size, 1).receptive_fields


def weight_layer_depth(arch: str, input_size: Size = None, batch_size: int = 1) -> int:
    return analysis(arch, input_size, batch_size).depth


# Cost lab: the lecture's blocks at the sizes the sliders choose (builder name + plain ints).
BlockArgs = tuple[tuple[str, int], ...]


@st.cache_resource(max_entries=256, show_spinner="Tracing the block…")
def block_analysis(builder: str, kwargs: BlockArgs) -> Analysis:
    """One analysis of a lecture block; its trace and its diagram come from the same pass."""
    from explorer.catalog import blocks

    allowed = {"naive_conv_spec", "bottleneck_conv_spec", "inception_module_spec"}
    if builder not in allowed:
        raise ValueError(f"unknown block builder {builder!r}")
    spec: explorer.ArchSpec = getattr(blocks, builder)(**dict(kwargs))
    return explorer.analyse(spec)


def block_trace(builder: str, kwargs: BlockArgs) -> Trace:
    return block_analysis(builder, kwargs).trace


def block_dot(builder: str, kwargs: BlockArgs, depth: int = 1) -> str:
    return block_analysis(builder, kwargs).dot(depth, collapse=False)


@st.cache_data(max_entries=64, show_spinner="Recomputing that value by hand…")
def layer_position(
    arch: str, weights: str, image_key: str, _image: _PILImage.Image, layer: str,
    channel: int, row: int, col: int, look_at: int | None = None,
) -> LayerPosition:
    """One output value of a real layer recomputed from its real input and weights, beside the
    forward pass's own (explorer.labs.real_layer.explain_layer; `image_key` names the image)."""
    loaded = loaded_model(arch, weights, "cpu")
    batch = preprocessor_for(loaded).single(_image)[None]
    return explain_layer(loaded, batch, layer, channel, row, col, look_at)


@st.cache_data(max_entries=32, show_spinner=False)
def network_picture(arch: str, weights: str, image_key: str, _image: _PILImage.Image) -> Any:
    """The picture as the network sees it after its preprocessing (H×W×3 uint8)."""
    preprocessor = preprocessor_for(loaded_model(arch, weights, "cpu"))
    return preprocessor.to_display(preprocessor.single(_image))


# --- Prediction lab: models with weights, features for new heads (issue 6) -----------------


@st.cache_resource(show_spinner=False)
def with_weights() -> tuple[str, ...]:
    """The catalog names that have pretrained weights (shared, never changed)."""
    return tuple(_weights.with_weights())


@st.cache_resource(max_entries=4, show_spinner=False)
def model_labels(stamp: int) -> Mapping[str, str]:
    """Each network's label in the model boxes at this state of the weights folder
    (explorer.weights.labels.checkpoints_stamp), shared and never changed."""
    return MappingProxyType({n: _labels.model_label(n) for n in with_weights()})


def loaded_model(arch: str, weights: str = "DEFAULT", device: str = "auto") -> _weights.LoadedModel:
    """A model ready for inference, shared by all sessions (weights: name, file path, random),
    from explorer.weights.model_cache: bounded by bytes, each model loaded once at a time.
    Shared, so never modified: hooks and training go on private copies
    (explorer.weights.model_cache.private_copy)."""
    from explorer.weights import model_cache

    return model_cache.loaded_model(arch, weights, device)


@st.cache_resource(max_entries=32, show_spinner=False)
def page_prediction(
    _loaded: _weights.LoadedModel, model: tuple[str, str, str], picture: tuple[object, ...],
    _image: _PILImage.Image, top: int, ten: bool,
) -> _predict.PagePrediction | None:  # fmt: skip
    """An inline prediction (`model`: architecture, weights, device; `picture`: the image's
    work.Picture key), kept for the next run and the next visitor, as a job's result is: a
    rerun shows it (its latency included) without another forward pass. Never changed."""
    return _predict.page_prediction(_loaded, _image, top, ten)


@st.cache_resource(max_entries=32, show_spinner=False)
def ensemble_prediction(
    _loaded: tuple[_weights.LoadedModel, ...], members: tuple[tuple[str, str], ...], device: str,
    picture: tuple[object, ...], _image: _PILImage.Image, top: int, ten: bool,
) -> _predict.EnsemblePrediction:  # fmt: skip
    """An inline ensemble prediction, kept the same way (`members`: architecture, weights)."""
    return _predict.ensemble_predict(list(_loaded), _image, top, ten_crop=ten)


# Pictures a page works on, decoded or drawn once and shared (never changed).


@st.cache_resource(max_entries=16, show_spinner=False)
def sample_picture(name: str) -> _PILImage.Image:
    return _images.load_sample(name)


@st.cache_resource(max_entries=16, show_spinner=False)
def digit_photo(index: int) -> tuple[_PILImage.Image, int]:
    """A held-out digit drawn as dark ink on light paper, and its label."""
    return _digits.sample_photo(index)


@st.cache_resource(max_entries=8, ttl=600, show_spinner="Reading the image…")
def uploaded_picture(file_id: str, _data: bytes) -> _PILImage.Image:
    """An uploaded picture (`file_id`: Streamlit's id of that upload), decoded and checked once
    (explorer.core.images.decode_image; ImageError if bad; a 24-megapixel JPEG took 0.34 s on
    every run). Its pixels count against the memory ledger while it is kept, so only a few
    are, for 10 minutes."""
    return _images.decode_image(_data)


@st.cache_resource(max_entries=4, show_spinner=False)
def weights_here(stamp: int) -> tuple[_weights.WeightsInfo, ...]:
    """The weights whose files are on this machine at this state of the weights folder
    (explorer.weights.labels.checkpoints_stamp; listing them walks the whole catalog)."""
    return tuple(_weights.cached())


def ensemble_default(stamp: int) -> tuple[str, ...]:
    """The Ensembles page's first members: three torchvision networks whose weights are here,
    else the shipped digits models."""
    here = sorted({i.architecture for i in weights_here(stamp) if i.source == "torchvision"})
    if len(here) >= 2:
        return tuple(here[:3])
    return tuple(n for n in with_weights() if n in _shipped.SHIPPED)


class HeldOut(NamedTuple):
    each: tuple[float, ...]  # each member's accuracy
    together: float  # the averaged probabilities'
    table: Table


@st.cache_resource(max_entries=16, show_spinner=False)
def held_out_view(members: tuple[str, ...], device: str) -> HeldOut:
    """The shipped digits models' accuracies on the held-out digits, alone and averaged: the
    same numbers for every session (each run costs ~0.5 s of CPU and ~40 MB of activations)."""
    each, together = _digits.held_out_accuracies(
        [loaded_model(m, "DEFAULT", device).model for m in members])
    rows = [{"model": m, "accuracy": f"{a:.2%}"} for m, a in zip(members, each, strict=True)]
    rows.append({"model": "ensemble (averaged probabilities)", "accuracy": f"{together:.2%}"})
    return HeldOut(tuple(each), together, Table.of(rows))


@st.cache_data(max_entries=64, show_spinner=False)
def freeze_plan(arch: str, k: int, num_classes: int | None = None) -> _transfer.FreezePlan:
    return _transfer.freeze_plan(arch, k, num_classes)


@st.cache_data(max_entries=4, show_spinner="Computing the frozen backbone's features once…")
def digits_features(device: str = "auto") -> tuple[Any, Any, Any, Any]:
    return _transfer.digits_features(loaded_model("lenet5-digits", "DEFAULT", device))


@st.cache_data(max_entries=64, show_spinner="Computing the frozen backbone's features…")
def upload_features(arch: str, weights: str, device: str, images: tuple[bytes, ...]) -> Any:
    """Backbone features of uploaded images (keyed by their bytes: computed once per image set);
    inline, for backbones cheap enough (explorer.serving.jobs.runs_inline), else
    transfer.features_job."""
    return _transfer.upload_features(loaded_model(arch, weights, device), images)


@st.cache_data(max_entries=64, show_spinner="Shading the frozen layers…")
def frozen_dot(arch: str, frozen_blocks: tuple[str, ...]) -> str:
    return _transfer.frozen_dot(arch, frozen_blocks)


# --- Augmentation lab (issue 5) ---------------------------------------------------------------


AUGMENT_MAX_SIDE = _lab.MAX_SIDE  # the lab augments a copy whose longer side is at most this


@st.cache_resource(max_entries=8, show_spinner="Reading the image…")
def lab_image(kind: str, value: str | bytes) -> _PILImage.Image:
    """("sample", name) or ("upload", bytes) -> RGB image, longer side ≤ 512; ImageError if bad.
    Shared by every session that picks the same picture: never changed."""
    if kind == "sample" or isinstance(value, str):
        image = _images.load_sample(str(value))
    else:
        image = _images.decode_image(value)
    return _images.fit_within(image, AUGMENT_MAX_SIDE)


@st.cache_resource(show_spinner=False)
def augment_memo() -> _augment.PrefixMemo:
    """Every session's per-sample states after each pipeline step (augment.memo): a step
    added or changed reruns only from there, same pixels. Thread-safe, bounded by bytes."""
    return _augment.PrefixMemo()


@st.cache_resource(max_entries=32, show_spinner="Augmenting…")
def augment_grid(
    kind: str, value: str | bytes, pipeline_json: str, n: int, seed: int, columns: int
) -> _lab.Grid:
    """The grid of n seeded samples (PNG, each sample's size, the picture the page shows),
    drawn inline (pipelines without a slow step; the others run as augment.lab.grid_job)."""
    pipeline = _augment.Pipeline.from_json(pipeline_json)
    grid = _lab.preview_grid(lab_image(kind, value), pipeline, n, seed, columns,
                             memo=augment_memo())  # fmt: skip
    assert grid is not None  # no progress callback: never cut short
    return grid


@st.cache_resource(max_entries=32, show_spinner="Mixing…")
def mix_preview(
    a: tuple[str, str | bytes], b: tuple[str, str | bytes], method: str, alpha: float, seed: int
) -> tuple[bytes, float]:
    """MixUp/CutMix of image a with image b: (the picture as the page shows it, a's share of
    the soft label)."""
    mixed = _augment.mix_preview(
        lab_image(*a), lab_image(*b), method=method, alpha=alpha, seed=seed
    )
    return _images.shown(_augment.to_pil(mixed.image)), mixed.weight_a


# --- Why ResNets work: plain vs residual experiment (issue 7) ---------------------------------


@st.cache_resource(show_spinner=False)
def job_runner() -> _jobs.JobRunner:
    """The server's worker processes for long jobs (explorer.serving.jobs), one pool for all
    sessions:
    identical requests share one run, finished results are kept for the next visitor. Started
    when the first page that needs it opens, so a student's first Run does not wait for it."""
    runner = _jobs.JobRunner(preload=(
        "explorer.labs.residual_experiment", "explorer.labs.augment.lab", "explorer.labs.predict",
        "explorer.labs.transfer", "explorer.serving.inside_jobs", "pytorch_grad_cam"))  # fmt: skip
    runner.warm()
    return runner
