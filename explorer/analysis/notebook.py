"""Jupyter: a Trace shows as an HTML table, a diagram as inline SVG, and `summary()` prints the
table the way torchinfo's `summary` does, for people moving from it.

The table is explorer.core.report's (same columns, same cells, same totals, also as HTML:
Jupyter calls `Trace._repr_html_`, which calls `report.trace_html`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import nn

from explorer.analysis.analysis import analyse
from explorer.core.records import Trace


class Diagram:
    """A block diagram that Jupyter shows inline (`_repr_svg_`); `.svg` is the SVG text."""

    def __init__(self, svg: str, architecture: str = "", depth: int = 0) -> None:
        self.svg = svg
        self.architecture = architecture
        self.depth = depth

    def _repr_svg_(self) -> str:
        return self.svg

    def __repr__(self) -> str:
        return f"<Diagram of {self.architecture} at depth {self.depth}: {len(self.svg):,} chars>"


def diagram(
    arch: Any,
    input_size: tuple[int, int, int] | str | None = None,
    depth: int | None = None,
    *,
    inputs: Any = None,
    left_right: bool = False,
) -> Diagram:
    """The block diagram of a catalog name, a layer stack or a module (called with
    `input_size` or any `inputs` signature, as in explorer.trace), as inline SVG."""
    analysis = analyse(arch, input_size, inputs=inputs)
    svg = analysis.diagram("svg", depth, rankdir="LR" if left_right else "TB").decode()
    return Diagram(svg, analysis.architecture, analysis.graph(depth).depth)


def summary(
    model: nn.Module | str,
    input_size: Sequence[Any] | None = None,
    *,
    input_data: Any = None,
    dtypes: Sequence[Any] | None = None,
    depth: int | None = 3,
    verbose: int = 1,
    **kwargs: Any,
) -> Trace:
    """torchinfo-style: print the layer table of `model` called on inputs of `input_size`
    (full shapes, batch first: `(1, 3, 224, 224)`, or a list of them for several inputs,
    with `dtypes` per input) or on `input_data` (example tensors or trees of them); extra
    keyword arguments go to the model's forward. A catalog name needs no size.

    Returns the Trace (shown as an HTML table in Jupyter); `verbose=0` prints nothing."""
    from explorer.analysis.trace import trace

    sig = _signature(input_size, input_data, dtypes, kwargs)
    result = trace(model, inputs=sig) if sig is not None else trace(model)
    if verbose:
        from explorer.core.report import to_table

        print(to_table(result, depth))
    return result


def _signature(
    input_size: Sequence[Any] | None,
    input_data: Any,
    dtypes: Sequence[Any] | None,
    kwargs: dict[str, Any],
) -> Any:
    from explorer.core import inputs
    from explorer.core.errors import InputSizeError

    if input_data is not None:
        if isinstance(input_data, (list, tuple)) and not isinstance(input_data, inputs.Signature):
            return inputs.of(*input_data, **kwargs)
        return inputs.of(input_data, **kwargs)
    if input_size is None:
        if kwargs:
            raise InputSizeError("Keyword inputs need input_size or input_data for the rest.")
        return None
    if isinstance(input_size, str):
        return inputs.parse(input_size)
    sizes = list(input_size)
    several = bool(sizes) and all(isinstance(s, (list, tuple)) for s in sizes)
    shapes = [tuple(int(d) for d in s) for s in sizes] if several else [tuple(map(int, sizes))]
    names = [inputs.dtype_name(d) for d in dtypes] if dtypes else ["float32"] * len(shapes)
    if len(names) == 1 and len(shapes) > 1:
        names = names * len(shapes)
    if len(names) != len(shapes):
        raise InputSizeError(f"{len(shapes)} input sizes but {len(names)} dtypes.")
    specs = [inputs.TensorSpec(s, n) for s, n in zip(shapes, names)]
    return inputs.of(*specs, **kwargs)
