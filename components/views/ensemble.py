"""Ensembles: several networks vote by averaging their probabilities."""

from __future__ import annotations

import streamlit as st

from components import cache, plots, widgets
from components import prediction_widgets as w
from components.markdown import plain
from explorer.core import limits
from explorer.core.errors import ExplorerError
from explorer.labs import predict
from explorer.weights import labels, shipped
from explorer.weights import loading as weights

st.title("Ensembles")
st.caption(
    "The lecture's competition trick: train several networks and average their outputs. "
    "In competitions it often gained 1–2%, at the cost of running every network (the "
    "latency adds up); it is not guaranteed: the table below measures it. All members must "
    "predict the same classes."
)


def _held_out(loaded: list[weights.LoadedModel], device: str) -> None:
    """For the shipped digits models: accuracy on the 360 held-out digits, alone and together."""
    if len(loaded) < 2 or not all(m.weights in shipped.SHIPPED for m in loaded):
        return
    held_out = cache.held_out_view(tuple(m.weights for m in loaded), device)
    each, together = held_out.each, held_out.together
    st.markdown("**On all 360 held-out digits**")
    st.dataframe(held_out.table.arrow, hide_index=True)
    best = max(each)
    wrong = round((1 - best) * 360)
    if together > best:
        st.caption(
            f"Here the ensemble beats its best member by {100 * (together - best):.2f} points."
        )
    else:
        st.caption(
            f"Here the ensemble is {100 * (best - together):.2f} points *below* its best member "
            f"({together:.2%} vs {best:.2%}): the members are one network trained from three "
            f"seeds, so they mostly make the same mistakes, and the best one already misses "
            f"only about {wrong} of 360 digits — one or two more or fewer is within the noise "
            "of so small a test set. Ensembles help most when members err differently."
        )


def run() -> None:
    # The whole width: in the narrow left column only two members' names fitted, and a third
    # member was hidden behind the field's edge at 1280×720.
    chosen = st.session_state.get("ensemble_models")
    if isinstance(chosen, list) and len(chosen) > limits.ENSEMBLE_MAX_MODELS:
        # The widget stops at the limit; only a crafted message sends more (Streamlit would
        # raise on it): keep the first ones and say so.
        st.session_state["ensemble_models"] = chosen[: limits.ENSEMBLE_MAX_MODELS]
        st.error(f"An ensemble has at most {limits.ENSEMBLE_MAX_MODELS} members on this server.")
    members = st.multiselect(
        "Models",
        cache.with_weights(),
        default=list(cache.ensemble_default(labels.checkpoints_stamp())),
        key="ensemble_models",
        max_selections=limits.ENSEMBLE_MAX_MODELS,
        help=f"At most {limits.ENSEMBLE_MAX_MODELS} models on a shared server.",
    )
    left, right = st.columns([1, 2])
    with left:
        allow_random = st.checkbox(
            "Allow random weights",
            key="ensemble_random",
            help="For a member whose weights file is missing, use random weights instead: only "
            "to see the mechanics, such predictions are meaningless.",
        )
        device = w.device_picker("ensemble_device")
        image = w.image_picker("ensemble_image")
        top = st.slider("Top classes", 1, 10, 5, key="ensemble_top")
        ten = st.toggle("Ten-crop each model", key="ensemble_ten_crop")
    with right:
        if image is not None:
            w.picture(st, image, "Your picture", 200)
        if not members or image is None:
            st.info("Pick at least one model and an image.")
            return
        try:  # the widget allows ENSEMBLE_MAX_MODELS; a crafted message can send more
            limits.check_ensemble([(n, weights.find(n).num_params) for n in members])
        except ExplorerError as exc:
            st.error(plain(str(exc)))
            return
        loaded = []
        for name in members:
            info = weights.find(name)
            if info.cached:
                loaded.append(cache.loaded_model(name, "DEFAULT", device))
            elif allow_random:
                loaded.append(cache.loaded_model(name, weights.RANDOM, device))
            else:
                st.warning(
                    f"{name}: {info.filename} (~{info.size_text}) is not downloaded; "
                    "download it on the Predict page, or tick 'use random weights'."
                )
        if not loaded:
            return
        result = w.ensemble_result(loaded, device, image, top, ten)  # big ones: a worker job
        if result is None:  # cancelled
            return
        w.random_warning(result.averaged.random_weights)
        best = result.averaged.top[0]
        if result.averaged.random_weights:
            st.subheader("Ensemble with random weights: no prediction")
        else:
            st.subheader(f"Ensemble: {best.label} — {best.probability:.1%}")
        widgets.metric_row(
            [
                ("Members", str(len(result.members)), None),
                ("Agreement", f"{result.agreement:.0%}",
                 "Share of members whose own top class is the ensemble's top class."),
                ("Total latency", predict.duration_text(result.latency_ms),
                 "Sum of every member's forward."),
            ],
            key="ensemble_metrics",
        )  # fmt: skip
        t1, t2 = st.columns(2)
        averaged = w.top_view(result.averaged.top, "Averaged")
        t1.dataframe(averaged.table.arrow, hide_index=True, width="stretch")
        plots.show(averaged.chart, key="ens_avg", where=t2, width="stretch")
        _held_out(loaded, device)
        st.markdown("**Each member**")
        cols = st.columns(min(len(result.members), 3))
        for i, (member, model) in enumerate(zip(result.members, loaded)):
            with cols[i % len(cols)]:
                st.markdown(f"**{model.label}**")  # the name alone: three columns stay aligned
                st.caption(predict.duration_text(member.latency_ms))
                # three tables side by side: the order is the rank, no class index
                st.dataframe(w.top_view(member.top).short.arrow, hide_index=True, width="stretch")


try:
    run()
except ExplorerError as exc:
    st.error(plain(str(exc)))
