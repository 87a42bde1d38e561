"""Look inside: what every layer of a trained network computes on your picture (issue 12)."""

from __future__ import annotations

from urllib.parse import urlencode

import streamlit as st
from PIL import Image
from streamlit_drawable_canvas import st_canvas

import explorer
from components import cache, plots
from components import inside_widgets as iw
from components import prediction_widgets as w
from components.markdown import plain
from explorer.core import limits
from explorer.core.errors import ExplorerError, ImageError
from explorer.inside import activations as A
from explorer.weights import loading as weights
from explorer.weights import shipped

st.title("Look inside")
st.caption(
    "Draw a digit, or pick a picture: one forward pass of a trained network gives its "
    "prediction and every layer's feature maps. n_H and n_W shrink while n_C grows."
)

DRAW, PICTURE = "Draw a digit", "A picture (sample or upload)"
# The drawing area: within the canvas limit, and narrow enough for the left column at
# 1024×768 (a 240-px canvas in a 219-px column hid the strokes of its right edge).
DRAW_SIDE = min(200, limits.CANVAS_SIDE)


def _short_label(name: str) -> str:
    return name if name == shipped.WEIGHTS_NAME else f"{name} (another seed)"


def _inputs() -> tuple[str, str | None, str, Image.Image | None]:
    """(architecture, weights or None, device, image or None) from the left column."""
    source = st.radio("Input", [DRAW, PICTURE], horizontal=True, key="inside_source")
    if source == DRAW:
        # (the caption also leaves room for the canvas's floating toolbar above it)
        st.caption("Draw one large digit; the bin in the canvas's toolbar clears it.")
        drawn = st_canvas(
            stroke_width=18,
            stroke_color="#000000",
            background_color="#ffffff",
            height=DRAW_SIDE,
            width=DRAW_SIDE,
            drawing_mode="freedraw",
            return_image_data=True,
            key="inside_canvas",
        )
        m, d = st.columns(2)
        with m:
            arch = str(
                st.selectbox(
                    "Model", shipped.SHIPPED, key="inside_digit_model", format_func=_short_label
                )
            )
        with d:
            device = w.device_picker("inside_device")
        try:
            image = iw.canvas_image(drawn)
        except ImageError as exc:
            st.error(plain(str(exc)))
            image = None
        return arch, "DEFAULT", device, image
    arch = w.model_picker("Model", key="inside_model")
    choice = w.weights_picker(arch, key="inside_weights")
    device = w.device_picker("inside_device")
    image = w.image_picker("inside_image", default_digit=arch in shipped.SHIPPED)
    return arch, choice, device, image


def run() -> None:
    left, right = st.columns([2, 3])
    with left:
        arch, choice, device, image = _inputs()
    if choice is None or image is None:
        right.info("Draw a digit, or choose weights and a picture, to look inside the network.")
        return
    with right:  # priced on meta first: a network too big to look inside is never built
        try:
            network = weights.split_name(arch)[0]  # lenet5-digits is lenet5 with its weights
            A.check_budget_of(network, explorer.get(network).input_size)
        except ExplorerError as exc:
            st.error(plain(str(exc)))
            return
    loaded = cache.loaded_model(arch, choice, device)
    with right:
        try:  # inline, or a job with progress and Cancel for a big network (vit_b_16)
            acts = iw.page_activations(loaded, arch, choice, device, image)
        except ImageError as exc:  # a blank or nearly blank canvas
            st.info(f"{exc} Draw a digit on the canvas.")
            return
        if acts is None:  # this session cancelled it
            return
        w.headline(
            acts.top[0],
            loaded.random,
            "its feature maps show structure only from the image itself.",
            prefix="Prediction: ",
        )
        # one line, not three metrics: "69.9 ms" and "224×224×3" were cut to "69.9 …" in a
        # third of this column at 1024×768
        shape = "×".join(str(s) for s in (*acts.input_shape[1:], acts.input_shape[0]))
        st.markdown(
            f"Input n_H×n_W×n_C **{shape}** · forward pass **{acts.latency_ms:.1f} ms** "
            f"(recording every layer) · device **{acts.device}**"
        )
        s1, s2 = st.columns([1, 2])
        w.picture(s1, acts.seen, "What the network saw (same preprocessing as a photo)",
                  enlarge=160)  # fmt: skip
        plots.show(w.top_view(acts.top[:5]).chart, key="inside_top", where=s2, width="stretch")
        st.caption(loaded.label)
    view = st.segmented_control(
        "View",
        ["All layers", "One layer", "Filters", "Where it looks"],
        default="All layers",
        key="inside_view",
    )
    if view == "One layer":
        iw.one_layer(acts, "inside_one")
        layer = st.session_state.get("inside_one_layer", "")
        query = urlencode({"arch": arch, "layer": layer} if layer else {"arch": arch})
        st.markdown(  # the layer, if it is a convolution or a pooling, is picked there too
            f"[How does one value of a layer like this one come out? Follow its arithmetic "
            f"with real numbers →](layer_arithmetic?{query})"
        )
    elif view == "Filters":
        iw.filters_view(loaded)
    elif view == "Where it looks":
        iw.cam_panel(loaded, arch, choice, device, image, "inside_cam")
    else:
        iw.all_layers(acts, loaded.categories)


try:
    run()
except ExplorerError as exc:
    st.error(plain(str(exc)))
