"""The Cost lab's tables, chart and 6×6 grids, built once per slider setting
(ready.bottleneck_view, ready.inception_view, ready.one_by_one_html) and shared."""

from __future__ import annotations

import plotly.graph_objects as go

from components import plots, widgets
from components.tables import Table
from explorer.analysis.trace import Trace
from explorer.core.layer_math import (
    LECTURE_6X6,
    BottleneckComparison,
    agreement,
    commas,
    conv1x1_single_channel,
    lecture_shape,
)


def check_table(cmp: BottleneckComparison, naive: Trace, bottleneck: Trace) -> Table:
    """The formulas' MACs beside the traced modules'."""
    return Table.of([
        {
            "Block": block,
            "Formula": commas(formula),
            "Traced": commas(t.total_macs),
            "Match": agreement(formula, t.total_macs),
            "Params (traced)": commas(t.total_params),
        }
        for block, formula, t in (("naive", cmp.naive.macs, naive),
                                  ("bottleneck", cmp.bottleneck_macs, bottleneck))
    ])  # fmt: skip


def cost_bars(cmp: BottleneckComparison) -> go.Figure:
    f = cmp.f
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            name=f"{f}×{f} conv",
            x=["naive", "bottleneck"],
            y=[cmp.naive.macs, cmp.expand.macs],
            marker_color="#1f78b4",
        )
    )
    fig.add_trace(
        go.Bar(
            name="1×1 reduce", x=["naive", "bottleneck"], y=[0, cmp.reduce.macs],
            marker_color="#fdbf6f",
        )
    )  # fmt: skip
    fig.update_layout(
        barmode="stack",
        height=320,
        title="Multiply-accumulates",
        yaxis_title="MACs",
        yaxis_tickformat="~s",
        xaxis_title="design",
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
    )
    return plots.finished(fig)


def one_by_one_html(weight: float) -> str:
    """The lecture's 6×6×1 input ∗ a 1×1×1 filter = every pixel times one number. The grids
    wrap onto a new line on a narrow screen and scroll rather than overlap."""
    result = conv1x1_single_channel(LECTURE_6X6, weight)
    return (
        "<div style='display:flex;align-items:center;gap:0.8rem;flex-wrap:wrap;"
        "overflow-x:auto;max-width:100%'>"
        + widgets.matrix_html(LECTURE_6X6, "6×6×1 input")
        + f"<span style='font-size:1.5rem;white-space:nowrap'>∗ {weight:g} =</span>"
        + widgets.matrix_html(result, "6×6×1 output")
        + "</div>"
    )


def branch_table(inception: Trace) -> Table:
    """Each branch of an inception module: output, parameters, MACs and share."""
    total = max(inception.total_macs, 1)
    return Table.of([
        {
            "Branch": r.name,
            "Output": lecture_shape(r.output_shape),
            "Params": commas(r.params),
            "MACs": commas(r.macs),
            "MACs %": f"{100 * r.macs / total:.1f}%",
        }
        for r in inception.children("")
    ])  # fmt: skip
