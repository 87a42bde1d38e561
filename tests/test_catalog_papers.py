"""The paper-faithful catalog against the papers' own figures (and the lecture's)."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torchvision.models import get_model_weights

from explorer.analysis.building import build_model
from explorer.analysis.meta_models import build_meta
from explorer.analysis.trace import Trace, trace
from explorer.catalog import get, names
from explorer.catalog.blocks import (
    bottleneck_conv_spec,
    inception_module,
    inception_module_spec,
    naive_conv_spec,
)
from explorer.catalog.inception import Inception
from explorer.catalog.lenet import C3_TABLE
from explorer.core.errors import SpecError

OURS = [
    "lenet5", "lenet5-1998", "alexnet-paper",
    "vgg11-paper", "vgg11-lrn", "vgg13-paper", "vgg16-c", "vgg16-paper", "vgg19-paper",
    "resnet18-paper", "resnet34-paper", "resnet50-paper", "resnet101-paper", "resnet152-paper",
    "plain18", "plain34", "googlenet-paper",
    "conv5x5-naive", "conv5x5-bottleneck", "inception-3a", "conv1x1", "residual-block",
    "residual-block-projection",
]  # fmt: skip

_TRACES: dict[str, Trace] = {}


def traced(name: str) -> Trace:
    if name not in _TRACES:
        _TRACES[name] = trace(name)
    return _TRACES[name]


def hw_c(shape: tuple[int, ...]) -> tuple[int, ...]:
    """(N, C, H, W) -> the lecture's (n_H, n_W, n_C); (N, F) -> (F,)."""
    return (shape[2], shape[3], shape[1]) if len(shape) == 4 else tuple(shape[1:])


# --- Every entry -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", OURS)
def test_spec_is_documented_and_meets_its_published_totals(name: str) -> None:
    spec = get(name)
    assert spec.source == "explorer"
    assert spec.paper and spec.url.startswith("http") and spec.year and len(spec.notes) > 100
    t = traced(name)
    assert t.input_shape == (1, *spec.input_size)
    assert t.total_params == sum(layer.own_params for layer in t.layers)
    pub = spec.published
    if pub is None:
        assert name == "residual-block-projection"
        return
    assert pub.source
    if pub.params is not None:
        assert abs(t.trainable_params - pub.params) <= pub.params_tolerance, (t.trainable_params,)
    if pub.macs is not None:
        assert abs(t.total_macs - pub.macs) <= pub.macs_tolerance, (t.total_macs, pub.macs)
    for module in pub.modules:
        t.layer(module.name)  # every published row names a real module


def test_every_paper_name_is_registered_in_its_family() -> None:
    ours = {n for n in names() if get(n).source == "explorer"}
    assert set(OURS) <= ours
    families = {n: get(n).family for n in OURS}
    assert families["googlenet-paper"] == "Inception" and families["plain34"] == "ResNet"
    assert {families[n] for n in OURS if n.startswith("vgg")} == {"VGG"}
    assert {families[n] for n in OURS[-6:]} == {"Blocks"}


# --- LeNet-5 ---------------------------------------------------------------------------------


def test_lenet5_lecture_shapes() -> None:
    t = traced("lenet5")
    kinds = ("Conv2d", "AvgPool2d")
    convs_and_pools = [hw_c(r.output_shape) for r in t.leaves() if r.type in kinds]
    assert convs_and_pools == [(28, 28, 6), (14, 14, 6), (10, 10, 16), (5, 5, 16)]
    assert t.total_params == 61_706


def test_lenet5_1998_matches_the_paper_exactly() -> None:
    t = traced("lenet5-1998")
    assert t.trainable_params == t.total_params == 60_000
    expected = {"c1": (156, (28, 28, 6)), "s2": (12, (14, 14, 6)), "c3": (1_516, (10, 10, 16)),
                "s4": (32, (5, 5, 16)), "c5": (48_120, (1, 1, 120)), "f6": (10_164, (84,)),
                "output": (0, (10,))}  # fmt: skip
    for name, (params, shape) in expected.items():
        assert (t.layer(name).params, hw_c(t.layer(name).output_shape)) == (params, shape), name
    for module in get("lenet5-1998").published.modules:  # type: ignore[union-attr]
        assert t.layer(module.name).params == module.params
    # C3's 150,000 multiply-adds: 10x10 outputs x 1,500 connections (Table I), no masking.
    assert t.layer("c3").macs == 150_000


def test_lenet5_1998_c3_follows_table_1_and_rbf_is_fixed() -> None:
    torch.manual_seed(0)
    model = build_model("lenet5-1998")
    c3 = model.c3
    base = torch.zeros(1, 6, 14, 14)
    with torch.no_grad():
        reference = c3(base)
        for source in range(6):
            probe = base.clone()
            probe[0, source] = 1.0
            changed = (c3(probe) - reference).abs().sum(dim=(0, 2, 3)) > 0
            seen_by = {j for j in range(16) if changed[j]}
            assert seen_by == {j for j, row in enumerate(C3_TABLE) if source in row}, source
        out = model(torch.randn(2, 1, 32, 32))
    assert out.shape == (2, 10) and torch.isfinite(out).all() and (out >= 0).all()
    assert not model.output.prototypes.requires_grad
    assert "prototypes" not in dict(model.named_parameters())
    assert set(model.output.prototypes.unique().tolist()) == {-1.0, 1.0}


# --- AlexNet ---------------------------------------------------------------------------------


def test_alexnet_paper_shapes_params_and_groups() -> None:
    t = traced("alexnet-paper")
    assert t.total_params == 60_965_224
    chain = [hw_c(r.output_shape) for r in t.leaves()
             if r.type in ("Conv2d", "MaxPool2d", "Flatten", "Linear")]  # fmt: skip
    assert chain == [
        (55, 55, 96), (27, 27, 96), (27, 27, 256), (13, 13, 256), (13, 13, 384),
        (13, 13, 384), (13, 13, 256), (6, 6, 256), (9216,), (4096,), (4096,), (1000,),
    ]  # fmt: skip
    convs = [r for r in t.leaves() if r.type == "Conv2d"]
    assert [c.hyper["groups"] for c in convs] == [1, 2, 1, 2, 2]
    pools = [r for r in t.leaves() if r.type == "MaxPool2d"]
    assert all((p.hyper["kernel_size"], p.hyper["stride"]) == (3, 2) for p in pools)
    lrns = [r for r in t.leaves() if r.type == "LocalResponseNorm"]
    assert [r.name for r in lrns] == ["features.2", "features.6"]
    # PyTorch divides alpha by the window size, the paper does not.
    assert lrns[0].hyper["size"] == 5 and lrns[0].hyper["alpha"] / 5 == pytest.approx(1e-4)
    assert (lrns[0].hyper["beta"], lrns[0].hyper["k"]) == (0.75, 2.0)


# --- VGG -------------------------------------------------------------------------------------

VGG_EXACT = {
    "vgg11-paper": 132_863_336, "vgg11-lrn": 132_863_336, "vgg13-paper": 133_047_848,
    "vgg16-c": 133_638_952, "vgg16-paper": 138_357_544, "vgg19-paper": 143_667_240,
}  # fmt: skip
TABLE_2_MILLIONS = {"vgg11-paper": 133, "vgg11-lrn": 133, "vgg13-paper": 133, "vgg16-c": 134,
                    "vgg16-paper": 138, "vgg19-paper": 144}  # fmt: skip


@pytest.mark.parametrize("name", list(VGG_EXACT))
def test_vgg_params_match_table_2(name: str) -> None:
    t = traced(name)
    assert t.total_params == VGG_EXACT[name]
    assert round(t.total_params / 1e6) == TABLE_2_MILLIONS[name]
    assert hw_c(t.layer("features").output_shape) == (7, 7, 512)
    assert t.output_shape == (1, 1000)


@pytest.mark.parametrize(
    ("name", "tv"),
    [("vgg11-paper", "vgg11"), ("vgg13-paper", "vgg13"), ("vgg16-paper", "vgg16"),
     ("vgg19-paper", "vgg19")],
)  # fmt: skip
def test_vgg_agrees_with_torchvision_metadata(name: str, tv: str) -> None:
    meta = get_model_weights(tv).DEFAULT.meta
    t = traced(name)
    assert t.total_params == meta["num_params"]
    assert round(t.total_macs / 1e9, 3) == meta["_ops"]


def test_vgg_c_has_1x1_convs_and_a_lrn_has_lrn() -> None:
    kernels = [r.hyper["kernel_size"] for r in traced("vgg16-c").leaves() if r.type == "Conv2d"]
    assert len(kernels) == 13
    assert [i for i, k in enumerate(kernels) if k == (1, 1)] == [6, 9, 12]
    lrn = [r.name for r in traced("vgg11-lrn").leaves() if r.type == "LocalResponseNorm"]
    assert lrn == ["features.2"]
    assert not [r for r in traced("vgg11-paper").leaves() if r.type == "LocalResponseNorm"]


# --- ResNet ----------------------------------------------------------------------------------

RESNET_MACS = {  # exact counts (no bias adds) and Table 1's FLOPs row in units of 10^9
    "resnet18-paper": (1_814_073_344, 1.8), "resnet34-paper": (3_663_761_408, 3.6),
    "resnet50-paper": (3_857_973_248, 3.8), "resnet101-paper": (7_570_194_432, 7.6),
    "resnet152-paper": (11_282_415_616, 11.3), "plain18": (1_794_805_760, 1.8),
    "plain34": (3_644_493_824, 3.6),
}  # fmt: skip


@pytest.mark.parametrize("name", list(RESNET_MACS))
def test_resnet_macs_match_table_1(name: str) -> None:
    exact, table = RESNET_MACS[name]
    t = traced(name)
    assert t.total_macs == exact
    # Table 1 prints 0.1 x 10^9, truncating some rows and rounding others.
    assert abs(t.total_macs / 1e9 - table) < 0.1
    assert hw_c(t.layer("layer4").output_shape)[:2] == (7, 7)


@pytest.mark.parametrize("depth", [18, 34])
def test_plain_nets_are_resnets_without_shortcuts(depth: int) -> None:
    res, plain = traced(f"resnet{depth}-paper"), traced(f"plain{depth}")
    shortcuts = [r for r in res.layers if r.name.endswith("downsample")]
    assert [r.name for r in shortcuts] == ["layer2.0.downsample", "layer3.0.downsample",
                                           "layer4.0.downsample"]  # fmt: skip
    assert plain.total_params == res.total_params - sum(r.params for r in shortcuts)
    assert plain.total_macs == res.total_macs - sum(r.macs for r in shortcuts)
    assert not [r for r in plain.layers if "downsample" in r.name]
    torchvision_params = get_model_weights(f"resnet{depth}").DEFAULT.meta["num_params"]
    assert res.total_params == torchvision_params  # v1 and v1.5 differ only in bottlenecks


def test_resnet50_is_v1_not_torchvisions_v1_5() -> None:
    t = traced("resnet50-paper")
    meta = get_model_weights("resnet50").DEFAULT.meta
    assert t.total_params == meta["num_params"]  # same weights, different stride placement
    assert meta["_ops"] == 4.089 and round(t.total_macs / 1e9, 2) == 3.86
    assert t.layer("layer2.0.conv1").hyper["stride"] == (2, 2)
    assert t.layer("layer2.0.conv2").hyper["stride"] == (1, 1)
    assert t.layer("layer2.0.downsample.0").hyper["kernel_size"] == (1, 1)
    assert t.layer("layer1.0.downsample").type == "Sequential"  # 64 -> 256 channels
    assert "layer1.1.downsample" not in {r.name for r in t.layers}  # identity shortcut
    assert "v1.5" in get("resnet50-paper").notes and "4.09" in get("resnet50-paper").notes
    bn_after_conv = [r for r in t.leaves() if r.type == "BatchNorm2d"]
    assert len(bn_after_conv) == len([r for r in t.leaves() if r.type == "Conv2d"])


# --- GoogLeNet -------------------------------------------------------------------------------

GOOGLENET_OUTPUTS = {
    "conv1": (112, 112, 64), "maxpool1": (56, 56, 64), "conv2": (56, 56, 192),
    "maxpool2": (28, 28, 192), "inception3a": (28, 28, 256), "inception3b": (28, 28, 480),
    "maxpool3": (14, 14, 480), "inception4a": (14, 14, 512), "inception4b": (14, 14, 512),
    "inception4c": (14, 14, 512), "inception4d": (14, 14, 528), "inception4e": (14, 14, 832),
    "maxpool4": (7, 7, 832), "inception5a": (7, 7, 832), "inception5b": (7, 7, 1024),
    "avgpool": (1, 1, 1024), "fc": (1000,),
}  # fmt: skip
ERRATA_PARAMS = {"conv1", "inception4a", "inception4c", "inception4d", "inception4e",
                 "inception5a", "inception5b"}  # fmt: skip
ERRATA_OPS = {"conv1", "inception5a"}


def test_googlenet_shapes_and_structure() -> None:
    t = traced("googlenet-paper")
    for name, shape in GOOGLENET_OUTPUTS.items():
        assert hw_c(t.layer(name).output_shape) == shape, name
    assert [r.name for r in t.children("inception3a")] == [f"inception3a.branch{i}"
                                                            for i in range(1, 5)]  # fmt: skip
    for module in (r for r in t.layers if r.type == "Inception"):
        assert t.layer(f"{module.name}.branch3.1.conv").hyper["kernel_size"] == (5, 5)
    assert build_meta("googlenet-paper").dropout.p == 0.4
    assert [r.name for r in t.leaves() if r.type == "LocalResponseNorm"] == ["lrn1", "lrn2"]
    assert not [r for r in t.layers if "aux" in r.name]


@pytest.mark.parametrize(
    "row", get("googlenet-paper").published.modules, ids=lambda m: m.name  # type: ignore[union-attr]
)
def test_googlenet_table_1_rows(row) -> None:  # type: ignore[no-untyped-def]
    record = traced("googlenet-paper").layer(row.name)
    ops_ok = abs(record.macs - row.macs) <= row.macs_tolerance
    params_ok = abs(record.params - row.params) <= row.params_tolerance
    # Rows the paper gets right match to its rounding; its errata are documented, not fudged.
    assert ops_ok == (row.name not in ERRATA_OPS), (record.macs, row.macs)
    assert params_ok == (row.name not in ERRATA_PARAMS), (record.params, row.params)
    assert bool(row.note) == (row.name in ERRATA_OPS | ERRATA_PARAMS)
    if row.name in ERRATA_OPS:
        assert "Erratum (ops)" in row.note and f"{record.macs:,}" in row.note


def test_googlenet_5a_erratum_figures() -> None:
    t = traced("googlenet-paper")
    assert t.layer("inception5a").macs == 51_079_168
    assert t.layer("conv1").macs == 118_013_952
    biases = 128 + 128 + 256 + 24 + 64 + 64
    assert t.layer("inception4c").params == 509_440 + biases


# --- Lecture blocks --------------------------------------------------------------------------


def test_lecture_bottleneck_arithmetic() -> None:
    naive = traced("conv5x5-naive")
    assert naive.total_macs == 28 * 28 * 32 * 5 * 5 * 192 == 120_422_400
    assert hw_c(naive.output_shape) == (28, 28, 32)
    bottleneck = traced("conv5x5-bottleneck")
    assert bottleneck.layer("reduce").macs == 2_408_448
    assert bottleneck.layer("conv").macs == 10_035_200
    assert bottleneck.total_macs == 12_443_648
    assert hw_c(bottleneck.output_shape) == (28, 28, 32)


def test_inception_3a_block_is_googlenets_module() -> None:
    block = traced("inception-3a")
    assert block.root.type == "Inception" and hw_c(block.output_shape) == (28, 28, 256)
    in_net = traced("googlenet-paper").layer("inception3a")
    assert (block.total_params, block.total_macs) == (in_net.params, in_net.macs)
    assert isinstance(inception_module(), Inception)


def test_conv1x1_and_residual_blocks() -> None:
    one = traced("conv1x1")
    assert hw_c(one.output_shape) == (6, 6, 32) and one.total_macs == 6 * 6 * 32 * 32
    block = traced("residual-block")
    assert hw_c(block.output_shape) == (56, 56, 64)
    assert "downsample" not in {r.name for r in block.layers}
    proj = traced("residual-block-projection")
    assert hw_c(proj.output_shape) == (28, 28, 128)
    assert proj.layer("downsample").macs == 28 * 28 * 128 * 64


def test_sized_block_builders_follow_the_formula() -> None:
    t = trace(naive_conv_spec(height=14, width=10, in_channels=64, out_channels=48, kernel_size=3))
    assert t.total_macs == 14 * 10 * 48 * 3 * 3 * 64 and hw_c(t.output_shape) == (14, 10, 48)
    t = trace(bottleneck_conv_spec(height=14, width=14, in_channels=256, bottleneck_channels=32,
                                   out_channels=64, kernel_size=5))  # fmt: skip
    assert t.total_macs == 14 * 14 * 32 * 256 + 14 * 14 * 64 * 5 * 5 * 32
    t = trace(inception_module_spec(height=14, width=14, in_channels=480, ch1x1=192,
                                    ch3x3red=96, ch3x3=208, ch5x5red=16, ch5x5=48,
                                    pool_proj=64))  # fmt: skip
    in_net = traced("googlenet-paper").layer("inception4a")
    assert (t.total_macs, hw_c(t.output_shape)) == (in_net.macs, (14, 14, 512))
    with pytest.raises(SpecError, match="odd"):
        naive_conv_spec(kernel_size=4)
    with pytest.raises(SpecError, match="out_channels"):
        naive_conv_spec(out_channels=0)


def test_real_forward_matches_the_trace() -> None:
    for name in ("conv5x5-bottleneck", "residual-block-projection"):
        spec = get(name)
        model = build_model(name)
        assert isinstance(model, nn.Module)
        with torch.no_grad():
            out = model(torch.randn(1, *spec.input_size))
        assert tuple(out.shape) == traced(name).output_shape


def test_published_figures_checked_in_explorer_and_printed_by_the_cli(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The ✓/Δ check lives in explorer.catalog.published, so `explorer summary` shows it too."""
    from explorer import cli
    from explorer.catalog import published

    checks, notes = published.check(get("googlenet-paper"), trace("googlenet-paper"))
    by_figure = {c.figure: c for c in checks}
    assert by_figure["inception5a MACs"].check.startswith("Δ -2,920,832")
    assert by_figure["inception5a MACs"].note and notes
    rows, _ = published.published_rows(get("resnet50"), trace("resnet50"))
    assert rows[0] == {
        "Figure": "Parameters",
        "Ours": "25,557,032",
        "Published": "25,557,032",
        "Check": "✓",
    }
    assert cli.main(["summary", "resnet50"]) == 0
    out = capsys.readouterr().out
    assert "Published figures (torchvision weights metadata" in out
    assert "ours   4,089,184,256  published   4,089,000,000  ✓ (within ±500,000)" in out
    assert cli.main(["summary", "resnet50", "--input", "3x64x64"]) == 0
    assert "Published figures" not in capsys.readouterr().out  # not for another input size
