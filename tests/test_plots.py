"""components/plots.py: a chart's title sits below plotly's toolbar row (issue 21: the toolbar
covered the end of long titles on hover)."""

from __future__ import annotations

import plotly.graph_objects as go

from components.plots import TITLE_PX, TOOLBAR_PX, clear_of_toolbar


def test_a_titled_figure_moves_its_title_below_the_toolbar() -> None:
    fig = go.Figure(go.Bar(y=[1, 2]), layout={"title": "Multiply-accumulates per layer",
                                              "margin": {"t": 40}})  # fmt: skip
    clear_of_toolbar(fig)
    assert fig.layout.title.text == "Multiply-accumulates per layer"
    assert (fig.layout.title.yref, fig.layout.title.yanchor, fig.layout.title.pad.t) == (
        "container", "top", TOOLBAR_PX)
    assert fig.layout.margin.t == TOOLBAR_PX + TITLE_PX


def test_a_figure_dict_from_the_cache_gets_the_same() -> None:
    spec = go.Figure(layout={"title": {"text": "Parameters per layer", "x": 0.02},
                             "margin": {"t": 90, "l": 10}}).to_dict()  # fmt: skip
    clear_of_toolbar(spec)
    assert spec["layout"]["title"]["text"] == "Parameters per layer"
    assert spec["layout"]["title"]["x"] == 0.02 and spec["layout"]["title"]["yref"] == "container"
    assert spec["layout"]["margin"] == {"t": 90, "l": 10}  # room enough already
    go.Figure(spec)  # still a valid figure


def test_untitled_figures_and_default_margins_are_left_alone() -> None:
    bare = {"data": [], "layout": {"margin": {"t": 10}}}
    assert clear_of_toolbar(bare) == {"data": [], "layout": {"margin": {"t": 10}}}
    fig = go.Figure(layout={"title": "x"})
    clear_of_toolbar(fig)
    assert fig.layout.margin.t is None  # plotly's default top margin (100 px) has the room
