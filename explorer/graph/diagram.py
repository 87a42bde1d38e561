"""Block diagrams: a DataFlowGraph drawn with graphviz, in the lecture's style.

Boxes are coloured by layer kind and say what the layer does ("3×3 conv, 64, s=2"); edges
carry the tensor's shape as n_H×n_W×n_C; hovering a box shows its parameters and
multiply-accumulates. `to_dot` needs only the `graphviz` python package; `render` (SVG/PNG)
also needs graphviz's `dot` binary.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from typing import Any

import graphviz

from explorer.core import limits
from explorer.core.errors import ExplorerError
from explorer.core.layer_kinds import kind_of
from explorer.core.layer_math import commas, lecture_shape, pair, short
from explorer.core.records import LayerRecord
from explorer.graph.types import DataFlowGraph, GraphNode

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
    "concat": "concatenation / addition (+: identity shortcut)",
    "block": "block (expand with a larger depth)",
    "attention": "attention",
}


_ACT_NAMES = {"relu": "ReLU", "relu_": "ReLU", "tanh": "tanh", "sigmoid": "sigmoid", "gelu": "GELU"}


@functools.cache
def dot_available() -> bool:
    """Whether graphviz's `dot` is on the PATH: looked up once per process (a page asks on
    every run, and the lookup stats every directory of the PATH)."""
    return shutil.which("dot") is not None


def _concat_text(node: GraphNode, in_shapes: Sequence[tuple[int, ...]]) -> str:
    """What a concatenation joins: channels of feature maps, or tokens of a sequence."""
    out = node.output_shape
    shapes = [s for s in in_shapes if len(s) == len(out)]
    axis = next((i for i in range(1, len(out)) if any(s[i] != out[i] for s in shapes)), 1)
    if len(out) == 3 and axis == 1:  # (N, tokens, features): ViT's class token
        joined = sum(s[1] for s in shapes)
        if shapes and joined < out[1]:  # a learned token (a parameter) joins the sequence
            return f"concat tokens: {joined} + {out[1] - joined} class token → {out[1]}"
        return f"concat tokens → {out[1]}"
    if len(out) == 4 and axis == 1:
        parts = " + ".join(str(s[1]) for s in shapes)
        return f"concat channels\n{parts} → {out[1]}" if len(shapes) > 1 else "concat (channels)"
    return f"concat (dimension {axis})"


def _kernel(value: Any, module_type: str) -> str:
    """'5' for a 1-D kernel, '3×3' for 2-D, '3×3×3' for 3-D (pools store one int for all)."""
    if isinstance(value, tuple | list):
        return "×".join(map(str, value))
    dims = 1 if module_type.endswith("1d") else 3 if module_type.endswith("3d") else 2
    return "×".join([str(value)] * dims)


def describe(node: GraphNode, in_shapes: Sequence[tuple[int, ...]] = ()) -> str:
    """What a box does, in the lecture's words: '3×3 conv, 64, s=2', 'max pool 3×3, s=2'.

    `in_shapes` (the shapes arriving on its edges) lets a concatenation say what it joins.
    """
    h = node.hyper
    t = node.type
    if node.repeat > 1:
        return f"{t} ×{node.repeat}"
    if node.kind == "conv" and "kernel_size" in h:
        text = f"{_kernel(h['kernel_size'], t)} conv, {h.get('out_channels', '?')}"
        s = pair(h.get("stride", 1))[0]
        if s > 1:
            text += f", s={s}"
        g = h.get("groups", 1)
        if g and g > 1:
            text += ", depthwise" if g == h.get("in_channels") else f", {g} groups"
        return text
    if node.kind == "pool" and "kernel_size" in h:
        what = "avg" if "avg" in t.lower() else "max"
        s = pair(h.get("stride") or h["kernel_size"])[0]
        return f"{what} pool {_kernel(h['kernel_size'], t)}" + (f", s={s}" if s > 1 else "")
    if node.kind == "pool" and "adaptive" in t.lower():
        what = "avg" if "avg" in t.lower() else "max"
        out = node.output_shape
        if len(out) == 4 and out[2] * out[3] > 1:  # VGG's 7×7: adaptive, not global
            return f"adaptive {what} pool → {out[2]}×{out[3]}"
        return f"global {what} pool"
    if node.kind == "linear" and "out_features" in h:
        return f"FC {h.get('in_features', '?')} → {h['out_features']}"
    if t == "LocalResponseNorm":
        return f"LRN (size {h.get('size', '?')})"
    if t.startswith("BatchNorm"):
        return "batch norm"
    if node.kind == "dropout" and "p" in h:
        return f"dropout {h['p']}"
    if node.kind == "concat":
        return _concat_text(node, in_shapes)
    if node.kind == "add":
        return _add_text(node)
    if node.kind == "attention" and "num_heads" in h:
        what = "self-attention" if h.get("self_attention") else "attention"
        return f"{what}, {h['num_heads']} heads"
    return t


def _add_text(node: GraphNode) -> str:
    """'+', or '+ pos_embedding' where a learned tensor is added (ViT's position embedding:
    its one visible input would hide what is added)."""
    learned = node.hyper.get("learned") or ()
    return " ".join(["+", *(name.rsplit(".", 1)[-1] for name in learned)])


_PLAIN_KINDS = ("norm", "act", "dropout", "other")


def inside_text(node: GraphNode, modules: Mapping[str, LayerRecord]) -> str | None:
    """A small container drawn as what it computes: GoogLeNet's BasicConv2d is '1×1 conv, 64
    + BN + ReLU', an inception branch '1×1 conv, 96' over '3×3 conv, 128'.

    Only where the inside is surely a chain: a `Sequential` (its forward is one by
    definition) of such layers, or any container with a single conv/pool/FC plus norms and
    activations. A ResNet block (two convs and a shortcut) keeps its name, and so does
    anything with other layers inside."""
    info = modules.get(node.name)
    if info is None or info.is_leaf or node.repeat > 1:
        return None
    leaves: list[LayerRecord] = []
    todo = list(info.children)
    while todo:
        child = modules.get(todo.pop(0))
        if child is None:
            return None
        if child.is_leaf:
            leaves.append(child)
        else:
            todo[:0] = list(child.children)
    steps: list[str] = []
    for leaf in leaves:
        kind = kind_of(leaf.type, True)
        if kind in ("conv", "pool", "linear"):
            if len(steps) == 3:
                return None
            steps.append(
                describe(GraphNode("", leaf.name, leaf.type, kind, "", (), hyper=leaf.hyper))
            )
        elif kind in _PLAIN_KINDS and steps:
            if leaf.type.startswith("BatchNorm"):
                steps[-1] += " + BN"
            elif kind == "act":
                steps[-1] += f" + {_ACT_NAMES.get(leaf.type.lower(), leaf.type)}"
        else:
            return None
    if not steps or (len(steps) > 1 and not _chain_of_sequentials(info, modules)):
        return None
    return "\n".join(steps)  # one line per layer keeps the box narrow


def _chain_of_sequentials(info: LayerRecord, modules: Mapping[str, LayerRecord]) -> bool:
    """`info` is a Sequential whose children are leaves or single-layer containers."""
    if info.type != "Sequential":
        return False
    for name in info.children:
        child = modules.get(name)
        if child is None or (not child.is_leaf and inside_text_single(child, modules) is None):
            return False
    return True


def inside_text_single(info: LayerRecord, modules: Mapping[str, LayerRecord]) -> str | None:
    """What a container with exactly one conv/pool/FC (plus norms/activations) computes."""
    node = GraphNode("", info.name, info.type, "block", "", ())
    text = inside_text(node, modules)
    return text if text is not None and "\n" not in text else None


def _label(
    node: GraphNode,
    show_shapes: bool,
    in_shapes: Sequence[tuple[int, ...]] = (),
    inside: str | None = None,
    image: tuple[int, ...] = (),
) -> str:
    if node.kind == "input":  # the network's input, or a wrapped row's "from …" box
        return f"{node.name}\n{lecture_shape(node.output_shape, image)}"
    if node.kind == "output":
        if not node.output_shapes:
            return "output"
        return f"output\n{lecture_shape(node.output_shape, image)}"
    if node.kind in ("add", "mul"):
        return _add_text(node) if node.kind == "add" else "×"
    what = inside or describe(node, in_shapes)
    if node.folded:
        what += "".join(f" + {_ACT_NAMES.get(t, t)}" for t in node.folded)
    lines = [what]
    # Activations, norms and dropout say what they are; their path is in the tooltip.
    if node.kind not in ("concat", "flatten", "op", "act", "norm", "dropout") and node.name:
        lines.insert(0, node.name if node.call == 1 else f"{node.name} (again)")
    if show_shapes and node.kind in ("concat",) and node.output_shapes:
        lines.append(lecture_shape(node.output_shape, image))
    return "\n".join(lines)


def tooltip(node: GraphNode, image: tuple[int, ...] = ()) -> str:
    parts = [node.name or node.type, f"type: {node.type}"]
    if node.folded:
        parts.append("followed by: " + ", ".join(_ACT_NAMES.get(t, t) for t in node.folded))
    if node.members:
        parts.append(f"{node.repeat} identical blocks: {', '.join(node.members)}")
    if node.output_shapes:
        parts.append("output: " + ", ".join(lecture_shape(s, image) for s in node.output_shapes))
    parts.append(f"params: {commas(node.params)}")
    parts.append(f"MACs: {commas(node.macs)} ({short(node.macs)})")
    if node.scope and node.scope != node.name and node.kind not in ("input", "output"):
        parts.append(f"inside: {node.scope}")
    return "\n".join(parts)


def to_digraph(
    graph: DataFlowGraph,
    *,
    show_shapes: bool = True,
    rankdir: str = "TB",
    modules: Mapping[str, LayerRecord] | None = None,
) -> graphviz.Digraph:
    """`modules` (the recording's) lets small containers say what they compute."""
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
    arriving: dict[str, list[tuple[int, ...]]] = {}
    for edge in graph.edges:
        arriving.setdefault(edge.dst, []).append(edge.shape)
    for node in graph.nodes:
        inside = inside_text(node, modules) if modules and node.kind == "block" else None
        kind = "conv" if inside and "conv" in inside else node.kind
        attrs: dict[str, Any] = {
            "fillcolor": COLOURS.get(kind, COLOURS["other"]),
            "tooltip": tooltip(node, graph.input_shape),
            "id": f"box-{node.id}",  # the SVG element's id: a click names its box
        }
        if node.kind in ("add", "mul") and not node.hyper.get("learned"):
            attrs.update(shape="circle", width="0.35", fixedsize="true", fontsize="16")
        elif node.kind == "add":  # "+ pos_embedding": the same circle's colour, room for text
            attrs.update(shape="ellipse", style="filled")
        elif node.kind == "concat":
            attrs.update(shape="box", style="filled", penwidth="1.5")
        elif node.kind in ("input", "output"):
            attrs.update(shape="box", style="filled,bold")
        elif node.repeat > 1:
            attrs.update(style="rounded,filled,bold", peripheries="2")
        label = _label(node, show_shapes, arriving.get(node.id, ()), inside, graph.input_shape)
        dot.node(node.id, label, **attrs)
    for edge in graph.edges:
        label = lecture_shape(edge.shape, graph.input_shape) if show_shapes else ""
        dot.edge(edge.src, edge.dst, label=f" {label}" if label else "")
    return dot


def to_dot(graph: DataFlowGraph, **kwargs: Any) -> str:
    """The DOT source (rankdir="LR" draws it left to right)."""
    return to_digraph(graph, **kwargs).source


def svg_from_dot(source: str, timeout: float | None = None) -> bytes:
    """SVG bytes of any DOT text (the Cost lab's, Custom network's and Transfer page's
    diagrams), with the same time limit as `render`."""
    if not dot_available():
        raise ExplorerError("Drawing a diagram needs graphviz's `dot` program on the server.")
    limit = DOT_TIMEOUT_S if timeout is None else timeout
    try:
        done = subprocess.run(
            ["dot", "-Tsvg"], input=source.encode(), capture_output=True, timeout=limit
        )
    except subprocess.TimeoutExpired:
        raise ExplorerError(
            f"graphviz's dot did not finish drawing this diagram within {limit:g} s."
        ) from None
    if done.returncode != 0:
        raise ExplorerError("graphviz's dot could not draw this diagram.")
    data: bytes = done.stdout
    return data


_TIP = re.compile(r'<title>[^<]*</title>(\s*<g id="a_[^"]*"><a[^>]*?xlink:title="([^"]*)")', re.S)
_SIZE = re.compile(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"')


def inline_svg(svg: bytes | str, max_zoom: float = 1.15, min_zoom: float = 0.75) -> str:
    """Graphviz SVG ready to sit inside a page (one line, no XML prolog).

    It scales to the width of its box, between `min_zoom` (a wider diagram scrolls sideways
    rather than shrink to unreadable text) and `max_zoom` times its natural size (a five-box
    network stays a sensible size on a projector); each box's tooltip
    becomes its <title>, which browsers show on hover.
    """
    text = svg.decode() if isinstance(svg, bytes) else svg
    text = text[text.find("<svg") :]
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    text = _TIP.sub(lambda m: f"<title>{m.group(2)}</title>{m.group(1)}", text)
    size = _SIZE.search(text)
    if size:
        natural = float(size.group(1))
        text = _SIZE.sub(
            f'<svg width="100%" style="max-width:{natural * max_zoom:.0f}pt;'
            f'min-width:{natural * min_zoom:.0f}pt;height:auto;display:block;margin:auto"',
            text,
            count=1,
        )
    # Markdown ends an HTML block at an empty line: keep the SVG on one line (line breaks
    # inside attribute values, the tooltips, stay as character references).
    text = re.sub(r'"[^"]*"', lambda m: m.group(0).replace("\n", "&#10;"), text)
    return text.replace("\r", "").replace("\n", " ")


MAX_EDGES = limits.DIAGRAM_MAX_EDGES
DOT_TIMEOUT_S = 60.0


def render(
    graph: DataFlowGraph, fmt: str = "svg", *, timeout: float = DOT_TIMEOUT_S, **kwargs: Any
) -> bytes:
    """SVG or PNG bytes through graphviz's `dot` binary, within MAX_EDGES and `timeout`."""
    if fmt not in ("svg", "png"):
        raise ExplorerError(f"Unknown diagram format {fmt!r}: use dot, svg or png.")
    if not dot_available():
        raise ExplorerError(
            "Rendering SVG/PNG needs graphviz's `dot` program (apt install graphviz); "
            "the DOT text works without it."
        )
    if len(graph.edges) > MAX_EDGES:
        raise ExplorerError(
            f"The diagram of {graph.architecture} at depth {graph.depth} has "
            f"{len(graph.edges):,} arrows, more than the {MAX_EDGES:,} this explorer draws; "
            "choose a smaller depth or keep identical blocks collapsed (the DOT text has no "
            "limit)."
        )
    source = to_digraph(graph, **kwargs).source.encode()
    try:
        done = subprocess.run(
            ["dot", f"-T{fmt}"], input=source, capture_output=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise ExplorerError(
            f"graphviz's dot did not finish drawing {graph.architecture} ({len(graph.nodes):,} "
            f"boxes, {len(graph.edges):,} arrows) within {timeout:g} s; choose a smaller "
            "depth, or write the DOT text and lay it out offline."
        ) from None
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip().splitlines()
        raise ExplorerError(f"graphviz's dot failed: {message[0] if message else done.returncode}")
    data: bytes = done.stdout
    return data
