"""AppTest: the Predict, Ensembles and Transfer learning pages, driven like a student would."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from components import diagram_view
from explorer.labs import digits

PAGES = Path(__file__).resolve().parents[1] / "components" / "views"


def _page(name: str) -> AppTest:
    return AppTest.from_file(str(PAGES / f"{name}.py"), default_timeout=120)


def test_predict_page_classifies_a_digit_and_shows_ten_crops() -> None:
    at = _page("predict").run()
    assert not at.exception and not at.error
    _, label = digits.sample_photo(0)
    assert at.subheader[0].value.startswith(f"{label} — ")
    facts = next(m.value for m in at.markdown if m.value.startswith("Forward pass **"))
    assert "(wall clock, synchronised) · preprocessing **" in facts
    assert facts.endswith("· device **cpu**")
    assert not at.warning  # trained weights: no random-weights label
    captions = [img.proto.imgs[0].caption for img in at.get("image")]
    assert captions == ["Your picture", "What the network saw: 32×32 after preprocessing"]

    at.toggle(key="predict_ten_crop").set_value(True).run()
    assert not at.exception
    assert any("Ten crops" in m.value for m in at.markdown)
    captions = [img.proto.imgs[0].caption for img in at.get("image")]
    assert len(captions) == 12  # the input, what the network saw, and the ten crops
    positions = [c.split(":")[0] for c in captions[2:]]
    assert positions[0] == "top-left" and positions[4] == "centre"
    assert positions[9] == "flipped centre"


def test_predict_page_labels_random_weights() -> None:
    at = _page("predict").run()
    at.selectbox(key="predict_weights").set_value("random weights (predictions are meaningless)")
    at.run()
    assert not at.exception
    assert any("predictions are meaningless" in w.value for w in at.warning)
    assert at.subheader[0].value == "Random weights: no prediction"  # no "birdhouse — 99.9%"


def test_predict_page_missing_imagenet_weights_is_explained(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    at = _page("predict").run()
    at.selectbox(key="predict_model").set_value("resnet18").run()
    assert not at.exception
    assert any("resnet18-f37072fd.pth" in w.value for w in at.warning)
    assert any(str(tmp_path) in c.value for c in at.caption)
    assert at.button(key="predict_weights_download")


def test_ensemble_page_averages() -> None:
    at = _page("ensemble").run()
    assert not at.exception and not at.error
    assert at.subheader[0].value.startswith("Ensemble: ")
    assert [m.label for m in at.metric] == ["Members", "Agreement", "Total latency"]
    assert at.metric[0].value == "3"  # the three shipped digits models, offline
    held_out = at.dataframe[1].value
    assert list(held_out["model"])[-1] == "ensemble (averaged probabilities)"


def test_transfer_page_regimes_and_few_shot_head() -> None:
    at = _page("transfer").run()
    assert not at.exception and not at.error
    head_only = at.metric[0].value
    assert head_only == "1,539"  # resnet18's new 3-way head: 512 × 3 + 3
    at.slider(key="transfer_k").set_value(0).run()
    assert at.metric[0].value == "11,178,051" and at.metric[1].value == "0"
    assert "fine-tune everything" in at.info[0].value
    at.slider(key="transfer_k").set_value(3).run()
    svg = next(filter(None, (diagram_view.svg_of(h.proto.body) for h in at.get("html"))))
    assert svg.count('fill="#bdbdbd"') == 3  # conv1, bn1 (+ReLU), layer1.0 shaded as frozen

    # section 2's own figures (issue 21: it kept showing section 1's resnet18 numbers)
    assert any("It trains **850** parameters (the new head `classifier.4`) and keeps "
               "**60,856** frozen." in m.value for m in at.markdown)  # fmt: skip
    at.slider(key="fs_shots").set_value(5)
    at.slider(key="fs_steps").set_value(100)
    at.button(key="fs_train").click().run()
    assert not at.exception
    labels = [m.label for m in at.metric]
    assert "Held-out accuracy, 5 per digit (50 images)" in labels
    acc = at.metric[labels.index("Held-out accuracy, 5 per digit (50 images)")].value
    assert float(acc.rstrip("%")) >= 85


def test_predict_page_runs_a_big_ten_crop_in_a_worker() -> None:
    """resnet18's ten crops (20 G multiply-adds) run as a job in a worker process
    (explorer.serving.jobs); the page shows the same kind of result as an inline one."""
    from components import cache
    from explorer.core.work import Picture

    at = _page("predict").run()
    at.selectbox(key="predict_model").set_value("resnet18").run()
    at.selectbox(key="predict_weights").set_value("random weights (predictions are meaningless)")
    at.toggle(key="predict_ten_crop").set_value(True).run()
    assert not at.exception and not at.error
    assert at.subheader[0].value == "Random weights: no prediction"
    assert any("Ten crops" in m.value for m in at.markdown)
    assert len(at.get("image")) == 12
    photo, _ = digits.sample_photo(0)
    key = ("predict", "resnet18", "random", "auto", Picture.of(photo).key, 5, True)
    job = cache.job_runner().get(key)
    assert job is not None and job.state == "done"


def test_transfer_page_trains_a_head_on_uploads_with_features_from_a_worker() -> None:
    """8 pictures through resnet18 (15 G multiply-adds): the features are a job."""
    from components import cache
    from explorer.core import images

    at = _page("transfer").run()
    at.selectbox(key="up_backbone_resnet18").set_value(("resnet18", "random"))
    at.number_input(key="up_count").set_value(2).run()
    names = images.sample_names()
    for c, chosen in enumerate((names[:2] * 2, names[2:4] * 2)):
        files = [(f"{n}.png", images.to_png_bytes(images.load_sample(n)), "image/png")
                 for n in chosen]  # fmt: skip
        at.get("file_uploader")[c].set_value(files)
    at.slider(key="up_steps").set_value(20).run()
    at.button(key="up_train").click().run()
    assert not at.exception and not at.error
    labels = [m.label for m in at.metric]
    assert "Accuracy on the training pictures" in labels
    assert "up_request" not in at.session_state  # followed to the end: nothing pending
    job = cache.job_runner().get(at.session_state["jobs_active"]["up_features"])
    assert job is not None and job.state == "done" and job.outcome().shape == (8, 512)
    query = next(f for f in at.get("file_uploader") if f.key == "up_query")
    query.set_value(("q.png", images.to_png_bytes(images.load_sample(names[0])), "image/png"))
    at.run()
    assert not at.exception and not at.error
    shown = at.dataframe[-1].value
    assert len(shown) == 2 and set(shown["class"]) == {"Tigger", "Misty"}


def test_ensemble_page_runs_big_members_in_a_worker() -> None:
    """Two resnet18s with random weights, ten crops each (36 G multiply-adds): one job."""
    from components import cache

    at = _page("ensemble").run()
    at.multiselect(key="ensemble_models").set_value(["resnet18", "lenet5-digits"])
    at.checkbox(key="ensemble_random").check()
    at.toggle(key="ensemble_ten_crop").set_value(True).run()
    assert not at.exception
    assert any("predict different classes" in e.value for e in at.error)  # 1000 vs 10
    at.multiselect(key="ensemble_models").set_value(["resnet18", "resnet34"]).run()
    assert not at.exception and not at.error
    assert at.subheader[0].value == "Ensemble with random weights: no prediction"
    assert at.metric[0].value == "2"
    job = cache.job_runner().get(at.session_state["jobs_active"]["ensemble_job"])
    assert job is not None and job.state == "done" and len(job.outcome().members) == 2
