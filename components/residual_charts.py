"""Plotly figures and tables for the "Why ResNets work" page (numbers in, figures out)."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from components import plots
from explorer.labs.residual_experiment import SUPPORTED_DEPTHS, IdentityDemo, RunResult

_PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2"]


def depth_colour(depth: int) -> str:
    """The same colour for a depth on every chart (plain and residual twins share it)."""
    index = SUPPORTED_DEPTHS.index(depth) if depth in SUPPORTED_DEPTHS else depth // 6
    return _PALETTE[index % len(_PALETTE)]


def _style(kind: str) -> str:
    return "dash" if kind == "plain" else "solid"


def curves_figure(runs: Sequence[RunResult], epochs: int | None = None) -> go.Figure:
    """Training error (%) and training loss against epoch: plain dashed, residual solid."""
    fig = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=("Training error (%)", "Training loss"),
        horizontal_spacing=0.08,
    )
    for run in sorted(runs, key=lambda r: (r.depth, r.kind)):
        x = [m.epoch for m in run.epochs]
        common = dict(
            x=x,
            mode="lines+markers",
            legendgroup=run.label,
            name=f"{run.kind}-{run.depth}",
            line=dict(color=depth_colour(run.depth), dash=_style(run.kind), width=2.5),
            marker=dict(size=5),
        )
        fig.add_trace(
            go.Scatter(
                y=[100 * e for e in run.train_error],
                **common,
                hovertemplate="epoch %{x}: %{y:.1f}%",
            ),
            1,
            1,
        )
        fig.add_trace(
            go.Scatter(
                y=run.train_loss,
                **common,
                showlegend=False,
                hovertemplate="epoch %{x}: loss %{y:.4f}",
            ),
            1,
            2,
        )
    for col in (1, 2):
        fig.update_xaxes(
            title_text="epoch", row=1, col=col, range=[0.8, epochs + 0.2] if epochs else None
        )
    fig.update_yaxes(rangemode="tozero", row=1, col=1)
    fig.update_yaxes(rangemode="tozero", row=1, col=2)
    fig.update_layout(height=420, margin=dict(t=40, b=40, l=50, r=10), legend_title="network")
    return plots.finished(fig)


def gradients_figure(runs: Sequence[RunResult]) -> go.Figure:
    """‖∂loss/∂W‖ of every conv/fc layer at the first training step, log scale."""
    fig = go.Figure()
    for run in sorted(runs, key=lambda r: (r.depth, r.kind)):
        if not run.grad_norms:
            continue
        fig.add_trace(
            go.Scatter(
                x=list(range(1, len(run.grad_norms) + 1)),
                y=list(run.grad_norms),
                customdata=list(run.grad_layers),
                name=run.label,
                mode="lines+markers",
                line=dict(color=depth_colour(run.depth), dash=_style(run.kind)),
                marker=dict(size=4),
                hovertemplate="layer %{x} (%{customdata}): %{y:.3g}",
            )
        )
    # one label per decade, written out ("0.01", "1", "100"): plotly's minor log labels read
    # 200 and 500 as "2" and "5"
    fig.update_yaxes(type="log", dtick=1, tickformat="~g", title_text="gradient norm ‖∂L/∂W‖ (log)")
    fig.update_xaxes(title_text="weighted layer (1 = first conv, last = fully connected)")
    fig.update_layout(height=400, margin=dict(t=20, b=40, l=60, r=10))
    return plots.finished(fig)


def summary_rows(runs: Sequence[RunResult]) -> list[dict[str, object]]:
    """One row per network: final numbers of the last finished epoch."""
    rows: list[dict[str, object]] = []
    for run in runs:
        if not run.epochs:
            continue
        last = run.epochs[-1]
        rows.append(
            {
                "network": run.label,
                "layers": run.depth,
                "parameters": f"{run.params:,}" if run.params else "—",
                "epochs": last.epoch,
                "training loss": round(last.train_loss, 4),
                "training error (%)": round(100 * last.train_error, 1),
                "test error (%)": round(100 * last.test_error, 1),
                "time (s)": round(sum(m.seconds for m in run.epochs), 1),
            }
        )
    return rows


def depth_trend(runs: Sequence[RunResult], kind: str) -> str | None:
    """How one kind's final training loss changes with depth, in words, e.g.
    "0.5418 → 0.8273 → 2.0418: rises with depth"; None with fewer than two depths."""
    finals = sorted((r.depth, r.train_loss[-1]) for r in runs if r.kind == kind and r.epochs)
    if len(finals) < 2:
        return None
    losses = [loss for _, loss in finals]
    pairs = list(pairwise(losses))
    if all(a < b for a, b in pairs):
        verdict = "rises with depth"
    elif all(a > b for a, b in pairs):
        verdict = "falls with depth"
    else:
        verdict = "not monotonic in depth"
    return " → ".join(f"{loss:.4f}" for loss in losses) + f": {verdict}"


def identity_figure(demo: IdentityDemo, units: int = 40) -> go.Figure:
    """The first `units` entries of a[l+2] over the value it should equal."""
    n = min(units, len(demo.output))
    x = list(range(n))
    fig = go.Figure()
    fig.add_trace(
        go.Bar(x=x, y=list(demo.expected[:n]), name=demo.expected_label, marker_color="#9ecae1")
    )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=list(demo.output[:n]),
            name="a[l+2] (block output)",
            mode="markers",
            marker=dict(color="#d62728", size=7, symbol="x"),
        )
    )
    fig.update_layout(
        height=300,
        margin=dict(t=20, b=40, l=50, r=10),
        xaxis_title=f"unit (first {n} of {len(demo.output)})",
        yaxis_title="value",
    )
    return plots.finished(fig)
