"""Widgets of the Look inside page (issue 12), and the class-activation-map view that the
Predict page shows too. Thin: the numbers and pictures come from explorer.activations and
explorer.cam; this module lays them out.

The cache wrappers for activations and maps live here (st.cache_resource: results are
immutable, their arrays read-only, and shared by every session; the models come from
components.cache.loaded_model)."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from PIL import Image

from components import cache
from components import prediction_widgets as w
from explorer import activation_pictures as P
from explorer import activations as A
from explorer import cam
from explorer.predict import preprocessor_for
from explorer.weights import LoadedModel

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
    pre = preprocessor_for(loaded)
    batch = pre.ten_crop(_image) if ten else pre.single(_image)
    return cam.class_maps(loaded, batch, layer, method, class_index)


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
    pre = preprocessor_for(loaded)
    batch = pre.ten_crop(_image) if ten else pre.single(_image)[None]
    return tuple(cam.occlusion(loaded, x, class_index, patch, stride) for x in batch)


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
            col.plotly_chart(
                vector_chart(layer, categories, logits=last),
                width="stretch",
                key=f"vec_{layer.name}",
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
    return fig


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
    return fig


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
        start = int(
            st.selectbox(
                "Channels",
                pages,
                key=f"{key}_page",
                format_func=lambda s: f"{s}–{min(s + DETAIL_CHANNELS, c) - 1} of {c}",
            )
        )
    picked = list(range(start, min(start + DETAIL_CHANNELS, c)))
    st.plotly_chart(channel_figure(layer, picked), width="stretch", key=f"{key}_channels")
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
    col.image(w.enlarged(pixels, side), caption=caption)


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
    each of its ten crops: the same view on the Look inside and the Predict pages."""
    layers = cam.cam_layers(loaded)
    default = cam.default_layer(loaded)
    outputs = [s.output_module for s in layers]
    a, b, c = st.columns(3)
    method = a.selectbox(
        "Method", list(cam.METHODS), key=f"{key}_method", format_func=cam.METHODS.get
    )
    layer = b.selectbox(
        "Layer",
        outputs,
        index=outputs.index(default),
        key=f"{key}_layer",
        format_func=lambda o: next(
            f"{s.name} ({s.lecture_shape})" for s in layers if s.output_module == o
        ),
    )
    choice = c.selectbox(
        "Class",
        [-1, *range(len(loaded.categories))],
        key=f"{key}_class",
        format_func=lambda i: "the predicted one" if i < 0 else f"{i}: {loaded.categories[i]}",
    )
    cls = None if int(choice) < 0 else int(choice)
    ik = image_key(image)
    maps = class_maps(arch, weights, device, ik, str(layer), str(method), cls, ten_crop, image)
    occluded = None
    if st.toggle(
        "Occlusion sensitivity", key=f"{key}_occlusion", value=loaded.architecture == "lenet5"
    ):
        patch0, stride0 = cam.default_patch(loaded)
        side = min(loaded.input_size[1:])
        p, s = st.columns(2)
        patch = p.slider("Patch (pixels)", 2, max(2, side // 2), patch0, key=f"{key}_patch")
        stride = s.slider("Stride", 1, max(1, side // 4), stride0, key=f"{key}_stride")
        occluded = occlusion_maps(arch, weights, device, ik, cls, patch, stride, ten_crop, image)
    stage = next(s for s in layers if s.output_module == layer)
    st.caption(
        f"{cam.METHODS[str(method)]} at `{stage.name}` ({stage.lecture_shape}): red is where "
        "the evidence for the class lies. Occlusion: a patch of the training images' neutral "
        "colour slides over the image; red is where covering it lowers the class probability "
        "most."
    )
    if not ten_crop:
        m = maps[0]
        cols = st.columns(4)
        _show(m.image, "what the network saw", cols[0])
        _show(m.overlay, f"{m.method}: {m.label} ({m.probability:.1%})", cols[1])
        if occluded:
            o = occluded[0]
            _show(o.overlay, f"occlusion: {o.label} ({o.probability:.1%} unoccluded)", cols[2])
            cols[3].plotly_chart(occlusion_chart(o), width="stretch", key=f"{key}_drops")
            cols[3].caption(f"drop in p({o.label}) per patch ({o.patch} px, stride {o.stride})")
        return
    from explorer.predict import CROP_POSITIONS

    for row in (range(5), range(5, 10)):
        cols = st.columns(5)
        for col, i in zip(cols, row):
            m = maps[i]
            _show(m.overlay, f"{CROP_POSITIONS[i]}: {m.label} ({m.probability:.0%})", col, 160)
            if occluded:
                _show(occluded[i].overlay, f"occlusion ({occluded[i].label})", col, 160)


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
    return fig


def canvas_image(rgba: Any) -> Image.Image | None:
    """The drawing canvas's RGBA pixels as an RGB picture on white (None before any data)."""
    if rgba is None:
        return None
    picture = Image.fromarray(np.asarray(rgba, dtype=np.uint8), "RGBA")
    white = Image.new("RGBA", picture.size, (255, 255, 255, 255))
    return Image.alpha_composite(white, picture).convert("RGB")
