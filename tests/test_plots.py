"""components/plots.py: a chart's title sits below plotly's toolbar row (issue 21: the toolbar
covered the end of long titles on hover), and a finished figure carries no template."""

from __future__ import annotations

import plotly.graph_objects as go

from components.plots import TITLE_PX, TOOLBAR_PX, finished


def test_a_titled_figure_moves_its_title_below_the_toolbar() -> None:
    fig = go.Figure(go.Bar(y=[1, 2]), layout={"title": "Multiply-accumulates per layer",
                                              "margin": {"t": 40}})  # fmt: skip
    assert finished(fig) is fig
    assert fig.layout.title.text == "Multiply-accumulates per layer"
    assert (fig.layout.title.yref, fig.layout.title.yanchor, fig.layout.title.pad.t) == (
        "container", "top", TOOLBAR_PX)
    assert fig.layout.margin.t == TOOLBAR_PX + TITLE_PX


def test_a_title_with_room_enough_keeps_its_margin_and_its_own_settings() -> None:
    fig = finished(go.Figure(layout={"title": {"text": "Parameters per layer", "x": 0.02},
                                     "margin": {"t": 90, "l": 10}}))  # fmt: skip
    assert fig.layout.title.text == "Parameters per layer" and fig.layout.title.x == 0.02
    assert fig.layout.title.yref == "container"
    assert (fig.layout.margin.t, fig.layout.margin.l) == (90, 10)  # room enough already


def test_untitled_figures_and_default_margins_keep_their_layout() -> None:
    bare = finished(go.Figure(layout={"margin": {"t": 10}}))
    assert bare.layout.margin.t == 10 and bare.layout.title.text is None
    fig = finished(go.Figure(layout={"title": "x"}))
    assert fig.layout.margin.t is None  # plotly's default top margin (100 px) has the room


def test_a_finished_figure_sends_no_template() -> None:
    """plotly's default template is most of a small figure's JSON; Streamlit draws its own
    theme over it anyway."""
    plain = go.Figure(go.Bar(y=[1, 2]), layout={"title": "t"})
    assert len(plain.to_dict()["layout"]["template"]) > 0
    sent = finished(plain).to_dict()["layout"]
    assert not sent.get("template")
    assert len(plain.to_json()) < 1000
