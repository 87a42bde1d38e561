"""The data-flow graph at one level of detail: boxes (nodes) and arrows (edges)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Shape = tuple[int, ...]


@dataclass(frozen=True)
class GraphNode:
    id: str
    name: str  # module path ("layer1.0"), function name ("cat"), "input" or "output"
    type: str  # class name ("Conv2d"), function name, "Input", "Output"
    kind: str  # colour group: conv, pool, norm, act, linear, dropout, concat, add, block, ...
    scope: str  # the module whose forward made this node ("" for the root)
    output_shapes: tuple[Shape, ...]
    params: int = 0
    macs: int = 0
    repeat: int = 1  # > 1: a run of identical blocks collapsed into this box
    members: tuple[str, ...] = ()  # the module paths a collapsed box stands for
    hyper: dict[str, Any] = field(default_factory=dict)
    call: int = 1  # which call of a module used more than once (ResNet's shared ReLU)
    folded: tuple[str, ...] = ()  # activations drawn inside this box ("ReLU")

    @property
    def output_shape(self) -> Shape:
        return self.output_shapes[0] if self.output_shapes else ()


@dataclass(frozen=True)
class GraphEdge:
    src: str
    dst: str
    shape: Shape  # the tensor as the destination receives it, (N, C, H, W)


@dataclass(frozen=True)
class DataFlowGraph:
    architecture: str
    input_shape: Shape
    depth: int
    max_depth: int
    collapsed: bool
    nodes: tuple[GraphNode, ...]
    edges: tuple[GraphEdge, ...]

    def node(self, node_id: str) -> GraphNode:
        for n in self.nodes:
            if n.id == node_id:
                return n
        raise KeyError(node_id)

    def inputs_of(self, node_id: str) -> list[str]:
        return [e.src for e in self.edges if e.dst == node_id]

    def outputs_of(self, node_id: str) -> list[str]:
        return [e.dst for e in self.edges if e.src == node_id]

    def by_kind(self, kind: str) -> list[GraphNode]:
        return [n for n in self.nodes if n.kind == kind]

    def find(self, name: str) -> list[GraphNode]:
        return [n for n in self.nodes if n.name == name]
