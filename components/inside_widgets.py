"""Widgets of the Look inside page (issue 12), and the class-activation-map view that the
Predict page shows too. Thin: the numbers and pictures come from explorer.inside.activations and
explorer.inside.cam; this module lays them out.

The cache wrappers for activations and maps live here (st.cache_resource: results are
immutable, their arrays read-only, and shared by every session; the models come from
components.cache.loaded_model). Work over explorer.serving.jobs.INLINE_MAX_MACS (activations of
vit_b_16,
Grad-CAM of ten crops, most occlusion) runs instead as a job in a worker process
(explorer.serving.inside_jobs, components.job_widgets: progress, Cancel, shared by identical
requests);
its budget is checked first, here, so a refused request never becomes a job."""

from __future__ import annotations

import binascii
import hashlib
from collections.abc import Callable
from typing import Any

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from PIL import Image

from components import cache, job_widgets, plots
from components import prediction_widgets as w
from components.markdown import plain
from explorer.core import limits, work
from explorer.core.errors import ExplorerError, ImageError
from explorer.core.images import decode_image
from explorer.inside import activations as A
from explorer.inside import cam
from explorer.inside import pictures as P
from explorer.serving import inside_jobs
from explorer.serving.jobs import Job
from explorer.weights import model_cache
from explorer.weights.loading import LoadedModel

ROW_WIDTH = 1100  # pixels available for one row of grids on a wide page
DETAIL_CHANNELS = 64  # channels per page of the one-layer view
BAR_LIMIT = 256  # longer vectors are shown as a histogram
PLOT_WIDTH = 760  # a full-width plotly chart's plotting area on a wide page (colour bar aside)


def image_key(image: Image.Image) -> str:
    """A short digest of an image's pixels: the cache key of everything computed from it."""
    digest = hashlib.sha256(image.tobytes())
    digest.update(f"{image.mode}{image.size}".encode())
    return digest.hexdigest()[:24]


# Few entries: one resnet50 result holds ~26 MB of activations (a LeNet one ~30 KB).
@st.cache_resource(max_entries=8, show_spinner="Running the network…")
def activations(
    arch: str, weights: str, device: str, key: str, _image: Image.Image
) -> A.Activations:
    return A.record(cache.loaded_model(arch, weights, device), _image)


@st.cache_resource(max_entries=64, show_spinner="Computing the class activation maps…")
def class_maps(
    arch: str,
    weights: str,
    device: str,
    key: str,
    layer: str,
    method: str,
    class_index: int | None,
    ten: bool,
    _image: Image.Image,
) -> tuple[cam.ClassMap, ...]:
    loaded = cache.loaded_model(arch, weights, device)
    return cam.image_class_maps(loaded, _image, layer, method, class_index, ten)


@st.cache_resource(max_entries=64, show_spinner="Sliding the patch over the image…")
def occlusion_maps(
    arch: str,
    weights: str,
    device: str,
    key: str,
    class_index: int | None,
    patch: int,
    stride: int,
    ten: bool,
    _image: Image.Image,
) -> tuple[cam.OcclusionMap, ...]:
    loaded = cache.loaded_model(arch, weights, device)
    return cam.image_occlusion(loaded, _image, class_index, patch, stride, ten)


ACTS_SLOT = "inside_activations_job"


def page_activations(
    loaded: LoadedModel, arch: str, weights: str, device: str, image: Image.Image
) -> A.Activations | None:
    """Every layer of one forward pass: inline when cheap (explorer.serving.jobs.runs_inline: up to
    10 G multiply-adds, resnet50's 4.1 G included), else a job in a worker with progress and
    Cancel (vgg16's 15.5 G, vit_b_16's 17.6 G). None while this session has it cancelled."""
    macs, _ = A.check_budget(loaded)
    if work.runs_inline(macs):
        job_widgets.leave(ACTS_SLOT)
        return activations(arch, weights, device, image_key(image), image)
    job = _submit(ACTS_SLOT, inside_jobs.activations_job, arch, weights, device, image)
    if job is None:
        return None
    label = (
        f"{loaded.architecture}: every layer of one forward pass, {macs / 1e9:,.1f} G multiply-adds"
    )
    recorded: A.Activations | None = job_widgets.follow(job, label, ACTS_SLOT)
    return recorded


def _submit(
    slot: str, fn: Callable[..., Any], arch: str, weights: str, device: str,
    image: Image.Image, *rest: Any,
) -> Job | None:  # fmt: skip
    """A job of explorer.serving.inside_jobs for `slot` (components.job_widgets.start): the picture
    travels as its pixels, uploaded weights as their bytes, and identical requests of all
    sessions share one run."""
    picture = work.Picture.of(image)
    key = (fn.__name__, arch, weights, device, picture.key, *rest)
    upload = model_cache.upload_of(weights)
    return job_widgets.start(slot, key, fn, arch, weights, device, picture, *rest, upload)


def _offload(
    pending: job_widgets.Pending,
    slot: str,
    macs: int,
    label: str,
    inline: Callable[[], Any],
    show: Callable[[Any], None],
    fn: Callable[..., Any],
    *job_args: Any,
) -> None:
    """Cheap work (explorer.serving.jobs.runs_inline) runs here and is drawn at once; more is the
    job
    `fn(*job_args)` in a worker process, drawn by `pending` at the end of the page with its
    progress and Cancel. The same explorer function runs either way."""
    if work.runs_inline(macs):
        job_widgets.leave(slot)
        try:
            show(inline())
        except ExplorerError as exc:
            st.error(plain(str(exc)))
        return
    job = _submit(slot, fn, *job_args)
    if job is not None:
        pending.add(job, label, slot, show)


# --------------------------------------------------------------------------- layers


def _grid_picture(layer: A.LayerActivation, scale: int) -> np.ndarray:
    return P.feature_grid(layer, scale).image


def all_layers(acts: A.Activations, categories: tuple[str, ...]) -> None:
    """Every stage: feature-map grids at one common scale (so n_H, n_W visibly shrink while
    n_C grows), then the fully connected layers and the logits as bar charts."""
    scale = P.overview_scale(acts)
    spatial = acts.spatial_layers
    pictures = [_grid_picture(layer, scale) for layer in spatial]
    st.caption(
        f"Every map drawn at {scale} pixel{'s' if scale > 1 else ''} per activation; colours "
        "run from each layer's lowest value (dark blue) to its highest (yellow)."
    )
    widths = [p.shape[1] for p in pictures]
    if pictures and sum(widths) + 24 * len(widths) <= ROW_WIDTH:
        for col, layer, picture in zip(st.columns(widths, gap="small"), spatial, pictures):
            col.image(picture, width=int(picture.shape[1]))
            col.caption(f"**{layer.lecture_shape}** · {layer.name} ({'+'.join(layer.types)})")
    else:
        for layer, picture in zip(spatial, pictures):
            st.caption(f"**{layer.lecture_shape}** · {layer.name} ({' + '.join(layer.types)})")
            st.image(picture, width=int(min(picture.shape[1], ROW_WIDTH)))
    vectors = [layer for layer in acts.layers if not layer.spatial]
    if vectors:
        cols = st.columns(len(vectors))
        for col, layer in zip(cols, vectors):
            last = layer is acts.layers[-1]
            plots.show(
                vector_chart(layer, categories, logits=last),
                key=f"vec_{layer.name}",
                where=col,
                width="stretch",
            )


def vector_chart(
    layer: A.LayerActivation, categories: tuple[str, ...] = (), logits: bool = False
) -> go.Figure:
    values = layer.values
    title = f"{'logits' if logits else layer.name}: {layer.shape[0]} values"
    if logits and len(values) == len(categories):
        order = P.strongest_units(layer, 20)
        fig = go.Figure(go.Bar(x=[categories[i] for i in order], y=values[order]))
        more = " (the 20 highest)" if len(values) > 20 else ""
        fig.update_xaxes(type="category", title="class" + more)
    elif len(values) <= BAR_LIMIT:
        fig = go.Figure(go.Bar(y=values))
        fig.update_xaxes(title="unit")
    else:
        fig = go.Figure(go.Histogram(x=values, nbinsx=60))
        fig.update_xaxes(title="value")
    fig.update_layout(title=title, height=240, margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return plots.finished(fig)


def channel_figure(layer: A.LayerActivation, channels: list[int], columns: int = 8) -> go.Figure:
    """The chosen channels as heat maps on one figure; hover a channel for its statistics."""
    n = len(channels)
    cols = min(columns, n)
    rows = -(-n // cols)
    gap = 0.012
    cell_w, cell_h = (1 - gap * (cols - 1)) / cols, (1 - gap * (rows - 1)) / rows
    lo, hi = float(layer.values.min()), float(layer.values.max())
    fig = go.Figure()
    layout: dict[str, Any] = {}
    for k, ch in enumerate(channels):
        r, c = divmod(k, cols)
        s = layer.stats[ch]
        suffix = "" if k == 0 else str(k + 1)
        fig.add_trace(
            go.Heatmap(
                z=layer.values[ch],
                coloraxis="coloraxis",
                xaxis=f"x{suffix}",
                yaxis=f"y{suffix}",
                hovertemplate=(
                    f"<b>channel {ch}</b><br>mean {s.mean:.3f} · std {s.std:.3f}<br>"
                    f"min {s.min:.3f} · max {s.max:.3f}<br>{s.active:.0%} of positions > 0"
                    "<br>row %{y}, col %{x}: %{z:.3f}<extra></extra>"
                ),
            )
        )
        x0, y1 = c * (cell_w + gap), 1 - r * (cell_h + gap)
        layout[f"xaxis{suffix}"] = {
            "domain": [x0, x0 + cell_w], "visible": False, "anchor": f"y{suffix}",
        }  # fmt: skip
        layout[f"yaxis{suffix}"] = {
            "domain": [y1 - cell_h, y1], "visible": False, "anchor": f"x{suffix}",
            "autorange": "reversed", "scaleanchor": f"x{suffix}",
        }  # fmt: skip
    cell_px = PLOT_WIDTH / cols  # square tiles in the chart's usual width
    fig.update_layout(
        **layout,
        coloraxis={"colorscale": "Viridis", "cmin": lo, "cmax": hi},
        height=int(rows * cell_px + 40),
        margin={"l": 0, "r": 0, "t": 10, "b": 10},
    )
    return plots.finished(fig)


def one_layer(acts: A.Activations, key: str) -> None:
    """One layer's channels larger (hover for statistics) and the strongest channels."""
    spatial = acts.spatial_layers
    if not spatial:
        st.info("This network has no feature maps.")
        return
    names = [layer.name for layer in spatial]
    name = st.selectbox(
        "Layer",
        names,
        index=min(2, len(names) - 1),
        key=f"{key}_layer",
        format_func=lambda n: acts.layer(n).label,
    )
    layer = acts.layer(str(name))
    c = layer.shape[0]
    start = 0
    if c > DETAIL_CHANNELS:
        pages = list(range(0, c, DETAIL_CHANNELS))
        chosen = st.selectbox(
            "Channels",
            pages,
            key=f"{key}_page",
            format_func=lambda s: f"{s}–{min(s + DETAIL_CHANNELS, c) - 1} of {c}",
        )
        start = int(chosen or 0)
    picked = list(range(start, min(start + DETAIL_CHANNELS, c)))
    plots.show(channel_figure(layer, picked), width="stretch", key=f"{key}_channels")
    strongest = P.strongest_channels(layer, 8)
    st.markdown(f"**The channels that respond most to this image** ({layer.lecture_shape})")
    cols = st.columns(len(strongest))
    for col, ch in zip(cols, strongest):
        grid = P.feature_grid(layer, max(1, 96 // layer.shape[1]), channels=[ch])
        s = layer.stats[ch]
        col.image(grid.image, caption=f"channel {ch}: mean {s.mean:.2f}, max {s.max:.2f}")


def filters_view(loaded: LoadedModel) -> None:
    f = P.filters(loaded)
    out_c, in_c, kh, kw = f.shape
    kind = (
        "colour (RGB)" if f.rgb else "grayscale" + (f", mean of {in_c} inputs" if in_c > 1 else "")
    )
    st.caption(
        f"`{f.layer}`: {out_c} filters of {kh}×{kw}×{in_c}, drawn in {kind}, each scaled to its "
        "own range. What the first layer looks for: edges, stripes, colour blobs."
    )
    st.image(f.image, width=int(min(f.image.shape[1], ROW_WIDTH)))


# --------------------------------------------------------------------------- where it looks


def _show(pixels: np.ndarray, caption: str, col: Any, side: int = 224) -> None:
    w.picture(col, pixels, caption, enlarge=side)


def cam_panel(
    loaded: LoadedModel,
    arch: str,
    weights: str,
    device: str,
    image: Image.Image,
    key: str,
    ten_crop: bool = False,
) -> None:
    """Grad-CAM (or Grad-CAM++, Score-CAM) and occlusion sensitivity for one image, or for
    each of its ten crops: the same view on the Look inside and the Predict pages. Each runs
    inline when cheap, else as a job in a worker (`_offload`); both jobs start before either
    is waited for, and their progress bars sit under the pictures."""
    layers = cam.cam_layers(loaded)
    default = cam.default_layer(loaded)
    outputs = [s.output_module for s in layers]
    a, b, c = st.columns(3)
    method = str(
        a.selectbox("Method", list(cam.METHODS), key=f"{key}_method",
                    format_func=lambda m: cam.METHODS[m])
    )
    layer = str(
        b.selectbox(
            "Layer",
            outputs,
            index=outputs.index(default),
            key=f"{key}_layer",
            format_func=lambda o: next(
                f"{s.name} ({s.lecture_shape})" for s in layers if s.output_module == o
            ),
        )
    )
    choice = c.selectbox(
        "Class",
        [-1, *range(len(loaded.categories))],
        key=f"{key}_class",
        format_func=lambda i: "the predicted one" if i < 0 else f"{i}: {loaded.categories[i]}",
    )
    cls = None if int(choice) < 0 else int(choice)
    occlusion_on = st.toggle(
        "Occlusion sensitivity", key=f"{key}_occlusion", value=loaded.architecture == "lenet5"
    )
    if occlusion_on:
        patch0, stride0 = cam.default_patch(loaded)
        side = min(loaded.input_size[1:])
        p, s = st.columns(2)
        patch = p.slider("Patch (pixels)", 2, max(2, side // 2), patch0, key=f"{key}_patch")
        stride = s.slider("Stride", 1, max(1, side // 4), stride0, key=f"{key}_stride")
    stage = next(s for s in layers if s.output_module == layer)
    st.caption(
        f"{cam.METHODS[method]} at `{stage.name}` ({stage.lecture_shape}): red is where "
        "the evidence for the class lies. Occlusion: a patch of the training images' neutral "
        "colour slides over the image; red is where covering it lowers the class probability "
        "most."
    )
    n = 10 if ten_crop else 1
    what = "ten crops" if ten_crop else "one image"
    try:  # the budgets, before any work
        cam_macs: int | None = cam.class_map_work(loaded, n, layer, method)
    except ExplorerError as exc:
        st.error(plain(str(exc)))
        cam_macs = None
    occ_macs = None
    if occlusion_on:
        try:
            occ_macs = cam.occlusion_work(loaded, n, patch, stride)
        except ExplorerError as exc:
            st.error(plain(str(exc)))
    show_maps, show_occlusion = _cam_layout(ten_crop, key)
    ik, pending, common = image_key(image), job_widgets.Pending(), (arch, weights, device)
    for slot, macs in ((f"{key}_cam_job", cam_macs), (f"{key}_occlusion_job", occ_macs)):
        if macs is None:  # off or refused: no longer waiting for an earlier job there
            job_widgets.leave(slot)
    if cam_macs is not None:
        _offload(
            pending, f"{key}_cam_job", cam_macs,
            f"{cam.METHODS[method]} on {what}, {cam_macs / 1e9:,.0f} G multiply-adds",
            lambda: class_maps(*common, ik, layer, method, cls, ten_crop, image), show_maps,
            inside_jobs.class_maps_job, *common, image, layer, method, cls, ten_crop,
        )  # fmt: skip
    if occ_macs is not None:
        _offload(
            pending, f"{key}_occlusion_job", occ_macs,
            f"Occlusion on {what}, {occ_macs / 1e9:,.0f} G multiply-adds",
            lambda: occlusion_maps(*common, ik, cls, patch, stride, ten_crop, image),
            show_occlusion, inside_jobs.occlusion_job, *common, image, cls, patch, stride, ten_crop,
        )  # fmt: skip
    pending.follow()


def _cam_layout(
    ten_crop: bool, key: str
) -> tuple[
    Callable[[tuple[cam.ClassMap, ...]], None], Callable[[tuple[cam.OcclusionMap, ...]], None]
]:
    """Places for the maps, made before any is computed (a job's result is drawn later, in
    its place): one row of four for one image (what the network saw, the class map, the
    occlusion map and its drops), or two rows of five crops with both maps under each."""
    from explorer.labs.predict import CROP_POSITIONS

    if not ten_crop:
        cols = st.columns([1, 1, 1, 1.4])  # the drops chart needs room for its colour bar

        def one_map(maps: tuple[cam.ClassMap, ...]) -> None:
            m = maps[0]
            _show(m.image, "what the network saw", cols[0])
            _show(m.overlay, f"{m.method}: {m.label} ({m.probability:.1%})", cols[1])

        def one_occlusion(occluded: tuple[cam.OcclusionMap, ...]) -> None:
            o = occluded[0]
            _show(o.overlay, f"occlusion: {o.label} ({o.probability:.1%} unoccluded)", cols[2])
            plots.show(occlusion_chart(o), key=f"{key}_drops", where=cols[3], width="stretch")
            cols[3].caption(f"drop in p({o.label}) per patch ({o.patch} px, stride {o.stride})")

        return one_map, one_occlusion
    cells = [(col.container(), col.container()) for _ in range(2) for col in st.columns(5)]

    def crop_maps(maps: tuple[cam.ClassMap, ...]) -> None:
        for i, (m, (place, _)) in enumerate(zip(maps, cells)):
            _show(m.overlay, f"{CROP_POSITIONS[i]}: {m.label} ({m.probability:.0%})", place, 160)

    def crop_occlusions(occluded: tuple[cam.OcclusionMap, ...]) -> None:
        for o, (_, place) in zip(occluded, cells):
            _show(o.overlay, f"occlusion ({o.label})", place, 160)

    return crop_maps, crop_occlusions


def where_it_looks(
    loaded: LoadedModel,
    arch: str,
    weights: str,
    device: str,
    image: Image.Image,
    key: str,
    ten_crop: bool = False,
) -> None:
    """The class-activation-map view behind a switch (the Predict page: one image, or each
    of the ten crops)."""
    what = "each of the ten crops" if ten_crop else "this image"
    if st.toggle(f"Where does it look? Grad-CAM and occlusion on {what}", key=f"{key}_on"):
        cam_panel(loaded, arch, weights, device, image, key, ten_crop)


def occlusion_chart(o: cam.OcclusionMap) -> go.Figure:
    rows, cols = o.drops.shape
    fig = go.Figure(
        go.Heatmap(
            z=o.drops,
            colorscale="RdBu",
            reversescale=True,
            zmid=0,
            colorbar={"thickness": 10},
            hovertemplate="patch at row %{y}, col %{x}<br>probability drop %{z:.3f}<extra></extra>",
        )
    )
    fig.update_xaxes(range=[-0.5, cols - 0.5], constrain="domain", title="patch position")
    fig.update_yaxes(range=[rows - 0.5, -0.5], scaleanchor="x", constrain="domain")
    fig.update_layout(height=230, margin={"l": 10, "r": 10, "t": 10, "b": 10})
    return plots.finished(fig)


def canvas_image(drawn: Any) -> Image.Image | None:
    """The drawing canvas's picture, decoded by explorer.core.images.decode_image within the
    canvas's own size (its transparent pixels on white); None before anything is drawn.

    The PNG comes from the browser, so it is as untrusted as an upload: a crafted message can
    hold any picture (a 12000×12000 PNG is 2 GB decoded; a JPEG of 200,000 scans runs for
    minutes). Its bytes are taken as they are (`image_bytes`) and nothing else decodes them.
    ImageError names what is wrong."""
    if drawn is None or drawn.json_data is None:
        return None
    try:
        png = drawn.image_bytes
    except (ValueError, binascii.Error):  # not a base64 data URL
        raise ImageError("The canvas sent something that is not a picture.") from None
    if png is None:
        return None
    return decode_image(png, max_bytes=limits.CANVAS_MAX_BYTES, max_pixels=limits.CANVAS_MAX_PIXELS)
