"""Plain vs residual experiment: networks, training mechanics, identity argument, CLI."""

from __future__ import annotations

import itertools
import json

import pytest
import torch

from explorer.cli import main
from explorer.core.errors import ExplorerError
from explorer.labs.residual_experiment import (
    DenseResidualBlock,
    ExperimentConfig,
    ExperimentError,
    build_network,
    identity_demo,
    load_digits_data,
    run_experiment,
)

# Small budgets: these check mechanics, the full effect is measured in benchmarks/.
TINY = dict(epochs=1, train_size=256, batch_size=64)


# --- identity argument ---------------------------------------------------------------


def test_zeroed_block_is_exactly_the_identity() -> None:
    torch.manual_seed(0)
    block = DenseResidualBlock(256, 256)
    a = torch.relu(torch.randn(8, 256))  # a[l] is a ReLU output: a ≥ 0
    with torch.no_grad():
        block.layer2.weight.zero_()
        block.layer2.bias.zero_()
        out = block(a)
    assert torch.equal(out, a)


def test_identity_demo_zeroed_vs_not() -> None:
    zeroed = identity_demo(256, 256)
    assert zeroed.exact and zeroed.max_abs_difference == 0.0
    assert zeroed.output == zeroed.input
    assert zeroed.expected_label == "a[l]"
    # Only the bias zeroed: W[l+2] a[l+1] is still added, the block is no longer the identity.
    weight_kept = identity_demo(256, 256, zero_weight=False)
    assert not weight_kept.exact and weight_kept.max_abs_difference > 0
    # Negative inputs are clipped by the final ReLU: the identity needs a ≥ 0.
    negative = identity_demo(256, 256, nonnegative_input=False)
    assert not negative.exact
    assert min(negative.input) < 0 and min(negative.output) == 0.0


def test_projection_block_returns_relu_of_ws_a() -> None:
    demo = identity_demo(128, 256)  # a[l] ∈ R^128, a[l+2] ∈ R^256, W_s is 256×128
    assert demo.expected_label == "ReLU(W_s a[l])"
    assert len(demo.input) == 128 and len(demo.output) == 256
    assert demo.exact and demo.max_abs_difference == 0.0
    torch.manual_seed(1)
    block = DenseResidualBlock(256, 128)
    assert block.projection is not None and tuple(block.projection.weight.shape) == (128, 256)
    a = torch.relu(torch.randn(4, 256))
    with torch.no_grad():
        block.layer2.weight.zero_()
        block.layer2.bias.zero_()
        assert torch.equal(block(a), torch.relu(block.projection(a)))


# --- networks --------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [8, 20, 56])
def test_networks_have_6n_plus_2_weighted_layers_and_identical_twins(depth: int) -> None:
    torch.manual_seed(100)  # the global RNG must not matter: the seed alone fixes the weights
    plain = build_network(depth, "plain", seed=3)
    torch.manual_seed(200)
    residual = build_network(depth, "residual", seed=3)
    assert len(plain.weighted_layers()) == depth
    # Option A shortcuts have no parameters: the twins share every weight at initialisation.
    p_state, r_state = plain.state_dict(), residual.state_dict()
    assert p_state.keys() == r_state.keys()
    assert all(torch.equal(p_state[k], r_state[k]) for k in p_state)
    x = torch.randn(2, 1, 8, 8)
    assert plain(x).shape == residual(x).shape == (2, 10)
    assert not torch.equal(plain.eval()(x), residual.eval()(x))  # the shortcut matters


def test_bad_settings_raise_clear_errors() -> None:
    with pytest.raises(ExperimentError, match="6n\\+2"):
        ExperimentConfig(depths=(10,))
    with pytest.raises(ExplorerError, match="Epochs"):
        ExperimentConfig(epochs=0)
    with pytest.raises(ExplorerError, match="plain"):
        build_network(8, "dense")
    data = load_digits_data(seed=0, train_size=1000)
    assert data.x_train.shape == (1000, 1, 8, 8) and len(data.y_test) == 797
    assert abs(float(data.x_train.mean())) < 1e-5


# --- training ----------------------------------------------------------------------------


def test_deeper_plain_trains_worse_deeper_residual_trains_better() -> None:
    # The page's picture at a small budget (default epochs and learning rate, half the
    # images, depths 8 and 20): plain training loss rises with depth, residual falls. Seeds
    # 0-3 all give this order with wide margins (residual-8 ≈ 0.8-1.1 vs residual-20 ≈ 0.3).
    result = run_experiment(ExperimentConfig(depths=(8, 20), seed=0, train_size=600))
    plain8, plain20 = result.run(8, "plain"), result.run(20, "plain")
    res8, res20 = result.run(8, "residual"), result.run(20, "residual")
    assert len(res20.train_loss) == len(plain20.train_loss) == result.config.epochs
    assert plain8.train_loss[-1] < plain20.train_loss[-1]
    assert plain8.train_error[-1] < plain20.train_error[-1]
    assert res8.train_loss[-1] > res20.train_loss[-1]
    assert res8.train_error[-1] > res20.train_error[-1]
    assert res20.train_loss[-1] < plain20.train_loss[-1]
    assert len(plain20.grad_norms) == 20 and all(g > 0 for g in plain20.grad_norms)


def test_learning_rate_schedule() -> None:
    cosine = ExperimentConfig(lr=0.02)
    assert cosine.schedule == "cosine"
    assert cosine.learning_rate(0, 100) == 0.02
    assert cosine.learning_rate(50, 100) == pytest.approx(0.01)
    assert 0 < cosine.learning_rate(99, 100) < 1e-5
    rates = [cosine.learning_rate(t, 100) for t in range(100)]
    assert all(a > b for a, b in itertools.pairwise(rates))
    constant = ExperimentConfig(lr=0.1, schedule="constant")
    assert {constant.learning_rate(t, 100) for t in range(100)} == {0.1}
    with pytest.raises(ExperimentError, match="schedule"):
        ExperimentConfig(schedule="step")  # type: ignore[arg-type]
    # The schedule changes the numbers: same seed, same batches, different steps.
    runs = [run_experiment(ExperimentConfig(depths=(8,), seed=0, schedule=s, **TINY))
            for s in ("cosine", "constant")]
    assert _numbers(runs[0]) != _numbers(runs[1])


def _numbers(result):  # everything but the wall-clock seconds
    runs = [{k: v for k, v in r.to_dict().items() if k != "seconds"} for r in result.runs]
    assert all(r["train_loss"] for r in runs)
    return runs


def test_same_seed_same_numbers_and_no_process_wide_change() -> None:
    """Issue 10: a run must not touch the thread count or the global RNG (other sessions
    share the process)."""
    threads = torch.get_num_threads()
    rng = torch.get_rng_state()
    config = ExperimentConfig(depths=(8,), seed=5, **TINY)
    first, second = run_experiment(config), run_experiment(config)
    assert _numbers(first) == _numbers(second)
    assert torch.get_num_threads() == threads and torch.equal(torch.get_rng_state(), rng)
    other = run_experiment(ExperimentConfig(depths=(8,), seed=6, **TINY))
    assert other.run(8, "plain").train_loss != first.run(8, "plain").train_loss


def test_progress_callback_sees_every_epoch_and_can_cancel() -> None:
    seen: list[tuple[str, int]] = []

    def stop_after_two(run, epoch, metrics) -> bool:
        seen.append((run.label, epoch))
        assert 0.0 <= metrics.train_error <= 1.0
        return len(seen) < 2

    result = run_experiment(ExperimentConfig(depths=(8, 20), seed=0, **{**TINY, "epochs": 2}),
                            stop_after_two)
    assert seen == [("plain-8", 1), ("plain-8", 2)]
    assert result.cancelled
    assert [r.label for r in result.runs] == ["plain-8"]
    assert len(result.runs[0].epochs) == 2


# --- CLI -----------------------------------------------------------------------------------


def test_cli_json_shape(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["experiment", "residual", "--depths", "8", "--epochs", "1", "--seed", "2",
            "--schedule", "constant", "--format", "json"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    payload = json.loads(captured.out)
    assert payload["config"]["schedule"] == "constant" and payload["config"]["lr"] == 0.02
    assert [(r["depth"], r["kind"]) for r in payload["runs"]] == [(8, "plain"), (8, "residual")]
    for run in payload["runs"]:
        assert len(run["train_loss"]) == len(run["train_error"]) == 1
        assert isinstance(run["train_loss"][0], float)
    assert "plain-8" in captured.err and "epoch   1/1" in captured.err  # progress on stderr


def test_cli_table_and_bad_depth(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["experiment", "residual", "--depths", "12", "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Depth 12 is not of the form 6n+2")
