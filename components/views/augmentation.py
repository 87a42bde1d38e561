"""Augmentation lab: each augmentation on a real picture; build, preview and export a pipeline."""

from __future__ import annotations

import dataclasses
from typing import Any

import streamlit as st

from components import cache, job_widgets, ready, widgets
from components.markdown import plain
from explorer.core.errors import ExplorerError
from explorer.core.images import sample_names
from explorer.core.work import Picture
from explorer.labs.augment import (
    AUGMENTATIONS,
    DEFAULT_PIPELINE,
    PRESETS,
    Augmentation,
    ParamSpec,
    PCAColor,
    Pipeline,
    lab,
)

DEFAULT_SAMPLE = "cat"
ImageSource = tuple[str, Any]  # ("sample", name) or ("upload", bytes)


# --- pipeline state: a list of (id, step); widget keys follow the id, not the position -------


def _state() -> list[tuple[int, Augmentation]]:
    if "aug_steps" not in st.session_state:
        _set_steps(DEFAULT_PIPELINE.steps)
    steps: list[tuple[int, Augmentation]] = st.session_state["aug_steps"]
    return steps


def _set_steps(steps: tuple[Augmentation, ...]) -> None:
    start = st.session_state.get("aug_next_id", 0)
    st.session_state["aug_steps"] = [(start + i, step) for i, step in enumerate(steps)]
    st.session_state["aug_next_id"] = start + len(steps)


def _add_step() -> None:
    kind = st.session_state.get("aug_add_kind")
    if kind not in AUGMENTATIONS:  # only a crafted message names another (e.g. "__class__")
        return
    steps = _state()
    new_id = st.session_state["aug_next_id"]
    st.session_state["aug_next_id"] = new_id + 1
    # Elastic warping's torchvision default (α = 50) is invisible on a projector: start at
    # α = 150, σ = 6 (the sliders go either way). PCA colour keeps AlexNet's σ = 0.1; its tab
    # shows what a larger σ does.
    params = {} if kind == "pca_color" else lab.VISIBLE_PARAMS.get(kind, {})
    steps.append((new_id, AUGMENTATIONS[kind](**params)))


def _remove_step(step_id: int) -> None:
    st.session_state["aug_steps"] = [(i, s) for i, s in _state() if i != step_id]


def _move_step(step_id: int, offset: int) -> None:
    steps = _state()
    index = next(i for i, (sid, _) in enumerate(steps) if sid == step_id)
    target = min(max(index + offset, 0), len(steps) - 1)
    steps.insert(target, steps.pop(index))


def _load_preset() -> None:
    _set_steps(PRESETS[st.session_state["aug_preset"]].steps)


def _reroll(n: int) -> None:
    st.session_state["aug_seed"] = widgets.whole(st.session_state.get("aug_seed", 0), 0,
                                                 2**31 - 1 - 64 - n, 0) + n  # fmt: skip


# --- widgets ---------------------------------------------------------------------------------


def _param_widget(step_id: int, spec: ParamSpec, value: Any) -> Any:
    key = f"aug_p{step_id}_{spec.name}"
    if spec.kind == "bool":
        return st.checkbox(spec.label, value=value, key=key, help=spec.help or None)
    if spec.kind == "choice":
        return st.selectbox(
            spec.label,
            spec.choices,
            index=spec.choices.index(value),
            key=key,
            help=spec.help or None,
        )
    if spec.kind == "int":
        return st.slider(
            spec.label,
            int(spec.low or 0),
            int(spec.high or 0),
            int(value),
            int(spec.step or 1),
            key=key,
            help=spec.help or None,
        )
    return st.slider(
        spec.label,
        float(spec.low or 0.0),
        float(spec.high or 0.0),
        float(value),
        float(spec.step or 0.01),
        key=key,
        help=spec.help or None,
    )


def _step_editor(position: int, step_id: int, step: Augmentation, count: int) -> Augmentation:
    """Controls for one step; returns the step with the values the sliders now hold."""
    with st.container(border=True):
        badge = "" if step.LECTURE else " · *beyond the lecture*"
        st.markdown(f"**{position + 1}. {step.TITLE}**{badge}")
        st.caption(step.DESCRIPTION)
        up, down, drop = st.columns(3, gap="small")
        up.button(
            "↑",
            key=f"aug_up{step_id}",
            on_click=_move_step,
            args=(step_id, -1),
            disabled=position == 0,
            help="Move this step earlier",
            width="stretch",
        )
        down.button(
            "↓",
            key=f"aug_down{step_id}",
            on_click=_move_step,
            args=(step_id, 1),
            disabled=position == count - 1,
            help="Move this step later",
            width="stretch",
        )
        drop.button(
            "✕",
            key=f"aug_del{step_id}",
            on_click=_remove_step,
            args=(step_id,),
            help="Remove this step",
            width="stretch",
        )
        values = {
            spec.name: _param_widget(step_id, spec, getattr(step, spec.name))
            for spec in step.params()
        }
        try:
            return dataclasses.replace(step, **values)
        except ExplorerError as exc:
            st.error(plain(f"{exc} The previous setting is kept."))
            return step


def _pipeline_builder() -> Pipeline:
    st.subheader("Pipeline")
    st.selectbox("Start from a preset", list(PRESETS), key="aug_preset")
    st.button(
        "Load preset",
        on_click=_load_preset,
        key="aug_load_preset",
        help="Replaces the current steps",
    )
    steps = _state()
    updated = [(sid, _step_editor(i, sid, step, len(steps))) for i, (sid, step) in enumerate(steps)]
    st.session_state["aug_steps"] = updated
    if not updated:
        st.info("No steps: the samples are the original image. Add a step below.")
    kinds = list(AUGMENTATIONS)
    st.selectbox(
        "Add a step", kinds, key="aug_add_kind", format_func=lambda k: AUGMENTATIONS[k].TITLE
    )
    st.button("Add step", icon=":material/add:", on_click=_add_step, key="aug_add")
    _pipeline_import()
    return Pipeline(tuple(step for _, step in updated))


def _pipeline_import() -> None:
    upload = st.file_uploader("Load a pipeline (.json)", type=["json"], key="aug_json_upload")
    if upload is None or st.session_state.get("aug_json_loaded") == upload.file_id:
        return
    try:
        pipeline = Pipeline.from_json(upload.getvalue().decode("utf-8", errors="replace"))
    except ExplorerError as exc:
        st.error(plain(str(exc)))
        return
    st.session_state["aug_json_loaded"] = upload.file_id
    _set_steps(pipeline.steps)
    st.rerun()


def _image_source() -> tuple[ImageSource, str] | str:
    """The chosen image as a cache key and its name, or why an upload cannot be used."""
    names = sample_names()
    st.subheader("Image")
    name = st.selectbox(
        "Sample image",
        names,
        key="aug_sample",
        index=names.index(DEFAULT_SAMPLE) if DEFAULT_SAMPLE in names else 0,
    )
    upload = st.file_uploader(
        "…or upload your own (it replaces the sample)",
        key="aug_upload",
        type=["jpg", "jpeg", "png", "webp", "gif", "bmp", "tif", "tiff"],
    )
    source: ImageSource = (
        ("sample", str(name)) if upload is None else ("upload", upload.getvalue())
    )
    try:
        cache.lab_image(*source)
    except ExplorerError as exc:
        return f"Cannot use **{upload.name if upload else name}**: {exc}"
    return source, (upload.name if upload else str(name))


# --- main views ------------------------------------------------------------------------------


def _samples_view(source: ImageSource, label: str, pipeline: Pipeline) -> None:
    controls = st.columns([2, 2, 2, 1], vertical_alignment="bottom")
    # 8 by default; a change reruns each sample from the first changed step only (the rest
    # comes from cache.augment_memo), and elastic warping is the step that costs most
    n = controls[0].slider("Samples", 1, 32, 8, key="aug_n")
    columns = controls[1].slider("Columns", 1, 8, 4, key="aug_columns")
    seed = widgets.whole(
        controls[2].number_input("Seed", 0, 2**31 - 1 - 64, step=1, key="aug_seed"),
        0, 2**31 - 1 - 64, 0,
    )
    controls[3].button(
        "Re-roll",
        icon=":material/casino:",
        on_click=_reroll,
        args=(n,),
        key="aug_reroll",
        help="Next seeds: new samples, still reproducible",
    )
    image = cache.lab_image(*source)
    try:
        if not lab.needs_worker(pipeline):
            grid = cache.augment_grid(*source, pipeline.to_json(), n, int(seed), columns)
            _show_samples(source, image, label, pipeline, n, int(seed), grid)
            return
        # Elastic warping: seconds, so the grid is drawn in a worker process (explorer.serving.jobs)
        pipeline.check_budget(image.height, image.width, n)  # refused here, before the job
        picture = Picture.of(image)
        key = ("augment-grid", picture.key, pipeline.to_json(), n, int(seed), columns)
        job = job_widgets.start("aug_grid", key, lab.grid_job, picture, pipeline.to_json(), n,
                                int(seed), columns)  # fmt: skip
    except ExplorerError as exc:
        st.error(plain(str(exc)))
        return
    if job is None:
        return

    def show(grid: lab.Grid) -> None:
        _show_samples(source, image, label, pipeline, n, int(seed), grid)

    _PENDING.add(job, f"Warping {n} samples", "aug_grid", show)


def _show_samples(
    source: ImageSource, image: Any, label: str, pipeline: Pipeline, n: int, seed: int,
    grid: lab.Grid,
) -> None:  # fmt: skip
    left, right = st.columns([1, 3])
    with left:
        width, height = image.size
        full = tuple(image.info.get("unshrunk_size", image.size))
        note = "" if full == (width, height) else f", shrunk from {full[0]}×{full[1]}"
        st.image(ready.lab_picture(*source), caption=f"original: {label}, {width}×{height}{note}")
    with right:
        shapes = sorted(set(grid.sizes))
        shown = ", ".join(f"{w}×{h}" for w, h in shapes[:4]) + (" …" if len(shapes) > 4 else "")
        st.image(
            grid.shown,
            caption=f"{n} samples, seeds {seed}…{seed + n - 1} "
            f"(sample k uses seed {seed} + k); sizes {shown}",
        )
    _downloads(pipeline, grid.png, seed)


# Jobs drawn last, so that the other tabs are usable while they run (made anew each run).
_PENDING = job_widgets.Pending()


def _downloads(pipeline: Pipeline, grid_png: bytes, seed: int) -> None:
    code = pipeline.to_python()
    a, b, c = st.columns(3)
    download = ":material/download:"
    a.download_button(
        "Grid (PNG)",
        grid_png,
        f"augmentations_seed{seed}.png",
        "image/png",
        key="aug_dl_png",
        icon=download,
    )
    b.download_button(
        "Pipeline (JSON)",
        pipeline.to_json(),
        "augmentation_pipeline.json",
        "application/json",
        key="aug_dl_json",
        icon=download,
    )
    c.download_button(
        "Python code",
        code,
        "augmentation_pipeline.py",
        "text/x-python",
        key="aug_dl_py",
        icon=download,
    )
    with st.expander("Python code (torchvision transforms.v2)"):
        st.code(code, language="python")


def _pca_view(source: ImageSource, label: str, pipeline: Pipeline) -> None:
    st.markdown(
        "AlexNet (Krizhevsky et al. 2012, §4.1) alters the intensities of the RGB channels along "
        "their principal components. To every pixel it adds one offset per image:"
    )
    st.latex(
        r"[I^R, I^G, I^B]^T \mathrel{+}= [\mathbf{p}_1, \mathbf{p}_2, \mathbf{p}_3]"
        r"\,[\alpha_1\lambda_1, \alpha_2\lambda_2, \alpha_3\lambda_3]^T,"
        r"\quad \alpha_i \sim \mathcal{N}(0, \sigma^2),\ \sigma = 0.1"
    )
    pca_steps = [s for s in pipeline.steps if isinstance(s, PCAColor)]
    std = pca_steps[0].std if pca_steps else 0.1
    if not pca_steps:
        st.info("The pipeline has no PCA colour step; add one to see it in the samples.")
    # The paper's σ = 0.1 is meant to be subtle (lighting and colour cast); a larger σ shows
    # the directions the offsets take. Four seeded samples of each, beside the original.
    seed = widgets.whole(st.session_state.get("aug_seed", 0), 0, 2**31 - 1, 0)
    shown = st.columns([1, 3])
    shown[0].image(ready.lab_picture(*source), caption=f"original: {label}")
    with shown[1]:
        for sigma, what in (
            (0.1, "the paper's σ = 0.1: subtle on purpose"),
            (1.0, "σ = 1.0, exaggerated ten times to show the colour axes"),
        ):
            json_text = Pipeline((PCAColor(std=sigma),)).to_json()
            grid = cache.augment_grid(*source, json_text, 4, seed, 4)
            st.image(grid.shown, caption=f"PCA colour, {what} (seeds {seed}…{seed + 3})")
    views = [ready.eigen_view(None), ready.eigen_view(source)]
    for column, (eigen, table) in zip(st.columns(2), views):
        with column:
            title = "ImageNet (fb.resnet.torch)" if eigen.source.startswith("ImageNet") else label
            st.markdown(f"**Principal components of {title}** (pixels in [0, 1]; p_j are columns)")
            st.dataframe(
                table.arrow,
                hide_index=True,
                width="stretch",
                column_config={
                    k: st.column_config.NumberColumn(format="%.4f")
                    for k in ("eigenvalue λ", "R", "G", "B")
                },
            )
            spread = eigen.offset_std(std)
            st.caption(
                f"With σ = {std:g}, each channel's offset has a standard deviation of "
                f"R {spread[0]:.2f}, G {spread[1]:.2f}, B {spread[2]:.2f} (0–255 scale)."
            )


def _gallery_view(source: ImageSource) -> None:
    st.markdown(
        "Each augmentation alone, with its default parameters, four seeded samples "
        "each; elastic warping (α = 150, σ = 6) and PCA colour (σ = 1.0) are shown stronger "
        "than their defaults so that the effect is visible. Add one to the pipeline "
        "(sidebar) to change its parameters."
    )
    if not st.toggle("Draw the gallery (a few seconds the first time)", key="aug_gallery"):
        return
    seed = widgets.whole(st.session_state.get("aug_seed", 0), 0, 2**31 - 1, 0)
    try:  # 1.4 s at one core (elastic warping 0.6 s of it): drawn in a worker process
        picture = Picture.of(cache.lab_image(*source))
        key = ("augment-gallery", picture.key, 4, seed)
        job = job_widgets.start("aug_gallery_job", key, lab.gallery_job, picture, 4, seed)
    except ExplorerError as exc:
        st.error(plain(str(exc)))
        return
    if job is not None:
        _PENDING.add(job, "Drawing every augmentation", "aug_gallery_job", _show_gallery)


def _show_gallery(gallery: lab.Gallery) -> None:
    (width, height), rows = gallery.size, gallery.rows
    groups: dict[str, list[str]] = {}
    for kind, cls in AUGMENTATIONS.items():
        groups.setdefault(cls.GROUP, []).append(kind)
    for group, kinds in groups.items():
        st.subheader(group)
        for kind in kinds:
            cls = AUGMENTATIONS[kind]
            text, picture = st.columns([1, 2])
            badge = "" if cls.LECTURE else " · *beyond the lecture*"
            text.markdown(f"**{cls.TITLE}**{badge}  \n`{kind}`")
            text.caption(cls.DESCRIPTION)
            png, sizes = rows[kind]
            picture.image(png, caption=f"from {width}×{height}: {sizes}")


def _mix_view(source: ImageSource, label: str) -> None:
    st.markdown(
        "MixUp blends two images and their labels; CutMix pastes a box of one into "
        "the other and weights the labels by area. Both train on soft labels."
    )
    names = sample_names()
    other_default = next((n for n in names if n != label), names[0])
    c1, c2, c3, c4 = st.columns(4)
    other = str(
        c1.selectbox("Second image", names, index=names.index(other_default), key="aug_mix_b")
    )
    method = c2.radio(
        "Method",
        ["mixup", "cutmix"],
        horizontal=True,
        key="aug_mix_method",
        format_func=lambda m: {"mixup": "MixUp", "cutmix": "CutMix"}[m],
    )
    alpha = c3.slider("α of Beta(α, α)", 0.1, 5.0, 1.0, 0.1, key="aug_mix_alpha")
    seed = widgets.whole(
        c4.number_input("Mix seed", 0, 2**31 - 1, 0, key="aug_mix_seed"), 0, 2**31 - 1, 0
    )
    try:
        png, weight_a = cache.mix_preview(
            source, ("sample", other), str(method), float(alpha), int(seed)
        )
    except ExplorerError as exc:
        st.error(plain(str(exc)))
        return
    a, b, mixed = st.columns(3)
    a.image(ready.lab_picture(*source), caption=f"A: {label}")
    b.image(ready.lab_picture("sample", other), caption=f"B: {other}")
    mixed.image(
        png,
        caption=f"label = {weight_a:.3f} × {label} + {1 - weight_a:.3f} × {other} "
        "(both centre-cropped to 256×256 first)",
    )


def main() -> None:
    st.title("Augmentation lab")
    st.caption(
        "Each augmentation from the lecture (and a few beyond it) on a real picture: build "
        "a pipeline, see seeded samples, export it as torchvision code."
    )
    with st.sidebar:
        chosen = _image_source()
        pipeline = _pipeline_builder()
    if isinstance(chosen, str):
        st.error(chosen)
        st.info(
            "Remove the upload to go back to the sample, or upload a JPEG, PNG, WebP, GIF, "
            "BMP or TIFF picture."
        )
        return
    source, label = chosen
    tab_samples, tab_gallery, tab_pca, tab_mix = st.tabs(
        ["Samples", "Every method", "PCA colour (AlexNet)", "MixUp / CutMix"]
    )
    with tab_samples:
        _samples_view(source, label, pipeline)
    with tab_gallery:
        _gallery_view(source)
    with tab_pca:
        _pca_view(source, label, pipeline)
    with tab_mix:
        _mix_view(source, label)
    _PENDING.follow()


main()
