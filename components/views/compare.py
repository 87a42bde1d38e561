"""Compare page: 2–6 architectures side by side (numbers, scatter, top-1, depth)."""

from __future__ import annotations

from dataclasses import dataclass

import plotly.graph_objects as go
import streamlit as st

import explorer
from components import cache, plots, widgets
from components.markdown import plain
from explorer.core.layer_math import commas
from explorer.core.units import format_bytes

# The lecture's classic line-up, oldest first, built as the papers describe them (the same
# networks the Architecture page shows for these names).
CLASSICS = ["lenet5", "alexnet-paper", "vgg16-paper", "resnet152-paper", "googlenet-paper"]
KEY = "compare_names"

st.title("Compare architectures")
st.caption("Pick 2 to 6 networks. Each is traced at its own default input size.")

all_names = explorer.names()
if KEY not in st.session_state:
    st.session_state[KEY] = [n for n in ("alexnet", "vgg16", "resnet50") if n in all_names]


def _classics() -> None:
    st.session_state[KEY] = [n for n in CLASSICS if n in all_names]


st.button(
    "LeNet-5 → AlexNet → VGG-16 → ResNet-152 → GoogLeNet",
    on_click=_classics,
    help="The lecture's classic networks in one click.",
    key="compare_preset",
)
chosen: list[str] = st.multiselect(
    "Architectures",
    all_names,
    key=KEY,
    max_selections=6,
    format_func=widgets.label_of,
)
if len(chosen) < 2:
    st.info("Choose at least two architectures to compare.")
    st.stop()


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


rows: list[Row] = []
for name in chosen:
    spec = explorer.get(name)
    try:
        t = cache.trace(name, None, 1)
        depth = cache.weight_layer_depth(name)
    except explorer.ExplorerError as exc:
        st.error(plain(f"{name}: {exc}"))
        continue
    c, h, w = spec.input_size
    top1 = spec.published.top1 if spec.published is not None else None
    rows.append(Row(name, spec.year, f"{h}×{w}×{c}", t.total_params, t.total_macs, depth, top1,
                    t.param_bytes))  # fmt: skip
if len(rows) < 2:
    st.stop()

# The table writes "—" where a figure does not exist (LeNet has no ImageNet top-1), and
# weights in a unit a person reads; the charts below use the numbers.
shown = [
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
]
st.dataframe(
    shown,
    hide_index=True,
    key="compare_table",
    column_config={
        "Architecture": st.column_config.TextColumn(width="medium"),  # googlenet-paper whole
        "Year": st.column_config.NumberColumn(format="%d"),
        "Params": st.column_config.NumberColumn(format="localized"),
        "MACs": st.column_config.NumberColumn(format="localized"),
        "Weight layers": st.column_config.NumberColumn(
            help="conv and FC layers on the longest input→output path (the papers' depth)"
        ),
        "ImageNet top-1 %": st.column_config.TextColumn(
            help="torchvision's offline weights metadata; — where there is none"
        ),
        "Weights": st.column_config.TextColumn(help="float32 parameters and buffers"),
    },
)

scatter = go.Figure(
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
scatter.update_layout(
    title="Parameters vs multiply-accumulates (log scales)",
    height=420,
    xaxis={"title": "parameters", "type": "log", "tickformat": "~s"},
    yaxis={"title": "MACs per image", "type": "log", "tickformat": "~s"},
    margin={"l": 10, "r": 10, "t": 40, "b": 10},
)
plots.show(scatter, key="compare_scatter")

left, right = st.columns(2)
with_top1 = [(r.architecture, r.top1) for r in rows if r.top1 is not None]
if with_top1:
    bar = go.Figure(
        go.Bar(
            x=[name for name, _ in with_top1],
            y=[top1 for _, top1 in with_top1],
            marker_color="#33a02c",
            text=[f"{top1:.1f}" for _, top1 in with_top1],
        )
    )
    bar.update_layout(
        title="ImageNet top-1 accuracy (torchvision weights)",
        height=360,
        yaxis_title="top-1 %",
        xaxis_title="architecture",
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
    )
    plots.show(bar, key="compare_top1", where=left)
else:
    left.info("None of these has an ImageNet top-1 figure in torchvision's metadata.")
depth_bar = go.Figure(
    go.Bar(
        x=[r.architecture for r in rows],
        y=[r.depth for r in rows],
        marker_color="#ff7f00",
        text=[r.depth for r in rows],
        textposition="outside",  # a short bar's label stays upright above it ("8", not "∞")
        textangle=0,
        cliponaxis=False,
    )
)
depth_bar.update_layout(
    title="Depth: conv + FC layers on the longest path",
    height=360,
    yaxis_title="weight layers",
    xaxis_title="architecture",
    margin={"l": 10, "r": 10, "t": 40, "b": 10},
)
plots.show(depth_bar, key="compare_depth", where=right)
missing = [r.architecture for r in rows if r.top1 is None]
if missing:
    st.caption(f"No ImageNet top-1 for: {', '.join(missing)} (no torchvision weights).")
st.caption(
    "Top-1 comes from torchvision's DEFAULT weights; some (e.g. ResNet-152's IMAGENET1K_V2) "
    "were trained with a newer recipe and score higher than the original paper."
)
