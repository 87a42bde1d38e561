"""The data-flow graph of a network: which layer feeds which, at a chosen level of detail.

Module hooks alone miss what is not a module: the channel concatenation of an inception
block (`torch.cat`), the residual addition of a ResNet block (`out += identity`), a
`torch.flatten` in `forward`. So one forward pass on the meta device (no weight memory, no
arithmetic) is *recorded* under a `TorchFunctionMode` plus forward hooks on every module;
edges follow tensor identity. The recording is then *replayed* at any depth:

- a module at `depth` (or a shallower leaf) is one box, whatever it does inside;
- a tensor function called outside those boxes is a node of its own when it matters to a
  student (`cat`, `add`, `flatten`, functional pooling/activations, anything that joins two
  tensors); view-like functions (`view`, `x[:, 0]`, `x * 0.5`) are transparent;
- runs of consecutive sibling blocks with the same signature (type, hyper-parameters, input
  and output shapes) are collapsed into one "×N" box unless `collapse=False`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten

from explorer.trace import module_hyper, plain_value

Shape = tuple[int, ...]

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


@dataclass(frozen=True)
class ModuleInfo:
    """What the graph needs to know about one module (plain values, cache-friendly)."""

    name: str
    type: str
    depth: int
    is_leaf: bool
    params: int
    signature: str  # type and hyper-parameters of the module and everything below it
    hyper: dict[str, Any] = field(default_factory=dict)
    children: tuple[str, ...] = ()


@dataclass(frozen=True)
class Event:
    """One step of the recorded forward pass, in execution order."""

    kind: str  # "pre" / "post" (a module call begins / ends) or "op" (a tensor function)
    name: str  # module path, or the function's name
    inputs: tuple[tuple[int, Shape], ...]  # (tensor id, shape) of every tensor argument
    outputs: tuple[tuple[int, Shape], ...] = ()
    args: tuple[Any, ...] = ()  # plain non-tensor arguments of an op (pooling sizes)


@dataclass(frozen=True)
class Recording:
    architecture: str
    input_shape: Shape
    input_id: int
    output_ids: tuple[tuple[int, Shape], ...]
    events: tuple[Event, ...]
    modules: dict[str, ModuleInfo]

    @property
    def max_depth(self) -> int:
        return max((m.depth for m in self.modules.values()), default=0)


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


# --------------------------------------------------------------------------- recording


def _module_infos(model: nn.Module) -> dict[str, ModuleInfo]:
    infos: dict[str, ModuleInfo] = {}
    named = list(model.named_modules(remove_duplicate=False))
    for name, module in named:
        if name in infos:
            continue
        children = tuple(f"{name}.{c}" if name else c for c, _ in module.named_children())
        lines = []
        for sub_name, sub in module.named_modules():
            lines.append(f"{sub_name}:{type(sub).__name__}({sub.extra_repr()})")
        infos[name] = ModuleInfo(
            name=name,
            type=type(module).__name__,
            depth=0 if name == "" else name.count(".") + 1,
            is_leaf=not children,
            params=sum(p.numel() for p in module.parameters()),
            signature="\n".join(lines),
            hyper=module_hyper(module),
            children=children,
        )
    return infos


def _tensors(obj: Any) -> list[torch.Tensor]:
    leaves, _ = tree_flatten(obj)
    return [t for t in leaves if isinstance(t, torch.Tensor)]


class _Recorder(TorchFunctionMode):
    def __init__(self) -> None:
        super().__init__()
        self.events: list[Event] = []
        self.keep: list[torch.Tensor] = []  # keeps ids unique for the whole pass (meta: free)

    def ids(self, obj: Any) -> tuple[tuple[int, Shape], ...]:
        out = []
        for t in _tensors(obj):
            self.keep.append(t)
            out.append((id(t), tuple(t.shape)))
        return tuple(out)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        result = func(*args, **kwargs)
        inputs = self.ids((args, kwargs))
        if inputs:
            outputs = self.ids(result)
            if outputs:
                name = getattr(func, "__name__", str(func))
                if name.startswith("_") and not name.startswith("__"):  # F._max_pool2d
                    name = name.lstrip("_")
                plain = tuple(plain_value(a) for a in args[1:] if not isinstance(a, torch.Tensor))
                plain += tuple(
                    (k, plain_value(v))
                    for k, v in kwargs.items()
                    if not isinstance(v, torch.Tensor)
                )
                self.events.append(Event("op", name, inputs, outputs, plain))
        return result


def record(model: nn.Module, input_shape: Shape, architecture: str = "") -> Recording:
    """One meta forward pass of `model` (already on the meta device, eval mode)."""
    recorder = _Recorder()
    names = {id(m): n for n, m in model.named_modules(remove_duplicate=False)}
    handles = []

    def pre(module: nn.Module, args: Any, kwargs: Any) -> None:
        recorder.events.append(Event("pre", names[id(module)], recorder.ids((args, kwargs))))

    def post(module: nn.Module, args: Any, kwargs: Any, output: Any) -> None:
        recorder.events.append(Event("post", names[id(module)], (), recorder.ids(output)))

    was_training = model.training
    model.eval()
    x = torch.empty(input_shape, device="meta")
    try:
        for module in {id(m): m for m in model.modules()}.values():
            handles.append(module.register_forward_pre_hook(pre, with_kwargs=True))
            handles.append(module.register_forward_hook(post, with_kwargs=True))
        with torch.no_grad(), recorder:
            out = model(x)
        output_ids = recorder.ids(out)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return Recording(
        architecture=architecture,
        input_shape=tuple(input_shape),
        input_id=id(x),
        output_ids=output_ids,
        events=tuple(recorder.events),
        modules=_module_infos(model),
    )


def record_architecture(
    arch: Any, input_size: tuple[int, int, int] | None = None, batch_size: int = 1
) -> Recording:
    """Record a catalog name, a layer-stack spec, an ArchSpec, or a user's nn.Module."""
    from explorer.building import build_meta, meta_copy

    if isinstance(arch, nn.Module):
        if input_size is None:
            raise ValueError("input_size is required for a module")
        return record(meta_copy(arch), (batch_size, *input_size), type(arch).__name__)
    from explorer.architectures import resolve

    spec = resolve(arch)
    size = tuple(input_size or spec.input_size)
    return record(build_meta(spec), (batch_size, *size), spec.name)


# --------------------------------------------------------------------------- replay


def kind_of(type_name: str, is_leaf: bool = True) -> str:
    """Colour group of a module class name."""
    t = type_name.lower()
    if "conv" in t and "norm" not in t:
        return "conv" if is_leaf else "block"
    if "pool" in t:
        return "pool"
    if "norm" in t:
        return "norm"
    if t in ("linear", "bilinear", "lazylinear"):
        return "linear"
    if "attention" in t:
        return "attention"
    if "dropout" in t:
        return "dropout"
    if t in ("flatten", "unflatten"):
        return "flatten"
    if t in {
        "relu",
        "relu6",
        "tanh",
        "sigmoid",
        "gelu",
        "silu",
        "hardswish",
        "hardsigmoid",
        "softmax",
        "logsoftmax",
        "leakyrelu",
        "elu",
        "prelu",
        "mish",
        "selu",
    }:
        return "act"
    if t in ("identity",):
        return "other"
    return "other" if is_leaf else "block"


def _is_unit(info: ModuleInfo, depth: int) -> bool:
    """A box at this depth, when no box is open around it: a module at `depth`, a shallower
    leaf, or a deeper module whose ancestor at `depth` is never called itself (the children
    of a ModuleList are called directly by their grandparent)."""
    return info.depth >= depth or info.is_leaf


def build_graph(
    rec: Recording,
    depth: int = 1,
    *,
    collapse: bool = True,
    fold_activations: bool = True,
    macs: Mapping[str, int] | None = None,
) -> DataFlowGraph:
    """Replay a recording at `depth`; `macs` maps module paths to multiply-accumulates.

    `fold_activations` draws an activation that only follows one layer inside that layer's
    box ("3×3 conv, 128 + ReLU"), as the lecture's figures do.
    """
    macs = macs or {}
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
            unit = open_units == 0 and _is_unit(info, depth)
            stack.append(ev.name)
            if unit:
                pending.append(resolve(ev.inputs))
                open_units += 1
            elif open_units:
                open_units += 1
        elif ev.kind == "post":
            name = stack.pop()
            info = rec.modules[name]
            if open_units == 1 and _is_unit(info, depth):
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
                        hyper=dict(info.hyper),
                        call=calls[name],
                    )
                )
                for src, shape in srcs:
                    edges.append(GraphEdge(src, node.id, shape))
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
                    hyper=_op_hyper(ev),
                )
            )
            for src, shape in srcs:
                edges.append(GraphEdge(src, node.id, shape))
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
    return graph


_FOLD_INTO = ("conv", "norm", "linear", "pool", "block", "attention")


def _fold_activations(graph: DataFlowGraph) -> DataFlowGraph:
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


def _op_hyper(ev: Event) -> dict[str, Any]:
    """Kernel, stride and padding of functional pooling (F.max_pool2d(x, 3, 2, 1))."""
    if ev.name not in ("max_pool2d", "avg_pool2d"):
        return {}
    positional = [
        a for a in ev.args if not (isinstance(a, tuple) and len(a) == 2 and isinstance(a[0], str))
    ]
    keywords = {
        a[0]: a[1]
        for a in ev.args
        if isinstance(a, tuple) and len(a) == 2 and isinstance(a[0], str)
    }
    order: tuple[str, ...] = ("kernel_size", "stride", "padding", "dilation", "ceil_mode")
    if ev.name == "avg_pool2d":
        order = ("kernel_size", "stride", "padding", "ceil_mode")
    hyper = dict(zip(order, positional))
    hyper.update({k: v for k, v in keywords.items() if k in order})
    if hyper.get("stride") in (None, ()):
        hyper["stride"] = hyper.get("kernel_size")
    return hyper


def _in_scope(node: GraphNode, module: str) -> bool:
    if node.kind in ("input", "output"):
        return False
    return node.scope == module or node.scope.startswith(module + ".")


def _collapse(graph: DataFlowGraph, rec: Recording, macs: Mapping[str, int]) -> DataFlowGraph:
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

    serial = 0
    for info in rec.modules.values():  # pre-order: the shallowest runs are found first
        kids = [rec.modules[c] for c in info.children]
        if len(kids) < 2:
            continue
        members = [[n for n in nodes if _in_scope(n, k.name)] for k in kids]
        i = 0
        while i < len(kids):
            j = i
            while j + 1 < len(kids) and _same_block(
                kids[j], kids[j + 1], members[j], members[j + 1], edges, call_count, shapes
            ):
                j += 1
            if j > i:
                serial += 1
                run = kids[i : j + 1]
                inside = {n.id for group in members[i : j + 1] for n in group}
                first = {n.id for n in members[i]}
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
                nodes = [n for n in nodes if n.id not in inside]
                nodes.insert(position, box)
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
    a: ModuleInfo,
    b: ModuleInfo,
    nodes_a: list[GraphNode],
    nodes_b: list[GraphNode],
    edges: list[GraphEdge],
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
    into_b = [e.src for e in edges if e.dst in ids_b and e.src not in ids_b]
    out_of_a = [e.dst for e in edges if e.src in ids_a and e.dst not in ids_a]
    return bool(into_b) and all(s in ids_a for s in into_b) and all(d in ids_b for d in out_of_a)


def auto_depth(rec: Recording, max_nodes: int = 70) -> int:
    """The most detailed depth whose collapsed graph still has at most `max_nodes` boxes."""
    best = 1
    for depth in range(1, max(rec.max_depth, 1) + 1):
        if len(build_graph(rec, depth).nodes) <= max_nodes:
            best = depth
        else:
            break
    return best


def data_flow(
    arch: Any,
    input_size: tuple[int, int, int] | None = None,
    depth: int | None = None,
    *,
    collapse: bool = True,
    batch_size: int = 1,
) -> DataFlowGraph:
    """The data-flow graph of an architecture with MACs from `explorer.trace`."""
    from explorer.trace import trace as run_trace

    t = run_trace(arch, input_size=input_size, batch_size=batch_size)  # clear errors first
    rec = record_architecture(arch, input_size, batch_size)
    macs = {r.name: r.macs for r in t.layers}
    return build_graph(
        rec, auto_depth(rec) if depth is None else depth, collapse=collapse, macs=macs
    )


def weight_layer_depth(rec: Recording) -> int:
    """Convolution and fully connected layers on the longest path from input to output.

    The papers' way of counting depth: VGG-16 has 16, GoogLeNet 22, ResNet-152 152 (its
    projection shortcuts sit beside the main path, so they do not count).
    """
    graph = build_graph(rec, rec.max_depth, collapse=False)
    longest: dict[str, int] = {}
    incoming: dict[str, list[str]] = {}
    for e in graph.edges:
        incoming.setdefault(e.dst, []).append(e.src)
    for node in graph.nodes:  # execution order is a topological order
        own = 1 if node.kind in ("conv", "linear") and node.type not in _ARITHMETIC else 0
        longest[node.id] = own + max(
            (longest.get(s, 0) for s in incoming.get(node.id, [])), default=0
        )
    return longest.get("output", max(longest.values(), default=0))
