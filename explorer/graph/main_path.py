"""The main path of a network: the tensors every input→output route passes through.

The lecture's picture "n_H, n_W go down while n_C goes up" is about the tensor that flows
from the input to the classifier. Plotting every convolution tells a different story: the
1×1 reductions inside a ResNet bottleneck or an inception branch make n_C zig-zag. The main
path keeps only the nodes of the data-flow graph that *dominate* the output — nodes that no
route from the input can avoid: the stem's layers, pools, and the output of every residual
addition or inception concatenation. Inside a block, the shortcut or the other branches go
around a layer, so it is not on the main path. On a plain chain (LeNet, VGG) every layer is.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from explorer.core.layer_math import hwc
from explorer.engine.recording import Recording
from explorer.graph.dataflow import build_graph, flow_digraph
from explorer.graph.types import DataFlowGraph, GraphNode

# Kinds whose output is worth a point: what changes the tensor's shape or joins tensors.
_POINT_KINDS = ("input", "conv", "pool", "linear", "add", "concat", "block", "attention", "op")


@dataclass(frozen=True)
class ShapePoint:
    """One tensor on the path, as the lecture writes it: n_H × n_W × n_C."""

    name: str  # the layer ("features.0"), or the block that adds/joins ("layer1.0 +")
    type: str
    height: int
    width: int
    channels: int


def dominators(graph: DataFlowGraph) -> list[str]:
    """Ids of the nodes that every route from the input to the output passes through, in
    order (input first, output last): the output's chain of immediate dominators (networkx's
    Cooper-Harvey-Kennedy algorithm). Nodes fed only by parameters have no route from the input
    and are left out."""
    g = flow_digraph(graph)
    start = graph.nodes[0].id
    idom = nx.immediate_dominators(g, start)
    reached = [n.id for n in graph.nodes if n.id in idom]
    end = "output" if "output" in idom else reached[-1]
    chain = [end]
    while chain[-1] != start:
        chain.append(idom[chain[-1]])
    return chain[::-1]


def _point(node: GraphNode, image: tuple[int, ...]) -> ShapePoint | None:
    shape = node.output_shape
    if node.kind not in _POINT_KINDS or len(shape) != 4:
        return None
    name = node.name
    if node.kind in ("add", "concat", "op"):
        what = {"add": "+", "concat": "concat"}.get(node.kind, node.name)
        name = f"{node.scope} ({what})".strip()
    return ShapePoint(name, node.type, *hwc(shape, image))


def main_path(graph: DataFlowGraph) -> list[ShapePoint]:
    """The (N, C, H, W) tensors on the main path, input first; repeats of the same shape
    made by the same kind of step (BN, ReLU are not points at all) are kept, since each is a
    layer a student can find in the table."""
    by_id = {n.id: n for n in graph.nodes}
    points = [_point(by_id[i], graph.input_shape) for i in dominators(graph)]
    return [p for p in points if p is not None]


def main_path_of(rec: Recording) -> list[ShapePoint]:
    """The main path at full detail (every layer a box, no ×N collapsing)."""
    return main_path(build_graph(rec, max(rec.max_depth, 1), collapse=False))
