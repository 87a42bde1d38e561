"""AppTest: the Look inside page (and the class-activation-map view on Predict)."""

from __future__ import annotations

import json
from pathlib import Path

from streamlit.testing.v1 import AppTest

from explorer.labs import digits

PAGES = Path(__file__).resolve().parents[1] / "components" / "views"
PICTURE = "A picture (sample or upload)"


def _page(name: str) -> AppTest:
    return AppTest.from_file(str(PAGES / f"{name}.py"), default_timeout=180)


def _captions(at: AppTest) -> list[str]:
    return [img.proto.imgs[0].caption for img in at.get("image")]


def _figures(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def test_blank_canvas_asks_for_a_digit() -> None:
    at = _page("inside").run()
    assert not at.exception and not at.error
    assert any("Draw a digit" in i.value for i in at.info)


def test_a_sample_digit_shows_prediction_grids_and_bar_charts() -> None:
    at = _page("inside").run()
    at.radio(key="inside_source").set_value(PICTURE).run()
    assert not at.exception and not at.error
    _, label = digits.sample_photo(0)
    assert at.subheader[0].value.startswith(f"Prediction: {label} — ")
    facts = next(m.value for m in at.markdown if m.value.startswith("Input n_H×n_W×n_C"))
    assert facts.startswith("Input n_H×n_W×n_C **32×32×1** · forward pass **")
    assert facts.endswith(" ms** (recording every layer) · device **cpu**")
    shapes = [c.value.split(" · ")[0] for c in at.caption if " · features." in c.value]
    assert shapes == ["**28×28×6**", "**14×14×6**", "**10×10×16**", "**5×5×16**"]
    titles = [f["layout"]["title"]["text"] for f in _figures(at) if f["layout"].get("title")]
    assert titles == ["classifier.0: 120 values", "classifier.2: 84 values", "logits: 10 values"]
    assert not at.warning  # trained weights


def test_views_one_layer_filters_and_where_it_looks() -> None:
    at = _page("inside").run()
    at.radio(key="inside_source").set_value(PICTURE).run()
    at.segmented_control(key="inside_view").set_value("One layer").run()
    assert not at.exception and not at.error
    at.selectbox(key="inside_one_layer").set_value("features.3").run()
    heatmaps = [t for t in _figures(at)[-1]["data"] if t["type"] == "heatmap"]
    assert len(heatmaps) == 16  # every channel of 10×10×16
    assert heatmaps[0]["z"]["shape"] == "10, 10" and "channel 0" in heatmaps[0]["hovertemplate"]
    assert "mean" in heatmaps[0]["hovertemplate"]
    assert len([c for c in _captions(at) if c.startswith("channel ")]) == 8  # the strongest
    # issue 22: from here to this layer's arithmetic, network and layer picked there
    assert any("](layer_arithmetic?arch=lenet5-digits&layer=features.3)" in m.value
               for m in at.markdown)  # fmt: skip

    at.segmented_control(key="inside_view").set_value("Filters").run()
    assert not at.exception
    assert any("6 filters of 5×5×1" in c.value for c in at.caption)

    at.segmented_control(key="inside_view").set_value("Where it looks").run()
    assert not at.exception and not at.error
    _, label = digits.sample_photo(0)
    captions = _captions(at)[1:]  # after the page's own "What the network saw"
    assert captions[0] == "what the network saw"
    assert captions[1].startswith(f"Grad-CAM: {label} (")
    assert captions[2].startswith(f"occlusion: {label} (")  # on by default for LeNet
    at.selectbox(key="inside_cam_method").set_value("gradcam++").run()
    assert _captions(at)[2].startswith("Grad-CAM++: ")
    at.selectbox(key="inside_cam_class").set_value(3).run()
    assert _captions(at)[2].startswith("Grad-CAM++: 3 (")


def test_random_weights_are_labelled() -> None:
    at = _page("inside").run()
    at.radio(key="inside_source").set_value(PICTURE).run()
    at.selectbox(key="inside_weights").set_value("random weights (predictions are meaningless)")
    at.run()
    assert not at.exception
    assert any("meaningless" in w.value for w in at.warning)
    assert at.subheader[0].value == "Random weights: no prediction"


def test_predict_page_shows_the_maps_for_the_image_and_each_crop() -> None:
    at = _page("predict").run()
    before = len(_captions(at))
    at.toggle(key="predict_cam_on").set_value(True).run()
    assert not at.exception and not at.error
    assert any(c.startswith("Grad-CAM: ") for c in _captions(at)[before:])
    at.toggle(key="predict_ten_crop").set_value(True).run()
    assert not at.exception and not at.error
    crops = [
        c
        for c in _captions(at)
        if ": " in c and "(" in c and c.split(":")[0].endswith(("left", "right", "centre"))
    ]
    cam_captions = [c for c in _captions(at) if c.startswith("occlusion (")]
    assert len(cam_captions) == 10 and len(crops) >= 20  # ten crops and their ten maps


def test_where_it_looks_runs_big_occlusion_as_a_job_and_refuses_before_any_job() -> None:
    """resnet18 (random weights): Grad-CAM at layer4 (1.8 G multiply-adds) stays inline; its
    occlusion (49 positions, 91 G) is a worker job whose result the page draws. Score-CAM at
    layer4 (512 channels, 929 G) is refused in one sentence and never submitted."""
    from components import cache

    at = _page("inside").run()
    at.radio(key="inside_source").set_value(PICTURE).run()
    at.selectbox(key="inside_model").set_value("resnet18").run()
    at.selectbox(key="inside_weights").set_value("random weights (predictions are meaningless)")
    at.run()
    at.segmented_control(key="inside_view").set_value("Where it looks").run()
    at.toggle(key="inside_cam_occlusion").set_value(True).run()
    assert not at.exception and not at.error
    captions = _captions(at)
    assert any(c.startswith("Grad-CAM: ") for c in captions)
    assert any(c.startswith("occlusion: ") and "unoccluded" in c for c in captions)
    active = at.session_state["jobs_active"]
    assert "inside_cam_cam_job" not in active  # inline
    job = cache.job_runner().get(active["inside_cam_occlusion_job"])
    assert job is not None and job.state == "done" and job.events[-1][:2] == (49, 49)

    at.selectbox(key="inside_cam_method").set_value("scorecam").run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        "Score-CAM runs one forward pass per channel: 1 × 512 passes of resnet18 is 929 G "
        "multiply-accumulates; the limit is 20 G (pick a layer with fewer channels, or Grad-CAM)."
    ]
    assert "inside_cam_cam_job" not in at.session_state["jobs_active"]
    assert any(c.startswith("occlusion: ") for c in _captions(at))  # the other map still shows
    at.toggle(key="inside_cam_occlusion").set_value(False).run()
    assert "inside_cam_occlusion_job" not in at.session_state["jobs_active"]  # left


def test_predict_page_draws_ten_crop_grad_cams_from_a_worker_job() -> None:
    """resnet18's ten crops: Grad-CAM of the ten (18 G multiply-adds) is a worker job, like
    the ten-crop prediction itself; its ten maps are drawn under the crops."""
    from components import cache

    at = _page("predict").run()
    at.selectbox(key="predict_model").set_value("resnet18").run()
    at.selectbox(key="predict_weights").set_value("random weights (predictions are meaningless)")
    at.toggle(key="predict_ten_crop").set_value(True).run()
    at.toggle(key="predict_cam_on").set_value(True).run()
    assert not at.exception and not at.error
    job = cache.job_runner().get(at.session_state["jobs_active"]["predict_cam_cam_job"])
    assert job is not None and job.state == "done" and len(job.outcome()) == 10
    assert [e[:2] for e in job.events[1:]] == [(i, 10) for i in range(1, 11)]  # per crop
    shown = [m.overlay.shape for m in job.outcome()]
    assert shown == [(224, 224, 3)] * 10
    crops = [c for c in _captions(at) if c.split(":")[0].endswith(("left", "right", "centre"))]
    assert len(crops) == 20  # the ten crops' predictions and their ten maps


def test_a_network_too_big_to_look_inside_is_refused_before_it_is_built() -> None:
    """vit_h_14 was built (+1.5 GB) before the page said it was over the limit."""
    import pytest

    import explorer
    from explorer.core.errors import BudgetError
    from explorer.inside import activations as A
    from explorer.weights import model_cache

    held = model_cache._SHARED.total_bytes
    with pytest.raises(BudgetError, match="vit_h_14 needs"):
        A.check_budget_of("vit_h_14", explorer.get("vit_h_14").input_size)
    assert model_cache._SHARED.total_bytes == held  # nothing was loaded to find out
    assert A.check_budget_of("lenet5", (1, 32, 32))[0] == 416_520
