"""Transfer learning: the three freezing regimes, and few-shot training of a new softmax head."""

from __future__ import annotations

import hashlib
from typing import Any

import streamlit as st

from components import cache, job_widgets, prediction_charts, ready, widgets
from components import prediction_widgets as w
from components.markdown import plain
from explorer import names
from explorer.core import images, limits, work
from explorer.core.errors import ExplorerError
from explorer.core.limits import UPLOAD_THUMBNAIL_SIDE
from explorer.graph.diagram import dot_available
from explorer.labs import transfer
from explorer.weights import loading as weights
from explorer.weights import shipped
from explorer.weights.labels import checkpoints_stamp

st.title("Transfer learning")
st.caption(
    "Start from someone else's trained network. Little data: freeze everything and train a new "
    "softmax head. More data: freeze fewer layers. A lot of data: fine-tune everything."
)


def regimes() -> str:
    st.header("1 · What gets trained")
    c1, c2 = st.columns([1, 2])
    with c1:
        arch = st.selectbox(
            "Network", names(), index=names().index("resnet18"), key="transfer_arch"
        )
        classes = st.number_input("Classes of the new head", 2, 1000, 3, key="transfer_classes")
        n = len(cache.freeze_plan(str(arch), 0, int(classes)).blocks)
        k = st.slider(
            "Frozen blocks (0 = fine-tune all, max = only the new head trains)",
            0,
            n - 1,
            n - 1,
            key="transfer_k",
        )
        plan = cache.freeze_plan(str(arch), int(k), int(classes))
        st.info(f"**{plan.regime}**")
        st.metric("Trainable parameters", f"{plan.trainable_params:,}")
        st.metric("Frozen parameters", f"{plan.frozen_params:,}")
        st.caption(f"New head: `{plan.head}` with {classes} outputs.")
    with c2:
        st.html(ready.freeze_table(str(arch), int(k), int(classes)))
        st.caption(
            "Grey: frozen (its weights stay as they were trained). Green: trained on your "
            "data. Parameter counts come from tracing the network itself."
        )
    with st.expander("Block diagram with the frozen layers shaded grey"):
        frozen_dot = cache.frozen_dot(str(arch), plan.frozen_blocks)
        widgets.diagram(cache.dot_svg(frozen_dot) if dot_available() else None, frozen_dot, 600)
        st.caption(
            f"The diagram shows the original head; it is replaced by `{plan.head}` "
            f"with {classes} outputs."
        )
    return str(arch)


def _progress(bar):
    def progress(step: int, total: int, loss: float) -> None:
        bar.progress(step / total, text=f"step {step}/{total} · loss {loss:.3f}")

    return progress


def few_shot_digits(device: str) -> None:
    # this section's own figures (section 1's are for the network picked there)
    blocks = len(cache.freeze_plan("lenet5", 0, 10).blocks)
    plan = cache.freeze_plan("lenet5", blocks - 1, 10)
    st.markdown(
        "Backbone: `lenet5-digits` with its last layer replaced. Its 84 features per image are "
        "computed **once** for all 1,797 digits (cached); training the head then touches only "
        "those vectors, which is why it takes a moment and not minutes. "
        f"It trains **{plan.trainable_params:,}** parameters (the new head `{plan.head}`) "
        f"and keeps **{plan.frozen_params:,}** frozen."
    )
    shots = st.slider("Training examples per digit", 1, 50, 5, key="fs_shots")
    steps = st.slider("Training steps", 20, 500, 200, step=20, key="fs_steps")
    f_all = cache.digits_features(device)
    if st.button("Train the new head", key="fs_train", type="primary"):
        bar = st.progress(0.0, text="Training the new head…")
        st.session_state["fs_result"] = transfer.few_shot_digits(
            f_all, int(shots), steps=int(steps), progress=_progress(bar)
        )
    result = st.session_state.get("fs_result")
    if result is None:
        return
    meta = shipped.shipped_metadata()
    a, b = st.columns(2)
    a.metric(
        f"Held-out accuracy, {result.shots} per digit ({result.examples} images)",
        f"{result.test_accuracy:.1%}",
    )
    b.metric("The fully trained network (1,437 images)", f"{meta['test_accuracy']:.1%}")
    image = w.image_picker("fs_predict")
    if image is not None:
        loaded = cache.loaded_model("lenet5-digits", "DEFAULT", device)
        top = transfer.predict_with_head(loaded, result.head, image, 3)
        st.image(image, width=120)
        st.dataframe(prediction_charts.top_rows(prediction_charts.plain(top)), hide_index=True)


Backbone = tuple[str, str]  # (architecture, weights name)


def _backbone_label(choice: Backbone) -> str:
    arch, name = choice
    if name == weights.RANDOM:
        return f"{arch} · random weights (meaningless features, for the mechanics only)"
    if name in shipped.SHIPPED:
        return f"{arch} · {name} (handwritten digits; works offline)"
    return f"{arch} · {name}"


def few_shot_uploads(device: str, section_one: str) -> None:
    st.markdown(
        "Upload a handful of pictures per class (e.g. your two cats and 'neither'). The frozen "
        "backbone's features are computed once per picture; only the new head is trained."
    )
    here = cache.weights_here(checkpoints_stamp())
    local: list[Backbone] = [(i.architecture, i.name) for i in here]
    mine = [c for c in local if c[0] == section_one]
    choices = [*mine, *(c for c in local if c not in mine), (section_one, weights.RANDOM)]
    if not mine:
        st.info(
            f"Section 1's network, {section_one}, has no trained weights on this machine "
            "(download them on the Predict page). Until then the backbone is one whose "
            "weights are here; random weights only show the mechanics."
        )
    backbone = st.selectbox(
        "Backbone (weights on this machine)",
        choices,
        key=f"up_backbone_{section_one}",  # follows the network chosen in section 1
        format_func=_backbone_label,
    )
    arch, weights_name = backbone or choices[-1]
    if weights_name == weights.RANDOM:
        w.random_warning(True)
    count = st.number_input("Classes", 2, 6, 3, key="up_count")
    defaults = ["Tigger", "Misty", "Neither", "Class 4", "Class 5", "Class 6"]
    class_names: list[str] = []
    blobs: list[bytes] = []
    labels: list[int] = []
    cols = st.columns(int(count))
    for c, col in enumerate(cols):
        with col:
            name = st.text_input("Name", defaults[c], key=f"up_name_{c}")
            files = st.file_uploader(
                "Pictures",
                accept_multiple_files=True,
                key=f"up_files_{c}",
                type=["jpg", "jpeg", "png", "webp", "gif", "bmp", "tif", "tiff"],
            )
            class_names.append(name.strip() or defaults[c])
            for f in files or []:
                blobs.append(f.getvalue())
                labels.append(c)
    if len(set(class_names)) != len(class_names):
        st.error("Give every class a different name.")
        return
    steps = st.slider("Training steps", 20, 500, 200, step=20, key="up_steps")
    if st.button("Train the new head", key="up_train", type="primary", disabled=not blobs):
        images.check_upload_batch(blobs)  # count, bytes, pixels: before anything is decoded
        limits.check_transfer_images(len(blobs))
        digest = hashlib.blake2b(b"".join(hashlib.sha256(b).digest() for b in blobs)).hexdigest()
        key = ("features", arch, weights_name, device, digest)
        request = (key, tuple(blobs), tuple(labels), tuple(class_names), int(steps))
        st.session_state[REQUEST] = request  # followed across reruns until the head is trained
        job_widgets.retry(key)  # asked again: a Cancel of the same pictures no longer holds
    if st.session_state.get(REQUEST) is not None:
        try:
            _train_on_uploads(arch, weights_name, device, *st.session_state[REQUEST])
        except ExplorerError:
            st.session_state.pop(REQUEST, None)  # shown once, not retried on every rerun
            raise
    trained = st.session_state.get("up_head")
    if trained is None:
        return
    arch, weights_name, head = trained
    st.metric("Accuracy on the training pictures", f"{head.train_accuracy:.0%}")
    st.caption(
        "This is measured on the very pictures the head was trained on, so it is not a test: "
        "a head with hundreds of inputs can memorise a handful of pictures (100% even with "
        "random-weight features). Classify new pictures below to see whether it learned "
        "anything."
    )
    upload = st.file_uploader("A new picture to classify", key="up_query")
    if upload is not None:  # decoded and seen as the training pictures were
        blob = upload.getvalue()
        st.image(images.decode_image(blob, max_side=UPLOAD_THUMBNAIL_SIDE), width=160)
        key = ("features", arch, weights_name, device, hashlib.sha256(blob).hexdigest())
        feats = _features(arch, weights_name, device, key, (blob,), "up_query_features")
        if feats is not None:
            top = transfer.head_top(head, feats, 3)
            st.dataframe(prediction_charts.top_rows(prediction_charts.plain(top)), hide_index=True)


REQUEST = "up_request"  # session key: the features job (key, pictures, labels, names, steps)


def _train_on_uploads(
    arch: str, weights_name: str, device: str, key: tuple[str, ...], blobs: tuple[bytes, ...],
    labels: tuple[int, ...], class_names: tuple[str, ...], steps: int,
) -> None:  # fmt: skip
    """The backbone's features of the pictures (`_features`), then the new head (0.2 s for
    500 steps on 60 × 2,048 features: inline)."""
    feats = _features(arch, weights_name, device, key, blobs, "up_features")
    if feats is None:
        return
    bar = st.progress(0.0, text="Training the new head…")
    head = transfer.train_head(feats, labels, class_names, steps=steps, progress=_progress(bar))
    st.session_state["up_head"] = (arch, weights_name, head)
    st.session_state.pop(REQUEST, None)


def _features(
    arch: str, weights_name: str, device: str, key: tuple[str, ...], blobs: tuple[bytes, ...],
    slot: str,
) -> Any:  # fmt: skip
    """The backbone's features of the pictures: inline for a small backbone (lenet5), else a
    job in a worker process with progress and Cancel (resnet50: 2.7 s for 20 pictures on one
    core); a tensor, a numpy array (from a job), or None while cancelled."""
    macs = transfer.upload_work(cache.trace(arch).total_macs, len(blobs))
    if work.runs_inline(macs):
        return cache.upload_features(arch, weights_name, device, blobs)
    job = job_widgets.start(slot, key, transfer.features_job, arch, weights_name, device, blobs)
    if job is None:
        return None
    label = f"{arch}'s features of {len(blobs)} pictures, {macs / 1e9:,.0f} G multiply-adds"
    return job_widgets.follow(job, label, slot)


def run() -> None:
    section_one = regimes()
    st.header("2 · Few-shot: train only a new head")
    device = w.device_picker("transfer_device")
    tab1, tab2 = st.tabs(["Digits (offline demo)", "Your own pictures"])
    with tab1:
        few_shot_digits(device)
    with tab2:
        few_shot_uploads(device, section_one)


try:
    run()
except ExplorerError as exc:
    st.error(plain(str(exc)))
