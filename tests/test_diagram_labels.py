"""What the diagram's boxes say, and the SVG the pages put inline (issue 11)."""

from __future__ import annotations

import shutil

import pytest

from explorer import diagram, graph


def _labels(arch: str, depth: int | None = None) -> list[str]:
    rec = graph.record_architecture(arch)
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
    rec = graph.record_architecture("googlenet-paper")
    dot = diagram.to_dot(graph.build_graph(rec, 2), modules=rec.modules)
    assert "1×1 conv, 96 + ReLU\n3×3 conv, 128 + ReLU" in dot
    assert "BasicConv2d" not in dot.split("tooltip")[0]  # labels only, not the tooltips
    assert "concat channels\n64 + 128 + 32 + 32 → 256" in dot


@pytest.mark.skipif(shutil.which("dot") is None, reason="needs graphviz's dot")
def test_inline_svg_is_one_line_scales_and_keeps_tooltips() -> None:
    rec = graph.record_architecture("lenet5")
    g = graph.build_graph(rec, 2)
    svg = diagram.inline_svg(diagram.render(g, "svg"))
    assert svg.startswith("<svg ") and "\n" not in svg and "<?xml" not in svg
    assert 'width="100%"' in svg and "max-width:" in svg and "min-width:" in svg
    assert "<title>features.0&#10;type: Conv2d" in svg  # hover text, line breaks kept
    lr = diagram.to_dot(g, rankdir="LR")
    assert "rankdir=LR" in lr


def test_a_resnet_block_keeps_its_name() -> None:
    """Two convs and a shortcut are not a chain: the box must not read like one."""
    rec = graph.record_architecture("resnet18")
    g = graph.build_graph(rec, 2, collapse=False)
    blocks = [n for n in g.nodes if n.kind == "block"]
    assert blocks and all(diagram.inside_text(n, rec.modules) is None for n in blocks)
