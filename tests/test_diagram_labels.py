"""What the diagram's boxes say, and the SVG the pages put inline (issue 11)."""

from __future__ import annotations

import shutil

import pytest

from explorer.analysis.analysis import record_architecture
from explorer.graph import dataflow as graph
from explorer.graph import diagram
from explorer.graph.types import DataFlowGraph


def _labels(arch: str, depth: int | None = None) -> list[str]:
    rec = record_architecture(arch)
    g = graph.build_graph(rec, graph.auto_depth(rec) if depth is None else depth)
    arriving: dict[str, list[tuple[int, ...]]] = {}
    for e in g.edges:
        arriving.setdefault(e.dst, []).append(e.shape)
    return [diagram.describe(n, arriving.get(n.id, ())) for n in g.nodes]


def test_adaptive_pool_with_a_7x7_output_is_not_called_global() -> None:
    labels = _labels("vgg16")
    assert "adaptive avg pool → 7×7" in labels
    assert "global avg pool" not in labels
    assert "global avg pool" in _labels("resnet18")


def test_vit_class_token_concat_joins_tokens_not_channels() -> None:
    labels = _labels("vit_b_16")
    assert "concat tokens: 196 + 1 class token → 197" in labels
    assert not any("channels" in label for label in labels)


def test_inception_branches_say_their_convolutions() -> None:
    rec = record_architecture("googlenet-paper")
    dot = diagram.to_dot(graph.build_graph(rec, 2), modules=rec.modules)
    assert "1×1 conv, 96 + ReLU\n3×3 conv, 128 + ReLU" in dot
    assert "BasicConv2d" not in dot.split("tooltip")[0]  # labels only, not the tooltips
    assert "concat channels\n64 + 128 + 32 + 32 → 256" in dot


@pytest.mark.skipif(shutil.which("dot") is None, reason="needs graphviz's dot")
def test_inline_svg_is_one_line_scales_and_keeps_tooltips() -> None:
    rec = record_architecture("lenet5")
    g = graph.build_graph(rec, 2)
    svg = diagram.inline_svg(diagram.render(g, "svg"))
    assert svg.startswith("<svg ") and "\n" not in svg and "<?xml" not in svg
    assert 'width="100%"' in svg and "max-width:" in svg and "min-width:" in svg
    assert "<title>features.0&#10;type: Conv2d" in svg  # hover text, line breaks kept
    lr = diagram.to_dot(g, rankdir="LR")
    assert "rankdir=LR" in lr


def test_a_resnet_block_keeps_its_name() -> None:
    """Two convs and a shortcut are not a chain: the box must not read like one."""
    rec = record_architecture("resnet18")
    g = graph.build_graph(rec, 2, collapse=False)
    blocks = [n for n in g.nodes if n.kind == "block"]
    assert blocks and all(diagram.inside_text(n, rec.modules) is None for n in blocks)


def _vit_default() -> tuple[DataFlowGraph, str]:
    rec = record_architecture("vit_b_16")
    g = graph.build_graph(rec, graph.auto_depth(rec))
    return g, diagram.to_dot(g, modules=rec.modules)


def test_vit_attention_is_one_box_with_its_heads_and_batch_first_arrows() -> None:
    g, dot = _vit_default()
    attention = g.by_kind("attention")
    assert [n.type for n in attention] == ["MultiheadAttention"]
    box = attention[0]
    assert diagram.describe(box) == "self-attention, 12 heads"
    assert "multi_head_attention_forward" not in dot
    assert '"encoder.layers.encoder_layer_0.self_attention\nself-attention, 12 heads"' in dot
    # q, k and v are one tensor: one arrow, carrying the module's (N, L, E) input, 197×768.
    into = [e for e in g.edges if e.dst == box.id]
    assert len(into) == 1 and into[0].shape == (1, 197, 768)
    assert box.output_shape == (1, 197, 768)
    assert box.params == 4 * 768 * 768 + 4 * 768  # in_proj (q, k, v) and out_proj
    assert "1×768" not in dot


def test_vit_position_embedding_addition_names_what_is_added() -> None:
    g, dot = _vit_default()
    adds = [n for n in g.by_kind("add") if n.hyper.get("learned")]
    assert len(adds) == 1 and diagram.describe(adds[0]) == "+ pos_embedding"
    assert 'label="+ pos_embedding"' in dot


def test_resnet50_default_view_shows_an_identity_shortcut() -> None:
    rec = record_architecture("resnet50")
    depth = graph.auto_depth(rec)
    g = graph.build_graph(rec, depth)
    assert len(g.nodes) <= 70
    adds = [n for n in g.by_kind("add") if len(set(g.inputs_of(n.id))) == 2]
    assert len(adds) == 1 and adds[0].scope == "layer2.1"
    # the block's path and the identity from the block before it
    assert {g.node(s).name for s in g.inputs_of(adds[0].id)} == {"layer2.1.bn3", "layer2.0"}
    assert [n.repeat for n in g.nodes if n.repeat > 1] == [2, 2, 5, 2]
    # without collapsing, every block is drawn as it is (no block opened specially)
    assert not graph.build_graph(rec, depth, collapse=False).find("layer2.1.conv1")


def test_channels_last_tensors_read_as_height_width_channels() -> None:
    """Swin carries (N, H, W, C) between its permutes: the table, the arrows and the shape
    chart say 56×56×96 (n_H×n_W×n_C), never PyTorch's raw 56×56×96 read as C×H×W."""
    from explorer.analysis.trace import trace
    from explorer.core.layer_math import hwc, lecture_shape
    from explorer.core.report import layer_rows
    from explorer.graph.main_path import main_path

    image = (1, 3, 224, 224)
    assert lecture_shape((1, 56, 56, 96), image) == "56×56×96"  # channels-last
    assert lecture_shape((1, 96, 56, 56), image) == "56×56×96"  # channels-first
    assert lecture_shape((1, 12, 197, 64), image) == "197×64×12"  # attention heads: as before
    assert hwc((1, 64, 56, 80), (1, 3, 224, 320)) == (56, 80, 64)  # a non-square picture
    assert hwc((1, 1, 1, 768), image) == (1, 1, 768)  # timm's channels-last pooled features
    rows = {r["name"]: r["output"] for r in layer_rows(trace("swin_t"), 2)}
    assert rows["features.0"] == "56×56×96" and rows["features.6"] == "7×7×768"
    rec = record_architecture("swin_t")
    g = graph.build_graph(rec, 2)
    dot = diagram.to_dot(g, modules=rec.modules)
    assert "56×56×96" in dot and "56×96×56" not in dot
    assert (56, 56, 96) in [(p.height, p.width, p.channels) for p in main_path(g)]
    assert (56, 96, 56) not in [(p.height, p.width, p.channels) for p in main_path(g)]
