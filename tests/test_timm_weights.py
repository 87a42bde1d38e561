"""Pretrained timm weights go through timm's loading; offline, the error names the file and
where to put it, and a file put there is loaded (by timm, never unpickled)."""

from __future__ import annotations

from pathlib import Path

import pytest
import timm
import torch
from safetensors.torch import save_file

import explorer
from explorer.labs.predict import preprocessor_for
from explorer.weights import loading as weights
from explorer.weights import timm_hub as timm_weights


@pytest.fixture
def offline_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    return tmp_path


def test_tags_come_from_timm_metadata() -> None:
    spec = explorer.get("timm/resnet18")
    found = timm_weights.available(spec)
    assert found[0].tag == spec.pretrained  # the default tag first
    assert {w.tag for w in found} == {
        n.split(".", 1)[1] for n in timm.list_pretrained("resnet18.*")
    }
    assert timm_weights.find(spec, "DEFAULT").hub_id == f"timm/resnet18.{spec.pretrained}"
    with pytest.raises(explorer.WeightsError, match="choose one of: DEFAULT"):
        timm_weights.find(spec, "no_such_tag")


def test_offline_error_names_the_file_and_where_to_put_it(offline_home: Path) -> None:
    with pytest.raises(explorer.WeightsError) as err:
        weights.load("timm/resnet18", "DEFAULT", device="cpu")
    message = str(err.value)
    w = timm_weights.find(explorer.get("timm/resnet18"))
    assert "model.safetensors" in message and w.url in message
    assert str(w.local_path) in message and str(offline_home) in message
    with pytest.raises(explorer.WeightsError, match="not on this machine"):
        weights.load("timm/resnet18", "DEFAULT", device="cpu", download_missing=True)


def test_a_file_put_there_is_loaded_by_timm(offline_home: Path) -> None:
    w = timm_weights.find(explorer.get("timm/resnet18"))
    reference = timm.create_model("resnet18")
    w.local_path.parent.mkdir(parents=True)
    save_file({k: v.contiguous() for k, v in reference.state_dict().items()}, w.local_path)
    loaded = weights.load("timm/resnet18", "DEFAULT", device="cpu")
    assert loaded.weights == w.tag and len(loaded.categories) == 1000
    assert loaded.categories[0].startswith("tench")
    for name, value in reference.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[name], value), name
    pre = preprocessor_for(loaded)  # timm's recipe: crop_pct 0.95, bicubic
    assert pre.crop_size == (224, 224) and pre.resize_size == int(224 / w.crop_pct)
