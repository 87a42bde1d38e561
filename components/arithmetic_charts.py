"""Plotly animations of explorer.labs.arithmetic's steps: every frame is sent with the figure,
so the play button and the slider step through them in the browser, with no script run."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from components import plots
from explorer.core.layer_math import commas
from explorer.labs.arithmetic import CostFrame, PixelDot, WindowResult
from explorer.labs.real_layer import LayerPosition

FONT = 16  # readable on a projector


def _fmt(v: float) -> str:
    return f"{v:g}" if abs(v) < 1e4 else f"{v:.3g}"


def _products_text(result: WindowResult, k: int) -> str:
    step = result.steps[k]
    if result.kernel is None:
        values = [_fmt(v) for row in step.window for v in row]
        what = "max" if result.operation == "max" else "mean"
        return f"{what}({', '.join(values)}) = {_fmt(step.total)}"
    terms = [
        f"{_fmt(a)}·{_fmt(b)}"
        for wrow, krow in zip(step.window, result.kernel)
        for a, b in zip(wrow, krow)
    ]
    shown = " + ".join(terms) if len(terms) <= 9 else " + ".join(terms[:9]) + " + …"
    return f"{shown} = {_fmt(step.total)}"


def _controls(labels: list[str], duration: int = 700, y: float = -0.02) -> dict[str, Any]:
    """Play/pause buttons and a slider over the frames (all in the browser)."""
    return {
        "updatemenus": [{
            "type": "buttons", "x": 0, "y": y, "xanchor": "left", "yanchor": "top",
            "direction": "down", "pad": {"t": 0, "r": 10},
            "buttons": [
                {"label": "▶ Play", "method": "animate",
                 "args": [None, {"frame": {"duration": duration, "redraw": True},
                                 "fromcurrent": True}]},
                {"label": "❚❚ Pause", "method": "animate",
                 "args": [[None], {"frame": {"duration": 0}, "mode": "immediate"}]},
            ],
        }],
        "sliders": [{
            "x": 0.16, "y": y, "len": 0.84, "yanchor": "top", "pad": {"t": 30},
            "currentvalue": {"prefix": "output ", "xanchor": "right", "font": {"size": FONT}},
            "steps": [{"label": label, "method": "animate",
                       "args": [[label], {"mode": "immediate",
                                          "frame": {"duration": 0, "redraw": True}}]}
                      for label in labels],
        }],
    }  # fmt: skip


def window_animation(result: WindowResult) -> go.Figure:
    """The padded input with the window framed, and the output filling in, one frame per
    output value; the title writes the products and their sum."""
    padded, steps, reach = result.padded, result.steps, result.reach
    out_h, out_w = len(result.output), len(result.output[0])
    fig = make_subplots(rows=1, cols=2, column_widths=[0.55, 0.45], horizontal_spacing=0.08,
                        subplot_titles=("input (padded)", "output"))  # fmt: skip
    fig.add_trace(go.Heatmap(z=padded, text=[[_fmt(v) for v in row] for row in padded],
                             texttemplate="%{text}", textfont={"size": FONT}, colorscale="Greys",
                             reversescale=True, showscale=False), 1, 1)  # fmt: skip
    filled: list[list[float | None]] = [[None] * out_w for _ in range(out_h)]
    fig.add_trace(go.Heatmap(z=filled, texttemplate="%{z}", textfont={"size": FONT},
                             colorscale="RdBu", zmid=0, showscale=False), 1, 2)  # fmt: skip
    frames, labels = [], []
    for k, step in enumerate(steps):
        filled[step.row][step.col] = round(step.total, 3)
        label = f"({step.row + 1},{step.col + 1})"
        labels.append(label)
        window = {"x0": step.left - 0.5, "x1": step.left + reach + 0.5,
                  "y0": step.top - 0.5, "y1": step.top + reach + 0.5}
        cell = {"x0": step.col - 0.5, "x1": step.col + 0.5,
                "y0": step.row - 0.5, "y1": step.row + 0.5}
        line = {"color": "#d62728", "width": 4}
        frames.append(go.Frame(
            name=label,
            data=[go.Heatmap(z=[row[:] for row in filled])],
            traces=[1],
            layout={"shapes": [{"type": "rect", "xref": "x", "yref": "y", "line": line, **window},
                               {"type": "rect", "xref": "x2", "yref": "y2", "line": line, **cell}],
                    "title": {"text": _products_text(result, k), "font": {"size": FONT}}},
        ))  # fmt: skip
    fig.frames = frames
    fig.update_layout(frames[0].layout)
    fig.update_layout(height=460, margin={"l": 10, "r": 10, "t": 80, "b": 90},
                      font={"size": FONT}, **_controls(labels))  # fmt: skip
    n_h, n_w = len(padded), len(padded[0])
    # Fixed ranges, top row first: every row shows from the first frame on, filled or not.
    fig.update_yaxes(range=[n_h - 0.5, -0.5], scaleanchor="x", showticklabels=False,
                     showgrid=False, row=1, col=1)  # fmt: skip
    fig.update_yaxes(range=[out_h - 0.5, -0.5], scaleanchor="x2", showticklabels=False,
                     showgrid=False, row=1, col=2)  # fmt: skip
    fig.update_xaxes(range=[-0.5, n_w - 0.5], showticklabels=False, showgrid=False, row=1, col=1)
    fig.update_xaxes(range=[-0.5, out_w - 0.5], showticklabels=False, showgrid=False, row=1,
                     col=2)  # fmt: skip
    return plots.finished(fig)


def pixel_animation(dots: tuple[PixelDot, ...], filters: int) -> go.Figure:
    """A 1×1 convolution at every pixel: the filters' dot products (bars) and after ReLU."""
    frames, labels = [], []
    names = [f"filter {k + 1}" for k in range(filters)]
    for d in dots:
        label = f"({d.row + 1},{d.col + 1})"
        labels.append(label)
        frames.append(go.Frame(name=label, data=[go.Bar(x=names, y=list(d.dots)),
                                                 go.Bar(x=names, y=list(d.outputs))],
                               layout={"title": {"text": f"pixel {label}: {len(d.values)} "
                                                 "channel values · each filter's weights",
                                                 "font": {"size": FONT}}}))  # fmt: skip
    fig = go.Figure(data=frames[0].data, frames=frames)
    fig.data[0].update(name="Σ values × weights + bias", marker_color="#1f78b4")
    fig.data[1].update(name="after ReLU", marker_color="#33a02c")
    fig.update_layout(frames[0].layout)
    margin = {"l": 10, "r": 10, "t": 70, "b": 150}
    fig.update_layout(height=460, barmode="group", font={"size": FONT}, margin=margin,
                      **_controls(labels, 500, y=-0.16))  # fmt: skip
    return plots.finished(fig)


def cost_animation(frames: tuple[CostFrame, ...]) -> go.Figure:
    """The multiply-accumulates counted output channel by output channel (the slider names the
    stage and how many of its output channels are counted)."""
    stages = list(dict.fromkeys(f.stage for f in frames))
    shown, labels = [], []
    counted = dict.fromkeys(stages, 0)  # each stage's MACs so far
    for f in frames:
        label = f"{f.stage} · {f.channel}"
        labels.append(label)
        counted[f.stage] = f.stage_macs
        heights = list(counted.values())
        shown.append(go.Frame(name=label, data=[go.Bar(x=stages, y=heights,
                                                       text=[commas(h) for h in heights],
                                                       textposition="outside")],
                              layout={"title": {"text": f"{commas(f.total_macs)} MACs",
                                                "font": {"size": FONT}}}))  # fmt: skip
    fig = go.Figure(data=shown[0].data, frames=shown)
    fig.update_layout(shown[0].layout)
    top = max(f.stage_macs for f in frames)
    margin = {"l": 10, "r": 10, "t": 50, "b": 150}
    fig.update_layout(height=460, font={"size": FONT}, yaxis={"range": [0, top * 1.25]},
                      margin=margin, **_controls(labels, 120, y=-0.16))  # fmt: skip
    return plots.finished(fig)


def real_window_figure(shown: LayerPosition) -> go.Figure:
    """One input channel of a real layer's window: the input values, the filter's weights and
    their products (a pooling layer: its window only), each cell written out."""
    matrices = [shown.window]
    titles = [f"input channel {shown.look_at}: window"]
    if shown.kind == "conv":
        matrices += [shown.weights, shown.products]
        titles += ["× its filter", f"= products (Σ {shown.look_sum:.4g})"]
    side = len(shown.window)
    size = FONT if side <= 5 else 12 if side <= 7 else 9
    fig = make_subplots(rows=1, cols=len(matrices), subplot_titles=titles,
                        horizontal_spacing=0.04)  # fmt: skip
    for i, matrix in enumerate(matrices, 1):
        z = [list(row) for row in matrix]
        text = [[f"{v:.3g}" for v in row] for row in matrix]
        fig.add_trace(go.Heatmap(z=z, text=text, texttemplate="%{text}", textfont={"size": size},
                                 colorscale="RdBu", zmid=0, showscale=False,
                                 hovertemplate="%{text}<extra></extra>"), 1, i)  # fmt: skip
        fig.update_yaxes(autorange="reversed", scaleanchor=f"x{'' if i == 1 else i}",
                         showticklabels=False, showgrid=False, row=1, col=i)  # fmt: skip
        fig.update_xaxes(showticklabels=False, showgrid=False, row=1, col=i)
    fig.update_annotations(font={"size": FONT})
    fig.update_layout(height=340, margin={"l": 10, "r": 10, "t": 50, "b": 10},
                      font={"size": FONT})  # fmt: skip
    return plots.finished(fig)


def channel_group_figure(shown: LayerPosition) -> go.Figure:
    """Σ window × filter per group of input channels, one bar each (a 5×5×192 window is 12
    bars, not 4,800 products); together they are the layer's sum before the bias."""
    groups = shown.groups
    labels = [f"{g.first}" if g.first == g.last else f"{g.first}–{g.last}" for g in groups]
    size = groups[0].last - groups[0].first + 1
    what = "input channel" if size == 1 else f"{size} input channels"
    fig = go.Figure(go.Bar(y=labels, x=[g.total for g in groups], orientation="h",
                           marker_color="#1f78b4", text=[f"{g.total:.3g}" for g in groups],
                           textposition="outside", cliponaxis=False))  # fmt: skip
    fig.update_layout(
        title={"text": f"Σ window × filter per {what}: together {shown.total:.5f}",
               "font": {"size": FONT}},
        height=90 + 26 * len(groups), margin={"l": 10, "r": 60, "t": 50, "b": 10},
        font={"size": FONT}, uniformtext={"mode": "show", "minsize": 12},
        yaxis={"type": "category", "autorange": "reversed", "title": "input channels"},
    )  # fmt: skip
    low = min(0.0, *(g.total for g in groups))
    high = max(0.0, *(g.total for g in groups))
    room = 0.3 * (high - low) or 1.0  # the numbers written outside the bars stay clear
    fig.update_xaxes(range=[low - room if low < 0 else 0, high + room if high > 0 else 0])
    return plots.finished(fig)
