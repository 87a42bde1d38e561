"""Tables ready to send. `st.dataframe` turns a list of rows or a pandas frame into Arrow on
every page run; a `Table` is turned once, kept in `st.cache_resource` with the figures, keyed
by what it shows (components/ready.py), and never changed after. Also the layer table's rows,
column settings and row selection."""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pyarrow as pa
import streamlit as st

from explorer.analysis.trace import LayerRecord, Trace
from explorer.core.layer_kinds import lecture_labels
from explorer.core.layer_math import commas, lecture_shape, output_size_formula
from explorer.graph.receptive import describe as describe_rf

Row = Mapping[str, Any]


@dataclass(frozen=True, eq=False)
class Table:
    """Rows (read only), the Arrow table Streamlit sends for them, and its column settings
    (a layer table's: number columns as wide as their widest value)."""

    rows: tuple[Row, ...]
    arrow: pa.Table
    config: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, rows: Sequence[Row], config: Mapping[str, Any] | None = None) -> Table:
        rows = tuple(rows)
        arrow = pa.Table.from_pandas(pd.DataFrame(list(rows)), preserve_index=False)
        return cls(rows, arrow, config or {})

    @classmethod
    def of_layers(cls, rows: Sequence[Row]) -> Table:
        """A layer table, with its column settings."""
        config = dict(TABLE_CONFIG)
        for column, help_text in NUMBER_HELP.items():
            if rows and column in rows[0]:
                config[column] = st.column_config.NumberColumn(
                    format="localized", help=help_text, width=number_width(rows, column)
                )
        return cls.of(rows, config)

    def csv(self) -> str:
        return rows_to_csv(self.rows)


def shape_text(record: LayerRecord, image: tuple[int, ...] = ()) -> str:
    if not record.output_shape:
        return "not used"
    text = lecture_shape(record.output_shape, image)
    if len(record.output_shapes) > 1:
        text += f" (+{len(record.output_shapes) - 1} more)"
    return text


def layer_rows(
    trace: Trace, depth: int, fields: dict[str, int] | None = None
) -> list[dict[str, Any]]:
    """One row per layer shown at `depth`: what a teacher reads off the table."""
    total = trace.total_macs or 1
    fields = fields or {}
    side = trace.input_shape[2] if len(trace.input_shape) == 4 else 0
    lecture = lecture_labels(trace.layers)
    rows = []
    for r in trace.at_depth(depth):
        formula = None
        if r.input_shapes and r.calls > 0:
            formula = output_size_formula(r.hyper, r.input_shapes[0])
        rows.append(
            {
                "Layer": r.name,
                "Lecture": lecture.get(r.name, ""),
                "Type": r.type,
                "Output n_H×n_W×n_C": shape_text(r, trace.input_shape),
                "Params": r.params,
                "MACs": r.macs,
                "Share of MACs %": round(100 * r.macs / total, 2),
                "Receptive field": describe_rf(fields.get(r.name), side)
                if r.name in fields
                else "",
                "Output size ⌊(n + 2p − f)/s⌋ + 1": formula or "",
            }
        )
    return rows


SHAPE = "Output n_H×n_W×n_C"


def stack_rows(t: Trace, fields: dict[str, int] | None = None) -> list[dict[str, Any]]:
    """A typed stack's layer table, every layer; for anything but an image, shapes in
    PyTorch's order (batch dropped) instead of the lecture's n_H×n_W×n_C, and no
    receptive-field column (it counts pixels)."""
    depth = max(r.depth for r in t.layers)
    rows = layer_rows(t, depth, fields)
    if len(t.input_shape) == 4:
        return rows
    shapes = ["×".join(map(str, r.output_shape[1:])) or "not used" for r in t.at_depth(depth)]
    return [
        {("Output (PyTorch order)" if k == SHAPE else k): (shape if k == SHAPE else v)
         for k, v in row.items() if k != "Receptive field"}
        for row, shape in zip(rows, shapes, strict=True)
    ]  # fmt: skip


# No fixed widths: the grid sizes each column to its header and values, so nothing is cut.
TABLE_CONFIG = {
    "Share of MACs %": st.column_config.ProgressColumn(
        format="%.1f%%", min_value=0, max_value=100, help="this layer's share of all MACs"
    ),
    "Receptive field": st.column_config.TextColumn(
        help="input pixels (along n_H) that one output value can see"
    ),
}


NUMBER_HELP = {
    "Params": "parameters of this layer (and everything inside it)",
    "MACs": "multiply-accumulates",
}


def number_width(rows: Sequence[Row], column: str) -> int:
    """Pixels for a column of comma-grouped integers, from its widest value. The grid sizes
    a column from its first rows only: VGG's 102,764,544-parameter fc6 is row 32, and was
    shown as ',764,544'."""
    widest = max((len(commas(r[column])) for r in rows if r.get(column) is not None), default=1)
    return 28 + 9 * max(widest, len(column))


def picked_rows(rows: Sequence[Row], picked: Sequence[str]) -> list[int]:
    """The table rows of the picked layers: a picked layer's own row, the rows inside a
    picked block, and the row of the block a picked layer sits in."""
    hits = []
    for i, row in enumerate(rows):
        layer = str(row.get("Layer", ""))
        if any(
            layer == p or layer.startswith(p + ".") or p.startswith(layer + ".") for p in picked
        ):
            hits.append(i)
    return hits


def layer_table(table: Table, key: str, picked: Sequence[str] = ()) -> None:
    """The layer table; the rows of the `picked` layers (a click on a diagram box) start
    selected (each new pick is a new table, so its selection shows at once)."""
    hits = picked_rows(table.rows, picked)
    height = min(38 + 35 * len(table.rows), 560)
    if not hits:
        st.dataframe(table.arrow, hide_index=True, column_config=table.config, key=key,
                     height=height)  # fmt: skip
        return
    st.dataframe(
        table.arrow,
        hide_index=True,
        column_config=table.config,
        key=f"{key}_{'_'.join(map(str, hits))}",
        height=height,
        on_select="rerun",
        selection_mode="multi-row",
        selection_default={"selection": {"rows": hits}},
    )


def rows_to_csv(rows: Sequence[Row]) -> str:
    if not rows:
        return ""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def shaded_html(rows: Sequence[Row], styles: Sequence[str], max_height: int = 560) -> str:
    """Rows as an HTML table, each row with its own CSS (`styles`: its background…), integers
    comma-grouped and right-aligned, in a box that scrolls past `max_height` pixels. Made once
    and kept (a pandas Styler in st.dataframe is styled again on every run)."""
    if not rows:
        return ""
    columns = list(rows[0])
    cell = "padding:4px 10px;border-bottom:1px solid rgba(49,51,63,0.12)"

    def td(value: Any) -> str:
        if isinstance(value, int) and not isinstance(value, bool):
            return f"<td style='{cell};text-align:right'>{commas(value)}</td>"
        return f"<td style='{cell}'>{html.escape(str(value))}</td>"

    head = "".join(
        f"<th style='{cell};text-align:left;position:sticky;top:0;background:#fff'>"
        f"{html.escape(c)}</th>"
        for c in columns
    )
    body = "".join(
        f"<tr style='{style}'>" + "".join(td(row[c]) for c in columns) + "</tr>"
        for row, style in zip(rows, styles, strict=True)
    )
    return (
        f"<div style='max-height:{max_height}px;overflow:auto;border:1px solid "
        "rgba(49,51,63,0.2);border-radius:8px'><table style='border-collapse:collapse;"
        f"width:100%;font-size:0.95rem'><thead><tr>{head}</tr></thead><tbody>{body}</tbody>"
        "</table></div>"
    )
