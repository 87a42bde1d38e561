"""Why ResNets work: plain vs residual networks trained live, and the identity argument."""

from __future__ import annotations

import json

import streamlit as st

from components import cache, job_widgets, plots, ready, widgets
from components.markdown import plain
from components.residual_charts import (
    curves_figure,
    depth_trend,
    gradients_figure,
    summary_rows,
)
from components.scheduling import GATE
from explorer.core import limits
from explorer.core.errors import ExplorerError
from explorer.labs.residual_experiment import (
    DEFAULT_DEPTHS,
    SUPPORTED_DEPTHS,
    EpochMetrics,
    ExperimentConfig,
    ExperimentResult,
    RunId,
    RunResult,
    run_experiment,
)
from explorer.serving.jobs import Job

MAX_PAGE_EPOCHS = limits.RESIDUAL_PAGE_MAX_EPOCHS
PARTIAL = "residual_partial"  # session key: the runs finished before a Cancel
CANCELLED = "residual_cancelled"  # session key: set by the Cancel button's callback
ACTIVE = "residual_active"  # session key: the job this session is following
DECLINED = "residual_declined"  # session key: shared jobs this session cancelled
POLL_S = 0.5  # how often the live chart reads the job's progress
DEFAULT_RUN_S = 25  # CPU seconds of the default run on one core (benchmarks/residual_speed.py)
deferred: list[tuple[Job, ExperimentConfig]] = []  # jobs to follow once the page is drawn

st.title("Why ResNets work")
st.markdown(
    "In theory a deeper network can only do better on its training set: the extra layers "
    "could just copy their input. In reality, **plain** deep networks train *worse* as they "
    "get deeper, while **residual** networks (He et al. 2015) train *better*: after the same "
    "number of steps, the deeper residual network ends with the lower training error. Train "
    "both here, on the 8×8 handwritten digits that ship with scikit-learn, and see it "
    "yourself."
)

# --- 1. The experiment -------------------------------------------------------------------
st.header("1 · Plain vs residual, trained on your CPU")
with st.expander("The networks", expanded=False):
    st.markdown(
        "The CIFAR networks of the paper (§4.2), sized for 8×8 digits: a 3×3 convolution, then "
        "three stages of 2n 3×3 convolutions with 8, 16 and 32 filters on 8×8, 4×4 and 2×2 "
        "feature maps, BatchNorm after every convolution, global average pooling and a 10-way "
        "fully connected layer: **6n + 2 weighted layers** (n = 1, 3, 9 → 8, 20, 56). "
        "The residual network adds the block's input before its last ReLU, "
        "a[l+2] = ReLU(z[l+2] + a[l]); where the shape changes, the shortcut subsamples and "
        "pads the new channels with zeros (the paper's option A, no parameters). So both "
        "twins have exactly the same weights, start from the same random values (same seed) "
        "and see the same mini-batches: **the shortcut is the only difference**. "
        "Training: SGD, momentum 0.9, no weight decay, batch 128, 1,200 training images (the "
        "other 597 give the test error), so 10 epochs are 100 steps. The learning rate starts "
        "at 0.02 and falls to 0 along a cosine (the paper starts at 0.1 and divides it by 10 "
        "twice over 64,000 steps). Why not the paper's 0.1: the digits are easy, and at 0.1 "
        "the 8- and 20-layer residual networks fit them almost perfectly within 10 epochs "
        "(seed 0: 0.1% and 0.0% training error), leaving depth nothing to improve, while the "
        "56-layer one is still settling after the large early steps (2.1%). At 0.02 the 100 "
        "steps are a tight budget: the 8-layer residual network is still learning when they "
        "run out, the deeper ones get further in the same steps. The plain networks degrade "
        "at either rate."
    )

c1, c2, c3 = st.columns([3, 1, 1])
depths_chosen = c1.multiselect(
    "Depths (weighted layers, 6n+2)",
    SUPPORTED_DEPTHS,
    default=list(DEFAULT_DEPTHS),
    key="residual_depths",
)
epochs = widgets.whole(
    c2.number_input("Epochs", 1, MAX_PAGE_EPOCHS, 10, key="residual_epochs"), 1, MAX_PAGE_EPOCHS, 10
)
seed = widgets.whole(c3.number_input("Seed", 0, 2**31 - 1, 0, key="residual_seed"), 0, 2**31 - 1, 0)
depths = tuple(sorted(int(d) for d in depths_chosen))
run_clicked = st.button(
    "Run the experiment", type="primary", key="residual_run", disabled=not depths
)
if not depths:
    st.info("Choose at least one depth.")


live = st.container()  # the experiment's progress and results, filled in at the end


def _partial_result(
    config: ExperimentConfig, partial: dict[RunId, list[EpochMetrics]]
) -> ExperimentResult:
    runs = tuple(
        RunResult(run.depth, run.kind, 0, tuple(history), (), (), False)
        for run, history in partial.items()
    )
    return ExperimentResult(config, runs, cancelled=True)


def _epochs_so_far(job: Job) -> dict[RunId, list[EpochMetrics]]:
    partial: dict[RunId, list[EpochMetrics]] = {}
    for run, _epoch, metrics in list(job.events):
        partial.setdefault(run, []).append(metrics)
    return partial


def _cancel(job: Job, config: ExperimentConfig) -> None:
    """Cancel button: this session stops waiting; the run stops unless another session
    waits for the same settings (then it finishes for them)."""
    cache.job_runner().cancel(job.key, job_widgets.session_token())
    st.session_state[PARTIAL] = _partial_result(config, _epochs_so_far(job))
    st.session_state[CANCELLED] = True
    st.session_state.setdefault(DECLINED, set()).add(job.key)


def _follow(job: Job, config: ExperimentConfig) -> ExperimentResult:
    """Show the job's progress (a bar and a live chart) until it finishes. The training runs in
    a worker process (explorer.serving.jobs), so this loop only reads its progress; a Cancel or any
    other widget reruns the page, which ends this loop (the job itself goes on)."""
    with live:
        cancel = st.empty()
        bar = st.empty()
        chart = st.empty()
    cancel.button("Cancel", key="residual_cancel", on_click=_cancel, args=(job, config))
    bar.progress(0.0, text="Waiting for a free worker…")
    total = len(config.run_ids) * config.epochs
    shown = -1
    with GATE.released():  # waiting on a worker: other tabs' runs go meanwhile
        while not job.wait(POLL_S):
            job_widgets.still_waiting(job)
            partial = _epochs_so_far(job)
            done = sum(len(h) for h in partial.values())
            if done == shown:
                continue
            shown = done
            if partial:
                run, history = list(partial.items())[-1]
                last = history[-1]
                bar.progress(
                    done / total,
                    text=f"{run.label}: epoch {last.epoch}/{config.epochs}, training error "
                    f"{100 * last.train_error:.1f}%, loss {last.train_loss:.3f}",
                )
                figure = curves_figure(_partial_result(config, partial).runs, config.epochs)
                plots.show(figure, key=f"residual_live_{done}", where=chart)
            elif job.state == "running":
                bar.progress(0.0, text="Starting…")
    for slot in (cancel, bar, chart):
        slot.empty()
    result: ExperimentResult = job.outcome()
    return result


def _show(result: ExperimentResult) -> None:
    runs = result.runs
    plots.show(curves_figure(runs, result.config.epochs), key="residual_curves")
    st.caption(
        "Dashed: plain, solid: residual; one colour per depth. Training loss and error are "
        "averaged over each epoch's mini-batches, as in the paper's training curves. "
        "With the default 10 epochs the dashed lines end higher the deeper the network and "
        "the solid ones lower (seeds 0 to 7 all give this order). Train much longer and the "
        "shallow networks catch up: at 20 epochs plain-20 ends as low as plain-8 (seed 0: "
        "0.2% vs 0.7%), and only plain-56 stays far behind (45%)."
    )
    rows = summary_rows(runs)
    if rows:
        st.dataframe(rows, hide_index=True, key="residual_summary")
    trends = [
        f"**{kind}** {trend}"
        for kind in ("plain", "residual")
        if (trend := depth_trend(runs, kind)) is not None
    ]
    if trends:
        st.markdown("Final training loss, shallowest to deepest: " + "; ".join(trends) + ".")
    if result.cancelled:
        return
    st.subheader("Gradient flow at the first step")
    plots.show(gradients_figure(runs), key="residual_gradients")
    st.caption(
        "‖∂L/∂W‖ of each convolution and the final fully connected layer after the first "
        "mini-batch, before any update (log scale). In a plain network the gradient must "
        "pass through every layer on its way back; in the residual twin each shortcut hands "
        "it to earlier layers unchanged. With BatchNorm (as in the paper) the deep plain "
        "stack's gradient does not vanish but *grows* towards the input, so one learning rate "
        "cannot suit its first and last layers at once; without BatchNorm it would vanish."
    )
    spreads = [
        f"{r.label} {max(r.grad_norms) / min(r.grad_norms):,.0f}×"
        for r in runs
        if r.grad_norms and min(r.grad_norms) > 0
    ]
    st.markdown("Largest / smallest layer gradient: " + ", ".join(spreads))
    st.download_button(
        "Download the numbers (JSON)",
        json.dumps(result.to_dict(), indent=2),
        file_name=f"residual-{'-'.join(map(str, result.config.depths))}-"
        f"e{result.config.epochs}-s{result.config.seed}.json",
        mime="application/json",
        key="residual_download",
    )


def _declined(key: object) -> bool:
    return key in st.session_state.get(DECLINED, set())


try:
    config = ExperimentConfig(depths=depths, epochs=epochs, seed=seed) if depths else None
    key = ("residual", config)
    runner = cache.job_runner()
    job = runner.get(key) if config is not None else None
    if job is not None and (job.cancel_requested or (_declined(key) and not run_clicked)):
        job = None
    previous = st.session_state.get(ACTIVE)
    changed = previous is not None and previous != key
    if changed:  # a setting changed while this session followed a run: stop waiting for it
        st.session_state.pop(ACTIVE, None)
        old = runner.get(previous)
        changed = old is not None and not old.done
        if changed:
            runner.cancel(previous, job_widgets.session_token())
    cancelled_partial = st.session_state.pop(PARTIAL, None)
    if st.session_state.pop(CANCELLED, False) and cancelled_partial is not None:
        with live:
            st.warning("Training cancelled. The epochs finished so far:")
            _show(cancelled_partial)
    elif changed and not run_clicked:
        with live:
            st.info(
                "Training stopped because a setting changed. Press **Run the experiment** "
                "to start again."
            )
    elif job is not None and job.state == "done":
        with live:
            if run_clicked:
                st.success("Already trained with these settings: here are the results.")
            _show(job.outcome())
    elif config is not None and (job is not None or run_clicked):
        if run_clicked:
            st.session_state.get(DECLINED, set()).discard(key)
        token = job_widgets.session_token()
        job = runner.submit(key, run_experiment, config, subscriber=token, lane="long")
        st.session_state[ACTIVE] = key
        deferred.append((job, config))
    elif depths:
        with live:
            st.info(
                f"Press **Run the experiment**. 8, 20 and 56 layers for 10 epochs take about "
                f"{DEFAULT_RUN_S} s of one CPU core. They train in a worker process, so the "
                "rest of the app stays responsive; when many students train at once, runs "
                "wait for a free worker, and identical settings share one run. Keep this "
                f"page open while it trains: a run no open tab follows stops after "
                f"{limits.JOBS_ABANDON_S:.0f} s. Finished results are kept, so a re-visit "
                "is instant."
            )
except ExplorerError as exc:
    with live:
        st.error(plain(str(exc)))

# --- 2. The identity argument ------------------------------------------------------------
st.header("2 · The identity argument")
st.markdown(
    "A residual block computes a[l+2] = ReLU(z[l+2] + a[l]), with z[l+2] = W[l+2] a[l+1] + "
    "b[l+2]. If weight decay drives W[l+2] and b[l+2] to zero, then z[l+2] = 0 and "
    "a[l+2] = ReLU(a[l]) = a[l], because a[l] is itself the output of a ReLU and never "
    "negative. So the identity function is *easy* for a residual block to learn: an added "
    "block can at worst copy its input, adding it does not hurt performance, and anything "
    "more it learns is a bonus. A plain layer would have to learn the identity with its "
    "weights, which is hard. When the shapes differ, a matrix W_s maps a[l] to the new size "
    "and the same argument gives a[l+2] = ReLU(W_s a[l])."
)
shape = st.radio(
    "Block",
    ["same", "projection"],
    horizontal=True,
    key="residual_block_shape",
    format_func=lambda s: (
        "Same shape: a[l] and a[l+2] ∈ ℝ²⁵⁶"
        if s == "same"
        else "Shapes change: a[l] ∈ ℝ¹²⁸, a[l+2] ∈ ℝ²⁵⁶, W_s is 256×128"
    ),
)
t1, t2, t3 = st.columns(3)
zero_w = t1.toggle("Set W[l+2] = 0", value=True, key="residual_zero_w")
zero_b = t2.toggle("Set b[l+2] = 0", value=True, key="residual_zero_b")
nonneg = t3.toggle("a[l] ≥ 0 (it comes out of a ReLU)", value=True, key="residual_nonneg")
try:
    identity = ready.identity_view(128 if shape == "projection" else 256, 256, zero_w, zero_b,
                                   nonneg)  # fmt: skip
    demo = identity.demo
    m1, m2 = st.columns(2)
    m1.metric(f"max |a[l+2] − {demo.expected_label}|", f"{demo.max_abs_difference:.6g}")
    m2.metric("bit-for-bit equal (torch.equal)", "yes" if demo.exact else "no")
    if demo.exact:
        st.success(
            f"a[l+2] = {demo.expected_label} exactly: every one of the "
            f"{demo.out_features} outputs equals its target, difference 0."
        )
    elif not nonneg and zero_w and zero_b:
        st.warning(
            "The negative entries of a[l] are cut to 0 by the last ReLU: the identity "
            "needs a[l] ≥ 0, which holds inside a network because a[l] is a ReLU output."
        )
    else:
        kept = " and ".join(n for n, z in (("W[l+2]", zero_w), ("b[l+2]", zero_b)) if not z)
        st.warning(
            f"With {kept} not zero, z[l+2] ≠ 0 and the block no longer returns "
            f"{demo.expected_label}."
        )
    plots.show(identity.figure, key="residual_identity_chart")
except ExplorerError as exc:
    st.error(plain(str(exc)))

# --- The experiment's progress, followed last so that the whole page is usable meanwhile ---
for job, config in deferred:
    try:
        result = _follow(job, config)
    except ExplorerError as exc:
        with live:
            st.error(plain(str(exc)))
        break
    st.session_state.pop(ACTIVE, None)
    with live:
        if result.cancelled:
            st.warning("Training cancelled.")
        else:
            waited = (job.started or job.submitted) - job.submitted
            queue_note = f", after {waited:.0f} s waiting for a free worker" if waited >= 1 else ""
            st.success(
                f"Trained {len(result.runs)} networks in {result.seconds:.0f} s"
                f"{queue_note} (kept: these settings show at once next time)."
            )
        _show(result)
