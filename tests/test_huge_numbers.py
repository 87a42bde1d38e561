"""A whole number longer than any real one (Python refuses to convert more than 4,300 digits)
gets one clear error in every place a user types numbers, never a traceback."""

from __future__ import annotations

import pytest

import explorer
from explorer.cli import main
from explorer.core.errors import ExplorerError

HUGE = "9" * 5000


@pytest.mark.parametrize(
    "stack",
    [
        f"input {HUGE}x32x1 | fc 10",
        f"input 32x32x1 | conv {HUGE} 3 | fc 10",
        f"input 32x32x1 | conv 6 {HUGE} | fc 10",
        f"input 32x32x1 | conv 6 3 s{HUGE} | fc 10",
        f"input 32x32x1 | conv 6 3 stride {HUGE} | fc 10",
        f"input 32x32x1 | maxpool {HUGE} | fc 10",
        f"input 32x32x1 | fc {HUGE}",
        f"input {HUGE} tokens | embedding 10 2 | fc 2",
        f"input 16 tokens | embedding {HUGE} 2 | fc 2",
        f"input 16x4 seq | lstm {HUGE} | fc 2",
    ],
)
def test_a_stack_with_a_huge_number_is_a_spec_error(stack: str) -> None:
    with pytest.raises(explorer.SpecError) as caught:
        explorer.trace(stack)
    assert len(str(caught.value)) < 600  # the number is not echoed back whole


@pytest.mark.parametrize(
    ("call", "kwargs"),
    [
        ("resnet18", {"inputs": f"1x{HUGE}"}),
        ("resnet18", {"inputs": f"1x3x{HUGE}x224"}),
        ("resnet18", {"input_size": f"3x{HUGE}x224"}),
    ],
)
def test_a_signature_with_a_huge_number_is_an_input_error(call: str, kwargs: dict) -> None:
    with pytest.raises(ExplorerError) as caught:
        explorer.trace(call, **kwargs)
    assert len(str(caught.value)) < 600


@pytest.mark.parametrize(
    "argv",
    [
        ["summary", f"input {HUGE}x32x1 | fc 10"],
        ["summary", "lenet5", "--input", f"1x{HUGE}x32"],
        ["summary", "lenet5", "--batch", HUGE],
        ["summary", "lenet5", "--depth", HUGE],
        ["predict", "lenet5", "assets/samples/cat.jpg", "--top", HUGE],
        ["augment", "assets/samples/cat.jpg", "--n", HUGE],
    ],
)
def test_the_command_line_says_one_line(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        status = main(argv)
    except SystemExit as exit_:  # argparse's own refusal of an option's value
        status = exit_.code
    err = capsys.readouterr().err.strip()
    assert status == 2 and err.startswith("error:")
    assert "Traceback" not in err and len(err.splitlines()) == 1 and len(err) < 600
