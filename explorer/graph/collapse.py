"""Simplifying a data-flow graph for drawing: activations folded into the layer before them,
runs of identical sibling blocks collapsed into one "×N" box."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from explorer.core.records import LayerRecord
from explorer.engine.recording import Recording, Shape
from explorer.graph.types import DataFlowGraph, GraphEdge, GraphNode

_FOLD_INTO = ("conv", "norm", "linear", "pool", "block", "attention")


def fold_activations(graph: DataFlowGraph) -> DataFlowGraph:
    nodes = {n.id: n for n in graph.nodes}
    edges = list(graph.edges)
    removed: set[str] = set()
    for act in graph.nodes:
        if act.kind != "act" or act.repeat > 1:
            continue
        into = [e for e in edges if e.dst == act.id]
        if len(into) != 1:
            continue
        src = nodes[into[0].src]
        if src.kind not in _FOLD_INTO or src.id in removed:
            continue
        if [e.dst for e in edges if e.src == src.id] != [act.id]:
            continue  # the layer's output also goes elsewhere: keep the activation visible
        nodes[src.id] = replace(
            src, folded=(*src.folded, act.type), output_shapes=act.output_shapes
        )
        removed.add(act.id)
        edges = [
            GraphEdge(src.id, e.dst, e.shape) if e.src == act.id else e
            for e in edges
            if e.dst != act.id
        ]
    return replace(
        graph,
        nodes=tuple(nodes[n.id] for n in graph.nodes if n.id not in removed),
        edges=tuple(edges),
    )


def _prefixes(scope: str) -> list[str]:
    """'layer1.0.conv' -> ['layer1', 'layer1.0', 'layer1.0.conv'] ('' has none)."""
    if not scope:
        return []
    parts = scope.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


class _Index:
    """Nodes by every module scope they are inside, and edges by end: built once per graph
    (the scan per sibling was 273K `_in_scope` calls per depth level on large networks)."""

    def __init__(self, nodes: list[GraphNode], edges: list[GraphEdge]) -> None:
        self.by_scope: dict[str, dict[str, GraphNode]] = {}
        for n in nodes:
            self.add(n)
        self.set_edges(edges)

    def add(self, node: GraphNode) -> None:
        if node.kind in ("input", "output"):
            return
        for prefix in _prefixes(node.scope):
            self.by_scope.setdefault(prefix, {})[node.id] = node

    def remove(self, node: GraphNode) -> None:
        for prefix in _prefixes(node.scope):
            self.by_scope.get(prefix, {}).pop(node.id, None)

    def members(self, module: str) -> list[GraphNode]:
        return list(self.by_scope.get(module, {}).values())

    def set_edges(self, edges: list[GraphEdge]) -> None:
        self.into: dict[str, list[str]] = {}
        self.out_of: dict[str, list[str]] = {}
        for e in edges:
            self.into.setdefault(e.dst, []).append(e.src)
            self.out_of.setdefault(e.src, []).append(e.dst)


def collapse(graph: DataFlowGraph, rec: Recording, macs: Mapping[str, int]) -> DataFlowGraph:
    nodes = list(graph.nodes)
    edges = list(graph.edges)
    call_count: dict[str, int] = {}
    shapes: dict[str, tuple[tuple[Shape, ...], tuple[Shape, ...]]] = {}
    open_calls: list[tuple[str, tuple[Shape, ...]]] = []
    for ev in rec.events:
        if ev.kind == "pre":
            open_calls.append((ev.name, tuple(s for _, s in ev.inputs)))
        elif ev.kind == "post":
            name, ins = open_calls.pop()
            call_count[name] = call_count.get(name, 0) + 1
            shapes[name] = (ins, tuple(s for _, s in ev.outputs))

    index = _Index(nodes, edges)
    serial = 0
    for info in rec.modules.values():  # pre-order: the shallowest runs are found first
        kids = [rec.modules[c] for c in info.children]
        if len(kids) < 2:
            continue
        members = [index.members(k.name) for k in kids]
        i = 0
        while i < len(kids):
            j = i
            while j + 1 < len(kids) and _same_block(
                kids[j], kids[j + 1], members[j], members[j + 1], index, call_count, shapes
            ):
                j += 1
            # Blocks drawn as one box each collapse into one "×N" box. Blocks expanded at this
            # depth keep the first one open (its inside is what the student asked to see:
            # ViT's attention) and collapse the repeats after it.
            start = i + 1 if len(members[i]) > 1 else i
            if j - start >= 1 or (j > i and start == i):
                serial += 1
                run = kids[start : j + 1]
                inside = {n.id for group in members[start : j + 1] for n in group}
                first = {n.id for n in members[start]}
                last = {n.id for n in members[j]}
                box = GraphNode(
                    id=f"x{serial}",
                    name=f"{run[0].name} … {run[-1].name}",
                    type=run[0].type,
                    kind="block",
                    scope=info.name,
                    output_shapes=shapes[run[-1].name][1],
                    params=sum(k.params for k in run),
                    macs=sum(macs.get(k.name, 0) for k in run),
                    repeat=len(run),
                    members=tuple(k.name for k in run),
                )
                new_edges: list[GraphEdge] = []
                seen: set[tuple[str, str]] = set()
                for e in edges:
                    if e.dst in first and e.src not in inside:
                        if (e.src, box.id) not in seen:  # the path and the shortcut: one arrow
                            seen.add((e.src, box.id))
                            new_edges.append(GraphEdge(e.src, box.id, e.shape))
                    elif e.src in last and e.dst not in inside:
                        new_edges.append(GraphEdge(box.id, e.dst, e.shape))
                    elif e.src not in inside and e.dst not in inside:
                        new_edges.append(e)
                edges = new_edges
                position = min(k for k, n in enumerate(nodes) if n.id in inside)
                for n in nodes:
                    if n.id in inside:
                        index.remove(n)
                nodes = [n for n in nodes if n.id not in inside]
                nodes.insert(position, box)
                index.add(box)
                index.set_edges(edges)
            i = j + 1
    return DataFlowGraph(
        architecture=graph.architecture,
        input_shape=graph.input_shape,
        depth=graph.depth,
        max_depth=graph.max_depth,
        collapsed=True,
        nodes=tuple(nodes),
        edges=tuple(edges),
    )


def _same_block(
    a: LayerRecord,
    b: LayerRecord,
    nodes_a: list[GraphNode],
    nodes_b: list[GraphNode],
    index: _Index,
    call_count: Mapping[str, int],
    shapes: Mapping[str, tuple[tuple[Shape, ...], tuple[Shape, ...]]],
) -> bool:
    """b repeats a: same signature and shapes, called once each, and b only reads a's output."""
    if not nodes_a or not nodes_b or a.type != b.type or a.signature != b.signature:
        return False
    if (
        call_count.get(a.name) != 1
        or call_count.get(b.name) != 1
        or shapes[a.name] != shapes[b.name]
    ):
        return False
    ids_a = {n.id for n in nodes_a}
    ids_b = {n.id for n in nodes_b}
    into_b = [s for n in ids_b for s in index.into.get(n, ()) if s not in ids_b]
    out_of_a = [d for n in ids_a for d in index.out_of.get(n, ()) if d not in ids_a]
    return bool(into_b) and all(s in ids_a for s in into_b) and all(d in ids_b for d in out_of_a)


def _joined_shape(shapes: list[Shape]) -> Shape:
    """The channel concatenation of `shapes` (the first shape if they do not concatenate)."""
    first = shapes[0]
    if len(first) >= 2 and all(len(s) == len(first) and s[2:] == first[2:] for s in shapes):
        return (first[0], sum(s[1] for s in shapes), *first[2:])
    return first


def bundle_inputs(graph: DataFlowGraph) -> DataFlowGraph:
    """Draw a growing concatenation as a chain: where one box's inputs begin with exactly the
    inputs of another (DenseNet: layer k reads the block input and layers 1..k−1), the shared
    prefix comes from one concat node, itself fed by the previous one plus the new input.

    DenseNet-201 at depth 4 has 2,314 arrows drawn the direct way (every layer to every later
    one), which graphviz cannot lay out in minutes; chained, the arrows grow linearly and the
    diagram shows what the network does: concatenate, then convolve.
    """
    incoming: dict[str, list[GraphEdge]] = {}
    for e in graph.edges:
        incoming.setdefault(e.dst, []).append(e)
    sources: dict[str, tuple[str, ...]] = {
        dst: tuple(dict.fromkeys(e.src for e in es)) for dst, es in incoming.items()
    }
    owner: dict[tuple[str, ...], str] = {}
    for n in graph.nodes:
        key = sources.get(n.id, ())
        if len(key) >= 2:
            owner.setdefault(key, n.id)
    worthy: set[tuple[str, ...]] = set()
    for key in sources.values():
        for j in range(len(key) - 1, 1, -1):
            if key[:j] in owner:
                worthy.add(key[:j])
                break
    if not worthy:
        return graph

    nodes = {n.id: n for n in graph.nodes}
    shape_of = {(e.src, e.dst): e.shape for e in graph.edges}
    hubs: dict[tuple[str, ...], str] = {}
    new_nodes: dict[str, list[GraphNode]] = {}  # synthetic hubs, drawn before this node id
    edges: dict[str, list[GraphEdge]] = {}  # the new incoming edges of rewired nodes

    def edge_shape(src: str, dst: str) -> Shape:
        return shape_of.get((src, dst)) or nodes[src].output_shape

    def longest(key: tuple[str, ...], proper: bool) -> tuple[str, ...] | None:
        for j in range(len(key) - (1 if proper else 0), 1, -1):
            if key[:j] in worthy:
                return key[:j]
        return None

    def wire(dst: str, key: tuple[str, ...], proper: bool) -> list[GraphEdge]:
        prefix = longest(key, proper)
        if prefix is None:
            return [GraphEdge(s, dst, edge_shape(s, owner.get(key, dst))) for s in key]
        hub = hub_for(prefix)
        rest = key[len(prefix) :]
        via = owner.get(key, dst)
        return [GraphEdge(hub, dst, nodes[hub].output_shape)] + [
            GraphEdge(s, dst, edge_shape(s, via)) for s in rest
        ]

    def hub_for(key: tuple[str, ...]) -> str:
        if key in hubs:
            return hubs[key]
        first = nodes[owner[key]]
        if first.kind == "concat" and sources.get(first.id) == key:
            hubs[key] = first.id
            edges[first.id] = wire(first.id, key, proper=True)
            return first.id
        hub_id = f"{first.id}c"
        shapes = [edge_shape(s, first.id) for s in key]
        hub = GraphNode(hub_id, "concat", "cat", "concat", first.scope, (_joined_shape(shapes),))
        nodes[hub_id] = hub
        hubs[key] = hub_id
        edges[hub_id] = wire(hub_id, key, proper=True)
        new_nodes.setdefault(current, []).append(hub)  # its inputs all precede `current`
        return hub_id

    current = ""
    for n in graph.nodes:
        current = n.id
        key = sources.get(n.id, ())
        if len(key) < 2 or n.id in edges:
            continue
        if key in worthy and owner[key] == n.id and n.kind == "concat":
            hub_for(key)  # the concatenation is its own hub
        elif longest(key, proper=False):
            edges[n.id] = wire(n.id, key, proper=False)
    ordered: list[GraphNode] = []
    for n in graph.nodes:
        ordered.extend(new_nodes.get(n.id, []))
        ordered.append(n)
    out_edges: list[GraphEdge] = []
    for n in ordered:
        out_edges.extend(edges[n.id] if n.id in edges else incoming.get(n.id, []))
    return replace(graph, nodes=tuple(ordered), edges=tuple(out_edges))
