"""Predict: classify your own picture with a pretrained network, optionally with ten crops."""

from __future__ import annotations

from typing import Any

import streamlit as st

from components import cache, job_widgets, plots
from components import inside_widgets as iw
from components import prediction_widgets as w
from components.markdown import plain
from explorer.core import work
from explorer.core.errors import ExplorerError
from explorer.labs import predict
from explorer.weights import loading as weights
from explorer.weights import model_cache

st.title("Predict")
st.caption(
    "Use an open-source network with its pretrained weights on your own picture. "
    "`lenet5-digits` works offline (LeNet-5 trained on handwritten digits); ImageNet models "
    "need their weights file once (downloaded on request, or random weights for a dry run)."
)


def _prediction(
    loaded: weights.LoadedModel, arch: str, choice: str, device: str, image: Any, top: int,
    ten: bool,
) -> predict.PagePrediction | None:  # fmt: skip
    """Inline when cheap (explorer.serving.jobs.runs_inline: lenet5, or one image on a small
    network);
    else a job in a worker process with progress and Cancel (a ten-crop of convnext_large
    takes 13 s of one core). The budgets are checked first, either way."""
    one_image = cache.trace(loaded.architecture, loaded.input_size)
    macs = predict.check_page_prediction(one_image, ten)
    picture = work.Picture.of(image)
    if work.runs_inline(macs):
        return cache.page_prediction(loaded, (arch, choice, device), picture.key, image, top, ten)
    key = ("predict", arch, choice, device, picture.key, top, ten)
    job = job_widgets.start("predict_job", key, predict.prediction_job, arch, choice, device,
                            picture, top, ten, model_cache.upload_of(choice))  # fmt: skip
    if job is None:
        return None
    what = "ten crops" if ten else "one image"
    shown: predict.PagePrediction | None = job_widgets.follow(
        job, f"{loaded.architecture} on {what}, {macs / 1e9:,.0f} G multiply-adds", "predict_job"
    )
    return shown


def run() -> None:
    left, right = st.columns([1, 2])
    with left:
        arch = w.model_picker("Model", key="predict_model")
        choice = w.weights_picker(str(arch), key="predict_weights")
        device = w.device_picker("predict_device")
        image = w.image_picker("predict_image", default_digit=arch == "lenet5-digits")
        top = st.slider("Top classes", 1, 10, 5, key="predict_top")
        ten = st.toggle(
            "Ten-crop",
            key="predict_ten_crop",
            help="Four corners and the centre, and the same of the mirrored image: 10 forward "
            "passes whose probabilities are averaged (10× the compute of one).",
        )
    with right:
        if choice is None or image is None:
            if image is not None:
                w.picture(st, image, "Your picture", 220)
            st.info("Choose weights and an image to see the prediction.")
            return
        loaded = cache.loaded_model(str(arch), choice, device)
        shown = _prediction(loaded, str(arch), choice, device, image, top, ten)
        if shown is None:
            return
        single, crops = shown.single, shown.crops
        result = single if crops is None else crops.averaged
        pictures = st.columns(2)
        # each fills its column (at 1024×768 two 220-px pictures ran past the page's edge)
        w.picture(pictures[0], image, "Your picture", "stretch")
        if single.seen is not None:
            h, w_ = single.seen.shape[:2]
            w.picture(pictures[1], single.seen, f"What the network saw: {w_}×{h} after "
                      "preprocessing", "stretch", enlarge=220)  # fmt: skip
        w.headline(result.top[0], loaded.random, "with other random weights it would be another.")
        if loaded.architecture == "lenet5" and loaded.input_size == (1, 32, 32):
            st.caption(
                "The photo is cleaned first (paper, shadow and noise removed, the ink cropped "
                "and centred: right above). This network learned from scikit-learn's 1,797 "
                "digits, where most 7s have a crossbar: a 7 written without one is often read "
                "as 3."
            )
        # one line, not three metrics, and the chart above the table: at 1024×768 a third
        # of this column cut "196.3 ms" to "196.…" and a half cut the probability column
        st.markdown(
            f"Forward pass **{predict.duration_text(result.latency_ms)}** (wall clock, "
            f"synchronised) · preprocessing **{predict.duration_text(result.preprocess_ms)}** "
            f"· device **{result.device}**"
        )
        st.caption(f"{loaded.label}")
        ranked = w.top_view(result.top)
        plots.show(ranked.chart, width="stretch", key="predict_chart")
        st.dataframe(ranked.table.arrow, hide_index=True, width="stretch")
        if crops is not None:
            st.markdown(
                f"**Ten crops**: {predict.duration_text(crops.averaged.latency_ms)} for the ten "
                f"together vs {predict.duration_text(single.latency_ms)} for one image: ten "
                "times the multiply-adds (on a "
                "tiny network fixed per-call overheads hide part of that). "
                f"Single centre crop said **{single.top[0].label}** "
                f"({single.top[0].probability:.1%})."
            )
            if loaded.architecture == "lenet5":
                st.caption(
                    "A mirrored digit is not a digit: the five flipped crops hurt here. "
                    "Test-time augmentation must respect what the training images looked like."
                )
            for row in (crops.crops[:5], crops.crops[5:]):
                cols = st.columns(5)
                for col, crop in zip(cols, row):
                    w.picture(col, crop.image, f"{crop.position}: {crop.top.label} "
                              f"({crop.top.probability:.0%})", "stretch", enlarge=160)  # fmt: skip
        iw.where_it_looks(loaded, str(arch), choice, device, image, "predict_cam", ten_crop=ten)


try:
    run()
except ExplorerError as exc:
    st.error(plain(str(exc)))
