"""Plain-text views of a Trace: shapes in the lecture's style, tables, CSV, Markdown, JSON.

Shared by the CLI, the app and Jupyter (a Trace shows itself as `trace_html`), so all show the
same numbers the same way. The records are read through the two protocols below, so that
explorer.core.records can use this module without this module importing it.
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Sequence
from enum import Enum
from typing import Any, Protocol

from explorer.core.layer_math import lecture_shape
from explorer.core.units import format_bytes


class LayerRecord(Protocol):
    """What a table reads of explorer.core.records.LayerRecord."""

    @property
    def name(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def depth(self) -> int: ...
    @property
    def parent(self) -> str | None: ...
    @property
    def is_leaf(self) -> bool: ...
    @property
    def input_shapes(self) -> tuple[tuple[int, ...], ...]: ...
    @property
    def output_shape(self) -> tuple[int, ...]: ...
    @property
    def params(self) -> int: ...
    @property
    def trainable_params(self) -> int: ...
    @property
    def macs(self) -> int: ...
    @property
    def calls(self) -> int: ...
    @property
    def hyper(self) -> dict[str, Any]: ...


class Trace(Protocol):
    """What a table reads of explorer.core.records.Trace."""

    @property
    def architecture(self) -> str: ...
    @property
    def input_shape(self) -> tuple[int, ...]: ...
    @property
    def output_shape(self) -> tuple[int, ...]: ...
    @property
    def layers(self) -> Sequence[LayerRecord]: ...
    @property
    def total_params(self) -> int: ...
    @property
    def trainable_params(self) -> int: ...
    @property
    def total_macs(self) -> int: ...
    @property
    def total_flops(self) -> int: ...
    @property
    def param_bytes(self) -> int: ...
    @property
    def activation_bytes(self) -> int: ...
    def at_depth(self, depth: int) -> Sequence[LayerRecord]: ...


class OutputFormat(str, Enum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"
    MARKDOWN = "markdown"


def human(n: float, unit: str = "") -> str:
    """1234567 -> '1.23 M'. Exact figures are always shown elsewhere with thousands separators."""
    for threshold, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= threshold:
            return f"{n / threshold:.2f} {suffix}{unit}"
    return f"{n:.0f} {unit}".rstrip()


def layer_rows(trace: Trace, depth: int | None = None) -> list[dict[str, Any]]:
    """One dict per layer shown at `depth` (None: every module), root excluded."""
    layers = trace.layers[1:] if depth is None else trace.at_depth(depth)
    total = trace.total_macs or 1
    return [_row(r, total, trace.input_shape) for r in layers]


def _row(r: LayerRecord, total_macs: int, image: tuple[int, ...]) -> dict[str, Any]:
    return {
        "name": r.name,
        "type": r.type,
        "depth": r.depth,
        "output": lecture_shape(r.output_shape, image) if r.output_shape else "(not run)",
        "output_shape": list(r.output_shape),
        "params": r.params,
        "trainable_params": r.trainable_params,
        "macs": r.macs,
        "mac_share": r.macs / total_macs,
    }


def to_json(trace: Trace, depth: int | None = None) -> str:
    """The CLI's JSON contract: one object, containers carrying aggregate params and MACs."""
    layers = trace.layers[1:] if depth is None else trace.at_depth(depth)
    doc = {
        "architecture": trace.architecture,
        "input_shape": list(trace.input_shape),
        "output_shape": list(trace.output_shape),
        "total_params": trace.total_params,
        "trainable_params": trace.trainable_params,
        "total_macs": trace.total_macs,
        "total_flops": trace.total_flops,
        "param_bytes": trace.param_bytes,
        "activation_bytes": trace.activation_bytes,
        "layers": [
            {
                "name": r.name,
                "type": r.type,
                "depth": r.depth,
                "parent": r.parent,
                "is_leaf": r.is_leaf,
                "input_shapes": [list(s) for s in r.input_shapes],
                "output_shape": list(r.output_shape),
                "params": r.params,
                "trainable_params": r.trainable_params,
                "macs": r.macs,
                "calls": r.calls,
                "hyper": {k: list(v) if isinstance(v, tuple) else v for k, v in r.hyper.items()},
            }
            for r in layers
        ],
    }
    return json.dumps(doc, indent=2)


_COLUMNS = (
    ("Layer", "name"),
    ("Type", "type"),
    ("Output (H×W×C)", "output"),
    ("Params", "params"),
    ("MACs", "macs"),
    ("% MACs", "mac_share"),
)


def _cells(row: dict[str, Any], indent: bool) -> list[str]:
    name = ("  " * (row["depth"] - 1) if indent else "") + row["name"]
    return [
        name,
        row["type"],
        row["output"],
        f"{row['params']:,}",
        f"{row['macs']:,}",
        f"{100 * row['mac_share']:.1f}",
    ]


def _totals(trace: Trace) -> list[str]:
    return [
        f"Input: {lecture_shape(trace.input_shape)} (batch {trace.input_shape[0]})",
        f"Total params: {trace.total_params:,}  (trainable {trace.trainable_params:,})",
        f"Total MACs: {trace.total_macs:,} ({human(trace.total_macs)})  FLOPs = 2 × MACs",
        f"Weights: {format_bytes(trace.param_bytes)}  Activations: "
        f"{format_bytes(trace.activation_bytes)} (float32)",
    ]


def to_table(trace: Trace, depth: int | None = None) -> str:
    rows = [_cells(r, indent=True) for r in layer_rows(trace, depth)]
    header = [c for c, _ in _COLUMNS]
    if len(trace.input_shape) != 4:  # features, a sequence, a volume, tokens: not H×W×C
        header[2] = "Output"
    widths = [
        max(len(header[i]), *(len(r[i]) for r in rows)) if rows else len(header[i])
        for i in range(len(header))
    ]
    right = {3, 4, 5}

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))
        ).rstrip()

    rule = "-" * (sum(widths) + 2 * (len(widths) - 1))
    out = [trace.architecture, rule, line(header), rule, *(line(r) for r in rows), rule]
    return "\n".join(out + _totals(trace))


def to_csv(trace: Trace, depth: int | None = None) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["name", "type", "depth", "output_shape", "params", "trainable_params", "macs"])
    for r in layer_rows(trace, depth):
        shape = "x".join(map(str, r["output_shape"]))
        writer.writerow(
            [r["name"], r["type"], r["depth"], shape, r["params"], r["trainable_params"], r["macs"]]
        )
    return buf.getvalue()


def to_markdown(trace: Trace, depth: int | None = None) -> str:
    header = [c for c, _ in _COLUMNS]
    out = [
        f"### {trace.architecture}",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] * 3 + ["---:"] * 3) + "|",
    ]
    for r in layer_rows(trace, depth):
        out.append("| " + " | ".join(c.replace("|", "\\|") for c in _cells(r, indent=False)) + " |")
    out.append("")
    out.extend(f"- {t}" for t in _totals(trace))
    return "\n".join(out) + "\n"


def render(trace: Trace, fmt: str | OutputFormat, depth: int | None = None) -> str:
    fmt = OutputFormat(fmt)
    return {
        OutputFormat.TABLE: to_table,
        OutputFormat.JSON: to_json,
        OutputFormat.CSV: to_csv,
        OutputFormat.MARKDOWN: to_markdown,
    }[fmt](trace, depth)


# A notebook output taller than this scrolls (resnet152 has 500+ modules).
MAX_HEIGHT_PX = 480
RIGHT = {3, 4, 5}  # the numeric columns of report's table


def trace_html(trace: Trace, depth: int | None = None) -> str:
    """report.to_table's rows as an HTML table (indented names), then its totals."""
    header = "".join(
        f'<th style="text-align:{"right" if i in RIGHT else "left"}">{html.escape(c)}</th>'
        for i, (c, _) in enumerate(_COLUMNS)
    )
    body = []
    for row in layer_rows(trace, depth):
        cells = _cells(row, indent=False)
        pad = 1.2 * max(row["depth"] - 1, 0)
        tds = [f'<td style="padding-left:{pad:.1f}em">{html.escape(cells[0])}</td>']
        tds += [
            f'<td style="text-align:{"right" if i in RIGHT else "left"}">{html.escape(c)}</td>'
            for i, c in enumerate(cells[1:], start=1)
        ]
        body.append("<tr>" + "".join(tds) + "</tr>")
    totals = "<br>".join(html.escape(t) for t in _totals(trace))
    return (
        f'<div class="explorer-trace"><strong>{html.escape(trace.architecture)}</strong>'
        f'<div style="max-height:{MAX_HEIGHT_PX}px;overflow:auto">'
        f"<table><thead><tr>{header}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
        f"<p>{totals}</p></div>"
    )
