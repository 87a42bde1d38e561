"""The tracing engine against the references: sum(p.numel()), torchinfo, FlopCounterMode and
torchvision's published weights metadata."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest
import torch
import torchinfo
import torchvision
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import explorer
from explorer.analysis.building import build_model
from explorer.analysis.meta_models import build_meta
from explorer.catalog import tv
from explorer.engine.building import empty_init

TORCHINFO_MODELS = [
    "alexnet",
    "resnet18",
    "resnet50",
    "googlenet",
    "inception_v3",
    "densenet121",
    "mobilenet_v3_small",
    "squeezenet1_1",
    "shufflenet_v2_x0_5",
    "efficientnet_b0",
    "mnasnet0_5",
    "regnet_x_400mf",
    "convnext_tiny",
]


def _real_tv_model(name: str) -> nn.Module:
    spec = explorer.get(name)
    kwargs = tv.default_build_kwargs(name, spec.weights.DEFAULT)
    return torchvision.models.get_model(name, weights=None, **kwargs).eval()


@pytest.mark.parametrize("name", TORCHINFO_MODELS)
def test_params_match_numel_and_torchinfo(name: str) -> None:
    model = _real_tv_model(name)
    result = explorer.trace(name)
    assert result.total_params == sum(p.numel() for p in model.parameters())
    size = 299 if name == "inception_v3" else 64  # params do not depend on the input size
    info = torchinfo.summary(model, input_size=(1, 3, size, size), verbose=0)
    assert result.total_params == info.total_params
    assert result.trainable_params == info.trainable_params


def _torchinfo_paths(summary: torchinfo.ModelStatistics) -> dict[str, tuple[int, ...]]:
    """Full module path -> output shape for every leaf torchinfo saw exactly once."""
    seen: dict[str, list[tuple[int, ...]]] = {}
    for info in summary.summary_list:
        if info.parent_info is None or info.children:
            continue
        parts, node = [], info
        while node.parent_info is not None:
            parts.append(node.var_name)
            node = node.parent_info
        seen.setdefault(".".join(reversed(parts)), []).append(tuple(info.output_size))
    return {k: v[0] for k, v in seen.items() if len(v) == 1}


@pytest.mark.parametrize("name", ["resnet18", "googlenet", "mobilenet_v3_small"])
def test_leaf_output_shapes_match_torchinfo(name: str) -> None:
    model = _real_tv_model(name)
    info = torchinfo.summary(model, input_size=(1, 3, 224, 224), verbose=0)
    expected = _torchinfo_paths(info)
    ours = {r.name: r.output_shape for r in explorer.trace(name).leaves() if r.calls == 1}
    common = set(expected) & set(ours)
    assert len(common) > 0.8 * len(expected)
    assert {k: ours[k] for k in common} == {k: expected[k] for k in common}


@pytest.mark.parametrize(
    "name", ["resnet50", "vit_b_16", "swin_t", "efficientnet_b0", "convnext_tiny"]
)
def test_macs_equal_flop_counter_mode(name: str) -> None:
    """Our shortcut for norm layers must not change the count FlopCounterMode gives."""
    model = build_meta(name)
    x = torch.empty((1, *explorer.get(name).input_size), device="meta")
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x)
    assert explorer.trace(name).total_macs == counter.get_total_flops() // 2


def test_torchinfo_undercounts_vit() -> None:
    """Why FlopCounterMode: torchinfo misses the attention matmuls of nn.MultiheadAttention."""
    ours = explorer.trace("vit_b_16").total_macs
    assert abs(ours / 1e9 - 17.564) < 0.001
    model = _real_tv_model("vit_b_16")
    info = torchinfo.summary(model, input_size=(1, 3, 224, 224), verbose=0)
    assert info.total_mult_adds < 0.05 * ours


@pytest.mark.slow
def test_every_registered_architecture_traces() -> None:
    """Walks the whole catalog (the ~80 torchvision classifiers and ours) at default sizes, and
    checks that the tracer's fast paths change no shape, total or MAC: every Trace equals the
    one from PyTorch's own meta kernels (timm's catalog has its own walk, tests/test_timm*)."""
    from explorer.engine.counting import FAST_PATHS

    failures = []
    for spec in explorer.catalog.specs():
        if spec.source == "timm":
            continue
        t = explorer.trace(spec.name)
        token = FAST_PATHS.set(False)
        try:
            exact = explorer.trace(spec.name)
        finally:
            FAST_PATHS.reset(token)
        layers = t.layers
        checks = {
            "root first": layers[0].name == "" and layers[0].depth == 0,
            "own params sum": sum(r.own_params for r in layers) == t.total_params,
            "own macs sum": sum(r.own_macs for r in layers) == t.total_macs,
            "root aggregates": layers[0].macs == t.total_macs
            and layers[0].params == t.total_params,
            # classifiers end in num_classes logits; the lecture's single-block demos do not
            "output has classes": len(t.output_shape) != 2
            or t.output_shape[-1] == spec.num_classes,
            "macs positive": t.total_macs > 0,
            "fast paths change nothing": t == exact,
        }
        pub = spec.published
        if spec.source == "torchvision" and pub is not None:
            checks["params == weights meta num_params"] = t.total_params == pub.params
            checks["MACs == weights meta _ops (GMACs, 3 decimals)"] = (
                abs(t.total_macs - pub.macs) <= pub.macs_tolerance
            )
        failures += [f"{spec.name}: {k}" for k, ok in checks.items() if not ok]
    assert not failures


def test_containers_aggregate_children() -> None:
    t = explorer.trace("resnet50")
    for record in t.layers:
        kids = t.children(record.name) if record.name or record is t.root else []
        kids = [k for k in kids if k is not record]
        if kids:
            assert record.macs == record.own_macs + sum(k.macs for k in kids), record.name
            assert record.params == record.own_params + sum(k.params for k in kids), record.name


def test_records_are_preorder_with_parents() -> None:
    t = explorer.trace("googlenet")
    index = {r.name: i for i, r in enumerate(t.layers)}
    for i, r in enumerate(t.layers[1:], start=1):
        assert index[r.parent] < i
        assert r.depth == t.layers[index[r.parent]].depth + 1
    # googlenet built as its DEFAULT weights build it: no aux heads.
    assert "aux1" not in index and t.total_params == 6_624_904


def test_unused_modules_are_recorded_with_zero_calls() -> None:
    t = explorer.trace("inception_v3")  # AuxLogits exists (counted in num_params) but eval skips it
    aux = t.layer("AuxLogits")
    assert aux.calls == 0 and aux.output_shape == () and aux.params > 0


def test_lenet5_lecture_numbers() -> None:
    t = explorer.trace("lenet5")
    shapes = [r.output_shape for r in t.leaves() if r.type in ("Conv2d", "AvgPool2d")]
    assert shapes == [(1, 6, 28, 28), (1, 6, 14, 14), (1, 16, 10, 10), (1, 16, 5, 5)]
    assert t.total_params == 61_706
    conv = t.layer("features.0")
    assert conv.hyper["kernel_size"] == (5, 5) and conv.hyper["out_channels"] == 6
    assert conv.macs == 28 * 28 * 6 * 5 * 5 * 1


def test_batch_size_scales_macs_not_params() -> None:
    one, eight = explorer.trace("resnet18"), explorer.trace("resnet18", batch_size=8)
    assert eight.input_shape == (8, 3, 224, 224)
    assert eight.total_macs == 8 * one.total_macs
    assert eight.total_params == one.total_params
    assert eight.activation_bytes == 8 * one.activation_bytes


def test_input_size_forms() -> None:
    assert explorer.trace("resnet18", "3x64x64").input_shape == (1, 3, 64, 64)
    assert explorer.trace("resnet18", (3, 64, 96)).layers[1].output_shape == (1, 64, 32, 48)


def test_input_too_small_names_the_layer_and_the_arithmetic() -> None:
    with pytest.raises(explorer.InputTooSmallError) as err:
        explorer.trace("alexnet", (3, 32, 32))
    msg = str(err.value)
    assert "features.12" in msg and "MaxPool2d" in msg
    assert "⌊(1 + 2·0 − 3)/2⌋ + 1 = 0" in msg
    assert msg.startswith("Input 32×32×3 is too small")  # n_H×n_W×n_C, as the pages write it
    assert "designed for 224×224×3 inputs (n_H×n_W×n_C)" in msg


def test_wrong_size_for_fixed_layers_is_explained() -> None:
    with pytest.raises(explorer.InputSizeError, match="expects 400 features but receives 16"):
        explorer.trace("lenet5", (1, 16, 16))
    with pytest.raises(explorer.InputSizeError, match="expects 1 input channels but receives 3"):
        explorer.trace("lenet5", (3, 32, 32))
    with pytest.raises(explorer.InputSizeError, match="Expected 224"):
        explorer.trace("vit_b_16", (3, 100, 100))


@pytest.mark.parametrize("bad", ["3x0x5", "axb", (3, 224), (3, -1, 5)])
def test_bad_input_sizes(bad: object) -> None:
    with pytest.raises(explorer.InputSizeError):
        explorer.trace("resnet18", bad)  # type: ignore[arg-type]


def test_unknown_name_suggests_close_ones() -> None:
    with pytest.raises(explorer.UnknownArchitectureError) as err:
        explorer.trace("resnet5")
    assert "resnet50" in err.value.suggestions
    assert "Did you mean" in str(err.value)


def test_user_module_is_untouched() -> None:
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 16 * 16, 4)
    )
    model.train()
    model[3].weight.requires_grad_(False)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    t = explorer.trace(model, (3, 16, 16), name="tiny")
    assert t.architecture == "tiny"
    assert t.total_params == sum(p.numel() for p in model.parameters())
    assert t.trainable_params == t.total_params - model[3].weight.numel()
    assert t.total_macs == 16 * 16 * 8 * 27 + 8 * 16 * 16 * 4
    assert model.training
    assert all(p.device.type == "cpu" for p in model.parameters())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


def test_trace_leaves_no_hooks_on_failure() -> None:
    model = nn.Sequential(nn.Conv2d(1, 2, 5), nn.MaxPool2d(4))
    with pytest.raises(explorer.InputTooSmallError, match="'1'"):
        explorer.trace(model, (1, 6, 6))
    assert all(not m._forward_hooks for m in model.modules())


def test_regnet_builds_with_empty_weights() -> None:
    """Every regnet builder calls .tolist(), which fails under `with torch.device('meta')`."""
    t = explorer.trace("regnet_y_128gf")
    assert t.total_params == 644_812_894


def test_empty_init_is_per_thread() -> None:
    """A real model built in another thread while a meta build is active gets real weights."""
    built: dict[str, nn.Module] = {}
    inside, done = threading.Event(), threading.Event()

    def real_build() -> None:
        inside.wait(5)
        built["real"] = nn.Linear(4, 4)
        done.set()

    worker = threading.Thread(target=real_build)
    worker.start()
    with empty_init():
        meta = nn.Linear(4, 4)
        inside.set()
        done.wait(5)
    worker.join()
    assert meta.weight.device.type == "meta"
    assert built["real"].weight.device.type == "cpu"
    assert built["real"].weight.abs().sum() > 0  # initialised, not skipped
    assert nn.init.kaiming_uniform_.__module__ == "torch.nn.init"  # patch removed


def test_build_model_is_real() -> None:
    model = build_model("lenet5")
    assert next(model.parameters()).device.type == "cpu"
    out = model(torch.zeros(2, 1, 32, 32))
    assert out.shape == (2, 10)


def test_trace_memory_does_not_grow_with_parameters() -> None:
    """vit_h_14 (632M parameters, 2.5 GB as float32) traces within 100 MB of the import floor."""
    code = (
        "import resource, explorer\n"
        "explorer.trace('resnet18')\n"
        "floor = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "t = explorer.trace('vit_h_14')\n"
        "assert t.total_params == 633_470_440\n"
        "print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - floor) / 1024)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert float(out.stdout.strip()) < 100


def test_to_dict_is_plain() -> None:
    import json

    d = explorer.trace("lenet5").to_dict()
    assert json.loads(json.dumps(d))["total_params"] == 61_706
