"""Widgets shared by the Predict, Ensembles and Transfer learning pages (issue 6)."""

from __future__ import annotations

import hashlib
from typing import Any

import streamlit as st
from PIL import Image

from components import cache, job_widgets, prediction_charts, ready
from components.markdown import plain
from explorer.core import devices, images, work
from explorer.core.errors import ExplorerError
from explorer.labs import digits, predict
from explorer.serving.download_jobs import download_job
from explorer.weights import labels
from explorer.weights import loading as weights

RANDOM_CHOICE = "random weights (predictions are meaningless)"
FILE_CHOICE = "my own weights file (.safetensors, .pt, .pth)"
DIGIT_PREFIX = "handwritten digit #"


def model_picker(label: str, key: str, where: Any = st) -> str:
    """A select box of every network with weights, each labelled with whether its file is
    here (labels made again only when a weights file arrives or leaves)."""
    names = cache.with_weights()
    text = cache.model_labels(labels.checkpoints_stamp())
    return str(where.selectbox(label, names, key=key, format_func=text.__getitem__))


def device_picker(key: str) -> str:
    options = ["auto", *devices.available_devices()]
    choice = st.selectbox(
        "Device",
        options,
        key=key,
        format_func=lambda d: f"auto ({devices.pick_device('auto')})" if d == "auto" else d,
        help="cuda > mps > cpu. On a GPU the model runs channels-last under autocast (bf16/fp16).",
    )
    return str(choice)


def weights_picker(arch: str, key: str) -> str | None:
    """Which weights to use for `arch`: a name, a file path or "random"; None until usable."""
    infos = weights.available(arch)
    options = [i.name for i in infos] + [RANDOM_CHOICE, FILE_CHOICE]
    choice = st.selectbox("Weights", options, key=key)
    if choice == RANDOM_CHOICE:
        return weights.RANDOM
    if choice == FILE_CHOICE:
        upload = st.file_uploader(
            "Weights file",
            type=["safetensors", "pt", "pth"],
            key=f"{key}_file",
            help="Loaded with safetensors or torch.load(weights_only=True): never unpickled.",
        )
        return None if upload is None else weights.hold_upload(upload.getvalue(), upload.name)
    info = next(i for i in infos if i.name == choice)
    if info.cached:
        return info.name
    st.warning(f"{info.filename} (~{info.size_text}) is not on this machine yet.")
    fetching = f"{key}_fetching"  # this session asked for this file: follow its download job
    if st.button(f"Download {info.filename}", key=f"{key}_download"):
        st.session_state[fetching] = info.name
    if st.session_state.get(fetching) == info.name:
        slot = f"{key}_download_job"
        job = job_widgets.start(
            slot, ("download", arch, info.name), download_job, arch, info.name, lane="long"
        )
        if job is not None:
            try:
                job_widgets.follow(job, f"Downloading {info.filename}", slot)
            except ExplorerError as exc:
                st.session_state.pop(fetching, None)
                st.error(plain(f"Could not download {info.filename}: {exc}"))
                return None
            st.session_state.pop(fetching, None)
            st.rerun()
    st.caption(f"Without a network, copy the file to `{info.path}`, or choose random weights.")
    return None


def _sample_options() -> list[str]:
    return [f"{DIGIT_PREFIX}{i}" for i in range(10)] + images.sample_names()


def _sample_label(option: str) -> str:
    """A digit sample is named by the digit it shows ('handwritten 7 (held-out sample 0)'),
    not by its index alone (sample #0 showed a 7)."""
    if not option.startswith(DIGIT_PREFIX):
        return option
    index = int(option.removeprefix(DIGIT_PREFIX))
    return f"handwritten {digits.sample_label(index)} (held-out sample {index})"


def image_picker(key: str, default_digit: bool = True) -> Image.Image | None:
    """An uploaded image (through explorer.core.images.decode_image) or a sample."""
    source = st.radio("Image", ["sample", "upload"], horizontal=True, key=f"{key}_source")
    if source == "upload":
        upload = st.file_uploader(
            "Your image",
            type=["jpg", "jpeg", "png", "webp", "gif", "bmp", "tif", "tiff"],
            key=f"{key}_upload",
        )
        if upload is None:
            return None
        try:
            return cache.uploaded_picture(upload.file_id, upload.getvalue())
        except ExplorerError as exc:
            st.error(plain(str(exc)))
            return None
    options = _sample_options()
    default = 0 if default_digit or not images.sample_names() else 10
    name = st.selectbox("Sample", options, index=default, key=f"{key}_sample",
                        format_func=_sample_label)  # fmt: skip
    if str(name).startswith(DIGIT_PREFIX):
        picture, label = cache.digit_photo(int(str(name).removeprefix(DIGIT_PREFIX)))
        st.caption(f"A held-out digit (label {label}) drawn as dark ink on light paper.")
        return picture
    return cache.sample_picture(str(name))


def picture(
    where: Any, image: Any, caption: str | None = None, width: int | str = "content", *,
    enlarge: int = 0, box: tuple[int, int, int, int] | None = None,
) -> None:  # fmt: skip
    """`where.image(image, …)` from bytes made once per picture and kept (keyed by its pixels),
    so a rerun sends them as they are: a Pillow image as JPEG at most `width` pixels wide; or,
    with `enlarge`, a small network input (an array, LeNet's 32×32) blown up to about that
    many pixels in square pixels, not blurred, `box` (top, left, bottom, right input pixels,
    inclusive) framed in red."""
    if enlarge:
        digest = hashlib.blake2b(image.tobytes(), digest_size=16).hexdigest()
        key = (image.shape, str(image.dtype), digest)
        data = ready.enlarged_picture(key, image, enlarge, box)
    else:
        widest = width if isinstance(width, int) else images.SHOWN_MAX_WIDTH
        data = ready.shown_picture(work.Picture.of(image).key, image, widest)
    where.image(data, caption=caption, width=width, output_format=images.shown_format(data))


def random_warning(is_random: bool) -> None:
    if is_random:
        st.warning(f"{weights.RANDOM_LABEL}.", icon=":material/warning:")


def headline(best: Any, is_random: bool, random_note: str, prefix: str = "") -> None:
    """The predicted class as a heading, or, with random weights, why there is none:
    `random_note` ends the caption that names the untrained network's top class."""
    if is_random:
        random_warning(True)
        st.subheader("Random weights: no prediction")
        st.caption(
            f"The untrained network's top class happens to be {best.label} "
            f"({best.probability:.1%}); {random_note}"
        )
    else:
        st.subheader(f"{prefix}{best.label} — {best.probability:.1%}")


def top_view(top: Any, title: str = "") -> prediction_charts.TopView:
    """The top classes' table and chart, made once per result and shared."""
    return ready.top_view(prediction_charts.plain(top), title)


def ensemble_result(
    loaded: list[weights.LoadedModel], device: str, image: Image.Image, top: int, ten: bool
) -> predict.EnsemblePrediction | None:
    """The Ensembles page's prediction: inline when cheap (explorer.serving.jobs.runs_inline, e.g.
    the
    three shipped digits models), else a job in a worker process with progress and Cancel
    (the members are loaded there by name). Budgets are checked first, either way."""
    traces = [cache.trace(m.architecture, m.input_size) for m in loaded]
    macs = predict.check_ensemble_prediction(traces, ten)
    uploaded = any(m.weights.startswith("file:") for m in loaded)  # held here only: inline
    members = tuple((m.architecture, m.weights) for m in loaded)
    picture = work.Picture.of(image)
    if work.runs_inline(macs) or uploaded:
        return cache.ensemble_prediction(tuple(loaded), members, device, picture.key, image, top,
                                         ten)  # fmt: skip
    key = ("ensemble", members, device, picture.key, top, ten)
    job = job_widgets.start("ensemble_job", key, predict.ensemble_job, members, device, picture,
                            top, ten)  # fmt: skip
    if job is None:
        return None
    label = f"{len(members)} models, {macs / 1e9:,.0f} G multiply-adds"
    result: predict.EnsemblePrediction | None = job_widgets.follow(job, label, "ensemble_job")
    return result
