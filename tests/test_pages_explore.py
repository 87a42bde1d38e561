"""The Explore pages under Streamlit's AppTest: values shown, errors shown (never a traceback)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from streamlit.testing.v1 import AppTest

import explorer
from components import diagram_view
from explorer.core.layer_math import commas

PAGES = Path(__file__).resolve().parents[1] / "components" / "views"
TIMEOUT = 120


def page(name: str) -> AppTest:
    return AppTest.from_file(str(PAGES / f"{name}.py"), default_timeout=TIMEOUT)


def table(at: AppTest, column: str):  # type: ignore[no-untyped-def]
    """The first dataframe shown with `column` (AppTest does not expose dataframe keys)."""
    for df in at.dataframe:
        if column in df.value.columns:
            return df.value
    raise AssertionError(f"no table with a {column!r} column")


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def diagrams(at: AppTest) -> list[str]:
    """The block diagrams shown: SVG drawn on the server, carried by the pan-and-zoom view."""
    bodies = [h.proto.body for h in at.get("html")]
    return [svg for svg in map(diagram_view.svg_of, bodies) if svg is not None]


def test_architecture_page_shows_exact_numbers_and_published_check() -> None:
    at = page("architecture")
    at.query_params["arch"] = "resnet18"
    at.run()
    assert not at.exception
    shown = metrics(at)
    t = explorer.trace("resnet18")
    assert shown["Parameters"] == "11,689,512"
    assert shown["MACs"] == commas(t.total_macs)
    assert shown["FLOPs"] == commas(2 * t.total_macs)
    published = table(at, "Check")
    assert published["Check"].iloc[0] == "✓"  # 11,689,512 is torchvision's num_params
    layers = table(at, "Layer")
    conv1 = layers[layers["Layer"] == "conv1"].iloc[0]
    assert conv1["Output n_H×n_W×n_C"] == "112×112×64"
    assert conv1["Output size ⌊(n + 2p − f)/s⌋ + 1"] == "⌊(224 + 2·3 − 7)/2⌋ + 1 = 112"
    assert conv1["Receptive field"] == "7×7"
    assert shown["Depth (weight layers)"] == "18"
    # Two charts: MACs above parameters on one layer axis, and the n_H, n_W, n_C chart.
    bars, shapes = (json.loads(c.proto.spec) for c in at.get("plotly_chart"))
    macs, params = bars["data"]
    assert macs["x"] == params["x"] and macs["x"][:2] == ["conv1", "bn1"]
    assert (macs["y"][0], params["y"][0]) == (t.layer("conv1").macs, t.layer("conv1").params)
    assert params["xaxis"] == "x2" and bars["layout"]["xaxis"]["matches"] == "x2"  # shared
    assert [d["name"] for d in shapes["data"]][-1] == "n_C (channels)"
    (svg,) = diagrams(at)
    assert svg.count('class="node"') >= 10 and "\n" not in svg
    assert [b.proto.label for b in at.get("download_button")] == [
        "Layer table (CSV)", "Trace (JSON)", "Diagram (DOT)", "Diagram (SVG)", "Diagram (PNG)",
    ]  # fmt: skip

    # A smaller input: every number follows.
    at.number_input(key="arch_h_resnet18").set_value(112)
    at.number_input(key="arch_w_resnet18").set_value(112).run()
    assert not at.exception
    small = explorer.trace("resnet18", input_size=(3, 112, 112))
    assert metrics(at)["MACs"] == commas(small.total_macs)
    assert at.warning, "published figures are for 224×224: the page must say so"


def test_architecture_page_switches_network_and_reports_bad_sizes() -> None:
    at = page("architecture")
    at.run()
    assert at.selectbox(key="arch_family").value == "All families"
    at.selectbox(key="arch_name").set_value("lenet5").run()
    assert not at.exception
    assert metrics(at)["Parameters"] == "61,706"
    at.number_input(key="arch_h_lenet5").set_value(28).run()  # fc 400 now gets 256 features
    assert not at.exception
    assert at.error and "lenet5" in at.error[0].value
    assert not at.metric  # nothing half-drawn after the error


def test_architecture_page_paper_figures_and_diagram_depth() -> None:
    at = page("architecture")
    at.query_params["arch"] = "googlenet-paper"
    at.run()
    assert not at.exception
    published = table(at, "Check")
    assert "inception3a MACs" in list(published["Figure"])
    assert any(e.label.startswith("Notes on the published figures") for e in at.expander)
    layers = table(at, "Layer")  # opened at the level of Table 1's rows
    row = layers[layers["Layer"] == "inception3a"].iloc[0]
    assert row["MACs"] == explorer.trace("googlenet-paper").layer("inception3a").macs
    assert row["Output n_H×n_W×n_C"] == "28×28×256"

    at.checkbox(key="arch_auto_depth").uncheck().run()
    at.slider(key="arch_diagram_depth_googlenet-paper").set_value(1).run()
    assert not at.exception
    (svg,) = diagrams(at)
    assert ">inception3a<" in svg and ">inception5b<" in svg
    assert "branch1" not in svg  # depth 1: each inception module is one box
    assert "Layers" not in metrics(at)
    assert metrics(at)["Depth (weight layers)"] == "22"  # the paper's count, not 133 modules

    at.slider(key="arch_diagram_depth_googlenet-paper").set_value(2).run()
    (svg,) = diagrams(at)
    assert ">1×1 conv, 96 + ReLU<" in svg and ">3×3 conv, 128 + ReLU<" in svg  # not BasicConv2d
    assert ">64 + 128 + 32 + 32 → 256<" in svg


def test_architecture_page_unknown_name_in_the_address() -> None:
    at = page("architecture")
    at.query_params["arch"] = "resnet5"
    at.run()
    assert not at.exception
    assert "resnet5" in at.error[0].value and "resnet50" in at.error[0].value
    assert "Showing `lenet5`" in at.error[0].value  # where the lecture starts


def test_compare_classics_preset() -> None:
    at = page("compare")
    at.run()
    assert not at.exception
    at.button(key="compare_preset").click().run()
    assert not at.exception
    shown = table(at, "Architecture")
    papers = ["lenet5", "alexnet-paper", "vgg16-paper", "resnet152-paper", "googlenet-paper"]
    assert list(shown["Architecture"]) == papers  # the lecture's networks, as the papers build them
    depth = dict(zip(shown["Architecture"], shown["Weight layers"]))
    assert list(depth.values()) == [5, 8, 16, 152, 22]
    params = dict(zip(shown["Architecture"], shown["Params"]))
    assert params["alexnet-paper"] == 60_965_224 and params["vgg16-paper"] == 138_357_544
    assert params["googlenet-paper"] == 6_998_552
    top1 = dict(zip(shown["Architecture"], shown["ImageNet top-1 %"]))
    assert top1["lenet5"] == "—"  # not "None"
    weights_shown = dict(zip(shown["Architecture"], shown["Weights"]))
    assert weights_shown["lenet5"] == "241.0 KiB" and weights_shown["vgg16-paper"] == "527.8 MiB"
    assert len(at.get("plotly_chart")) == 2  # no top-1 chart: the papers' nets have no weights

    at.multiselect(key="compare_names").set_value(["resnet152", "vgg16"]).run()
    top1 = dict(zip(table(at, "Architecture")["Architecture"],
                    table(at, "Architecture")["ImageNet top-1 %"]))  # fmt: skip
    assert top1["resnet152"] == "82.28"  # DEFAULT = IMAGENET1K_V2 weights
    assert len(at.get("plotly_chart")) == 3

    at.multiselect(key="compare_names").set_value(["vgg16"]).run()
    assert at.info and not at.exception  # one network: a hint, not an error


def test_cost_lab_lecture_numbers_and_cross_check() -> None:
    at = page("cost_lab")
    at.run()
    assert not at.exception
    shown = metrics(at)
    assert shown["Naive MACs"] == "120,422,400"
    assert shown["Bottleneck MACs"] == "12,443,648"
    assert "9.7× cheaper" in at.success[0].value
    check = table(at, "Match")
    assert list(check["Match"]) == ["✓", "✓"]
    assert shown["Output"] == "28×28×256" and shown["MACs"] == "128,049,152"
    grids = next(m.value for m in at.markdown if "6×6×1 output" in m.value)
    numbers = [float(v) for v in re.findall(r"<td[^>]*>([-\d.]+)</td>", grids)]
    assert numbers[:6] == [1, 2, 3, 6, 5, 8]  # the lecture's 6×6 example
    assert numbers[36:42] == [2, 4, 6, 12, 10, 16]  # ∗ 2
    assert "∗ 2 =" in grids

    at.select_slider(key="cost_f").set_value(3)
    at.slider(key="cost_b").set_value(192).run()  # a bottleneck as wide as the input
    shown = metrics(at)
    assert shown["Naive MACs"] == commas(28 * 28 * 32 * 3 * 3 * 192)
    assert shown["Bottleneck MACs"] == commas(28 * 28 * 192 * 192 + 28 * 28 * 32 * 3 * 3 * 192)
    assert "more expensive" in at.warning[0].value and not at.success
    assert list(table(at, "Match")["Match"]) == ["✓", "✓"]


def test_custom_network_traces_and_marks_the_bad_token() -> None:
    at = page("custom_network")
    at.run()
    assert not at.exception
    assert metrics(at)["Parameters"] == "61,706"  # the lecture's LeNet-5
    assert metrics(at)["Activations"] == "58.6 KiB"  # not "0.1 MiB"
    assert len(diagrams(at)) == 1

    at.text_area(key="custom_spec").set_value("input 32x32x1 | conv 6 5x5 | avgpol 2 | fc 10")
    at.run()
    assert not at.exception
    assert "avgpool" in at.error[0].value  # did you mean
    assert any("<mark" in m.value and ">avgpol</mark>" in m.value for m in at.markdown)
    assert any("character 30" in c.value for c in at.caption)

    at.text_area(key="custom_spec").set_value("resnet50").run()
    assert not at.exception and "layer stack" in at.error[0].value

    at.text_area(key="custom_spec").set_value("input 1x32x32 | conv 6 5x5 | fc 10").run()
    assert not at.exception and at.error  # a 5×5 kernel on a 1-pixel-high input
    assert "height × width × channels" in at.info[0].value
    assert "input 32x32x1" in at.info[0].value

    at.text_area(key="custom_spec").set_value("conv 6 5x5 | gap | fc 10").run()
    assert not at.exception and not at.error
    assert "224×224×3" in at.info[0].value  # said, not silently assumed


def test_app_entry_routes_to_the_architecture_page() -> None:
    at = AppTest.from_file(str(PAGES.parent / "app.py"), default_timeout=TIMEOUT)
    assert "explorer_tab_open" not in at.session_state
    at.run()
    assert not at.exception
    assert at.title[0].value == "Architecture"
    # The tab now shows a page: its next run (a click) goes before tabs being opened.
    assert at.session_state["explorer_tab_open"] is True


def test_custom_network_input_signature_field() -> None:
    at = page("custom_network")
    at.run()
    spec = "input 32x32x1 | conv 6 5x5 tanh | avgpool 2 | fc 10"
    at.text_area(key="custom_spec").set_value(spec).run()
    assert not at.exception and not at.error

    at.text_input(key="custom_inputs").set_value("8x1x32x32").run()
    assert not at.exception and not at.error
    rows = table(at, "Dtype")
    assert list(rows["Argument"]) == ["input 1"]
    assert list(rows["Shape"]) == ["8×1×32×32"] and list(rows["Dtype"]) == ["float32"]
    # conv: 28·28·6·25 MACs, fc: 6·14·14·10 MACs, per picture; 8 pictures
    macs = 8 * (28 * 28 * 6 * 25 + 6 * 14 * 14 * 10)
    assert any(f"Output 8×10 · {commas(macs)} MACs" in c.value for c in at.caption)
    params = 6 * 25 + 6 + 6 * 14 * 14 * 10 + 10
    assert any(f"{commas(params)} parameters" in c.value for c in at.caption)

    at.text_input(key="custom_inputs").set_value("8x1x32x3x").run()
    assert not at.exception and "character 9" in at.error[0].value

    at.text_input(key="custom_inputs").set_value("2x16:int64").run()
    assert not at.exception and "cannot run on input" in at.error[0].value
    assert list(table(at, "Dtype")["Dtype"]) == ["int64"]  # what was asked, then why not


def test_layer_table_columns_fit_their_widest_number() -> None:
    """The grid sizes a column from its first rows: VGG-style's fc1 (1,048,832 parameters, row
    13) was drawn as ',048,832' at projector size. The column width now comes from the widest
    value."""
    import json

    at = page("custom_network")
    at.session_state["custom_spec"] = (
        "input 32x32x3 | conv 32 3x3 same relu | conv 32 3x3 same relu | maxpool 2 | "
        "conv 64 3x3 same relu | conv 64 3x3 same relu | maxpool 2 | fc 256 relu | fc 10"
    )
    at.run()
    assert not at.exception
    grid = next(df for df in at.dataframe if "Params" in df.value.columns)
    config = json.loads(grid.proto.columns)
    widths = {name: config[name]["width"] for name in ("Params", "MACs")}
    assert max(grid.value["Params"]) == 1_048_832
    # 9 characters ("1,048,832") at 9 px each, plus the cell's padding
    assert widths["Params"] >= 9 * len("1,048,832") + 28
    assert widths["MACs"] >= 9 * len("9,437,184") + 28


def test_user_text_in_an_error_shows_as_typed() -> None:
    """`input 32*32*1` came back as 'input 32321' with 32 in italics: Markdown ate the stars."""
    from components.markdown import plain

    assert plain("input 32*32*1 | conv_6") == r"input 32\*32\*1 \| conv_6"
    at = page("custom_network")
    at.run()
    at.text_area(key="custom_spec").set_value("input 32*32*1 | conv 6 5x5 | fc 10").run()
    assert not at.exception and at.error
    assert r"32\*32\*1" in at.error[0].value  # escaped: the page shows the stars themselves


def test_the_architecture_page_links_to_its_layers_arithmetic() -> None:
    """Issue 22: a layer's arithmetic is reached from the network being explored."""
    at = page("architecture")
    at.query_params["arch"] = "lenet5"
    at.run()
    assert any("](layer_arithmetic?arch=lenet5-digits)" in m.value for m in at.markdown)
    at = page("architecture")
    at.query_params["arch"] = "alexnet-paper"  # built from the paper: no weights to step through
    at.run()
    assert not any("layer_arithmetic?" in m.value for m in at.markdown)
