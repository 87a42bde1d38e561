"""Shared widgets and view helpers of the Explore pages (architecture picker, input-size
controls, metric cards, plotly charts; the layer table is components/tables.py). Numbers come
from `explorer`; this module only arranges and formats them."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

import explorer
from components import diagram_view, plots
from components.markdown import plain
from explorer.analysis.trace import Trace
from explorer.catalog import ArchSpec
from explorer.core import limits
from explorer.core.layer_math import commas, hwc, short
from explorer.core.units import format_bytes
from explorer.graph.main_path import ShapePoint

MAX_SIDE = limits.PAGE_MAX_SIDE
MAX_BATCH = limits.PAGE_MAX_BATCH


def family_options() -> dict[str, list[str]]:
    return explorer.families()


def label_of(name: str) -> str:
    """'vgg16-paper — VGG-16 (configuration D)'; torchvision titles that repeat the name are
    shortened to 'resnet50 (torchvision)'."""
    try:
        spec = explorer.get(name)
    except explorer.ExplorerError:
        return name
    title = spec.title or ""
    if not title or title == name:
        return name
    if title.startswith(name):
        return f"{name}{title[len(name) :]}"
    return f"{name} — {title}"


def architecture_picker(key: str = "arch", default: str = "lenet5") -> str:
    """Family filter (all families by default) plus a searchable select box; ?arch=NAME
    preselects, and an unknown name is said out loud with the nearest names."""
    groups = family_options()
    all_names = [n for names in groups.values() for n in names]
    asked = st.query_params.get("arch")
    wanted = asked or default
    if wanted not in all_names:
        if asked:
            try:
                explorer.get(asked)
                why = f"`{asked}` is not in the list."
            except explorer.ExplorerError as exc:
                why = str(exc)  # names the nearest architectures
            st.error(f"The address asks for `arch={asked}`: {why} Showing `{default}` instead.")
        wanted = default if default in all_names else all_names[0]
    families = ["All families", *groups]
    cols = st.columns([1, 2])
    family = cols[0].selectbox(
        "Family",
        families,
        index=0,
        key=f"{key}_family",
        help="Narrow the list to one family; the box on the right also searches as you type.",
    ) or families[0]
    options = all_names if family == "All families" else groups[family]
    index = options.index(wanted) if wanted in options else 0
    # The box lists bare names: the browser's search ranks an option that equals what was
    # typed first, then the names that start with it ("resnet152", then "resnet152d"), and
    # timm's "timm/…" after them. A title after the name would make the exact name longer
    # than timm's and rank it last ("resnet152" + Enter picked timm/resnet152).
    name: str | None = cols[1].selectbox(
        "Architecture",
        options,
        index=index,
        key=f"{key}_name",
        help="Type to search all 1,400+ networks; Enter picks the first. Names with -paper are "
        "built exactly as the paper describes; timm/… are timm's models; the others are "
        "torchvision's.",
    )
    name = name or options[index]
    title = label_of(name)
    if title != name:
        cols[1].caption(plain(title))
    if st.query_params.get("arch") != name and not (
        asked and asked not in all_names and name == wanted
    ):
        st.query_params["arch"] = name  # the address bar names the network: links can be shared
    return name


def whole(value: object, low: int, high: int, default: int) -> int:
    """A number widget's value as a whole number in low … high. The browser enforces the
    widget's bounds, but a crafted websocket message can send anything (NaN, 1e308, text):
    such a value falls back to `default` instead of reaching int()."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default
    if not math.isfinite(number):
        return default
    return int(min(max(number, low), high))


def input_controls(spec: ArchSpec, key: str = "arch") -> tuple[tuple[int, int, int], int]:
    """Height, width and batch size (channels are fixed by the first layer)."""
    c, h, w = spec.input_size
    cols = st.columns(3)
    height = cols[0].number_input(
        "Input height n_H",
        min_value=1,
        max_value=MAX_SIDE,
        value=h,
        step=1,
        key=f"{key}_h_{spec.name}",
    )
    width = cols[1].number_input(
        "Input width n_W",
        min_value=1,
        max_value=MAX_SIDE,
        value=w,
        step=1,
        key=f"{key}_w_{spec.name}",
    )
    batch = cols[2].number_input(
        "Batch size",
        min_value=1,
        max_value=MAX_BATCH,
        value=1,
        step=1,
        key=f"{key}_batch",
        help="Changes activation memory (and MACs, which scale with the batch).",
    )
    return (c, whole(height, 1, MAX_SIDE, h), whole(width, 1, MAX_SIDE, w)), whole(
        batch, 1, MAX_BATCH, 1
    )


def metrics(trace: Trace, depth: int | None = None) -> None:
    """The headline numbers, exact, with commas (short form in the help). The cards sit in a
    wrapping row, so a long number moves to the next line instead of being cut off."""
    leaves = [r for r in trace.leaves() if r.calls > 0]
    weighted = [r for r in leaves if r.own_params > 0]
    frozen = trace.total_params - trace.trainable_params
    cards = [
        (
            "Parameters",
            commas(trace.total_params),
            f"{short(trace.total_params)} weights and biases"
            + (f"; {commas(frozen)} of them frozen" if frozen else ", all trainable"),
        ),
        (
            "MACs",
            commas(trace.total_macs),
            f"{short(trace.total_macs)} multiply-accumulates "
            "(conv, FC, matmul; additions of biases not counted)",
        ),
        ("FLOPs", commas(trace.total_flops), f"{short(trace.total_flops)} = 2 × MACs"),
        ("Weights", format_bytes(trace.param_bytes), "float32 parameters and buffers"),
        (
            "Activations",
            format_bytes(trace.activation_bytes),
            f"float32 outputs of every layer for a batch of {trace.input_shape[0]}",
        ),
    ]
    if depth is not None:
        cards.append(
            (
                "Depth (weight layers)",
                commas(depth),
                "conv and FC layers on the longest input→output path, as the papers count "
                f"(VGG-16: 16, GoogLeNet: 22). {len(weighted)} layers have weights, "
                f"{len(leaves)} layers in all (ReLU, BN and pooling included).",
            )
        )
    else:
        cards.append(("Layers", commas(len(leaves)), f"{len(weighted)} with weights"))
    metric_row(cards, key="headline_metrics")


def metric_row(cards: Sequence[tuple[str, str, str | None]], key: str) -> None:
    """Metric cards (label, value, help) in a wrapping row: a long number moves to the next
    line instead of being cut to "128,049,1…" in a fixed column."""
    with st.container(horizontal=True, gap="medium", key=key):
        for label, value, help_text in cards:
            st.metric(label, value, help=help_text, width="content", border=True)


# --------------------------------------------------------------------------- charts


#: The layer chart's two rows: (the table's column, the axis title, the bars' colour).
LAYER_BARS = (("MACs", "MACs", "#1f78b4"), ("Params", "parameters", "#33a02c"))


def layer_bars(rows: Sequence[Mapping[str, Any]]) -> go.Figure:
    """Multiply-accumulates above parameters, layer by layer on one shared axis (every layer
    with either): where a network computes and where it keeps its weights line up (VGG-16:
    the convolutions compute, the first fully connected layer holds most of the weights)."""
    shown = [r for r in rows if any(r[column] for column, _, _ in LAYER_BARS)]
    x = [r["Layer"] for r in shown]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.06)
    for i, (column, label, colour) in enumerate(LAYER_BARS, 1):
        fig.add_trace(
            go.Bar(
                x=x,
                y=[r[column] for r in shown],
                name=label,
                marker_color=colour,
                customdata=[[commas(r[column]), r["Type"], r["Output n_H×n_W×n_C"]] for r in shown],
                hovertemplate="<b>%{x}</b> (%{customdata[1]})<br>"
                + label
                + ": %{customdata[0]}<br>output %{customdata[2]}<extra></extra>",
            ),
            row=i,
            col=1,
        )
        fig.update_yaxes(title_text=label, tickformat="~s", row=i, col=1)
    fig.update_xaxes(type="category")
    fig.update_xaxes(title_text="layer (in forward order)", row=2, col=1)
    fig.update_layout(
        title="Multiply-accumulates and parameters per layer",
        height=560,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        showlegend=False,
    )
    return plots.finished(fig)


def conv_pool_points(trace: Trace) -> list[ShapePoint]:
    """Every conv and pool layer, branches and 1×1 reductions included."""
    return [
        ShapePoint(r.name, r.type, *hwc(r.output_shape, trace.input_shape))
        for r in trace.leaves()
        if r.calls > 0 and len(r.output_shape) == 4 and r.kind in ("conv", "pool")
    ]


def shape_chart(points: Sequence[ShapePoint], branches: bool = False) -> go.Figure:
    """n_H, n_W ↓ while n_C ↑ along the main path (input first), or over every conv/pool."""
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    many = len(points) > 30  # long networks: number the steps (names in the hover)
    x: list[Any] = [p.name for p in points] if not many else list(range(len(points)))
    series = (
        ("n_H (height)", [p.height for p in points], False, {"color": "#1f78b4"}, "lines+markers"),
        ("n_W (width)", [p.width for p in points], False, {"color": "#a6cee3", "dash": "dot"},
         "lines"),
        ("n_C (channels)", [p.channels for p in points], True, {"color": "#e31a1c"},
         "lines+markers"),
    )  # fmt: skip
    hover = [f"{p.name} ({p.type}): {p.height}×{p.width}×{p.channels}" for p in points]
    for label, y, secondary, line, mode in series:
        fig.add_trace(
            go.Scatter(
                x=x,
                y=y,
                name=label,
                mode=mode,
                line=line,
                hovertext=hover,
                hoverinfo="text+name",
            ),
            secondary_y=secondary,
        )
    what = "every conv / pool layer, branches included" if branches else "the main path"
    fig.update_layout(
        title=f"n_H, n_W ↓ while n_C ↑ along {what}",
        height=380,
        margin={"l": 10, "r": 10, "t": 60, "b": 10},
        xaxis_type="category" if not many else "linear",
        legend={"orientation": "h", "y": 1.0, "x": 1, "xanchor": "right", "yanchor": "bottom"},
        xaxis_title=("layers in forward order" if branches else "input → output")
        + ("" if not many else " (numbered, 0 = input; hover for names)"),
        hovermode="x unified",
    )
    fig.update_yaxes(title_text="n_H, n_W (pixels)", secondary_y=False, rangemode="tozero")
    fig.update_yaxes(
        title_text="n_C (channels)",
        secondary_y=True,
        rangemode="tozero",
        showgrid=False,
        tickmode="auto",  # round channel numbers, not the pixel axis's grid
        nticks=6,
    )
    return plots.finished(fig)


def diagram(svg: str | None, dot: str, height: int = 760) -> None:
    """A block diagram you can pan and zoom (components/diagram_view.py): the server's SVG in a
    box no taller than `height` pixels or 80% of the window, opening with readable text and
    the input in view; without graphviz's `dot` on the server, the browser's drawing."""
    if svg is None:
        with st.container(border=True, height=height):
            st.graphviz_chart(dot, width="stretch")
        return
    st.html(diagram_view.html(svg, height), unsafe_allow_javascript=True)


def show_error(exc: BaseException, what: str = "") -> None:
    st.error(plain(f"{what}{exc}"))


def matrix_html(matrix: Sequence[Sequence[float]], caption: str) -> str:
    """A small numeric matrix as a compact HTML grid (the lecture's 6×6 examples)."""
    cells = "".join(
        "<tr>"
        + "".join(
            f"<td style='border:1px solid #bbb;padding:2px 8px;text-align:right'>{v:g}</td>"
            for v in row
        )
        + "</tr>"
        for row in matrix
    )
    return (
        "<table style='display:inline-table;border-collapse:collapse;vertical-align:middle;"
        "font-family:monospace;font-size:0.9rem'>"
        f"<caption style='caption-side:bottom'>{caption}</caption>"
        f"{cells}</table>"
    )
