"""A prediction's top classes as a table and a bar chart, made once per result
(ready.top_view) and shared: a rerun of Predict, Ensembles or Look inside sends them as
they are; and a small network input blown up into square pixels (ready.enlarged_picture)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import plotly.graph_objects as go
from PIL import Image, ImageDraw

from components import plots
from components.tables import Table

Top = tuple[tuple[str, int, float], ...]  # (label, class index, probability), best first


class TopView(NamedTuple):
    table: Table  # rank, class, index, probability
    short: Table  # class and probability only (three members' tables side by side)
    chart: go.Figure


def plain(top: Sequence[Any]) -> Top:
    """explorer.labs.predict's TopClass list as plain tuples (a cache key)."""
    return tuple((t.label, t.index, t.probability) for t in top)


def top_rows(top: Top) -> list[dict[str, Any]]:
    """The top classes' table rows: rank, class, index, probability."""
    return [
        {"rank": r, "class": label, "index": index, "probability": f"{p:.2%}"}
        for r, (label, index, p) in enumerate(top, 1)
    ]


def top_chart(top: Top, title: str = "") -> go.Figure:
    labels = [label for label, _, _ in top][::-1]
    fig = go.Figure(
        go.Bar(
            x=[p for _, _, p in top][::-1],
            y=labels,
            orientation="h",
            text=[f"{p:.1%}" for _, _, p in top][::-1],
            textposition="auto",
        )
    )
    fig.update_layout(
        title=title or None,
        height=60 + 32 * len(labels),
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        xaxis={"range": [0, 1], "tickformat": ".0%"},
        yaxis={"type": "category"},  # digit labels "7" are names, not numbers
    )
    return plots.finished(fig)


def top_view(top: Top, title: str = "") -> TopView:
    rows = top_rows(top)
    short = [{"class": r["class"], "probability": r["probability"]} for r in rows]
    return TopView(Table.of(rows), Table.of(short), top_chart(top, title))


def enlarged(
    pixels: Any, side: int, box: tuple[int, int, int, int] | None = None
) -> Image.Image:
    """A small network input (LeNet's 32×32) blown up with square pixels, not blurred; `box`
    (top, left, bottom, right input pixels, inclusive) framed in red, cut at the edges."""
    picture = Image.fromarray(pixels).convert("RGB")
    scale = max(1, side // max(picture.size))
    big = picture.resize((picture.width * scale, picture.height * scale), Image.Resampling.NEAREST)
    if box is not None:
        top, left, bottom, right = box
        top, left = max(top, 0), max(left, 0)
        bottom, right = min(bottom, picture.height - 1), min(right, picture.width - 1)
        line = max(2, big.width // 110)
        ImageDraw.Draw(big).rectangle(
            (left * scale, top * scale, (right + 1) * scale - 1, (bottom + 1) * scale - 1),
            outline=(230, 30, 30), width=line,
        )
    return big
