"""The "How a layer computes" page under AppTest: every animation carries all its frames (the
browser steps through them without a script run), and the real-layer check shows ✓."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from components.prediction_widgets import RANDOM_CHOICE

PAGE = Path(__file__).resolve().parents[1] / "components" / "views" / "layer_arithmetic.py"


def _figures(at: AppTest) -> list[dict]:
    import json

    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def test_every_animation_is_sent_whole_and_reaches_the_lecture_numbers() -> None:
    at = AppTest.from_file(str(PAGE), default_timeout=180)
    at.run()
    assert not at.exception
    figures = _figures(at)
    conv = figures[0]
    assert len(conv["frames"]) == 16  # 4×4 outputs of the 6×6 ∗ 3×3 example
    last = conv["frames"][-1]
    assert last["data"][0]["z"] == [[0, 30, 30, 0]] * 4  # the slide's answer, filled in
    assert "= 0" in conv["frames"][0]["layout"]["title"]["text"]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Naive"] == "120,422,400"
    assert metrics["With the 1×1 bottleneck"] == "12,443,648"
    assert any("⌊(6 + 2·0 − 3)/1⌋ + 1 = 4" in m.value for m in at.markdown)


def test_a_real_layer_value_recomputed_by_hand_matches() -> None:
    at = AppTest.from_file(str(PAGE), default_timeout=180)
    at.run()
    at.number_input(key="ar_ch").set_value(2)
    at.number_input(key="ar_row").set_value(10).run()
    assert not at.exception
    forward = [m for m in at.metric if m.label == "The real forward pass gave"]
    assert forward and forward[0].delta == "✓ equal"


def test_any_network_with_weights_and_the_architecture_pages_link() -> None:
    """Issue 22: the real-layer view offered three networks only; now any network with
    weights (trained or seeded random), and ?arch=&layer= (the Architecture page's link)
    picks the network and the layer. A grouped (depthwise) layer names the one input channel
    its filter sees."""
    at = AppTest.from_file(str(PAGE), default_timeout=180)
    at.query_params["arch"] = "mobilenet_v2"
    at.query_params["layer"] = "features.2.conv.1.0"
    at.run()
    assert at.selectbox(key="ar_real_arch").value == "mobilenet_v2"
    assert len(at.selectbox(key="ar_real_arch").options) > 80  # every network with weights
    at.selectbox(key="ar_real_weights").set_value(RANDOM_CHOICE).run()
    assert not at.exception
    assert at.selectbox(key="ar_real_layer").value == "features.2.conv.1.0"
    at.number_input(key="ar_ch").set_value(5).run()
    forward = [m for m in at.metric if m.label == "The real forward pass gave"]
    assert forward and forward[0].delta == "✓ equal", [e.value for e in at.error]
    assert any("this filter sees input channel 5." in m.value for m in at.markdown)


def test_a_real_layer_shows_one_channels_products_and_every_channels_group_sum() -> None:
    """Issue 22: the view wrote only the total. Now one input channel's window, filter and
    products (the student picks which), and the sums of all channels in groups, which add up
    to the total the page shows."""
    at = AppTest.from_file(str(PAGE), default_timeout=180)
    at.query_params["arch"] = "resnet18"
    at.query_params["layer"] = "layer2.0.conv1"
    at.run()
    at.selectbox(key="ar_real_weights").set_value(RANDOM_CHOICE).run()
    at.number_input(key="ar_ch").set_value(7)
    at.number_input(key="ar_row").set_value(5)
    at.number_input(key="ar_look").set_value(33).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    window, groups = _figures(at)[-2:]
    assert [t["type"] for t in window["data"]] == ["heatmap"] * 3
    assert "input channel 33" in window["layout"]["annotations"][0]["text"]
    products = window["data"][2]["z"]
    assert products == [
        [a * b for a, b in zip(wrow, frow)]
        for wrow, frow in zip(window["data"][0]["z"], window["data"][1]["z"])
    ]
    bars = groups["data"][0]
    assert bars["y"][0] == "0–3" and len(bars["y"]) == 16  # 64 channels in 16 groups of 4
    total = float(groups["layout"]["title"]["text"].rsplit(" ", 1)[1])
    assert sum(bars["x"]) == pytest.approx(total, abs=1e-4)
    # resnet18's layer2.0.conv1 sees 51×51 pixels, outputs 8 apart: (5, 0) is centred on (40, 0)
    assert any("sees rows 15…65, columns -25…25 of the 224×224 picture" in m.value
               for m in at.markdown)  # fmt: skip
    at.number_input(key="ar_look").set_value(64).run()  # a channel this filter does not see
    assert any("sees input channels 0…63, not 64" in e.value for e in at.error)
