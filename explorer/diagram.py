"""Block diagrams: a DataFlowGraph drawn with graphviz, in the lecture's style.

Boxes are coloured by layer kind and say what the layer does ("3×3 conv, 64, s=2"); edges
carry the tensor's shape as n_H×n_W×n_C; hovering a box shows its parameters and
multiply-accumulates. `to_dot` needs only the `graphviz` python package; `render` (SVG/PNG)
also needs graphviz's `dot` binary.
"""

from __future__ import annotations

import shutil
from typing import Any

import graphviz

from explorer.errors import ExplorerError
from explorer.graph import DataFlowGraph, GraphNode
from explorer.layer_math import commas, lecture_shape, pair, short

# Fill colours by kind (colour-blind-friendly pastels); the legend uses the same table.
COLOURS: dict[str, str] = {
    "input": "#e0e0e0",
    "output": "#e0e0e0",
    "conv": "#a6cee3",
    "pool": "#fdbf6f",
    "norm": "#cab2d6",
    "act": "#ffffb3",
    "linear": "#b2df8a",
    "dropout": "#f0f0f0",
    "flatten": "#f0f0f0",
    "concat": "#fb9a99",
    "add": "#fb9a99",
    "mul": "#fb9a99",
    "attention": "#8dd3c7",
    "block": "#d9e7f5",
    "op": "#f0f0f0",
    "other": "#f7f7f7",
}
KIND_NAMES: dict[str, str] = {
    "conv": "convolution",
    "pool": "pooling",
    "norm": "normalisation",
    "act": "activation",
    "linear": "fully connected",
    "concat": "concatenation / addition",
    "block": "block (expand with a larger depth)",
    "attention": "attention",
}


_ACT_NAMES = {"relu": "ReLU", "relu_": "ReLU", "tanh": "tanh", "sigmoid": "sigmoid", "gelu": "GELU"}


def dot_available() -> bool:
    return shutil.which("dot") is not None


def describe(node: GraphNode) -> str:
    """What a box does, in the lecture's words: '3×3 conv, 64, s=2', 'max pool 3×3, s=2'."""
    h = node.hyper
    t = node.type
    if node.repeat > 1:
        return f"{t} ×{node.repeat}"
    if node.kind == "conv" and "kernel_size" in h:
        kh, kw = pair(h["kernel_size"])
        text = f"{kh}×{kw} conv, {h.get('out_channels', '?')}"
        s = pair(h.get("stride", 1))[0]
        if s > 1:
            text += f", s={s}"
        g = h.get("groups", 1)
        if g and g > 1:
            text += ", depthwise" if g == h.get("in_channels") else f", {g} groups"
        return text
    if node.kind == "pool" and "kernel_size" in h:
        kh, kw = pair(h["kernel_size"])
        what = "avg" if "avg" in t.lower() else "max"
        s = pair(h.get("stride") or h["kernel_size"])[0]
        return f"{what} pool {kh}×{kw}" + (f", s={s}" if s > 1 else "")
    if node.kind == "pool" and "adaptive" in t.lower():
        return "global avg pool" if "avg" in t.lower() else "global max pool"
    if node.kind == "linear" and "out_features" in h:
        return f"FC {h.get('in_features', '?')} → {h['out_features']}"
    if t == "LocalResponseNorm":
        return f"LRN (size {h.get('size', '?')})"
    if t.startswith("BatchNorm"):
        return "batch norm"
    if node.kind == "dropout" and "p" in h:
        return f"dropout {h['p']}"
    if node.kind == "concat":
        return "concat (channels)"
    if node.kind == "add":
        return "+"
    return t


def _label(node: GraphNode, show_shapes: bool) -> str:
    if node.kind == "input":
        return f"input\n{lecture_shape(node.output_shape)}"
    if node.kind == "output":
        return f"output\n{lecture_shape(node.output_shape)}" if node.output_shapes else "output"
    if node.kind in ("add", "mul"):
        return "+" if node.kind == "add" else "×"
    what = describe(node)
    if node.folded:
        what += "".join(f" + {_ACT_NAMES.get(t, t)}" for t in node.folded)
    lines = [what]
    # Activations, norms and dropout say what they are; their path is in the tooltip.
    if node.kind not in ("concat", "flatten", "op", "act", "norm", "dropout") and node.name:
        lines.insert(0, node.name if node.call == 1 else f"{node.name} (again)")
    if show_shapes and node.kind in ("concat",) and node.output_shapes:
        lines.append(lecture_shape(node.output_shape))
    return "\n".join(lines)


def tooltip(node: GraphNode) -> str:
    parts = [node.name or node.type, f"type: {node.type}"]
    if node.folded:
        parts.append("followed by: " + ", ".join(_ACT_NAMES.get(t, t) for t in node.folded))
    if node.members:
        parts.append(f"{node.repeat} identical blocks: {', '.join(node.members)}")
    if node.output_shapes:
        parts.append("output: " + ", ".join(lecture_shape(s) for s in node.output_shapes))
    parts.append(f"params: {commas(node.params)}")
    parts.append(f"MACs: {commas(node.macs)} ({short(node.macs)})")
    if node.scope and node.scope != node.name and node.kind not in ("input", "output"):
        parts.append(f"inside: {node.scope}")
    return "\n".join(parts)


def to_digraph(
    graph: DataFlowGraph, *, show_shapes: bool = True, rankdir: str = "TB"
) -> graphviz.Digraph:
    dot = graphviz.Digraph(
        name=graph.architecture or "network",
        graph_attr={
            "rankdir": rankdir,
            "fontname": "Helvetica",
            "nodesep": "0.25",
            "ranksep": "0.3",
            "tooltip": f"{graph.architecture} at depth {graph.depth}",
        },
        node_attr={
            "fontname": "Helvetica",
            "fontsize": "11",
            "shape": "box",
            "style": "rounded,filled",
        },
        edge_attr={
            "fontname": "Helvetica",
            "fontsize": "9",
            "color": "#555555",
            "arrowsize": "0.6",
        },
    )
    for node in graph.nodes:
        attrs: dict[str, Any] = {
            "fillcolor": COLOURS.get(node.kind, COLOURS["other"]),
            "tooltip": tooltip(node),
        }
        if node.kind in ("add", "mul"):
            attrs.update(shape="circle", width="0.35", fixedsize="true", fontsize="16")
        elif node.kind == "concat":
            attrs.update(shape="box", style="filled", penwidth="1.5")
        elif node.kind in ("input", "output"):
            attrs.update(shape="box", style="filled,bold")
        elif node.repeat > 1:
            attrs.update(style="rounded,filled,bold", peripheries="2")
        dot.node(node.id, _label(node, show_shapes), **attrs)
    for edge in graph.edges:
        label = lecture_shape(edge.shape) if show_shapes else ""
        dot.edge(edge.src, edge.dst, label=f" {label}" if label else "")
    return dot


def to_dot(graph: DataFlowGraph, **kwargs: Any) -> str:
    """The DOT source: what `st.graphviz_chart` renders in the browser."""
    return to_digraph(graph, **kwargs).source


def render(graph: DataFlowGraph, fmt: str = "svg", **kwargs: Any) -> bytes:
    """SVG or PNG bytes through graphviz's `dot` binary."""
    if fmt not in ("svg", "png"):
        raise ExplorerError(f"Unknown diagram format {fmt!r}: use dot, svg or png.")
    if not dot_available():
        raise ExplorerError(
            "Rendering SVG/PNG needs graphviz's `dot` program (apt install graphviz); "
            "the DOT text works without it."
        )
    data: bytes = to_digraph(graph, **kwargs).pipe(format=fmt)
    return data
