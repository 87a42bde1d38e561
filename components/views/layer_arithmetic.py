"""How a layer computes: the lecture's convolution, 1×1 convolution and pooling stepped through
with real numbers (animations that run in the browser), the cost counted while you watch, and
any convolution or pooling layer of a real network at one position."""

from __future__ import annotations

import hashlib

import streamlit as st

import explorer
from components import arithmetic_charts as charts
from components import cache, plots, ready, widgets
from components import prediction_widgets as w
from components.markdown import plain
from explorer.core.layer_math import commas
from explorer.inside import activations as A
from explorer.weights import loading as weights
from explorer.weights import shipped

st.title("How a layer computes")
st.caption(
    "Press ▶ or drag the slider: every output value is its window × the filter, summed. The "
    "steps are all in your browser; nothing waits for the server."
)

conv_tab, one_tab, pool_tab, cost_tab, real_tab = st.tabs(
    ["Convolution", "1×1 convolution", "Pooling", "Counting the cost", "A real layer"]
)


with conv_tab:
    st.markdown(
        "The lecture's 6×6 picture (bright left, dark right) and its 3×3 vertical-edge filter. "
        "Output size: **⌊(n + 2p − f)/s⌋ + 1**."
    )
    c1, c2, c3 = st.columns(3)
    same = c1.segmented_control("Padding", ["valid", "same"], default="valid", key="ar_pad")
    stride = c2.segmented_control("Stride s", [1, 2], default=1, key="ar_stride") or 1
    dilation = c3.segmented_control("Dilation", [1, 2], default=1, key="ar_dilation") or 1
    padding = dilation if same == "same" else 0  # "same" for a 3×3 filter: p = d·(3 − 1)/2
    try:
        figure, formula = ready.conv_figure(padding, int(stride), int(dilation))
    except explorer.ExplorerError as exc:
        st.error(plain(str(exc)))
    else:
        st.markdown(f"Output size along each side: `{formula}`")
        plots.show(figure, key="ar_conv_chart")


with one_tab:
    st.markdown(
        "A 6×6×32 input and 1×1×32 filters: at each pixel, each filter takes the dot product "
        "of the 32 channel values with its 32 weights, then ReLU. It is a small fully "
        "connected layer applied at every position (**network in network**): n_H and n_W stay, "
        "n_C becomes the number of filters."
    )
    filters = st.slider("Number of 1×1 filters (n_C out)", 1, 16, 4, key="ar_filters")
    plots.show(ready.one_by_one_figure(int(filters)), key="ar_one_chart")


with pool_tab:
    st.markdown("Pooling with **f = 2, s = 2**: no weights, each window is reduced to one number.")
    mode = st.segmented_control("Pooling", ["max", "avg"], default="max", key="ar_pool") or "max"
    plots.show(ready.pool_figure(str(mode)), key="ar_pool_chart")


with cost_tab:
    st.markdown(
        "Each output channel of a convolution costs n_H × n_W positions × f × f × n_C "
        "multiplies. Press ▶ to count them channel by channel."
    )
    naive_fig, bottle_fig, naive_total, bottle_total = ready.cost_figures()
    left, right = st.columns(2)
    with left:
        st.markdown("**5×5 same conv**, 28×28×192 → 28×28×32")
        plots.show(naive_fig, key="ar_cost_naive")
        st.metric("Naive", commas(naive_total))
    with right:
        st.markdown("**1×1 conv to 16 channels**, then the 5×5 conv to 32")
        plots.show(bottle_fig, key="ar_cost_bottleneck")
        st.metric("With the 1×1 bottleneck", commas(bottle_total))

with real_tab:
    st.markdown(
        "Pick a convolution or pooling layer of a real network and one output value: its "
        "window in that layer's real input, its real filter, the products per input channel, "
        "their sum plus the bias, and the value the network's own forward pass produced there."
    )
    # Any network with weights (trained, or seeded random), on a sample or your own picture;
    # ?arch=NAME&layer=NAME (the Architecture page's link) picks them.
    models = cache.with_weights()
    asked_arch, asked_layer = st.query_params.get("arch"), st.query_params.get("layer")
    if asked_arch in models and "ar_real_arch" not in st.session_state:
        st.session_state["ar_real_arch"] = asked_arch
    a, b = st.columns(2)
    arch = w.model_picker("Network", key="ar_real_arch", where=a)
    with b:
        choice = w.weights_picker(arch, key="ar_real_weights")
    loaded = None
    if choice is not None:
        try:  # priced on meta first: a network too big to run here is never built
            network = weights.split_name(arch)[0]
            A.check_budget_of(network, explorer.get(network).input_size, "Explaining a layer of")
            loaded = cache.loaded_model(arch, choice, "cpu")
        except explorer.ExplorerError as exc:
            st.error(plain(str(exc)))
    layers = [] if loaded is None else [
        n for n, m in loaded.model.named_modules()
        if type(m).__name__ in ("Conv2d", "MaxPool2d", "AvgPool2d")
    ]  # fmt: skip
    if asked_layer in layers and st.session_state.get("ar_real_layer") not in layers:
        st.session_state["ar_real_layer"] = asked_layer
    layer = str(st.selectbox("Layer", layers, key="ar_real_layer")) if layers else ""
    image = w.image_picker("ar_real_image", default_digit=arch in shipped.SHIPPED)
    if image is not None and loaded is not None and choice is not None and layer:
        c1, c2, c3, c4 = st.columns(4)
        channel = widgets.whole(c1.number_input("Output channel", 0, 4095, 0, key="ar_ch"),
                                0, 4095, 0)  # fmt: skip
        row = widgets.whole(c2.number_input("Row", 0, 4095, 0, key="ar_row"), 0, 4095, 0)
        col = widgets.whole(c3.number_input("Column", 0, 4095, 0, key="ar_col"), 0, 4095, 0)
        look_at = c4.number_input(
            "Channel shown", 0, 4095, None, key="ar_look", placeholder="first",
            help="Whose window, filter and products are written out; every channel the filter "
            "sees is in the sums below.",
        )
        look = None if look_at is None else widgets.whole(look_at, 0, 4095, 0)
        try:
            key = hashlib.blake2b(image.tobytes(), digest_size=16).hexdigest()
            shown = cache.layer_position(arch, choice, key, image, layer, channel, row, col, look)
        except explorer.ExplorerError as exc:
            st.error(plain(str(exc)))
        else:
            if loaded.random:
                st.caption("Random weights (seeded): the arithmetic is the same as trained.")
            seen = shown.input_channels
            picture = cache.network_picture(arch, choice, key, image)
            h, w_ = picture.shape[:2]
            box = shown.picture_window
            if box is None:
                where = f"This value sees the whole {h}×{w_} picture the network saw."
            else:
                where = (
                    f"This value sees rows {box[0]}…{box[2]}, columns {box[1]}…{box[3]} of the "
                    f"{h}×{w_} picture the network saw (framed; past its edges is padding)."
                )
            left_col, right_col = st.columns([1, 2])
            w.picture(left_col, picture, width="stretch", enlarge=220, box=box)
            right_col.markdown(where)
            right_col.markdown(
                f"Window rows {shown.window_rows[0]}…{shown.window_rows[1]}, columns "
                f"{shown.window_cols[0]}…{shown.window_cols[1]} of the layer's input "
                f"(outside 0…n is padding); this filter sees input channel"
                f"{'s' if len(seen) > 1 else ''} {seen[0]}"
                + (f"…{seen[-1]} ({len(seen)} of them)" if len(seen) > 1 else "")
                + "."
            )
            plots.show(charts.real_window_figure(shown), key="ar_real_window")
            if shown.kind == "conv":
                plots.show(charts.channel_group_figure(shown), key="ar_real_groups")
                st.markdown(
                    f"Σ over {len(seen)} channel{'s' if len(seen) > 1 else ''} of window × filter"
                    f" = **{shown.total:.5f}**, + bias {shown.bias:.5f} = **{shown.result:.5f}**"
                )
            else:
                st.markdown(f"{shown.kind} of the window = **{shown.result:.5f}**")
            verdict = "✓ equal" if shown.matches else "✗ different"
            st.metric("The real forward pass gave", f"{shown.forward:.5f}", verdict,
                      delta_color="normal" if shown.matches else "inverse", delta_arrow="off")
            if shown.next_type:  # what the network does next with this value
                text = f"Next, the network's {shown.next_layer} ({shown.next_type}) reads it"
                if shown.next_value is not None:
                    text += f" and passes on {shown.next_value:.5f}"
                if shown.next_formula:
                    text += f": {shown.next_formula}"
                st.caption(text + ".")
