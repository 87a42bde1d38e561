"""A left-to-right diagram wrapped into rows, the way text wraps: for a projector's wide screen.

One left-to-right strip of LeNet-5 is 1,535×44 px (12-px text once it fits a page), GoogLeNet's
6,897×230. Here the network is cut where every route from the input to the output passes
(explorer.graph.main_path.dominators: a plain layer of a chain, a ResNet block's addition, an
inception concatenation), so no arrow but the one tensor crosses from a row to the next. Rows
take whole segments between two such cuts, about the same number of boxes each. Every row is
laid out by graphviz's `dot` on its own, left to right, and begins with a box naming the
tensor it continues from; the rows are then stacked into one SVG, top to bottom.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace
from typing import Any

from explorer.graph import diagram as _diagram
from explorer.graph.main_path import dominators
from explorer.graph.types import DataFlowGraph, GraphEdge, GraphNode

ROW_BOXES = 4  # about this many boxes a row (a row never splits a segment between two cuts)
GAP_PT = 18.0  # between two rows
_SIZE = re.compile(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"')
_BODY = re.compile(r"(<g id=\"graph0\".*)</svg>", re.S)
_GRAPHVIZ_IDS = re.compile(r'id="((?:a_)?(?:graph|node|edge|clust)\d+)"')


def rows(graph: DataFlowGraph, per_row: int = ROW_BOXES) -> list[DataFlowGraph]:
    """`graph` in rows of whole segments (cut at the dominators of its output), each row
    after the first opening with a "from …" box that carries the tensor it continues from."""
    cuts = dominators(graph)
    position = {node.id: i for i, node in enumerate(graph.nodes)}
    cut_at = sorted(position[c] for c in cuts)
    segments: list[list[GraphNode]] = []  # nodes up to and including each cut
    start = 0
    for end in [*cut_at[1:], len(graph.nodes) - 1]:
        if end >= start:
            segments.append(list(graph.nodes[start : end + 1]))
            start = end + 1
    if start < len(graph.nodes):
        segments[-1].extend(graph.nodes[start:])
    total = sum(len(s) for s in segments)
    count = max(1, math.ceil(total / per_row))
    target = math.ceil(total / count)
    grouped: list[list[GraphNode]] = [[]]
    for segment in segments:
        if grouped[-1] and len(grouped[-1]) + len(segment) > target:
            grouped.append([])
        grouped[-1].extend(segment)
    out: list[DataFlowGraph] = []
    for index, nodes in enumerate(grouped):
        ids = {n.id for n in nodes}
        edges = [e for e in graph.edges if e.src in ids and e.dst in ids]
        entering = [e for e in graph.edges if e.dst in ids and e.src not in ids]
        if entering:
            source = next(n for n in graph.nodes if n.id == entering[0].src)
            joined = source.kind in ("add", "concat", "mul", "op") and source.scope
            stub = GraphNode(  # a concatenation or an addition is named by its block
                id=f"from{index}", name=f"from {source.scope if joined else source.name}",
                type="Continued",
                kind="input", scope="", output_shapes=source.output_shapes,
            )  # fmt: skip
            nodes = [stub, *nodes]
            edges = [GraphEdge(stub.id, e.dst, e.shape) for e in entering] + edges
        out.append(replace(graph, nodes=tuple(nodes), edges=tuple(edges)))
    return out


def rows_svg(graph: DataFlowGraph, per_row: int = ROW_BOXES, **kwargs: Any) -> bytes:
    """The rows drawn left to right by graphviz and stacked into one SVG (graphviz's own ids
    made unique per row; the boxes keep their `box-<id>`)."""
    parts = []
    for index, row in enumerate(rows(graph, per_row)):
        svg = _diagram.render(row, "svg", rankdir="LR", **kwargs).decode()
        size, body = _SIZE.search(svg), _BODY.search(svg)
        if size is None or body is None:
            raise ValueError("graphviz's SVG has an unexpected shape")
        text = _GRAPHVIZ_IDS.sub(lambda m, i=index: f'id="r{i}_{m.group(1)}"', body.group(1))
        parts.append((float(size.group(1)), float(size.group(2)), text))
    width = max(w for w, _, _ in parts)
    height = sum(h for _, h, _ in parts) + GAP_PT * (len(parts) - 1)
    stacked, top = [], 0.0
    for w, h, text in parts:
        stacked.append(f'<g transform="translate({(width - w) / 2:.2f} {top:.2f})">{text}</g>')
        top += h + GAP_PT
    return (
        f'<svg width="{width:.0f}pt" height="{height:.0f}pt" viewBox="0.00 0.00 {width:.2f} '
        f'{height:.2f}" xmlns="http://www.w3.org/2000/svg" '
        f'xmlns:xlink="http://www.w3.org/1999/xlink">\n' + "\n".join(stacked) + "\n</svg>\n"
    ).encode()
