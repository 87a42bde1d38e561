"""The data-flow graph of a network: which layer feeds which, at a chosen level of detail.

One forward pass on the meta device is *recorded* (explorer.analysis: the same pass that
counts the Trace's MACs; explorer.engine.recording); edges follow tensor identity. The
recording is then *replayed* at any depth:

- a module at `depth` (or a shallower leaf) is one box, whatever it does inside;
- a tensor function called outside those boxes is a node of its own when it matters to a
  student (`cat`, `add`, `flatten`, functional pooling/activations, anything that joins two
  tensors); view-like functions (`view`, `x[:, 0]`, `x * 0.5`) are transparent;
- runs of consecutive sibling blocks with the same signature (type, hyper-parameters, input
  and output shapes) are collapsed into one "×N" box unless `collapse=False`
  (explorer.graph.collapse).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import networkx as nx

from explorer.core.layer_kinds import kind_of
from explorer.core.records import LayerRecord
from explorer.engine.recording import Event, Recording, Shape, op_hyper
from explorer.graph.collapse import bundle_inputs
from explorer.graph.collapse import collapse as _collapse
from explorer.graph.collapse import fold_activations as _fold_activations
from explorer.graph.types import DataFlowGraph, GraphEdge, GraphNode

__all__ = [
    "auto_depth",
    "build_graph",
    "layers_on_longest_path",
    "weight_layer_depth",
]

# Tensor functions that are a node whenever they see a tracked tensor outside a box.
_NAMED_OPS = {
    "cat": "concat",
    "concat": "concat",
    "concatenate": "concat",
    "stack": "concat",
    "flatten": "flatten",
    "relu": "act",
    "relu_": "act",
    "gelu": "act",
    "silu": "act",
    "sigmoid": "act",
    "tanh": "act",
    "hardswish": "act",
    "softmax": "act",
    "log_softmax": "act",
    "max_pool2d": "pool",
    "avg_pool2d": "pool",
    "adaptive_avg_pool2d": "pool",
    "adaptive_max_pool2d": "pool",
    "dropout": "dropout",
    "linear": "linear",
    "conv2d": "conv",
    "layer_norm": "norm",
    "batch_norm": "norm",
    "local_response_norm": "norm",
    "scaled_dot_product_attention": "attention",
    "multi_head_attention_forward": "attention",
}
# Element-wise arithmetic: a node only when it joins two tracked tensors (x + identity),
# transparent when it scales one (x * 0.5).
_ARITHMETIC = {
    "add": "add",
    "add_": "add",
    "__add__": "add",
    "__iadd__": "add",
    "__radd__": "add",
    "sub": "add",
    "sub_": "add",
    "__sub__": "add",
    "__isub__": "add",
    "mul": "mul",
    "mul_": "mul",
    "__mul__": "mul",
    "__imul__": "mul",
    "__rmul__": "mul",
    "div": "mul",
    "__truediv__": "mul",
    "matmul": "linear",
    "__matmul__": "linear",
    "bmm": "linear",
}
_OP_TITLES = {"concat": "concat", "add": "+", "mul": "×"}


# --------------------------------------------------------------------------- replay


def _node_hyper(ev: Event, kind: str) -> dict[str, Any]:
    """Pooling sizes; the dimension a concatenation joins along (1: channels of an image,
    tokens of a (N, L, D) sequence); the learned tensor an op adds (ViT's pos_embedding,
    class_token)."""
    hyper = op_hyper(ev)
    if kind == "concat":
        positional = [a for a in ev.args if not (isinstance(a, tuple) and len(a) == 2)]
        keywords = dict(a for a in ev.args if isinstance(a, tuple) and len(a) == 2)
        dim = keywords.get("dim", positional[0] if positional else 0)
        rank = len(ev.outputs[0][1]) if ev.outputs else 0
        hyper["dim"] = dim % rank if isinstance(dim, int) and rank else dim
    if ev.params:
        hyper["learned"] = ev.params
    return hyper


def _module_hyper(info: LayerRecord, srcs: list[tuple[str, Shape]]) -> dict[str, Any]:
    """The module's hyper-parameters; an attention module fed from one box (q, k and v from
    the same tensor) is marked as self-attention."""
    hyper = dict(info.hyper)
    if kind_of(info.type, info.is_leaf) == "attention" or "num_heads" in hyper:
        hyper["self_attention"] = len({s for s, _ in srcs}) == 1
    return hyper


def _arrows(srcs: list[tuple[str, Shape]], dst: str) -> list[GraphEdge]:
    """One arrow per source box (q, k and v from one tensor: one arrow), with the shape of
    the first tensor it sends."""
    first_shape: dict[str, Shape] = {}
    for src, shape in srcs:
        first_shape.setdefault(src, shape)
    return [GraphEdge(src, dst, shape) for src, shape in first_shape.items()]


def _is_unit(info: LayerRecord, depth: int, opens: frozenset[str]) -> bool:
    """A box at this depth, when no box is open around it: a module at `depth`, a shallower
    leaf, or a deeper module whose ancestor at `depth` is never called itself (the children
    of a ModuleList are called directly by their grandparent). A module in `opens` (one whose
    children are called) is drawn open whatever its depth."""
    return (info.depth >= depth or info.is_leaf) and info.name not in opens


def _containers(rec: Recording) -> frozenset[str]:
    """Modules with a descendant called in the pass. The rest are boxes at every depth:
    nn.MultiheadAttention uses its `out_proj` weights without calling it, so opening it would
    leave a bare `multi_head_attention_forward` on a sequence-first (L, N, E) tensor."""
    called = {ev.name for ev in rec.events if ev.kind == "pre"}
    found = {""} if called - {""} else set()
    for name in called:
        parts = name.split(".")
        found.update(".".join(parts[:i]) for i in range(1, len(parts)))
    return frozenset(found)


def _joins(graph: DataFlowGraph, scope: str = "") -> bool:
    """An addition of two different paths (an identity shortcut) is drawn inside `scope`."""
    sources: dict[str, set[str]] = {}
    for e in graph.edges:
        sources.setdefault(e.dst, set()).add(e.src)
    return any(
        n.kind == "add"
        and (not scope or n.scope == scope or n.scope.startswith(f"{scope}."))
        and len(sources.get(n.id, ())) >= 2
        for n in graph.nodes
    )


def build_graph(
    rec: Recording,
    depth: int = 1,
    *,
    collapse: bool = True,
    fold_activations: bool = True,
    macs: Mapping[str, int] | None = None,
) -> DataFlowGraph:
    """Replay a recording at `depth`. Each box carries its module's MACs from the same pass
    (`macs`, mapping module paths to multiply-accumulates, overrides them).

    `fold_activations` draws an activation that only follows one layer inside that layer's
    box ("3×3 conv, 128 + ReLU"), as the lecture's figures do.

    With `collapse`, a diagram that would show no identity shortcut at all (ResNet-50 at
    depth 2: "Bottleneck", "Bottleneck ×3", ...) draws the first block of its first run of
    three or more identical blocks open, one level deeper, when that shows the block's "+"
    (issue 11): "layer2.1" open, then "Bottleneck ×2".
    """
    if macs is None:
        macs = {name: info.macs for name, info in rec.modules.items()}
    containers = _containers(rec)
    graph = _build(rec, depth, collapse, fold_activations, macs, containers, frozenset())
    if not collapse or _joins(graph):
        return graph
    first = next(  # a run of 3 or more: its repeats still read "×N" beside the open block
        (n.members[0] for n in graph.nodes if n.repeat > 2 and n.members[0] in containers), None
    )
    if first is None:
        return graph
    opened = _build(rec, depth, collapse, fold_activations, macs, containers, frozenset({first}))
    return opened if _joins(opened, first) else graph


def _build(
    rec: Recording,
    depth: int,
    collapse: bool,
    fold_activations: bool,
    macs: Mapping[str, int],
    containers: frozenset[str],
    opens: frozenset[str],
) -> DataFlowGraph:
    def is_unit(info: LayerRecord) -> bool:
        return _is_unit(info, depth, opens) or info.name not in containers

    nodes: list[GraphNode] = []
    edges: list[GraphEdge] = []
    producer: dict[int, str] = {}
    calls: dict[str, int] = {}

    def add(node: GraphNode) -> GraphNode:
        nodes.append(node)
        return node

    in_node = add(GraphNode("input", "input", "Input", "input", "", (rec.input_shape,)))
    producer[rec.input_id] = in_node.id

    stack: list[str] = []  # open module calls
    open_units = 0  # how many of them are boxes (0: we are outside every box)
    pending: list[list[tuple[str, Shape]]] = []  # resolved inputs of open units
    counter = 0

    def new_id() -> str:
        nonlocal counter
        counter += 1
        return f"n{counter}"

    def resolve(inputs: tuple[tuple[int, Shape], ...]) -> list[tuple[str, Shape]]:
        return [(producer[i], s) for i, s in inputs if i in producer]

    for ev in rec.events:
        if ev.kind == "pre":
            info = rec.modules[ev.name]
            unit = open_units == 0 and is_unit(info)
            stack.append(ev.name)
            if unit:
                pending.append(resolve(ev.inputs))
                open_units += 1
            elif open_units:
                open_units += 1
        elif ev.kind == "post":
            name = stack.pop()
            info = rec.modules[name]
            if open_units == 1 and is_unit(info):
                open_units = 0
                srcs = pending.pop()
                calls[name] = calls.get(name, 0) + 1
                node = add(
                    GraphNode(
                        id=new_id(),
                        name=name,
                        type=info.type,
                        kind=kind_of(info.type, info.is_leaf),
                        scope=name,
                        output_shapes=tuple(s for _, s in ev.outputs),
                        params=info.params if calls[name] == 1 else 0,
                        macs=macs.get(name, 0) if calls[name] == 1 else 0,
                        hyper=_module_hyper(info, srcs),
                        call=calls[name],
                    )
                )
                edges.extend(_arrows(srcs, node.id))
                for tid, _ in ev.outputs:
                    producer[tid] = node.id
            elif open_units:
                open_units -= 1
        elif open_units == 0:  # a tensor function outside every box
            srcs = resolve(ev.inputs)
            if not srcs:
                continue
            kind = _NAMED_OPS.get(ev.name)
            if kind is None and ev.name in _ARITHMETIC and len(srcs) >= 2:
                kind = _ARITHMETIC[ev.name]
            if kind is None and ev.params and _ARITHMETIC.get(ev.name) in ("add", "linear"):
                kind = _ARITHMETIC[ev.name]  # a learned tensor joins: ViT's position embedding
            if kind is None and len({s for s, _ in srcs}) >= 2:
                kind = "op"
            if kind is None:  # transparent: the output keeps its input's producer
                for tid, _ in ev.outputs:
                    producer[tid] = srcs[0][0]
                continue
            node = add(
                GraphNode(
                    id=new_id(),
                    name=ev.name.strip("_"),
                    type=ev.name.strip("_"),
                    kind=kind,
                    scope=stack[-1] if stack else "",
                    output_shapes=tuple(s for _, s in ev.outputs),
                    hyper=_node_hyper(ev, kind),
                )
            )
            if kind == "concat":  # every part counts ("1 + 1 + 1 → 3" channels)
                edges.extend(GraphEdge(src, node.id, shape) for src, shape in srcs)
            else:
                edges.extend(_arrows(srcs, node.id))
            for tid, _ in ev.outputs:
                producer[tid] = node.id

    out_node = add(
        GraphNode("output", "output", "Output", "output", "", tuple(s for _, s in rec.output_ids))
    )
    for tid, shape in rec.output_ids:
        if tid in producer:
            edges.append(GraphEdge(producer[tid], out_node.id, shape))

    graph = DataFlowGraph(
        architecture=rec.architecture,
        input_shape=rec.input_shape,
        depth=depth,
        max_depth=rec.max_depth,
        collapsed=collapse,
        nodes=tuple(nodes),
        edges=tuple(edges),
    )
    if collapse:
        graph = _collapse(graph, rec, macs)
    if fold_activations:
        graph = _fold_activations(graph)
    return bundle_inputs(graph)


def auto_depth(
    rec: Recording,
    max_nodes: int = 70,
    graph_at: Callable[[int], DataFlowGraph] | None = None,
) -> int:
    """The most detailed depth whose collapsed graph still has at most `max_nodes` boxes.
    `graph_at(depth)` gives the collapsed graph at a depth (an Analysis passes its memo, so the
    graphs tried here are the ones it shows)."""
    at = graph_at or (lambda depth: build_graph(rec, depth))
    best = 1
    for depth in range(1, max(rec.max_depth, 1) + 1):
        if len(at(depth).nodes) <= max_nodes:
            best = depth
        else:
            break
    return best


_RECURRENT = {"LSTM", "GRU", "RNN"}


def flow_digraph(graph: DataFlowGraph) -> nx.DiGraph:
    """The graph's boxes and arrows as a networkx DiGraph (node ids; execution order kept)."""
    g = nx.DiGraph()
    g.add_nodes_from(n.id for n in graph.nodes)
    g.add_edges_from((e.src, e.dst) for e in graph.edges)
    return g


def weight_layer_depth(rec: Recording) -> int:
    """Convolution and fully connected layers on the longest path from input to output.

    The papers' way of counting depth: VGG-16 has 16, GoogLeNet 22, ResNet-152 152 (its
    projection shortcuts sit beside the main path, so they do not count). A recurrent layer
    (LSTM, GRU, RNN) counts once per stacked layer (`num_layers`); an embedding is a lookup
    table, not a layer of this count. The longest path is networkx's, over the boxes that
    reach the output, each arrow weighted by the layers of the box it enters.
    """
    return layers_on_longest_path(build_graph(rec, rec.max_depth, collapse=False), rec)


def layers_on_longest_path(graph: DataFlowGraph, rec: Recording) -> int:
    """weight_layer_depth's count on `graph`, the recording's graph at full detail, uncollapsed."""
    own: dict[str, int] = {}
    for node in graph.nodes:
        layers = 1 if node.kind in ("conv", "linear") and node.type not in _ARITHMETIC else 0
        if node.type in _RECURRENT and node.name in rec.modules:
            layers = int(rec.modules[node.name].hyper.get("num_layers", 1))
        own[node.id] = layers
    g = flow_digraph(graph)
    end = "output" if "output" in own else graph.nodes[-1].id
    reach = g.subgraph(nx.ancestors(g, end) | {end}).copy()
    top = object()  # one source before every box with no input, so its own layers count too
    reach.add_edges_from((top, n) for n in list(reach.nodes) if reach.in_degree(n) == 0)
    for _, dst, data in reach.edges(data=True):
        data["layers"] = own[dst]
    return int(nx.dag_longest_path_length(reach, weight="layers"))
