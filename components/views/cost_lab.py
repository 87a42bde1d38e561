"""Cost lab: the lecture's computational-cost example, 1×1 convolutions, inception modules."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

import explorer
from components import cache, plots, widgets
from components.markdown import plain
from explorer.core.layer_math import (
    LECTURE_6X6,
    BottleneckComparison,
    agreement,
    commas,
    conv1x1_single_channel,
    conv_macs,
    lecture_shape,
    short,
)
from explorer.graph.diagram import dot_available

st.title("Cost lab: why 1×1 convolutions")
st.caption(
    "Every formula is written out with your numbers and checked against a trace of the "
    "real PyTorch modules."
)

# --- 1. naive vs bottleneck ----------------------------------------------------------------
st.header("1 · The cost of a convolution, and the 1×1 bottleneck")
c = st.columns(6)
h = c[0].slider("Height n_H", 1, 224, 28, key="cost_h")
w = c[1].slider("Width n_W", 1, 224, 28, key="cost_w")
c_in = c[2].slider("Input channels n_C", 1, 1024, 192, key="cost_cin")
c_out = c[3].slider("Filters (output n_C)", 1, 1024, 32, key="cost_cout")
f = c[4].select_slider("Filter size f", [1, 3, 5, 7, 9, 11], 5, key="cost_f")
b = c[5].slider(
    "Bottleneck width", 1, 1024, 16, key="cost_b", help="Channels after the 1×1 convolution"
)

cmp = BottleneckComparison(h=h, w=w, c_in=c_in, c_out=c_out, f=f, bottleneck=b)
size = dict(height=h, width=w, in_channels=c_in, out_channels=c_out, kernel_size=f)
try:
    naive_t = cache.block_trace("naive_conv_spec", tuple(size.items()))
    bott_t = cache.block_trace("bottleneck_conv_spec", (*size.items(), ("bottleneck_channels", b)))
except (explorer.ExplorerError, ValueError) as exc:
    st.error(plain(str(exc)))
    st.stop()

left, right = st.columns(2)
with left:
    st.markdown(f"**Naive:** {f}×{f} conv, {h}×{w}×{c_in} → {h}×{w}×{c_out}")
    st.markdown(f"outputs × multiplies per output  \n`{cmp.naive.formula}`")
    st.metric("Naive MACs", commas(cmp.naive.macs), help=short(cmp.naive.macs))
with right:
    st.markdown(f"**Bottleneck:** 1×1 conv to {b} channels, then the {f}×{f} conv")
    st.markdown(
        f"1×1 reduce: `{cmp.reduce.formula}`  \n{f}×{f} conv: `{cmp.expand.formula}`  \n"
        f"total: **{commas(cmp.bottleneck_macs)}**"
    )
    st.metric("Bottleneck MACs", commas(cmp.bottleneck_macs), help=short(cmp.bottleneck_macs))

headline = cmp.summary.split(" (")[0]
if cmp.ratio >= 1:
    st.success(f"{headline}: the bottleneck version is **{cmp.ratio:.1f}× cheaper**.")
else:  # not a success: the "bottleneck" is wider than what it should squeeze
    st.warning(
        f"{headline}: the bottleneck version is **{1 / cmp.ratio:.1f}× more expensive**. A "
        f"bottleneck only saves work when it is narrower than the input ({b} ≥ {c_in} "
        "channels here is too wide)."
        if b >= c_in
        else f"{headline}: the bottleneck version is **{1 / cmp.ratio:.1f}× more expensive**: "
        "the 1×1 reduction costs more than it saves at these sizes."
    )

check_rows = [
    {
        "Block": "naive",
        "Formula": commas(cmp.naive.macs),
        "Traced": commas(naive_t.total_macs),
        "Match": agreement(cmp.naive.macs, naive_t.total_macs),
        "Params (traced)": commas(naive_t.total_params),
    },
    {
        "Block": "bottleneck",
        "Formula": commas(cmp.bottleneck_macs),
        "Traced": commas(bott_t.total_macs),
        "Match": agreement(cmp.bottleneck_macs, bott_t.total_macs),
        "Params (traced)": commas(bott_t.total_params),
    },
]
st.dataframe(check_rows, hide_index=True, key="cost_check")

bars = go.Figure()
bars.add_trace(
    go.Bar(
        name=f"{f}×{f} conv",
        x=["naive", "bottleneck"],
        y=[cmp.naive.macs, cmp.expand.macs],
        marker_color="#1f78b4",
    )
)
bars.add_trace(
    go.Bar(
        name="1×1 reduce", x=["naive", "bottleneck"], y=[0, cmp.reduce.macs], marker_color="#fdbf6f"
    )
)
bars.update_layout(
    barmode="stack",
    height=320,
    title="Multiply-accumulates",
    yaxis_title="MACs",
    yaxis_tickformat="~s",
    xaxis_title="design",
    margin={"l": 10, "r": 10, "t": 40, "b": 10},
)
plots.show(bars, key="cost_bars")

# --- 2. the 1×1 convolution ----------------------------------------------------------------
st.header("2 · What a 1×1 convolution does")
one = st.container()
with one:
    st.markdown("**One channel:** 6×6×1 ∗ 1×1×1 just multiplies every pixel by one number.")
    left_in, _ = st.columns([1, 2])
    weight = left_in.number_input(
        "The 1×1 filter's value", -10.0, 10.0, 2.0, 0.5, key="cost_weight"
    )
    result = conv1x1_single_channel(LECTURE_6X6, weight)
    # The grids wrap onto a new line on a narrow screen and scroll rather than overlap.
    st.markdown(
        "<div style='display:flex;align-items:center;gap:0.8rem;flex-wrap:wrap;"
        "overflow-x:auto;max-width:100%'>"
        + widgets.matrix_html(LECTURE_6X6, "6×6×1 input")
        + f"<span style='font-size:1.5rem;white-space:nowrap'>∗ {weight:g} =</span>"
        + widgets.matrix_html(result, "6×6×1 output")
        + "</div>",
        unsafe_allow_html=True,
    )
many = st.container()
with many:
    st.markdown(
        "**Many channels:** 6×6×32 ∗ 1×1×32: each filter takes a weighted sum of the 32 "
        "values at a pixel (then ReLU) — a small fully connected layer at every "
        "position. It changes n_C and leaves n_H, n_W alone."
    )
    filters = st.slider("Number of 1×1 filters", 1, 128, 32, key="cost_filters")
    spec_args = (
        ("height", 6),
        ("width", 6),
        ("in_channels", 32),
        ("out_channels", filters),
        ("kernel_size", 1),
    )
    t1 = cache.block_trace("naive_conv_spec", spec_args)
    macs = conv_macs(6, 6, filters, 1, 32)
    st.markdown(
        f"Output **{lecture_shape(t1.output_shape)}**; cost "
        f"`6×6×{filters} × 1×1×32 = {commas(macs)}` MACs "
        f"(traced: {commas(t1.total_macs)} {agreement(macs, t1.total_macs)}), "
        f"{commas(t1.total_params)} parameters (32 weights + 1 bias per filter)."
    )

# --- 3. inception module -------------------------------------------------------------------
st.header("3 · Build an inception module")
st.caption("Defaults are GoogLeNet's inception (3a): 28×28×192 → 28×28×256.")
i = st.columns(9)
fields = [
    ("height", "n_H", 28),
    ("width", "n_W", 28),
    ("in_channels", "n_C in", 192),
    ("ch1x1", "1×1", 64),
    ("ch3x3red", "3×3 reduce", 96),
    ("ch3x3", "3×3", 128),
    ("ch5x5red", "5×5 reduce", 16),
    ("ch5x5", "5×5", 32),
    ("pool_proj", "pool proj", 32),
]
inc = tuple(
    (key, int(col.number_input(label, 1, 2048, default, key=f"cost_inc_{key}")))
    for col, (key, label, default) in zip(i, fields)
)
try:
    inc_t = cache.block_trace("inception_module_spec", inc)
    inc_dot = cache.block_dot("inception_module_spec", inc, 3)
except (explorer.ExplorerError, ValueError) as exc:
    st.error(plain(str(exc)))
    st.stop()
widgets.metric_row(
    [
        ("Output", lecture_shape(inc_t.output_shape), None),
        ("Parameters", commas(inc_t.total_params), short(inc_t.total_params)),
        ("MACs", commas(inc_t.total_macs), short(inc_t.total_macs)),
    ],
    key="cost_inception_metrics",
)
branch_rows = [
    {
        "Branch": r.name,
        "Output": lecture_shape(r.output_shape),
        "Params": commas(r.params),
        "MACs": commas(r.macs),
        "MACs %": f"{100 * r.macs / max(inc_t.total_macs, 1):.1f}%",
    }
    for r in inc_t.children("")
]
st.dataframe(branch_rows, hide_index=True, key="cost_inc_branches")
st.caption(
    "The 5×5 branch would cost far more without its 1×1 reduction: try raising "
    "'5×5 reduce' to the input's channel count."
)
widgets.diagram(cache.dot_svg(inc_dot) if dot_available() else None, inc_dot, height=560)
