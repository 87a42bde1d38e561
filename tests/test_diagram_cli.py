"""`explorer diagram`: DOT on stdout, SVG/PNG files, clear errors."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from explorer.cli import main

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="needs graphviz's dot")


def _edges(dot: str) -> list[tuple[str, str]]:
    return re.findall(r"^\s*(\w+) -> (\w+)", dot, flags=re.M)


def _node_ids(dot: str, label_part: str) -> list[str]:
    return re.findall(rf'^\s*(\w+) \[label="[^"]*{re.escape(label_part)}', dot, flags=re.M)


def test_inception_3a_branches_meet_in_one_concat(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagram", "inception-3a"]) == 0
    dot = capsys.readouterr().out
    assert dot.startswith("digraph")
    concat = _node_ids(dot, "concat")
    assert len(concat) == 1
    into = [src for src, dst in _edges(dot) if dst == concat[0]]
    assert len(into) == 4  # branch1..branch4
    assert "28×28×256" in dot


def test_resnet18_additions_have_two_inputs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagram", "resnet18", "--depth", "3", "--no-collapse"]) == 0
    dot = capsys.readouterr().out
    adds = re.findall(r'^\s*(\w+) \[label="\+"', dot, flags=re.M)
    assert len(adds) == 8
    edges = _edges(dot)
    for node in adds:
        assert len([s for s, d in edges if d == node]) == 2


def test_default_depth_shows_resnet18_additions_and_repeats(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["diagram", "resnet18"]) == 0
    dot = capsys.readouterr().out
    edges = _edges(dot)
    adds = re.findall(r'^\s*(\w+) \[label="\+"', dot, flags=re.M)
    assert adds and all(len([s for s, d in edges if d == a]) == 2 for a in adds)
    assert main(["diagram", "resnet18", "--depth", "2"]) == 0
    assert "BasicBlock ×2" in capsys.readouterr().out  # layer1.0 and layer1.1 are identical


def test_expanded_repeats_keep_the_first_block_open(capsys: pytest.CaptureFixture[str]) -> None:
    """ViT's 12 identical encoder blocks: at a depth that opens them, the first is drawn inside
    (its attention, norms, residual additions) and the other 11 as one box; the position
    embedding and the class token are where they join (issue 11)."""
    from explorer.analysis.analysis import data_flow

    g = data_flow("vit_b_16", depth=4)
    assert [n.repeat for n in g.nodes if n.repeat > 1] == [11]
    assert len(g.by_kind("attention")) == 1
    (cat,) = g.by_kind("concat")
    assert cat.hyper["dim"] == 1 and cat.hyper["learned"] == ("class_token",)
    assert cat.output_shape == (1, 197, 768)
    assert any(n.hyper.get("learned") == ("encoder.pos_embedding",) for n in g.by_kind("add"))


@needs_dot
def test_svg_and_png_files(tmp_path: Path) -> None:
    svg = tmp_path / "lenet.svg"
    assert main(["diagram", "lenet5", "--format", "svg", "-o", str(svg)]) == 0
    assert b"<svg" in svg.read_bytes()
    png = tmp_path / "lenet.png"
    assert main(["diagram", "lenet5", "--format", "png", "-o", str(png), "--left-right"]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_layer_stack_spec(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagram", "input 32x32x1 | conv 6 5x5 | maxpool 2 | fc 10"]) == 0
    dot = capsys.readouterr().out
    assert "5×5 conv, 6" in dot and "28×28×6" in dot


def test_errors_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagram", "resnet19"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Unknown architecture 'resnet19'") and "resnet18" in err
    assert main(["diagram", "lenet5", "--depth", "0"]) == 2
    assert "--depth" in capsys.readouterr().err
    assert main(["diagram", "alexnet", "--input-size", "3", "16", "16"]) == 2
    assert main(["diagram", "alexnet", "--input", "3x16x16"]) == 2
    assert "too small" in capsys.readouterr().err


def test_render_bounds_arrows_and_time() -> None:
    """A drawing's worst case is bounded: too many arrows, or a dot that does not finish,
    is one clear sentence, never a hung server."""
    from dataclasses import replace

    from explorer.analysis.analysis import data_flow
    from explorer.core.errors import ExplorerError
    from explorer.graph import diagram
    from explorer.graph.types import GraphEdge

    graph = data_flow("lenet5")
    many = replace(graph, edges=graph.edges * (diagram.MAX_EDGES // len(graph.edges) + 1))
    with pytest.raises(ExplorerError, match=r"arrows, more than the 1,500 this explorer draws"):
        diagram.render(many, "svg")
    assert isinstance(graph.edges[0], GraphEdge)
    if diagram.dot_available():
        with pytest.raises(ExplorerError, match=r"did not finish drawing lenet5 .* within 1e-06 s"):
            diagram.render(graph, "svg", timeout=1e-6)
        assert diagram.render(graph, "svg").startswith(b"<?xml")
