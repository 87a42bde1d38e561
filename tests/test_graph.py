"""The data-flow graph, its diagram, receptive fields and the lecture's arithmetic."""

from __future__ import annotations

import shutil

import pytest
import torch
from torch import nn

from explorer.analysis.analysis import analyse, data_flow, record_architecture
from explorer.core.layer_math import (
    LECTURE_6X6,
    LECTURE_EXAMPLE,
    BottleneckComparison,
    conv1x1_single_channel,
    conv_output_size,
    lecture_shape,
    output_size_formula,
)
from explorer.graph import diagram
from explorer.graph.dataflow import build_graph, weight_layer_depth
from explorer.graph.receptive import GLOBAL, receptive_fields


@pytest.fixture(scope="module")
def resnet18_rec():  # type: ignore[no-untyped-def]
    return record_architecture("resnet18")


def test_inception_branches_meet_in_one_concat() -> None:
    g = data_flow("inception-3a", depth=1)
    concats = g.by_kind("concat")
    assert len(concats) == 1
    sources = g.inputs_of(concats[0].id)
    assert [g.node(s).name for s in sources] == ["branch1", "branch2", "branch3", "branch4"]
    assert {e.shape for e in g.edges if e.dst == concats[0].id} == {
        (1, 64, 28, 28), (1, 128, 28, 28), (1, 32, 28, 28)
    }  # fmt: skip
    assert concats[0].output_shape == (1, 256, 28, 28)
    assert lecture_shape(concats[0].output_shape) == "28×28×256"
    # The traced MACs are attached: the four branches add up to the module's total.
    assert sum(g.node(s).macs for s in sources) == 128_049_152


def test_every_resnet_addition_has_the_path_and_the_shortcut(resnet18_rec) -> None:  # type: ignore[no-untyped-def]
    g = build_graph(resnet18_rec, 3, collapse=False)
    adds = g.by_kind("add")
    assert len(adds) == 8  # two basic blocks in each of four stages
    for node in adds:
        sources = g.inputs_of(node.id)
        assert len(sources) == 2
        names = {g.node(s).name for s in sources}
        assert any(n.endswith("bn2") for n in names)  # the block's path
    # The first block of stage 2 adds its projection shortcut.
    first = next(n for n in adds if "layer2.0.bn2" in {g.node(s).name for s in g.inputs_of(n.id)})
    assert "layer2.0.downsample" in {g.node(s).name for s in g.inputs_of(first.id)}


def test_flatten_in_forward_is_a_node(resnet18_rec) -> None:  # type: ignore[no-untyped-def]
    g = build_graph(resnet18_rec, 1)
    flat = g.by_kind("flatten")
    assert len(flat) == 1 and flat[0].output_shape == (1, 512)
    assert [g.node(s).name for s in g.inputs_of(flat[0].id)] == ["avgpool"]
    assert [n.name for n in g.nodes[:3]] == ["input", "conv1", "bn1"]
    assert g.nodes[-1].name == "output" and g.nodes[-1].output_shape == (1, 1000)


def test_identical_blocks_collapse_into_one_box_and_expand_on_request() -> None:
    rec = record_architecture("resnet152")
    g = build_graph(rec, 2)
    boxes = {n.name: n for n in g.nodes if n.repeat > 1}
    # layerN.0 changes the shape (projection); the rest of each stage repeats. The first run
    # of three or more (layer2.1 … layer2.7) keeps its first block open, with its shortcut.
    assert {n.repeat for n in boxes.values()} == {2, 6, 35}
    assert "layer2.2 … layer2.7" in boxes and g.find("layer2.1.conv3")
    assert boxes["layer3.1 … layer3.35"].type == "Bottleneck"
    assert boxes["layer3.1 … layer3.35"].members[-1] == "layer3.35"
    assert len(g.nodes) < 25
    full = build_graph(rec, 2, collapse=False)
    assert len([n for n in full.nodes if n.type == "Bottleneck"]) == 3 + 8 + 36 + 3
    # The box's parameters are the sum of its blocks'.
    assert boxes["layer3.1 … layer3.35"].params == sum(
        n.params for n in full.nodes if n.name.startswith("layer3.") and n.name != "layer3.0"
    )
    dot = diagram.to_dot(g)
    assert "Bottleneck ×35" in dot


def test_weight_layer_depth_counts_the_longest_path() -> None:
    assert weight_layer_depth(record_architecture("resnet152")) == 152
    assert weight_layer_depth(record_architecture("googlenet")) == 22
    assert weight_layer_depth(record_architecture("vgg16")) == 16


def test_user_module_and_hooks_removed() -> None:
    class Two(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Conv2d(3, 4, 3, padding=1)
            self.b = nn.Conv2d(3, 4, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.relu(self.a(x) * self.b(x))

    model = Two().train()
    rec = record_architecture(model, (3, 8, 8))
    g = build_graph(rec, 1)
    mul = g.by_kind("mul")
    assert len(mul) == 1 and [g.node(s).name for s in g.inputs_of(mul[0].id)] == ["a", "b"]
    assert g.by_kind("act")[0].name == "relu"
    assert model.training and not model._forward_hooks and not model.a._forward_pre_hooks
    assert next(model.parameters()).device.type == "cpu"  # the user's module is untouched


def test_scaling_by_a_number_is_transparent() -> None:
    model = nn.Sequential(nn.Conv2d(1, 2, 3)).eval()
    with torch.device("meta"):
        model = model.to("meta")

    class Wrap(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = model

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.body(x * 0.5).view(1, -1)

    g = build_graph(record_architecture(Wrap(), (1, 5, 5)), 1)
    assert [n.name for n in g.nodes] == ["input", "body", "output"]
    assert g.edges[-1].shape == (1, 18)


def test_receptive_fields_match_the_known_values() -> None:
    fields = receptive_fields(record_architecture("vgg16"))
    assert fields["features.28"] == 196  # conv5_3
    assert fields["features.30"] == 212  # pool5
    assert fields["classifier.6"] == GLOBAL
    assert receptive_fields(record_architecture("alexnet"))["features.12"] == 195


def test_lecture_costs() -> None:
    e = LECTURE_EXAMPLE
    assert e.naive.macs == 120_422_400
    assert e.naive.formula == "28×28×32 × 5×5×192 = 120,422,400"
    assert (e.reduce.macs, e.expand.macs, e.bottleneck_macs) == (2_408_448, 10_035_200, 12_443_648)
    assert e.summary == "120.4M vs 2.4M + 10.0M = 12.4M (9.7× cheaper)"
    wide = BottleneckComparison(h=14, w=14, c_in=64, c_out=64, f=3, bottleneck=64)
    assert wide.ratio < 1  # a bottleneck as wide as the input saves nothing


def test_conv1x1_on_the_lecture_matrix() -> None:
    out = conv1x1_single_channel(LECTURE_6X6, 2)
    assert out[0] == [2, 4, 6, 12, 10, 16]
    assert out[5][5] == 10


@pytest.mark.parametrize(
    ("n", "f", "p", "s", "d", "ceil"),
    [(224, 7, 3, 2, 1, False), (55, 3, 0, 2, 1, True), (112, 3, 1, 2, 1, True),
     (13, 3, 0, 2, 1, True), (10, 3, 2, 1, 2, False), (7, 2, 0, 2, 1, True)],
)  # fmt: skip
def test_output_size_agrees_with_pytorch(
    n: int, f: int, p: int, s: int, d: int, ceil: bool
) -> None:
    x = torch.empty(1, 1, n, n, device="meta")
    if ceil:
        expected = nn.MaxPool2d(f, s, p, d, ceil_mode=True)(x).shape[-1]
    else:
        expected = nn.Conv2d(1, 1, f, s, p, d, device="meta")(x).shape[-1]
    assert conv_output_size(n, f, p, s, d, ceil) == expected


def test_output_size_formula_is_written_with_the_numbers() -> None:
    hyper = {"kernel_size": (7, 7), "stride": (2, 2), "padding": (3, 3), "dilation": (1, 1)}
    assert output_size_formula(hyper, (1, 3, 224, 224)) == "⌊(224 + 2·3 − 7)/2⌋ + 1 = 112"
    assert output_size_formula({"in_features": 3}, (1, 3)) is None


@pytest.mark.skipif(shutil.which("dot") is None, reason="needs graphviz's dot")
def test_render_svg_has_tooltips_with_params_and_macs() -> None:
    svg = diagram.render(data_flow("inception-3a", depth=1), "svg").decode()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert "params: 12,352" in svg  # branch1: 192·64 + 64
    assert "28×28×256" in svg


def test_children_of_a_module_list_are_boxes() -> None:
    class Stack(nn.Module):  # the ModuleList itself is never called (as in maxvit)
        def __init__(self) -> None:
            super().__init__()
            self.blocks = nn.ModuleList(
                nn.Sequential(nn.Conv2d(2, 2, 3, padding=1), nn.ReLU()) for _ in range(3)
            )

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            for block in self.blocks:
                x = block(x)
            return x

    rec = record_architecture(Stack(), (2, 6, 6))
    full = build_graph(rec, 1, collapse=False)
    assert [n.name for n in full.nodes] == ["input", "blocks.0", "blocks.1", "blocks.2", "output"]
    short = build_graph(rec, 1)
    assert [(n.name, n.repeat) for n in short.nodes][1] == ("blocks.0 … blocks.2", 3)
    assert short.nodes[1].params == 3 * (2 * 2 * 9 + 2)


def test_one_pass_gives_trace_and_recording_and_catalog_recordings_are_reused() -> None:
    """The graph's boxes carry MACs from the very pass they were recorded in, and drawing a
    catalog network again (the Transfer page, per freeze setting) replays one recording."""
    import explorer
    from explorer.analysis.trace import trace_and_record

    t, rec = trace_and_record("resnet18")
    assert rec.modules["layer1.0"].macs == t.layer("layer1.0").macs
    assert rec.modules[""].macs == t.total_macs == explorer.trace("resnet18").total_macs
    assert record_architecture("resnet18") is record_architecture("resnet18", (3, 224, 224))
    g = build_graph(record_architecture("resnet18"), 1)
    assert sum(n.macs for n in g.nodes) == t.total_macs


def test_densenet_growing_concatenation_is_a_chain() -> None:
    """Each dense layer reads the concatenation of everything before it: drawn as a chain of
    concat nodes (linear in the layers), not an arrow from every layer to every later one."""
    rec = record_architecture("densenet121")
    g = build_graph(rec, 3, collapse=False)
    layers = [n for n in g.nodes if n.type == "_DenseLayer"]
    assert len(layers) == 58
    assert len(g.edges) < 4 * len(g.nodes)  # 2 inputs per concat, 1 per layer
    second = next(n for n in layers if n.name.endswith("denseblock1.denselayer2"))
    (hub,) = g.inputs_of(second.id)
    assert g.node(hub).kind == "concat" and g.node(hub).output_shape == (1, 96, 56, 56)
    assert weight_layer_depth(rec) == 121  # 120 convolutions on the main path + the classifier


def test_the_recording_reads_the_traces_own_records():
    """One record type per module: the graph's modules are the Trace's LayerRecords."""
    a = analyse("resnet18")
    block = a.trace.layer("layer1.0")
    assert a.recording.modules["layer1.0"] is block
    assert block.children == tuple(
        f"layer1.0.{c}" for c in ("conv1", "bn1", "relu", "conv2", "bn2")
    )
    # blocks built alike have equal signatures (a drawing collapses them into "×2")
    sig = {r.name: r.signature for r in a.trace.layers}
    assert sig["layer1.0"] == sig["layer1.1"]
    assert sig["layer2.0"] != sig["layer2.1"]  # layer2.0 has the stride-2 downsample
    assert block.hyper == {"stride": 1}  # a block's own settings, as its layers' are
    assert a.trace.layer("layer1.0.conv1").hyper["kernel_size"] == (3, 3)


def test_a_diagram_box_names_the_layers_it_stands_for():
    """What a click on a box picks: a layer its path, a collapsed "×N" box each block, a
    residual addition the block whose forward adds, the input nothing, a forged id nothing."""
    from components.tables import picked_rows

    a = analyse("resnet18")
    full = a.graph(4, collapse=False)
    by_name = {n.name: n.id for n in full.nodes}
    assert a.box_layers(by_name["layer2.0.conv1"], 4, False) == ("layer2.0.conv1",)
    adds = [n.id for n in full.nodes if n.kind == "add"]
    assert a.box_layers(adds[0], 4, False) == ("layer1.0",)
    assert a.box_layers("input", 4, False) == () and a.box_layers("<svg>", 4, False) == ()
    collapsed = a.graph(1, collapse=True)
    runs = [n for n in collapsed.nodes if n.repeat > 1]
    if runs:
        assert a.box_layers(runs[0].id, 1, True) == runs[0].members
    rows = [{"Layer": name} for name in ("conv1", "layer1", "layer1.0", "layer1.0.conv1", "fc")]
    assert picked_rows(rows, ("layer1.0",)) == [1, 2, 3]  # its block, itself, inside it


@pytest.mark.skipif(shutil.which("dot") is None, reason="needs graphviz's dot")
@pytest.mark.parametrize("arch", ["lenet5", "googlenet-paper", "resnet18", "densenet121"])
def test_left_to_right_wraps_into_rows_cut_where_every_route_passes(arch: str) -> None:
    """Issue 21: "left → right" was one strip (LeNet-5 1535×44 px, GoogLeNet 6897×230).
    Rows now: every box once, each row after the first fed by one tensor from the row
    before (a cut every route passes), and the stacked SVG carries every box's id once."""
    import re

    from explorer.graph.rows import rows, rows_svg

    a = analyse(arch)
    graph = a.graph(None, True)
    wrapped = rows(graph)
    assert len(wrapped) >= 2
    placed = [n.id for row in wrapped for n in row.nodes if not n.id.startswith("from")]
    assert sorted(placed) == sorted(n.id for n in graph.nodes)  # each box in one row
    kept = sum(len(row.edges) for row in wrapped)
    assert kept == len(graph.edges)  # an arrow within a row, or from the row's "from" box
    for row in wrapped[1:]:
        stub = row.nodes[0]
        assert stub.id.startswith("from") and stub.name.startswith("from ")
        assert all(e.src != n.id for n in row.nodes[1:] for e in row.edges if e.dst == stub.id)
    svg = rows_svg(graph, modules=a.modules).decode()
    ids = re.findall(r'id="([^"]+)"', svg)
    assert len(ids) == len(set(ids))  # graphviz's own ids made unique per row
    for node in graph.nodes:
        assert svg.count(f'id="box&#45;{node.id}"') == 1, node.id
    size = re.compile(r'viewBox="0.00 0.00 ([\d.]+) ([\d.]+)"')
    width, height = (float(v) for v in size.search(svg).groups())  # type: ignore[union-attr]
    strip = diagram.render(graph, "svg", rankdir="LR", modules=a.modules).decode()
    strip_w, strip_h = (float(v) for v in size.search(strip).groups())  # type: ignore[union-attr]
    assert width / height < 0.6 * strip_w / strip_h  # rows: far less of a strip than one line
