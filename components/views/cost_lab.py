"""Cost lab: the lecture's computational-cost example, 1×1 convolutions, inception modules."""

from __future__ import annotations

import streamlit as st

import explorer
from components import cache, plots, ready, widgets
from components.markdown import plain
from explorer.core.layer_math import (
    agreement,
    commas,
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

try:
    bottleneck = ready.bottleneck_view(h, w, c_in, c_out, int(f), b)
except (explorer.ExplorerError, ValueError) as exc:
    st.error(plain(str(exc)))
    st.stop()
cmp = bottleneck.cmp

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

st.dataframe(bottleneck.check.arrow, hide_index=True, key="cost_check")
plots.show(bottleneck.bars, key="cost_bars")

# --- 2. the 1×1 convolution ----------------------------------------------------------------
st.header("2 · What a 1×1 convolution does")
one = st.container()
with one:
    st.markdown("**One channel:** 6×6×1 ∗ 1×1×1 just multiplies every pixel by one number.")
    left_in, _ = st.columns([1, 2])
    weight = left_in.number_input(
        "The 1×1 filter's value", -10.0, 10.0, 2.0, 0.5, key="cost_weight"
    )
    st.markdown(ready.one_by_one_html(float(weight)), unsafe_allow_html=True)
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
    inception = ready.inception_view(inc)
except (explorer.ExplorerError, ValueError) as exc:
    st.error(plain(str(exc)))
    st.stop()
inc_t, inc_dot = inception.trace, inception.dot
widgets.metric_row(
    [
        ("Output", lecture_shape(inc_t.output_shape), None),
        ("Parameters", commas(inc_t.total_params), short(inc_t.total_params)),
        ("MACs", commas(inc_t.total_macs), short(inc_t.total_macs)),
    ],
    key="cost_inception_metrics",
)
st.dataframe(inception.branches.arrow, hide_index=True, key="cost_inc_branches")
st.caption(
    "The 5×5 branch would cost far more without its 1×1 reduction: try raising "
    "'5×5 reduce' to the input's channel count."
)
widgets.diagram(cache.dot_svg(inc_dot) if dot_available() else None, inc_dot, height=560)
