"""Receptive fields: how many input pixels (along H) one output value of a layer can see.

Computed on the recorded data flow (explorer.engine.recording, from the trace's own pass), so
branches and shortcuts are handled: where paths join, the larger field wins. For each
conv/pool layer with kernel f, dilation d, stride s and padding p:
r_out = r_in + d·(f − 1)·j_in,  j_out = j_in · s  (j: the distance between two neighbouring
outputs, in input pixels), and the centre of output 0's field
c_out = c_in + (d·(f − 1)/2 − p)·j_in, so output i sees input rows c + i·j ± (r − 1)/2.
After global pooling, flatten, a fully connected layer or attention every value sees the
whole input: `GLOBAL`.
"""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class Field:
    """The input pixels one output value of a layer sees, along each of H and W."""

    size: tuple[int, int]  # receptive field (GLOBAL: the whole input)
    jump: tuple[int, int]  # input pixels between two neighbouring outputs
    centre: tuple[float, float]  # input coordinate of output (0, 0)'s field centre

    def window(self, row: int, col: int) -> tuple[int, int, int, int] | None:
        """(top, left, bottom, right) input pixels, inclusive, of output (row, col)'s field;
        past the edges is padding. None for a field that sees the whole input."""
        if GLOBAL in self.size:
            return None
        (r_h, r_w), (j_h, j_w), (c_h, c_w) = self.size, self.jump, self.centre
        top, left = c_h + row * j_h - (r_h - 1) / 2, c_w + col * j_w - (r_w - 1) / 2
        return round(top), round(left), round(top) + r_h - 1, round(left) + r_w - 1


_START = Field((1, 1), (1, 1), (0.0, 0.0))


def _step(field: Field, hyper: dict[str, object]) -> Field:
    if GLOBAL in field.size:
        return field
    f = pair(hyper["kernel_size"])
    s = pair(hyper.get("stride") or hyper["kernel_size"])
    d = pair(hyper.get("dilation", 1) or 1)
    raw = hyper.get("padding", 0)
    p = pair(raw) if not isinstance(raw, str) else (0, 0)
    if raw == "same":
        p = (d[0] * (f[0] - 1) // 2, d[1] * (f[1] - 1) // 2)
    return Field(
        size=(field.size[0] + d[0] * (f[0] - 1) * field.jump[0],
              field.size[1] + d[1] * (f[1] - 1) * field.jump[1]),
        jump=(field.jump[0] * s[0], field.jump[1] * s[1]),
        centre=(field.centre[0] + (d[0] * (f[0] - 1) / 2 - p[0]) * field.jump[0],
                field.centre[1] + (d[1] * (f[1] - 1) / 2 - p[1]) * field.jump[1]),
    )  # fmt: skip


def _global(field: Field) -> Field:
    return Field((GLOBAL, GLOBAL), field.jump, field.centre)


def receptive_fields(rec: Recording) -> dict[str, int]:
    """Module path -> receptive field (in input pixels along H) of its output; GLOBAL = all."""
    return {name: field.size[0] for name, field in fields(rec).items()}


def fields(rec: Recording) -> dict[str, Field]:
    """Module path -> the field of its output, along H and W: size, jump and centre."""
    state: dict[int, Field] = {rec.input_id: _START}
    out: dict[str, Field] = {}
    stack: list[tuple[str, list[Field]]] = []
    inside_leaf = 0

    def joined(ev: Event) -> Field:
        """Where paths join, the larger field wins (its centre and the largest jump)."""
        seen = [state[i] for i, _ in ev.inputs if i in state]
        if not seen:
            return _START
        jump = (max(f.jump[0] for f in seen), max(f.jump[1] for f in seen))
        if any(GLOBAL in f.size for f in seen):
            return Field((GLOBAL, GLOBAL), jump, seen[0].centre)
        widest = max(seen, key=lambda f: f.size)
        return Field(widest.size, jump, widest.centre)

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
                field = start
                hyper = info.hyper
                if (
                    info.type in _GLOBAL_TYPES
                    or (info.type.startswith("Adaptive")
                    and _shrinks_to_1(ev))
                ):
                    field = _global(field)
                elif "kernel_size" in hyper and not info.type.startswith("Adaptive"):
                    field = _step(field, hyper)
                for tid, _ in ev.outputs:
                    state[tid] = field
            if inside_leaf:
                inside_leaf -= 1
            if ev.outputs and ev.outputs[0][0] in state:
                out.setdefault(name, state[ev.outputs[0][0]])
        elif not inside_leaf:
            field = joined(ev)
            if ev.name in _GLOBAL_OPS:
                field = _global(field)
            elif ev.name in ("max_pool2d", "avg_pool2d") and ev.args:
                hyper = op_hyper(ev)
                if "kernel_size" in hyper:
                    field = _step(field, hyper)
            for tid, _ in ev.outputs:
                state[tid] = field
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
