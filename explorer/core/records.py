"""What a trace produces: one frozen `LayerRecord` per module and the `Trace` that holds them.

Plain numbers and strings only, so a Trace can be cached, serialised to JSON and compared.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from explorer.core.report import trace_html


@dataclass(frozen=True)
class LayerRecord:
    """One module of a traced network, in pre-order (the root has name "" and depth 0)."""

    name: str  # module path ("features.0"), "" for the root
    type: str  # class name ("Conv2d")
    kind: str  # explorer.core.layer_kinds.kind_of(type, is_leaf): "conv", "pool", "block", ...
    depth: int
    parent: str | None  # None for the root
    is_leaf: bool  # no child modules
    input_shapes: tuple[tuple[int, ...], ...]  # every tensor input of the (last) call, (N, C, H, W)
    output_shape: tuple[int, ...]  # first tensor output; () when never called
    output_shapes: tuple[tuple[int, ...], ...]  # every tensor output
    params: int  # aggregate: this module and all below it
    own_params: int  # registered directly on this module
    trainable_params: int  # aggregate, requires_grad only
    macs: int  # aggregate multiply-accumulates, all calls
    own_macs: int  # done by this module's own code, not by a child module
    calls: int  # forward calls in one pass (0: defined but unused, e.g. eval-mode aux heads)
    hyper: dict[str, Any] = field(default_factory=dict)  # kernel_size, stride, padding, ...
    children: tuple[str, ...] = ()  # child module paths, in the order they were registered
    signature: str = ""  # hash of the type and settings of this module and all below it

    @property
    def flops(self) -> int:
        return 2 * self.macs


@dataclass(frozen=True)
class Trace:
    architecture: str
    input_shape: tuple[int, ...]  # (N, C, H, W)
    layers: tuple[LayerRecord, ...]
    total_params: int
    trainable_params: int
    total_macs: int
    param_bytes: int  # float32 weights and buffers
    activation_bytes: int  # float32 outputs of all leaf modules for the batch (forward pass)
    input_bytes: int
    output_shape: tuple[int, ...] = ()

    @property
    def total_flops(self) -> int:
        return 2 * self.total_macs

    @property
    def root(self) -> LayerRecord:
        return self.layers[0]

    def layer(self, name: str) -> LayerRecord:
        for record in self.layers:
            if record.name == name:
                return record
        raise KeyError(name)

    def children(self, name: str) -> list[LayerRecord]:
        return [r for r in self.layers if r.parent == name]

    def leaves(self) -> list[LayerRecord]:
        return [r for r in self.layers if r.is_leaf]

    def at_depth(self, depth: int) -> list[LayerRecord]:
        """Modules at `depth` plus shallower leaves: what a table shows at that detail."""
        return [r for r in self.layers if r.depth == depth or (r.is_leaf and 0 < r.depth < depth)]

    def _repr_html_(self) -> str:
        """Jupyter shows a Trace as explorer.core.report's table, in HTML."""
        return trace_html(self)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["total_flops"] = self.total_flops
        return out


