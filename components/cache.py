"""All Streamlit cache wrappers, in one place.

st.cache_resource: heavy shared objects (models, weights), one copy for all sessions.
st.cache_data: traces, tables, images (small, hashable inputs, copied per session).
"""

from __future__ import annotations

import streamlit as st

import explorer
from explorer.trace import Trace


@st.cache_data(max_entries=256, show_spinner="Tracing the network…")
def trace(arch: str, input_size: tuple[int, int, int] | None = None, batch_size: int = 1) -> Trace:
    return explorer.trace(arch, input_size=input_size, batch_size=batch_size)
