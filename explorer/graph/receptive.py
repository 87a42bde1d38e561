"""Receptive fields: how many input pixels (along H) one output value of a layer can see.

Computed on the recorded data flow (explorer.engine.recording, from the trace's own pass), so
branches and shortcuts are handled: where paths join, the larger field wins. For each
conv/pool layer with kernel f, dilation d and stride s:
r_out = r_in + d·(f − 1)·j_in,  j_out = j_in · s  (j: the distance between two neighbouring
outputs, in input pixels). After global pooling, flatten, a fully connected layer or
attention every value sees the whole input: `GLOBAL`.
"""

from __future__ import annotations

from explorer.core.layer_math import pair
from explorer.engine.recording import Event, Recording, op_hyper

GLOBAL = -1  # sees the whole input

_GLOBAL_OPS = {
    "flatten",
    "adaptive_avg_pool2d",
    "adaptive_max_pool2d",
    "linear",
    "matmul",
    "__matmul__",
    "bmm",
    "scaled_dot_product_attention",
    "mean",
}
_GLOBAL_TYPES = ("Linear", "Flatten", "MultiheadAttention")


def _step(rf: int, jump: int, hyper: dict[str, object]) -> tuple[int, int]:
    if rf == GLOBAL:
        return GLOBAL, jump
    f, _ = pair(hyper["kernel_size"])
    s, _ = pair(hyper.get("stride") or hyper["kernel_size"])
    d, _ = pair(hyper.get("dilation", 1) or 1)
    return rf + d * (f - 1) * jump, jump * s


def receptive_fields(rec: Recording) -> dict[str, int]:
    """Module path -> receptive field (in input pixels along H) of its output; GLOBAL = all."""
    state: dict[int, tuple[int, int]] = {rec.input_id: (1, 1)}
    out: dict[str, int] = {}
    stack: list[tuple[str, list[tuple[int, int]]]] = []
    inside_leaf = 0

    def joined(ev: Event) -> tuple[int, int]:
        seen = [state[i] for i, _ in ev.inputs if i in state]
        if not seen:
            return (1, 1)
        if any(rf == GLOBAL for rf, _ in seen):
            return (GLOBAL, max(j for _, j in seen))
        return (max(rf for rf, _ in seen), max(j for _, j in seen))

    for ev in rec.events:
        if ev.kind == "pre":
            info = rec.modules[ev.name]
            if inside_leaf or info.is_leaf:
                inside_leaf += 1
            stack.append((ev.name, [joined(ev)]))
        elif ev.kind == "post":
            name, (start,) = stack.pop()
            info = rec.modules[name]
            if info.is_leaf and inside_leaf == 1:
                rf, jump = start
                hyper = info.hyper
                if (
                    info.type in _GLOBAL_TYPES
                    or (info.type.startswith("Adaptive")
                    and _shrinks_to_1(ev))
                ):
                    rf = GLOBAL
                elif "kernel_size" in hyper and not info.type.startswith("Adaptive"):
                    rf, jump = _step(rf, jump, hyper)
                for tid, _ in ev.outputs:
                    state[tid] = (rf, jump)
            if inside_leaf:
                inside_leaf -= 1
            if ev.outputs and ev.outputs[0][0] in state:
                out.setdefault(name, state[ev.outputs[0][0]][0])
        elif not inside_leaf:
            rf, jump = joined(ev)
            if ev.name in _GLOBAL_OPS:
                rf = GLOBAL
            elif ev.name in ("max_pool2d", "avg_pool2d") and ev.args:
                hyper = op_hyper(ev)
                if "kernel_size" in hyper:
                    rf, jump = _step(rf, jump, hyper)
            for tid, _ in ev.outputs:
                state[tid] = (rf, jump)
    return out


def _shrinks_to_1(ev: Event) -> bool:
    shape = ev.outputs[0][1] if ev.outputs else ()
    return (len(shape) == 4 and shape[2] == 1 and shape[3] == 1) or len(shape) == 2


def describe(rf: int | None, input_size: int) -> str:
    """'11×11'; 'whole input' for GLOBAL; 'all (435×435)' for a field at least the input's size."""
    if rf is None:
        return ""
    if rf == GLOBAL:
        return "whole input"
    if rf >= input_size:
        return f"all ({rf}×{rf})"
    return f"{rf}×{rf}"
