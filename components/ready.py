"""Finished output: the figures, tables, HTML and pictures the pages send, made once, kept in
st.cache_resource keyed by what they show, shared by every session and never changed after.
A warm page run sends them as they are: it builds no plotly figure (components/plots.py),
turns no rows into Arrow again (components/tables.py) and encodes no picture again
(explorer.core.images.shown). The analyses, models and results they are made from are in
components/cache.py."""

from __future__ import annotations

from typing import Any, NamedTuple

import plotly.graph_objects as go
import streamlit as st
from PIL import Image as _PILImage

import explorer
from components import (
    arithmetic_charts,
    cache,
    compare_charts,
    cost_charts,
    prediction_charts,
    residual_charts,
    tables,
    widgets,
)
from components.tables import Table
from explorer.analysis.trace import Trace
from explorer.catalog import published
from explorer.core import images as _images
from explorer.core.layer_math import BottleneckComparison
from explorer.labs import arithmetic as ar
from explorer.labs import augment as _augment
from explorer.labs import residual_experiment as _residual

# --- Explore pages ----------------------------------------------------------------------------


class LayerView(NamedTuple):
    table: Table
    csv: str
    bars: go.Figure  # MACs above parameters, layer by layer


@st.cache_resource(max_entries=256, show_spinner=False)
def layer_view(arch: str, input_size: cache.Size, batch_size: int, depth: int) -> LayerView:
    """The Architecture page's layer table at `depth` (and its CSV) and its MACs and
    parameters chart."""
    a = cache.analysis(arch, input_size, batch_size)
    table = Table.of_layers(tables.layer_rows(a.trace, depth, a.receptive_fields))
    return LayerView(table, table.csv(), widgets.layer_bars(table.rows))


@st.cache_resource(max_entries=256, show_spinner=False)
def stack_view(text: str) -> tuple[Table, go.Figure | None]:
    """A typed stack's layer table (every layer) and, for an image, its shape chart."""
    a = cache.analysis(text, None, 1)
    image = a.spec is not None and not a.spec.inputs  # else features, tokens, a volume…
    table = Table.of_layers(tables.stack_rows(a.trace, a.receptive_fields if image else None))
    return table, widgets.shape_chart(a.main_path) if image else None


@st.cache_resource(max_entries=64, show_spinner=False)
def published_view(arch: str, input_size: cache.Size, batch_size: int) -> tuple[Table, list[str]]:
    """Our exact figures beside the published ones (explorer.catalog.published: ✓ or Δ), and
    notes."""
    a = cache.analysis(arch, input_size, batch_size)
    assert a.spec is not None
    rows, notes = published.published_rows(a.spec, a.trace)
    return Table.of(rows), notes


@st.cache_resource(max_entries=256, show_spinner=False)
def shape_view(arch: str, input_size: cache.Size, batch_size: int, branches: bool) -> go.Figure:
    """The n_H, n_W ↓ n_C ↑ chart: the main path, or every conv/pool layer (`branches`)."""
    if branches:
        points = widgets.conv_pool_points(cache.trace(arch, input_size, batch_size))
    else:
        points = cache.main_path(arch, input_size, batch_size)
    return widgets.shape_chart(points, branches)


class CompareView(NamedTuple):
    rows: tuple[compare_charts.Row, ...]
    errors: tuple[str, ...]  # one sentence per network that could not be traced
    table: Table
    scatter: go.Figure
    top1: go.Figure | None  # None: none of them has an ImageNet top-1
    depth: go.Figure


@st.cache_resource(max_entries=64, show_spinner="Tracing the networks…")
def compare_view(names: tuple[str, ...]) -> CompareView:
    """The Compare page for these networks, each at its own default input size."""
    rows, errors = [], []
    for name in names:
        try:
            rows.append(compare_charts.row(name, cache.analysis(name, None, 1)))
        except explorer.ExplorerError as exc:
            errors.append(f"{name}: {exc}")
    return CompareView(tuple(rows), tuple(errors), compare_charts.table(rows),
                       compare_charts.scatter(rows), compare_charts.top1_bar(rows),
                       compare_charts.depth_bar(rows))  # fmt: skip


# --- Cost lab ---------------------------------------------------------------------------------


class BottleneckView(NamedTuple):
    cmp: BottleneckComparison
    check: Table  # the formulas beside the traced modules
    bars: go.Figure


@st.cache_resource(max_entries=256, show_spinner="Tracing the blocks…")
def bottleneck_view(h: int, w: int, c_in: int, c_out: int, f: int, b: int) -> BottleneckView:
    """The Cost lab's naive f×f conv against the 1×1 bottleneck at these sizes."""
    size = (("height", h), ("width", w), ("in_channels", c_in), ("out_channels", c_out),
            ("kernel_size", f))  # fmt: skip
    naive = cache.block_trace("naive_conv_spec", size)
    bottleneck = cache.block_trace("bottleneck_conv_spec", (*size, ("bottleneck_channels", b)))
    cmp = BottleneckComparison(h=h, w=w, c_in=c_in, c_out=c_out, f=f, bottleneck=b)
    return BottleneckView(cmp, cost_charts.check_table(cmp, naive, bottleneck),
                          cost_charts.cost_bars(cmp))  # fmt: skip


@st.cache_resource(max_entries=64, show_spinner=False)
def one_by_one_html(weight: float) -> str:
    return cost_charts.one_by_one_html(weight)


class InceptionView(NamedTuple):
    trace: Trace
    dot: str
    branches: Table


@st.cache_resource(max_entries=256, show_spinner="Tracing the module…")
def inception_view(inc: cache.BlockArgs) -> InceptionView:
    """An inception module with these branch widths: its trace, diagram and branch table."""
    t = cache.block_trace("inception_module_spec", inc)
    dot = cache.block_dot("inception_module_spec", inc, 3)
    return InceptionView(t, dot, cost_charts.branch_table(t))


# --- How a layer computes: the lecture's animations --------------------------------------------


@st.cache_resource(max_entries=64, show_spinner=False)
def conv_figure(padding: int, stride: int, dilation: int) -> tuple[go.Figure, str]:
    """The lecture's 6×6 picture and vertical-edge filter, animated; the output-size formula."""
    result = ar.convolve(padding=padding, stride=stride, dilation=dilation)
    return arithmetic_charts.window_animation(result), result.formula


@st.cache_resource(max_entries=32, show_spinner=False)
def one_by_one_figure(filters: int) -> go.Figure:
    """A 6×6×32 input and `filters` 1×1×32 filters, one pixel's dot products at a time."""
    import numpy as np

    rng = np.random.default_rng(0)  # a local generator: the same lecture numbers every time
    pixels = rng.normal(size=(6, 6, 32)).round(1)
    weights = rng.normal(scale=0.3, size=(filters, 32)).round(2)
    dots = ar.one_by_one(pixels.tolist(), weights.tolist(), relu=True)
    return arithmetic_charts.pixel_animation(dots, filters)


@st.cache_resource(max_entries=8, show_spinner=False)
def pool_figure(mode: str) -> go.Figure:
    """Max or average pooling, f = 2, s = 2, on the lecture's 6×6 numbers."""
    image = [[1, 3, 2, 1, 3, 2], [2, 9, 1, 1, 5, 1], [1, 3, 2, 3, 2, 1],
             [8, 3, 5, 1, 0, 2], [5, 6, 1, 2, 9, 1], [1, 2, 3, 4, 0, 7]]  # fmt: skip
    pooled = ar.pool([[float(v) for v in r] for r in image], mode=mode)
    return arithmetic_charts.window_animation(pooled)


@st.cache_resource(max_entries=4, show_spinner=False)
def cost_figures() -> tuple[go.Figure, go.Figure, int, int]:
    """The 5×5 conv on 28×28×192 counted channel by channel, naive and through a 16-channel
    1×1 bottleneck, and their totals."""
    naive = ar.cost_frames(28, 28, 192, 32, 5)
    bottleneck = ar.cost_frames(28, 28, 192, 32, 5, bottleneck=16)
    return (
        arithmetic_charts.cost_animation(naive),
        arithmetic_charts.cost_animation(bottleneck),
        naive[-1].total_macs,
        bottleneck[-1].total_macs,
    )


# --- Predictions: pictures and top classes ----------------------------------------------------


@st.cache_resource(max_entries=64, show_spinner=False)
def shown_picture(picture: tuple[object, ...], _image: _PILImage.Image, width: int) -> bytes:
    """A picture (`picture`: its work.Picture key) as a page sends it (images.shown)."""
    return _images.shown(_image, width)


@st.cache_resource(max_entries=64, show_spinner=False)
def enlarged_picture(
    key: tuple[object, ...], _pixels: Any, side: int, box: tuple[int, int, int, int] | None
) -> bytes:
    """A small input (`key`: its shape, dtype and a digest of its pixels) blown up into square
    pixels: PNG (lossless, its squares sharp), or JPEG when it is not enlarged (a photo)."""
    big = prediction_charts.enlarged(_pixels, side, box)
    return _images.shown(big, lossless=big.width > _pixels.shape[1])


@st.cache_resource(max_entries=256, show_spinner=False)
def top_view(top: prediction_charts.Top, title: str = "") -> prediction_charts.TopView:
    """A prediction's top classes as tables and a chart (shared, never changed)."""
    return prediction_charts.top_view(top, title)


# --- Transfer learning ------------------------------------------------------------------------


@st.cache_resource(max_entries=64, show_spinner=False)
def freeze_table(arch: str, k: int, num_classes: int) -> str:
    """The freeze plan's blocks as an HTML table, frozen rows grey and trained ones green."""
    plan = cache.freeze_plan(arch, k, num_classes)
    rows = [{"block": b.name, "type": b.type, "parameters": b.params,
             "trainable": b.trainable_params, "state": "frozen" if b.frozen else "trained"}
            for b in plan.blocks]  # fmt: skip
    grey, green = "background:#d9d9d9;color:#555", "background:#d9f2d0"
    return tables.shaded_html(rows, [grey if b.frozen else green for b in plan.blocks])


# --- Augmentation lab -------------------------------------------------------------------------


@st.cache_resource(max_entries=8, show_spinner=False)
def lab_picture(kind: str, value: str | bytes) -> bytes:
    """That picture as the page shows it (images.shown)."""
    return _images.shown(cache.lab_image(kind, value))


class EigenView(NamedTuple):
    eigen: _augment.Eigen
    table: Table  # one row per principal component: eigenvalue, then its R, G, B


@st.cache_resource(max_entries=16, show_spinner=False)
def eigen_view(source: tuple[str, str | bytes] | None) -> EigenView:
    """The RGB principal components of a lab picture (`source`: ("sample", name) or
    ("upload", bytes)), or ImageNet's (None)."""
    if source is None:
        eigen = _augment.imagenet_eigen()
    else:
        eigen = _augment.image_eigen(cache.lab_image(*source))
    rows = [{"component": f"p{j + 1}", "eigenvalue λ": eigen.values[j], "R": eigen.vectors[0][j],
             "G": eigen.vectors[1][j], "B": eigen.vectors[2][j]} for j in range(3)]  # fmt: skip
    return EigenView(eigen, Table.of(rows))


# --- Why ResNets work -------------------------------------------------------------------------


class IdentityView(NamedTuple):
    demo: _residual.IdentityDemo
    figure: go.Figure


@st.cache_resource(max_entries=64, show_spinner=False)
def identity_view(
    in_features: int, out_features: int, zero_weight: bool, zero_bias: bool, nonnegative: bool
) -> IdentityView:
    """The residual block's identity demo at these settings, and its chart (shared, never
    changed)."""
    demo = _residual.identity_demo(
        in_features,
        out_features,
        zero_weight=zero_weight,
        zero_bias=zero_bias,
        nonnegative_input=nonnegative,
    )
    return IdentityView(demo, residual_charts.identity_figure(demo))
