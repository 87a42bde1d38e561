"""Every plotly chart of the app goes on the page through `show`: its title sits below plotly's
toolbar, which appears at the chart's top right when the mouse is over it and used to cover
the end of a long title ("Multiply-accumulates per la…" on a projector)."""

from __future__ import annotations

from typing import Any, TypeAlias

import plotly.graph_objects as go
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

Figure: TypeAlias = go.Figure | dict[str, Any]

TOOLBAR_PX = 34  # plotly's toolbar: 2 px from the top, 26 px high with its padding, a gap
TITLE_PX = 28  # one line of title at the theme's size, with its gap above the plot


def clear_of_toolbar(fig: Figure) -> Figure:
    """Move `fig`'s title (if it has one) below the toolbar's row and make room for it.
    Changes `fig`: give it a figure made for this run (st.cache_data's copies are). A figure
    may be a plotly Figure or its dict (what the caches keep: no validation on the way out)."""
    if isinstance(fig, go.Figure):
        text, top = fig.layout.title.text, fig.layout.margin.t
    else:
        layout = fig.setdefault("layout", {})
        title = layout.get("title")
        title = title if isinstance(title, dict) else {"text": title}
        text, top = title.get("text"), (layout.get("margin") or {}).get("t")
    if not text:
        return fig
    placed = {"y": 1, "yref": "container", "yanchor": "top", "pad": {"t": TOOLBAR_PX}}
    margin = {} if top is None else {"t": max(top, TOOLBAR_PX + TITLE_PX)}  # None: 100 px
    if isinstance(fig, go.Figure):
        fig.update_layout(title=placed, margin=margin)
    else:
        layout["title"] = {**title, **placed}
        layout["margin"] = {**(layout.get("margin") or {}), **margin}
    return fig


def show(fig: Figure, key: str, where: DeltaGenerator | None = None, **options: Any) -> None:
    """`st.plotly_chart` (in `where`, a column or container, when given) for `fig`, with its
    title clear of the toolbar; `options` are st.plotly_chart's (width, config, …)."""
    if where is None:
        st.plotly_chart(clear_of_toolbar(fig), key=key, **options)
    else:
        where.plotly_chart(clear_of_toolbar(fig), key=key, **options)
