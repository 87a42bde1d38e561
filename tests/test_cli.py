"""The `explorer` command line is a contract: other tools parse its JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from explorer.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_summary_json_contract(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "summary", "lenet5", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["architecture"] == "lenet5"
    assert doc["input_shape"] == [1, 1, 32, 32]
    assert doc["total_params"] == doc["trainable_params"] == 61_706
    assert doc["total_macs"] == 416_520
    names = [layer["name"] for layer in doc["layers"]]
    assert names[:2] == ["features", "features.0"]
    features = doc["layers"][0]
    assert features["params"] == 156 + 2_416 and features["macs"] == 117_600 + 240_000
    conv = doc["layers"][1]
    assert conv["output_shape"] == [1, 6, 28, 28] and conv["hyper"]["kernel_size"] == [5, 5]


def test_summary_input_batch_and_depth(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "summary", "resnet18", "--input", "3x64x64", "--batch", "2", "--depth", "1",
        "--format", "json",
    )
    doc = json.loads(out)
    assert code == 0 and doc["input_shape"] == [2, 3, 64, 64]
    assert {layer["depth"] for layer in doc["layers"]} == {1}
    assert doc["layers"][0]["output_shape"] == [2, 64, 32, 32]


def test_summary_table_and_formats(capsys: pytest.CaptureFixture[str]) -> None:
    _, table, _ = run(capsys, "summary", "conv5x5-naive")
    assert "120,422,400" in table and "28×28×32" in table
    _, csv, _ = run(capsys, "summary", "lenet5", "--format", "csv")
    assert csv.splitlines()[0].startswith("name,type,depth,output_shape,params")
    assert "features.0,Conv2d,2,1x6x28x28,156,156,117600" in csv
    _, md, _ = run(capsys, "summary", "lenet5", "--format", "markdown")
    assert "| features.0 | Conv2d | 28×28×6 | 156 | 117,600 |" in md


def test_summary_of_a_layer_stack(capsys: pytest.CaptureFixture[str]) -> None:
    spec = (
        "input 32x32x1 | conv 6 5x5 | avgpool 2 | conv 16 5x5 | avgpool 2 | fc 120 | fc 84 | fc 10"
    )
    code, out, _ = run(capsys, "summary", spec, "--format", "json")
    assert code == 0
    assert json.loads(out)["input_shape"] == [1, 1, 32, 32]


def test_list_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "list", "--format", "json")
    rows = json.loads(out)
    names = {r["name"] for r in rows}
    assert code == 0
    assert {"lenet5", "alexnet-paper", "vgg16-c", "resnet50-paper", "googlenet-paper"} <= names
    assert {"resnet50", "vit_h_14", "regnet_y_128gf"} <= names
    vit = next(r for r in rows if r["name"] == "vit_h_14")
    assert vit["input_size"] == [3, 518, 518] and vit["has_weights"]


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["summary", "resnet5"], "Did you mean"),
        (["summary", "alexnet", "--input", "3x32x32"], "features.12"),
        (["summary", "lenet5", "--input", "banana"], "banana"),
    ],
)
def test_errors_exit_2_with_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and needle in err and err.count("\n") == 1


def test_console_script_runs() -> None:
    """The installed entry point, as a user types it (also proves no traceback on error)."""
    ok = subprocess.run([sys.executable, "-m", "explorer.cli", "summary", "lenet5", "--depth", "1"],
                        capture_output=True, text=True)
    assert ok.returncode == 0 and "Total params: 61,706" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "explorer.cli", "summary", "nosuchnet"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


# --- odd arguments (issue 10 item 6): one line `error: ...`, exit status 2, never a traceback --

HUGE = "9223372036854775807"
ODD_ARGUMENTS = [
    ["summary", "lenet5", "--batch", HUGE],
    ["summary", "lenet5", "--batch", "0"],
    ["summary", "lenet5", "--batch", "-3"],
    ["summary", "lenet5", "--batch", "1e3"],
    ["augment", "--sample", "cat", "--seed", "-1"],
    ["augment", "--sample", "cat", "--seed", "1" + "0" * 22],
    ["augment", "--sample", "cat", "--n", "0"],
    ["augment", "--sample", "cat", "--n", HUGE],
    ["augment", "--sample", "cat", "--columns", "-2"],
    ["augment", "--sample", "cat", "--out", "/nonexistent-folder/grid.png"],
    ["augment", "--sample", "cat", "--out", "/tmp"],
    ["augment", "--sample", "cat", "--out", "grid.jpg"],
    ["augment", "--sample", "cat", "--pipeline", "/nonexistent.json"],
    ["augment", "/nonexistent.png", "--out", "/tmp/x.png"],
    ["experiment", "residual", "--lr", "1e308"],
    ["experiment", "residual", "--lr", "nan"],
    ["experiment", "residual", "--lr", "-0.1"],
    ["experiment", "residual", "--seed", "-1"],
    ["experiment", "residual", "--epochs", HUGE],
    ["experiment", "residual", "--batch-size", HUGE],
    ["experiment", "residual", "--depths", "8", HUGE],
    ["experiment", "residual", "--threads", "64"],
    ["train", "lenet5-digits", "--seed", "-1"],
    ["train", "lenet5-digits", "--epochs", "0"],
    ["train", "lenet5-digits", "--epochs", HUGE],
    ["train", "lenet5-digits", "-o", "/tmp"],
    ["train", "lenet5-digits", "-o", "/nonexistent-folder/m.safetensors"],
    ["train", "lenet5-digits", "-o", "m.json"],
    ["diagram", "lenet5", "-o", "/tmp"],
    ["diagram", "lenet5", "-o", "/nonexistent-folder/d.svg"],
    ["app", "--port", "-1"],
    ["app", "--port", "70000"],
    ["app", "--port", "http"],
    ["predict", "lenet5-digits", "/nonexistent.png"],
    ["predict", "lenet5-digits", "IMAGE", "--top", "0"],
    ["predict", "conv5x5-naive", "IMAGE", "--weights", "random"],
    ["predict", "lenet5", "IMAGE", "--weights", "/nonexistent.pt"],
    ["nosuchcommand"],
]


def test_odd_arguments_end_in_one_error_line_and_status_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    image = tmp_path / "digit.png"
    Image.new("RGB", (28, 28), "white").save(image)
    failures = []
    for argv in ODD_ARGUMENTS:
        argv = [str(image) if a == "IMAGE" else a for a in argv]
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse's own exit (after our one-line message)
            code = int(exc.code or 0)
        _, err = capsys.readouterr()
        if code != 2 or not err.startswith("error: ") or err.count("\n") != 1:
            failures.append((argv, code, err[-300:]))
    assert failures == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["digit.png"]  # nothing written


def test_channel_mismatch_is_explained(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    image = tmp_path / "digit.png"
    Image.new("RGB", (28, 28), "white").save(image)
    code, _, err = run(capsys, "predict", "conv5x5-naive", str(image), "--weights", "random")
    assert code == 2 and "takes 192-channel inputs" in err


def test_a_genuine_bug_keeps_its_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    from explorer.cli.commands import list as list_command

    def broken(args: object) -> int:
        raise ZeroDivisionError("a bug, not a user error")

    monkeypatch.setattr(list_command, "run", broken)
    with pytest.raises(ZeroDivisionError):
        main(["list"])
