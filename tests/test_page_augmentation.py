"""The Augmentation lab page, driven through Streamlit's AppTest (a real script run)."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

PAGE = "components/views/augmentation.py"


@pytest.fixture
def page(repo_root, monkeypatch) -> AppTest:
    monkeypatch.chdir(repo_root)
    at = AppTest.from_file(str(repo_root / PAGE), default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    return at


def image_captions(at: AppTest) -> str:
    return " ".join(" ".join(image.captions) for image in at.main.get("image"))


def step_titles(at: AppTest) -> list[str]:
    return [m.value for m in at.sidebar.markdown if m.value.startswith("**") and ". " in m.value]


def test_default_page_shows_original_grid_downloads_and_eigen_data(page):
    assert not page.error
    assert step_titles(page) == [
        "**1. Random resized crop (Inception-style)**",
        "**2. Mirroring (horizontal flip)**",
        "**3. Colour shifting (brightness, contrast, saturation, hue)**",
        "**4. PCA colour augmentation (AlexNet)**",
    ]
    images = page.main.get("image")
    # original + grid; in the PCA tab the original and samples at σ = 0.1 and 1.0; A, B and
    # the MixUp in the last tab
    assert len(images) == 2 + 3 + 3
    assert "σ = 1.0, exaggerated" in image_captions(page)
    keys = {b.key for b in page.get("download_button")}
    assert keys == {"aug_dl_png", "aug_dl_json", "aug_dl_py"}
    code = page.main.get("code")[0].value
    assert "transform = v2.Compose([" in code and "class PCAColorJitter" in code
    imagenet, own = page.dataframe[0].value, page.dataframe[1].value
    assert list(imagenet["eigenvalue λ"]) == [0.2175, 0.0188, 0.0045]
    assert list(imagenet["R"]) == [-0.5675, 0.7192, 0.4009]
    assert own["eigenvalue λ"].is_monotonic_decreasing and own["eigenvalue λ"].iloc[0] > 0
    assert "original: cat, 451×300" in image_captions(page)
    assert "label = " in image_captions(page)


def test_bad_upload_shows_a_clear_error_not_a_traceback(page):
    page.sidebar.get("file_uploader")[0].set_value(
        ("holiday.png", b"%PDF-1.7\n1 0 obj\n<< >>\nendobj\n", "image/png"))
    page.run()
    assert not page.exception
    messages = [e.value for e in page.error]
    assert any("holiday.png" in m and "This file is a PDF, not an image" in m for m in messages)
    assert not page.main.get("image")  # nothing half-drawn from a bad file

    page.sidebar.get("file_uploader")[0].set_value(
        ("huge.png", _png_header_claiming(50_000, 50_000), "image/png"))
    page.run()
    assert any("50000×50000 pixels" in e.value and "40 megapixels" in e.value for e in page.error)


def test_good_upload_is_used_and_shrunk_for_the_preview(page):
    buffer = io.BytesIO()
    Image.new("RGB", (1024, 600), (30, 120, 200)).save(buffer, "PNG")
    page.sidebar.get("file_uploader")[0].set_value(("sky.png", buffer.getvalue(), "image/png"))
    page.run()
    assert not page.exception and not page.error
    assert "original: sky.png, 512×300, shrunk from 1024×600" in image_captions(page)


def test_build_reorder_remove_and_reroll(page):
    page.selectbox(key="aug_add_kind").set_value("rotation")
    page.button(key="aug_add").click().run()
    assert step_titles(page)[-1] == "**5. Rotation**"
    page.button(key="aug_up4").click().run()  # the rotation (id 4) moves above PCA
    assert step_titles(page)[3] == "**4. Rotation**"
    page.button(key="aug_del0").click().run()
    assert step_titles(page)[0] == "**1. Mirroring (horizontal flip)**"
    page.slider(key="aug_p4_max_degrees").set_value(120.0).run()
    assert not page.error
    page.slider(key="aug_p4_min_degrees").set_value(150.0).run()
    assert any("min_degrees (150.0) must not exceed max_degrees (120.0)" in e.value
               for e in page.error)
    assert not page.exception
    steps = json.loads(_pipeline_json(page))
    assert [s["type"] for s in steps["steps"]] == [
        "horizontal_flip", "color_jitter", "rotation", "pca_color"]
    assert steps["steps"][2]["max_degrees"] == 120.0  # the valid change was kept...
    assert steps["steps"][2]["min_degrees"] == -30.0  # ...the invalid one was not
    page.slider(key="aug_n").set_value(4).run()
    page.button(key="aug_reroll").click().run()
    assert page.number_input(key="aug_seed").value == 4
    assert "seeds 4…7" in image_captions(page)


def test_presets_and_pipeline_json_upload(page):
    vgg = "VGG 2014 (scale jittering S∈[256,512], crop, mirror)"
    page.selectbox(key="aug_preset").set_value(vgg)
    page.button(key="aug_load_preset").click().run()
    assert [t.split(". ", 1)[1] for t in step_titles(page)] == [
        "Scale jittering (random resize)**", "Random cropping**",
        "Mirroring (horizontal flip)**"]
    bad = b'{"format": "cnn-explorer-augmentation", "version": 1, "steps": [{"type": "blur"}]}'
    page.sidebar.get("file_uploader")[1].set_value(("p.json", bad, "application/json"))
    page.run()
    assert any("unknown augmentation 'blur'" in e.value for e in page.error)
    good = b'{"format": "cnn-explorer-augmentation", "version": 1, "steps": [{"type": "pad"}]}'
    page.sidebar.get("file_uploader")[1].set_value(("p.json", good, "application/json"))
    page.run()
    assert step_titles(page) == ["**1. Padding**"]
    assert not page.exception


def _pipeline_json(at: AppTest) -> str:
    """The pipeline the page holds, as JSON (AppTest does not expose a download's payload)."""
    from explorer.labs.augment import Pipeline

    return Pipeline(tuple(step for _, step in at.session_state["aug_steps"])).to_json()


def _png_header_claiming(width: int, height: int) -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def test_gallery_shows_every_augmentation_alone(page):
    from explorer.labs.augment import AUGMENTATIONS

    assert len(page.main.get("image")) == 8  # the gallery is drawn only on request
    page.toggle(key="aug_gallery").set_value(True).run()
    assert not page.exception and not page.error
    assert len(page.main.get("image")) == 8 + len(AUGMENTATIONS)
    shown = " ".join(m.value for m in page.main.markdown)
    for cls in AUGMENTATIONS.values():
        assert f"**{cls.TITLE}**" in shown
    assert [h.value for h in page.main.subheader] == ["Geometry", "Colour", "Occlusion",
                                                       "Policies"]


def test_added_steps_reuse_the_memo_and_elastic_grids_come_from_a_worker(page):
    """The page grows its pipeline through components.cache's shared PrefixMemo; once it
    warps (seconds of work), the grid is a job in a worker process (explorer.serving.jobs) instead.
    Either way each grid is the PNG a cold run (no memo, this process) of the same pipeline,
    seed and picture gives."""
    from components import cache
    from explorer.core.images import to_png_bytes
    from explorer.core.work import Picture
    from explorer.labs.augment import Pipeline, grid_image

    memo = cache.augment_memo()
    image = cache.lab_image("sample", "cat")
    for kind in ("horizontal_flip", "elastic", "vertical_flip"):
        hits = memo.hits
        page.selectbox(key="aug_add_kind").set_value(kind)
        page.button(key="aug_add").click().run()
        assert not page.exception and not page.error
        json_text = _pipeline_json(page)
        cold = Pipeline.from_json(json_text).samples(image, 8, 0)
        expected = to_png_bytes(grid_image(cold, 4, max_cell=cache.AUGMENT_MAX_SIDE),
                                compress_level=1)  # fmt: skip
        if kind == "horizontal_flip":  # inline: all 8 samples restart after the old pipeline
            assert memo.hits >= hits + 8
            png = cache.augment_grid("sample", "cat", json_text, 8, 0, 4).png  # the page's grid
        else:  # warped in a worker: this process's memo is not used
            assert memo.hits == hits
            job = cache.job_runner().get(("augment-grid", Picture.of(image).key, json_text, 8,
                                          0, 4))  # fmt: skip
            assert job is not None and job.state == "done"
            png = job.outcome().png
        assert png == expected, kind
