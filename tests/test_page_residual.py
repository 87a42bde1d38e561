"""AppTest for the "Why ResNets work" page: a tiny experiment through the UI, the cache, the
cancelled state and the identity demo."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from explorer.labs.residual_experiment import (
    EpochMetrics,
    ExperimentConfig,
    ExperimentResult,
    RunResult,
    run_experiment,
)

PAGE = str(Path(__file__).resolve().parents[1] / "components" / "views" / "residual.py")
TIMEOUT = 60


def _page() -> AppTest:
    return AppTest.from_file(PAGE, default_timeout=TIMEOUT)


def _tiny(at: AppTest, seed: int) -> AppTest:
    at.multiselect(key="residual_depths").set_value([8])
    at.number_input(key="residual_epochs").set_value(1)
    at.number_input(key="residual_seed").set_value(seed)
    return at


def test_page_loads_without_training() -> None:
    at = _page().run()
    assert not at.exception
    assert at.title[0].value == "Why ResNets work"
    assert any("Run the experiment" in i.value for i in at.info)
    assert not at.dataframe  # nothing trained on a plain visit


def test_tiny_experiment_through_the_ui_then_cached() -> None:
    at = _tiny(_page().run(), seed=11)
    at.button(key="residual_run").click().run()
    assert not at.exception
    assert any(s.value.startswith("Trained 2 networks") for s in at.success)
    table = at.dataframe[0].value
    assert list(table["network"]) == ["plain-8", "residual-8"]
    assert list(table["epochs"]) == [1, 1]
    assert len(at.get("plotly_chart")) == 3  # curves, gradient norms, identity demo
    # A new session with the same settings shows the cached result without pressing Run.
    again = _tiny(_page().run(), seed=11).run()
    assert not again.exception
    assert list(again.dataframe[0].value["training loss"]) == list(table["training loss"])
    assert not any(s.value.startswith("Trained") for s in again.success)


def test_cancelled_run_shows_the_finished_epochs() -> None:
    config = ExperimentConfig(depths=(8, 20), epochs=3, seed=0)
    done = tuple(EpochMetrics(e, 2.0 / e, 0.5 / e, 0.4, 0.1) for e in (1, 2))
    partial = ExperimentResult(config, (RunResult(8, "plain", 0, done, (), (), False),), True)
    at = _page()
    at.session_state["residual_partial"] = partial
    at.session_state["residual_cancelled"] = True
    at.run()
    assert not at.exception
    assert any("cancelled" in w.value for w in at.warning)
    table = at.dataframe[0].value
    assert list(table["network"]) == ["plain-8"] and list(table["epochs"]) == [2]


def test_final_losses_by_depth_are_described_per_kind() -> None:
    def run(depth: int, kind: str, loss: float) -> RunResult:
        return RunResult(depth, kind, 0, (EpochMetrics(1, loss, loss / 4, 0.4, 0.1),), (), (),
                         False)

    config = ExperimentConfig(depths=(8, 20, 56), epochs=1, seed=0)
    runs = (run(8, "plain", 0.5), run(8, "residual", 0.3), run(20, "plain", 0.8),
            run(20, "residual", 0.05), run(56, "plain", 2.0))
    at = _page()
    at.session_state["residual_partial"] = ExperimentResult(config, runs, True)
    at.session_state["residual_cancelled"] = True
    at.run()
    assert not at.exception
    text = " ".join(m.value for m in at.markdown)
    assert "**plain** 0.5000 → 0.8000 → 2.0000: rises with depth" in text
    assert "**residual** 0.3000 → 0.0500: falls with depth" in text


def test_identity_demo_controls() -> None:
    at = _page().run()
    assert [m.value for m in at.metric] == ["0", "yes"]
    at.toggle(key="residual_zero_w").set_value(False).run()
    assert at.metric[1].value == "no" and float(at.metric[0].value) > 0
    at.toggle(key="residual_zero_w").set_value(True)
    at.toggle(key="residual_nonneg").set_value(False).run()
    assert at.metric[1].value == "no"
    assert any("a[l] ≥ 0" in w.value for w in at.warning)
    at.toggle(key="residual_nonneg").set_value(True)
    at.radio(key="residual_block_shape").set_value("projection").run()
    assert not at.exception
    assert "ReLU(W_s a[l])" in at.metric[0].label
    assert [m.value for m in at.metric] == ["0", "yes"]


def test_a_session_joins_a_run_already_training_with_its_settings() -> None:
    """Issue 15: identical requests train once. Another session's run of the same settings is
    followed (progress, then its result), not started again."""
    from components import cache

    config = ExperimentConfig(depths=(8,), epochs=2, seed=23)
    runner = cache.job_runner()
    key = ("residual", config)
    job = runner.submit(key, run_experiment, config, subscriber="another session")
    at = _page().run()
    at.multiselect(key="residual_depths").set_value([8])
    at.number_input(key="residual_epochs").set_value(2)
    at.number_input(key="residual_seed").set_value(23)
    at.run()  # no click: the page finds the run in progress and follows it
    assert not at.exception
    assert any(s.value.startswith("Trained 2 networks") for s in at.success)
    assert runner.get(key) is job and job.state == "done"
    assert len(job.events) == 2 * 2  # one run: 2 networks × 2 epochs, never repeated


def test_the_gradient_chart_labels_every_decade_in_full() -> None:
    """Issue 21: the log axis labelled 500 and 200 as "5" and "2" (plotly's minor labels)."""
    from components.residual_charts import gradients_figure

    run = RunResult(8, "plain", 0, (EpochMetrics(1, 1.0, 0.5, 0.4, 0.1),),
                    ("conv1", "conv2", "fc"), (500.0, 2.0, 0.02), False)  # fmt: skip
    axis = gradients_figure([run]).layout.yaxis
    assert axis.type == "log" and axis.dtick == 1 and axis.tickformat == "~g"
