"""explorer.inside.activations: one real forward gives the prediction and every stage's activations.

Oracles: a forward written out by hand with torch.nn.functional and the model's own weights
(LeNet-5), the same layers called one after another (ResNet-18), the colour map applied to
each channel by hand (grids), and numpy statistics of the recorded values (JSON)."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from explorer.core.errors import BudgetError
from explorer.inside import activations as A
from explorer.inside import pictures as P
from explorer.labs import digits, predict
from explorer.weights import loading as weights


@pytest.fixture(scope="module")
def lenet() -> weights.LoadedModel:
    return weights.load("lenet5-digits", device="cpu")


@pytest.fixture(scope="module")
def digit_photo():
    return digits.sample_photo(3)  # (picture, label)


def _lenet_by_hand(state: dict[str, torch.Tensor], x: torch.Tensor) -> list[torch.Tensor]:
    """LeNet-5 written out: conv-tanh, avgpool, conv-tanh, avgpool, fc-tanh, fc-tanh, fc."""
    a1 = torch.tanh(F.conv2d(x, state["features.0.weight"], state["features.0.bias"]))
    p1 = F.avg_pool2d(a1, 2)
    a2 = torch.tanh(F.conv2d(p1, state["features.3.weight"], state["features.3.bias"]))
    p2 = F.avg_pool2d(a2, 2)
    f1 = torch.tanh(p2.flatten(1) @ state["classifier.0.weight"].T + state["classifier.0.bias"])
    f2 = torch.tanh(f1 @ state["classifier.2.weight"].T + state["classifier.2.bias"])
    logits = f2 @ state["classifier.4.weight"].T + state["classifier.4.bias"]
    return [t[0] for t in (a1, p1, a2, p2, f1, f2, logits)]


def test_lenet_activations_equal_a_forward_written_by_hand(lenet, digit_photo) -> None:
    picture, label = digit_photo
    acts = A.record(lenet, picture)
    x = predict.preprocessor_for(lenet).single(picture)[None]
    state = {k: v.detach() for k, v in lenet.model.state_dict().items()}
    expected = _lenet_by_hand(state, x)
    assert [layer.lecture_shape for layer in acts.layers] == [
        "28×28×6", "14×14×6", "10×10×16", "5×5×16", "120", "84", "10",
    ]  # fmt: skip
    assert [layer.kind for layer in acts.layers] == ["conv", "pool"] * 2 + ["fc"] * 3
    for layer, want in zip(acts.layers, expected, strict=True):
        np.testing.assert_allclose(layer.values, want.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(acts.logits, expected[-1].numpy(), rtol=1e-5, atol=1e-5)
    # the page's prediction and the activations come from the same pass: they agree
    assert acts.top[0].label == str(label)
    pred = predict.predict(lenet, picture)
    np.testing.assert_allclose(acts.probabilities, pred.probabilities, atol=1e-6)
    assert acts.layers[0].modules == ("features.0", "features.1")  # conv + its tanh


def test_resnet_stages_equal_its_layers_called_one_by_one() -> None:
    loaded = weights.load("resnet18", "random", device="cpu")
    m = loaded.model
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    acts = A.record_tensor(loaded, x)
    with torch.no_grad():
        want = [m.relu(m.bn1(m.conv1(x)))]
        want.append(m.maxpool(want[-1]))
        for stage in (m.layer1, m.layer2, m.layer3, m.layer4):
            for block in stage:
                want.append(block(want[-1]))
        want.append(m.avgpool(want[-1]))
        want.append(m.fc(want[-1].flatten(1)))
    names = [layer.name for layer in acts.layers]
    assert names[:3] == ["conv1", "maxpool", "layer1.0"] and names[-2:] == ["avgpool", "fc"]
    assert acts.layers[0].modules == ("conv1", "bn1", "relu")
    assert len(acts.layers) == len(want)
    for layer, w in zip(acts.layers, want, strict=True):
        np.testing.assert_allclose(layer.values, w[0].numpy(), rtol=1e-4, atol=1e-4)
    assert acts.note  # random weights are labelled meaningless


def test_the_shared_model_is_never_touched(lenet, digit_photo) -> None:
    from explorer.inside import cam

    before = {k: v.clone() for k, v in lenet.model.state_dict().items()}
    A.record(lenet, digit_photo[0])
    x = predict.preprocessor_for(lenet).single(digit_photo[0])
    cam.class_maps(lenet, x, method="gradcam")
    cam.class_maps(lenet, x, method="gradcam++")
    for module in lenet.model.modules():
        assert not module._forward_hooks and not module._forward_pre_hooks
        assert not module._backward_hooks
    for p in lenet.model.parameters():
        assert p.grad is None and p.requires_grad
    assert not lenet.model.training
    for k, v in lenet.model.state_dict().items():
        assert torch.equal(v, before[k])


def test_stage_plan_on_meta_matches_the_real_pass(lenet, digit_photo) -> None:
    acts = A.record(lenet, digit_photo[0])
    plan = A.stage_plan(lenet)
    assert [(s.name, s.output_module, s.shape) for s in plan] == [
        (layer.name, layer.output_module, layer.shape) for layer in acts.layers
    ]


def test_grid_has_exactly_n_c_tiles_of_n_h_by_n_w(lenet, digit_photo) -> None:
    acts = A.record(lenet, digit_photo[0])
    scale = P.overview_scale(acts)
    assert scale == 4  # 28 × 4 = 112 pixels for the largest map
    sizes = []
    for layer in acts.spatial_layers:
        c, h, w = layer.shape
        g = P.feature_grid(layer, scale)
        assert g.count == c and g.tile == (h, w)
        assert g.rows * g.cols >= c > (g.rows - 1) * g.cols  # no empty row
        lo, hi = float(layer.values.min()), float(layer.values.max())
        for ch, (top, left) in enumerate(g.origins):
            tile = g.image[top : top + h * scale, left : left + w * scale]
            want = P.colorize(layer.values[ch], lo, hi)
            np.testing.assert_array_equal(tile[::scale, ::scale], want)
            np.testing.assert_array_equal(tile, want.repeat(scale, 0).repeat(scale, 1))
        # the cells after the last tile are blank
        last_top, last_left = g.origins[-1]
        tail = g.image[last_top : last_top + h * scale, last_left + w * scale + 1 :]
        assert (tail == 255).all()
        sizes.append(h * scale)
    # the same pixels per activation everywhere: maps drawn smaller as n_H shrinks
    assert sizes == [112, 56, 40, 20]


def test_grid_budget_is_refused_with_the_numbers(lenet, digit_photo, monkeypatch) -> None:
    layer = A.record(lenet, digit_photo[0]).layers[2]
    monkeypatch.setattr(P, "MAX_GRID_TILES", 8)
    with pytest.raises(BudgetError, match=r"16 tiles of 10×10 pixels.*limit is 8 tiles"):
        P.feature_grid(layer, 1)


def test_first_conv_filters_of_lenet(lenet) -> None:
    f = P.filters(lenet)
    assert f.layer == "features.0" and f.shape == (6, 1, 5, 5) and not f.rgb
    w = lenet.model.features[0].weight.detach()[0, 0]
    top_left = f.image[0 : 5 * f.scale : f.scale, 0 : 5 * f.scale : f.scale, 0]
    want = ((w - w.min()) / (w.max() - w.min()) * 255).round().byte().numpy()
    np.testing.assert_array_equal(top_left, want)


def test_first_conv_filters_of_an_rgb_network_are_colour_tiles() -> None:
    loaded = weights.load("alexnet", "random", device="cpu")
    f = P.filters(loaded)
    assert f.layer == "features.0" and f.shape == (64, 3, 11, 11) and f.rgb
    assert f.scale == 5 and f.image.shape == (8 * 57 - 2, 8 * 57 - 2, 3)
    w = loaded.model.features[0].weight.detach()[1]  # the second filter, in RGB
    tile = f.image[0 : 55 : f.scale, 57 : 57 + 55 : f.scale]
    want = ((w - w.min()) / (w.max() - w.min()) * 255).round().byte().permute(1, 2, 0).numpy()
    np.testing.assert_array_equal(tile, want)


def test_strongest_channels_have_the_highest_means(lenet, digit_photo) -> None:
    layer = A.record(lenet, digit_photo[0]).layers[2]
    means = layer.values.reshape(16, -1).mean(1)
    assert P.strongest_channels(layer, 3) == list(np.argsort(-means)[:3])


def test_cli_json_prints_shapes_and_channel_statistics(tmp_path, digit_photo) -> None:
    from explorer.cli import main

    path = tmp_path / "digit.png"
    digit_photo[0].save(path)
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["activations", "lenet5-digits", str(path), "--format", "json"]) == 0
    data = json.loads(out.getvalue())
    assert [layer["shape"] for layer in data["layers"]][:4] == [
        [6, 28, 28], [6, 14, 14], [16, 10, 10], [16, 5, 5],
    ]  # fmt: skip
    acts = A.record(weights.load("lenet5-digits", device="cpu"), digit_photo[0])
    conv2 = data["layers"][2]["channels"]
    assert len(conv2) == 16
    values = acts.layers[2].values.reshape(16, -1)
    np.testing.assert_allclose([c["mean"] for c in conv2], values.mean(1), atol=1e-5)
    np.testing.assert_allclose([c["std"] for c in conv2], values.std(1), atol=1e-5)
    np.testing.assert_allclose([c["max"] for c in conv2], values.max(1), atol=1e-5)
    np.testing.assert_allclose([c["active"] for c in conv2], (values > 0).mean(1), atol=1e-6)
    assert data["layers"][-1]["values"] == pytest.approx(acts.logits.tolist(), abs=1e-5)


def test_cli_writes_a_grid_and_names_bad_layers(tmp_path, digit_photo, capsys) -> None:
    from PIL import Image

    from explorer.cli import main

    path, out = tmp_path / "digit.png", tmp_path / "grid.png"
    digit_photo[0].save(path)
    code = main(["activations", "lenet5-digits", str(path), "--layer", "features.3"])
    assert code == 0 and "10×10×16" in capsys.readouterr().out
    assert main(["activations", "lenet5-digits", str(path), "--out", str(out)]) == 0
    assert Image.open(out).size[0] >= 338  # 3 tiles of 112 pixels side by side
    assert main(["activations", "lenet5-digits", str(path), "--layer", "nope"]) == 2
    assert "choose one of: features.0" in capsys.readouterr().err


def test_a_users_weights_file_is_looked_inside(tmp_path, digit_photo, lenet, capsys) -> None:
    from safetensors.torch import save_file

    from explorer.cli import main

    weights_file, image = tmp_path / "mine.safetensors", tmp_path / "digit.png"
    save_file({k: v.contiguous() for k, v in lenet.model.state_dict().items()}, str(weights_file))
    digit_photo[0].save(image)
    assert main(["activations", "lenet5", str(image), "--weights", str(weights_file)]) == 0
    out = capsys.readouterr().out
    assert "lenet5 (file: mine.safetensors)" in out and f"prediction: {digit_photo[1]} " in out
