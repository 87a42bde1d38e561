"""The Compare page's table and charts, built once per set of architectures (ready.compare_view)
and shared by every session that picks the same set."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import plotly.graph_objects as go

import explorer
from components import plots
from components.tables import Table
from explorer.analysis.analysis import Analysis
from explorer.core.layer_math import commas
from explorer.core.units import format_bytes


@dataclass(frozen=True)
class Row:
    architecture: str
    year: int | None
    input: str
    params: int
    macs: int
    depth: int
    top1: float | None  # torchvision's ImageNet-1K top-1 of the DEFAULT weights
    weight_bytes: int


def row(name: str, a: Analysis) -> Row:
    spec = explorer.get(name)
    c, h, w = spec.input_size
    t = a.trace
    top1 = spec.published.top1 if spec.published is not None else None
    return Row(name, spec.year, f"{h}×{w}×{c}", t.total_params, t.total_macs, a.depth, top1,
               t.param_bytes)  # fmt: skip


def table(rows: Sequence[Row]) -> Table:
    """"—" where a figure does not exist (LeNet has no ImageNet top-1), and weights in a unit
    a person reads; the charts use the numbers."""
    return Table.of([
        {
            "Architecture": r.architecture,
            "Year": r.year,
            "Input": r.input,
            "Params": r.params,
            "MACs": r.macs,
            "Weight layers": r.depth,
            "ImageNet top-1 %": "—" if r.top1 is None else f"{r.top1:.2f}",
            "Weights": format_bytes(r.weight_bytes),
            "MACs per param": round(r.macs / max(r.params, 1), 1),
        }
        for r in rows
    ])  # fmt: skip


def scatter(rows: Sequence[Row]) -> go.Figure:
    fig = go.Figure(
        go.Scatter(
            x=[r.params for r in rows],
            y=[r.macs for r in rows],
            mode="markers+text",
            text=[r.architecture for r in rows],
            textposition="top center",
            marker={"size": 14, "color": "#1f78b4"},
            customdata=[[commas(r.params), commas(r.macs)] for r in rows],
            hovertemplate="<b>%{text}</b><br>params %{customdata[0]}<br>MACs %{customdata[1]}"
            "<extra></extra>",
        )
    )
    fig.update_layout(
        title="Parameters vs multiply-accumulates (log scales)",
        height=420,
        xaxis={"title": "parameters", "type": "log", "tickformat": "~s"},
        yaxis={"title": "MACs per image", "type": "log", "tickformat": "~s"},
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
    )
    return plots.finished(fig)


def top1_bar(rows: Sequence[Row]) -> go.Figure | None:
    """ImageNet top-1 of those that have one; None when none has."""
    with_top1 = [(r.architecture, r.top1) for r in rows if r.top1 is not None]
    if not with_top1:
        return None
    bar = go.Bar(
        x=[name for name, _ in with_top1],
        y=[top1 for _, top1 in with_top1],
        marker_color="#33a02c",
        text=[f"{top1:.1f}" for _, top1 in with_top1],
    )
    return _per_network(bar, "ImageNet top-1 accuracy (torchvision weights)", "top-1 %")


def depth_bar(rows: Sequence[Row]) -> go.Figure:
    bar = go.Bar(
        x=[r.architecture for r in rows],
        y=[r.depth for r in rows],
        marker_color="#ff7f00",
        text=[r.depth for r in rows],
        textposition="outside",  # a short bar's label stays upright above it ("8", not "∞")
        textangle=0,
        cliponaxis=False,
    )
    return _per_network(bar, "Depth: conv + FC layers on the longest path", "weight layers")


def _per_network(bar: go.Bar, title: str, y_title: str) -> go.Figure:
    """One bar per network, under the page's two-column layout."""
    fig = go.Figure(bar)
    fig.update_layout(
        title=title,
        height=360,
        yaxis_title=y_title,
        xaxis_title="architecture",
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
    )
    return plots.finished(fig)
