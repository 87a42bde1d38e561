"""One analysis per request: one meta build and one recorded forward pass, every view derived.

`analyse(arch, input_size, batch_size)` resolves the name once, builds the network on the meta
device once and records one forward pass (explorer.analysis.trace.trace_and_record). The
`Analysis` it returns holds that pass's `Trace` (table, totals) and `Recording` (the data
flow), and derives the rest from them on first use: the data-flow graph at any depth, the
automatic depth, the main path, the papers' depth (conv + FC layers on the longest path), the
receptive fields, the JSON of the trace, the diagram's DOT text and rendered images.

An Analysis is immutable (what it derives is memoised once and never changed), so one object
is shared by every view, page and session that asks for the same network at the same input
signature and batch: the app keeps one cache of them and so does this module.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from torch import nn

from explorer.analysis.trace import parse_input_size, trace_and_record
from explorer.catalog import ArchSpec, resolve
from explorer.catalog.registry import is_registered
from explorer.core.records import LayerRecord, Trace
from explorer.engine.recording import Recording
from explorer.graph import diagram as _diagram
from explorer.graph.dataflow import auto_depth, build_graph, layers_on_longest_path
from explorer.graph.main_path import ShapePoint, main_path
from explorer.graph.receptive import Field, fields
from explorer.graph.rows import rows_svg
from explorer.graph.types import DataFlowGraph

__all__ = ["ANALYSIS_CACHE_SIZE", "Analysis", "analyse", "data_flow", "record_architecture"]

T = TypeVar("T")


@dataclass(frozen=True, eq=False)
class Analysis:
    """The trace and the recording of one meta forward pass, and everything read from them."""

    spec: ArchSpec | None  # None for a user's nn.Module
    trace: Trace
    recording: Recording
    _memo: dict[Hashable, Any] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _once(self, key: Hashable, make: Callable[[], T]) -> T:
        """`make()` computed once per key; concurrent first callers may both compute it (the
        results are equal), and the first stored is the one every caller gets."""
        with self._lock:
            if key in self._memo:
                found: T = self._memo[key]
                return found
        value = make()
        with self._lock:
            stored: T = self._memo.setdefault(key, value)
        return stored

    @property
    def architecture(self) -> str:
        return self.trace.architecture

    @property
    def modules(self) -> dict[str, LayerRecord]:
        return self.recording.modules

    @property
    def max_depth(self) -> int:
        return max((r.depth for r in self.trace.layers), default=0)

    @property
    def auto_depth(self) -> int:
        """The most detailed depth whose collapsed diagram still fits a screen."""
        return self._once(
            "auto_depth", lambda: auto_depth(self.recording, graph_at=lambda d: self.graph(d))
        )

    def graph(self, depth: int | None = None, collapse: bool = True) -> DataFlowGraph:
        """The data-flow graph at `depth` (None: the automatic depth)."""
        depth = self.auto_depth if depth is None else depth
        key = ("graph", depth, collapse)
        return self._once(key, lambda: build_graph(self.recording, depth, collapse=collapse))

    @property
    def depth(self) -> int:
        """Conv and FC layers on the longest input→output path (VGG-16: 16, GoogLeNet: 22)."""
        full = self.graph(self.recording.max_depth, collapse=False)
        return self._once("depth", lambda: layers_on_longest_path(full, self.recording))

    @property
    def main_path(self) -> list[ShapePoint]:
        """The tensors every route from input to output passes through."""
        full = self.graph(max(self.recording.max_depth, 1), collapse=False)
        return self._once("main_path", lambda: main_path(full))

    def box_layers(self, node_id: str, depth: int | None = None, collapse: bool = True) -> tuple[
        str, ...
    ]:
        """The module paths a box of the diagram at `depth` stands for: a layer or block box
        its own path, a collapsed "×N" box each of its blocks, a function box (a residual
        addition, a concatenation) the module whose forward called it; () for the input, the
        output, a function of the network's own forward, or an id not in the diagram."""
        graph = self.graph(depth, collapse)
        node = next((n for n in graph.nodes if n.id == node_id), None)
        if node is None or node.kind in ("input", "output"):
            return ()
        if node.members:
            return node.members
        if node.name in self.recording.modules:
            return (node.name,)
        return (node.scope,) if node.scope else ()

    @property
    def receptive_fields(self) -> dict[str, int]:
        """Module path -> how many input pixels (along H) one output value sees."""
        return self._once(
            "receptive", lambda: {n: f.size[0] for n, f in self.fields.items()}
        )

    @property
    def fields(self) -> dict[str, Field]:
        """Module path -> its output's receptive field: size, jump and position."""
        return self._once("fields", lambda: fields(self.recording))

    @property
    def trace_json(self) -> str:
        return self._once("json", lambda: json.dumps(self.trace.to_dict(), indent=1))

    def dot(self, depth: int | None = None, collapse: bool = True, rankdir: str = "TB") -> str:
        """The block diagram as DOT text."""
        graph = self.graph(depth, collapse)
        return self._once(
            ("dot", graph.depth, collapse, rankdir),
            lambda: _diagram.to_dot(graph, rankdir=rankdir, modules=self.modules),
        )

    def diagram(
        self, fmt: str, depth: int | None = None, collapse: bool = True, rankdir: str = "TB"
    ) -> bytes:
        """The block diagram rendered by graphviz's `dot` ("svg" or "png"). Left to right
        ("LR"), the SVG wraps into rows like text (explorer.graph.rows); the PNG stays one
        strip."""
        graph = self.graph(depth, collapse)
        if rankdir == "LR" and fmt == "svg":
            return self._once(
                ("rows", graph.depth, collapse), lambda: rows_svg(graph, modules=self.modules)
            )
        return self._once(
            ("diagram", fmt, graph.depth, collapse, rankdir),
            lambda: _diagram.render(graph, fmt, rankdir=rankdir, modules=self.modules),
        )


# Analyses of catalog entries and typed stacks, by (name, input signature, batch). A
# Recording of ResNet-152 is ~1 MB; the app keeps its own bounded cache of the same objects.
ANALYSIS_CACHE_SIZE = 16
_cache: OrderedDict[Hashable, Analysis] = OrderedDict()
_cache_lock = threading.Lock()


def _key(spec: ArchSpec, input_size: Any, batch_size: int, inputs: Any) -> Hashable | None:
    """What identifies an analysis of `spec`, or None when it is not kept: an unregistered
    spec whose name does not say all it builds (the Cost lab's blocks), a signature given
    as objects."""
    if not (is_registered(spec) or spec.source == "custom"):
        return None
    if inputs is not None:
        return (spec.name, "inputs", inputs, batch_size) if isinstance(inputs, str) else None
    if spec.inputs and input_size is None:  # a network that takes no image
        return (spec.name, "own", batch_size)
    size = parse_input_size(input_size if input_size is not None else spec.input_size)
    return (spec.name, size, batch_size)


def analyse(
    arch: str | ArchSpec | nn.Module,
    input_size: tuple[int, int, int] | str | None = None,
    batch_size: int = 1,
    *,
    inputs: Any = None,
    name: str | None = None,
) -> Analysis:
    """The analysis of a catalog name, a typed stack, an ArchSpec or a user's module on one
    input signature (an image of `input_size`, the network's own, or `inputs`), at a batch.

    A name is resolved here, once. Analyses of catalog entries and typed stacks are kept, so
    asking again (another depth, another view, another session) records nothing new."""
    if isinstance(arch, nn.Module):
        t, rec = trace_and_record(arch, input_size, batch_size, inputs=inputs, name=name)
        return Analysis(None, t, rec)
    spec = arch if isinstance(arch, ArchSpec) else resolve(arch)  # the one resolution
    key = None if name is not None else _key(spec, input_size, batch_size, inputs)
    if key is not None:
        with _cache_lock:
            found = _cache.get(key)
            if found is not None:
                _cache.move_to_end(key)
                return found
    t, rec = trace_and_record(spec, input_size, batch_size, inputs=inputs, name=name)
    made = Analysis(spec, t, rec)
    if key is None:
        return made
    with _cache_lock:
        kept = _cache.setdefault(key, made)
        while len(_cache) > ANALYSIS_CACHE_SIZE:
            _cache.popitem(last=False)
    return kept


def record_architecture(
    arch: str | ArchSpec | nn.Module,
    input_size: tuple[int, int, int] | str | None = None,
    batch_size: int = 1,
) -> Recording:
    """The recording of `analyse(arch, input_size, batch_size)`."""
    if isinstance(arch, nn.Module) and input_size is None:
        raise ValueError("input_size is required for a module")
    return analyse(arch, input_size, batch_size).recording


def data_flow(
    arch: str | ArchSpec | nn.Module,
    input_size: tuple[int, int, int] | None = None,
    depth: int | None = None,
    *,
    collapse: bool = True,
    batch_size: int = 1,
) -> DataFlowGraph:
    """The data-flow graph of an architecture at `depth` (None: the automatic depth)."""
    return analyse(arch, input_size, batch_size).graph(depth, collapse)
