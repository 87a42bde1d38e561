"""explorer.analysis.pricing: every refused input, with its one-sentence message (issue 10 item 6).

Each refusal happens before the work: the estimates come from a meta-device trace, so the
tests below allocate nothing large."""

from __future__ import annotations

import resource
import time
from pathlib import Path

import pytest

from explorer.analysis import pricing as budgets
from explorer.analysis.building import build_model
from explorer.analysis.trace import trace
from explorer.cli import main
from explorer.core import limits
from explorer.core.errors import BudgetError, ExplorerError
from explorer.labs.residual_experiment import ExperimentConfig

ASSETS = Path(__file__).resolve().parents[1] / "assets"
WIDE = "input 1x1x1 | fc 20000 | fc 99000"  # the 7.9 GB stack
HUGE_INPUT = "input 4096x4096x3 | conv 64 3 p1 | gap | fc 10"  # the 5 GB prediction


def _refusal(call, *args, **kwargs) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(BudgetError) as caught:
        call(*args, **kwargs)
    error = caught.value
    assert isinstance(error, ExplorerError) and isinstance(error, ValueError)
    message = str(error)
    assert "\n" not in message and message.endswith(".")
    return message


# --- Typed stacks: traced on meta, real weights only within budget -------------------------


def test_a_typed_stack_traces_on_meta_whatever_its_size() -> None:
    """Issue 10 item 3: a 100M-parameter stack cost +382 MB and 3.9 s on every resolve()."""
    trace("input 8x8x1 | fc 10")  # imports and first-call set-up
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    t = trace("input 1x1x1 | fc 10000 | fc 10000")
    assert t.total_params == 100_030_000
    assert trace(WIDE).total_params == 1_980_139_000  # 7.4 GiB of weights, none allocated
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50 * 1024  # KiB
    assert time.perf_counter() - start < 30  # generous: it takes milliseconds


def test_real_build_of_a_stack_over_the_weight_budget() -> None:
    assert _refusal(build_model, WIDE) == (
        "'input 1x1x1 | fc 20000 | fc 99000' needs 7.4 GiB of weights (1,980,139,000 "
        "parameters × 4 bytes); the limit for a real build is 1 GiB."
    )


def test_real_build_of_a_stack_over_the_activation_budget() -> None:
    assert _refusal(build_model, HUGE_INPUT) == (
        "One forward pass of 'input 4096x4096x3 | conv 64 3x3 p1 | globalavgpool | fc 10' at "
        "batch 10 (a ten-crop prediction) needs 41.9 GiB of activations; the limit is 1 GiB."
    )


def test_real_build_of_a_stack_over_the_mac_budget() -> None:
    assert _refusal(build_model, "input 64x64x2048 | conv 2048 3 p1") == (
        "One forward pass of 'input 64x64x2048 | conv 2048 3x3 p1' at batch 10 (a ten-crop "
        "prediction) needs 1,546.2 G multiply-accumulates; the limit is 1,000.0 G."
    )


def test_a_stack_within_budget_builds_for_real() -> None:
    model = build_model("input 32x32x3 | conv 8 3 p1 relu | gap | fc 10")
    assert all(p.device.type == "cpu" for p in model.parameters())


def test_predict_cli_refuses_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    """The issue's `explorer predict` grew to 5 GB and died with an allocator traceback."""
    image = str(ASSETS / "samples" / "cat.jpg")
    assert main(["predict", HUGE_INPUT, image, "--weights", "random"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: One forward pass of") and "41.9 GiB" in err
    assert "Traceback" not in err and len(err.splitlines()) == 1


# --- Forward passes and trace inputs ------------------------------------------------------------


def test_forward_batch_budget() -> None:
    cost = budgets.estimate("lenet5", batch_size=300)
    assert _refusal(budgets.check_forward, cost, "'lenet5'") == (
        "'lenet5' was asked to run 300 images at once; the limit is 256."
    )
    assert budgets.check_forward(budgets.estimate("lenet5", batch_size=256), "'lenet5'")


def test_estimate_reads_the_meta_trace() -> None:
    cost = budgets.estimate("vgg16")
    assert cost.params == 138_357_544 and cost.param_bytes == 4 * 138_357_544
    assert cost.macs == 15_470_264_320
    assert cost.peak_forward_bytes == (64 + 64) * 224 * 224 * 4  # conv1_2: 64 maps in, 64 out


def test_trace_refuses_a_huge_batch_before_any_work() -> None:
    from explorer.analysis.trace import trace

    with pytest.raises(BudgetError, match="The batch size is 10,000,000,000,000,000,000; it"):
        trace("resnet18", (3, 224, 224), 10**19)
    with pytest.raises(BudgetError, match="20,000 pixels on a side; the limit is 8,192"):
        trace("resnet18", (3, 20_000, 224))


@pytest.mark.parametrize(
    ("input_size", "batch", "message"),
    [
        ((3, 20_000, 20_000), 1, "The input is 20,000 pixels on a side; the limit is 8,192."),
        ((200_000, 32, 32), 1, "The input has 200,000 channels; the limit is 4,096."),
        ((3, 32, 32), 0, "The batch size is 0; it must be between 1 and 1,000,000."),
        (
            None,
            9_223_372_036_854_775_807,
            "The batch size is 9,223,372,036,854,775,807; it must be between 1 and 1,000,000.",
        ),
    ],
)
def test_trace_request_budget(input_size: tuple[int, int, int] | None, batch: int,
                              message: str) -> None:  # fmt: skip
    assert _refusal(limits.check_trace_request, input_size, batch) == message


# --- The residual experiment -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"depths": (116,)}, "A 116-layer network is deeper than the limit of 110 layers."),
        ({"epochs": 101}, "101 epochs is more than the limit of 100."),
        (
            {"depths": (8, 14, 20, 32, 44, 56), "epochs": 41},
            "Depths 8 + 14 + 20 + 32 + 44 + 56 for 41 epochs is 7,134 layer-epochs of "
            "training; the limit is 7,000.",
        ),
    ],
)
def test_residual_budget(settings: dict[str, object], message: str) -> None:
    assert _refusal(ExperimentConfig, **settings) == message


def test_the_residual_page_settings_fit_the_budget() -> None:
    ExperimentConfig(depths=(8, 14, 20, 32, 44, 56), epochs=40)  # the page's largest


def test_residual_cli_refuses_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["experiment", "residual", "--depths", "8", "14", "20", "32", "44", "56"]
    assert main([*argv, "--epochs", "41"]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: Depths 8 + 14 + 20 + 32 + 44 + 56 for 41 epochs is 7,134 layer-epochs of "
        "training; the limit is 7,000."
    )


# --- Transfer learning ---------------------------------------------------------------------


def test_transfer_budgets() -> None:
    assert _refusal(limits.check_transfer_images, 501) == (
        "501 images is more than the 500 whose features one request may compute."
    )
    assert _refusal(limits.check_transfer_training, 10, 10, 2001) == (
        "2,001 training steps is outside the allowed 1 to 2,000."
    )
    assert _refusal(limits.check_transfer_training, 2_000, 30_000, 100) == (
        "2,000 examples × 30,000 features is 60,000,000 values; the limit for training a new "
        "head is 50,000,000."
    )


@pytest.mark.parametrize(
    ("arch", "kwargs"),
    [
        ("input 67108864 tokens | embedding 10 2 | lstm 2 | fc 2", {}),  # grew past 8 GB
        ("input 1000000 tokens | embedding 10 2 | lstm 2 | fc 2", {}),  # 323 s of CPU
        ("input 16 tokens | embedding 10 2 | lstm 2 | fc 2", {"inputs": "1x67108864:int64"}),
    ],
)
def test_recurrent_steps_are_priced_before_they_run(arch: str, kwargs: dict) -> None:
    with pytest.raises(BudgetError, match=r"time steps through recurrent layers.*limit is 8,192"):
        trace(arch, **kwargs)


def test_recurrent_steps_count_layers_and_directions() -> None:
    from torch import nn

    class Tagger(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = nn.LSTM(4, 8, num_layers=2, bidirectional=True, batch_first=True)

        def forward(self, x):  # type: ignore[no-untyped-def]
            return self.rnn(x)[0]

    assert trace(Tagger(), inputs="1x2048x4").total_params > 0  # 2,048 × 2 × 2 = 8,192 steps
    with pytest.raises(BudgetError, match="8,196 time steps"):
        trace(Tagger(), inputs="1x2049x4")  # 8,196 steps
