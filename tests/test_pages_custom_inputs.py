"""The Custom network page with stacks that take no image: an MLP, a 1-D conv net, tokens."""

from __future__ import annotations

from test_pages_explore import diagrams, metrics, page, table

from explorer.core.layer_math import commas

SHAPE = "Output (PyTorch order)"


def test_mlp_example_reads_as_features_not_pixels() -> None:
    at = page("custom_network")
    at.run()
    at.button(key="custom_ex_MLP on MNIST (784 inputs)").click().run()
    assert not at.exception and not at.error
    assert at.text_area(key="custom_spec").value == "input 784 | fc 128 relu | fc 10"
    assert metrics(at)["Parameters"] == commas(784 * 128 + 128 + 128 * 10 + 10)
    assert metrics(at)["MACs"] == commas(784 * 128 + 128 * 10)
    rows = table(at, SHAPE)
    assert list(rows["Layer"]) == ["fc1", "relu1", "fc2"]
    assert list(rows[SHAPE]) == ["128", "128", "10"]
    assert not any("n_H" in c or "Receptive" in c for c in rows.columns)
    assert "784 features" in at.info[0].value and "1×784" in at.info[0].value
    assert len(diagrams(at)) == 1 and not at.get("plotly_chart")  # no n_H/n_W/n_C chart


def test_1d_conv_example_and_a_token_model() -> None:
    at = page("custom_network")
    at.run()
    at.button(key="custom_ex_1-D conv on a sequence").click().run()
    assert not at.exception and not at.error
    rows = table(at, SHAPE)
    assert list(rows["Type"])[:4] == ["Conv1d", "ReLU", "MaxPool1d", "Conv1d"]
    assert list(rows[SHAPE])[:3] == ["16×124", "16×124", "16×62"]  # C×L, batch dropped
    formulas = list(rows["Output size ⌊(n + 2p − f)/s⌋ + 1"])
    assert formulas[0] == "⌊(128 + 2·0 − 5)/1⌋ + 1 = 124" and formulas[2].endswith("= 62")
    assert "128 positions × 4 channels" in at.info[0].value

    spec = "input 16 tokens | embedding 1000 32 | conv 8 3 | lstm 64 | fc 1000"
    at.text_area(key="custom_spec").set_value(spec).run()
    assert not at.exception and not at.error
    rows = table(at, SHAPE)
    assert list(rows["Layer"]) == ["embedding", "permute1", "conv1", "permute2", "lstm1", "fc1"]
    assert list(rows[SHAPE]) == ["16×32", "32×16", "8×14", "14×8", "14×64", "14×1000"]
    assert "16 token ids" in at.info[0].value
    assert len(diagrams(at)) == 1


def test_bad_layers_point_at_the_token_and_the_signature_field_works() -> None:
    at = page("custom_network")
    at.run()
    at.text_area(key="custom_spec").set_value("input 784 | fc 10 | conv 6 3").run()
    assert not at.exception
    assert "needs an image (HxWxC), a sequence (LxC) or a volume" in at.error[0].value
    assert any(">conv</mark>" in m.value for m in at.markdown)

    at.text_area(key="custom_spec").set_value("input 784 | fc 10").run()
    assert not at.exception and not at.error
    at.text_input(key="custom_inputs").set_value("8x784").run()
    assert not at.exception and not at.error
    assert list(table(at, "Dtype")["Shape"]) == ["8×784"]
    assert any(f"Output 8×10 · {commas(8 * 7840)} MACs" in c.value for c in at.caption)

    at.text_input(key="custom_inputs").set_value("8x1x28x28").run()  # an image: refused
    assert not at.exception and "cannot run on input" in at.error[0].value
    assert "designed for inputs 1x784" in at.error[0].value


def test_a_volume_is_not_mistaken_for_an_image_in_the_wrong_order() -> None:
    at = page("custom_network")
    at.run()
    at.text_area(key="custom_spec").set_value("input 4x64x64x1 | conv 8 3 | gap | fc 2").run()
    assert not at.exception and not at.error and not at.warning  # no 'H×W×C order' hint
    rows = table(at, SHAPE)
    assert list(rows["Type"])[:2] == ["Conv3d", "AdaptiveAvgPool3d"]
    assert list(rows[SHAPE])[:2] == ["8×2×62×62", "8×1×1×1"]
