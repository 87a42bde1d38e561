"""Pretrained timm weights go through timm's loading; offline, the error names the file and
where to put it, and a file put there is loaded (by timm, never unpickled)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import timm
import torch
from PIL import Image
from safetensors.torch import save_file
from timm.data import create_transform, resolve_data_config
from timm.models import get_pretrained_cfg

import explorer
from explorer.labs.preprocessing import ImagePreprocessor, preprocessor_for
from explorer.weights import loading as weights
from explorer.weights import timm_hub as timm_weights
from explorer.weights.records import LoadedModel


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
    pre = preprocessor_for(loaded)  # timm's own transform: crop_pct 0.95, bicubic
    photo = Image.new("RGB", (300, 200), (200, 30, 90))
    reference_transform = create_transform(**resolve_data_config({}, model=reference))
    assert torch.equal(pre.single(photo), reference_transform(photo))


def _default_configs() -> dict[tuple[str, str], str]:
    """One timm catalog entry per distinct (crop_mode, interpolation) of the default tags."""
    found: dict[tuple[str, str], str] = {}
    for name in explorer.names():
        if not name.startswith("timm/"):
            continue
        spec = explorer.get(name)
        cfg = get_pretrained_cfg(f"{name[5:]}.{spec.pretrained}") if spec.pretrained else None
        if cfg is not None:
            found.setdefault((cfg.crop_mode, cfg.interpolation), name)
    return found


DEFAULT_CONFIGS = _default_configs()


def test_the_catalog_defaults_have_every_crop_mode() -> None:
    assert {mode for mode, _ in DEFAULT_CONFIGS} == {"center", "squash", "border"}
    assert {interp for _, interp in DEFAULT_CONFIGS} >= {"bicubic", "bilinear"}


@pytest.mark.parametrize("combo", sorted(DEFAULT_CONFIGS), ids=lambda c: "-".join(c))
def test_preprocessing_is_timms_own_transform(combo: tuple[str, str]) -> None:
    """A 2:1 picture (where the crop modes differ most) gives exactly the tensor that timm's
    create_transform gives for the tag's own pretrained config; ten crops have its shape."""
    name = DEFAULT_CONFIGS[combo]
    w = timm_weights.find(explorer.get(name))
    cfg = get_pretrained_cfg(f"{w.model}.{w.tag}")
    assert cfg is not None
    oracle = create_transform(**resolve_data_config({}, pretrained_cfg=cfg.to_dict()))
    loaded = LoadedModel(name, w.tag, torch.nn.Identity(), torch.device("cpu"), (), w.input_size,
                         tv_weights=w)  # fmt: skip
    pre = preprocessor_for(loaded)
    left_to_right = np.tile(np.linspace(0, 255, 400), (200, 1))  # a crop drops the ends
    gradient = np.stack([left_to_right] * 3, axis=-1).astype(np.uint8)
    photo = Image.fromarray(gradient)
    assert torch.equal(pre.single(photo), oracle(photo))
    crops = pre.ten_crop(photo)
    assert crops.shape == (10, *oracle(photo).shape)
    if combo[0] != "center":  # the old recipe (always a centre crop) gave another input here
        config = resolve_data_config({}, pretrained_cfg=cfg.to_dict())
        old = ImagePreprocessor(
            resize_size=int(w.input_size[1] / w.crop_pct),
            crop_size=(w.input_size[1], w.input_size[2]),
            mean=tuple(config["mean"]),
            std=tuple(config["std"]),
        )
        assert (old.single(photo) - pre.single(photo)).abs().max() > 0.5


def test_a_deploy_form_loads_its_training_forms_file_and_fuses_it(offline_home: Path) -> None:
    """Issue 21: `timm/<name>@deploy` had no pretrained weights. It reads the training form's
    file (the same one, the same place) and timm's reparameterize_model fuses it: the same
    predictions with timm's published (fewer) parameters."""
    trained_name, deploy_name = "timm/repghostnet_050", "timm/repghostnet_050@deploy"
    assert [w.tag for w in timm_weights.available(explorer.get(deploy_name))] == [
        w.tag for w in timm_weights.available(explorer.get(trained_name))]
    w = timm_weights.find(explorer.get(deploy_name))
    reference = timm.create_model("repghostnet_050")
    with torch.no_grad():  # BatchNorm statistics that are not the identity: fusing must use them
        for m in reference.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    w.local_path.parent.mkdir(parents=True)
    save_file({k: v.contiguous() for k, v in reference.state_dict().items()}, w.local_path)

    trained = weights.load(trained_name, "DEFAULT", device="cpu")
    fused = weights.load(deploy_name, "DEFAULT", device="cpu")
    assert fused.architecture == deploy_name and fused.weights == w.tag
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(fused.model) < count(trained.model)
    assert count(fused.model) == explorer.trace(deploy_name).total_params
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        a, b = trained.model(x), fused.model(x)
    assert torch.allclose(a, b, atol=1e-4, rtol=1e-4), (a - b).abs().max()
    assert a.argmax(1).tolist() == b.argmax(1).tolist()
