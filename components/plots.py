"""Every plotly chart of the app is made ready once (`finished`) and goes on the page through
`show`. A finished figure has its title below plotly's toolbar, which appears at the chart's
top right when the mouse is over it and used to cover the end of a long title
("Multiply-accumulates per la…" on a projector), and no plotly template: Streamlit draws its
own theme, and the template was most of the figure's JSON and of its build.

Charts that every session sees alike are kept finished in `st.cache_resource`, keyed by what
they show (components/ready.py), and never changed after: a page run then only has Streamlit
copy the figure out (`Figure.to_dict`), not build, validate or lay it out again."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

TOOLBAR_PX = 34  # plotly's toolbar: 2 px from the top, 26 px high with its padding, a gap
TITLE_PX = 28  # one line of title at the theme's size, with its gap above the plot


def finished(fig: go.Figure) -> go.Figure:
    """`fig` ready to send: its title, if it has one, below the toolbar's row with room made
    for it, and no template. Changes `fig` in place; call it once, on a figure made for it,
    and do not change the result after."""
    text, top = fig.layout.title.text, fig.layout.margin.t
    if not text:
        fig.update_layout(template=None)
        return fig
    placed = {"y": 1, "yref": "container", "yanchor": "top", "pad": {"t": TOOLBAR_PX}}
    margin = {} if top is None else {"t": max(top, TOOLBAR_PX + TITLE_PX)}  # None: 100 px
    fig.update_layout(template=None, title=placed, margin=margin)
    return fig


def show(fig: go.Figure, key: str, where: DeltaGenerator | None = None, **options: Any) -> None:
    """`st.plotly_chart` (in `where`, a column or container, when given) for a finished figure,
    which it does not change; `options` are st.plotly_chart's (width, config, …)."""
    (where or st).plotly_chart(fig, key=key, **options)
