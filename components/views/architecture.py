"""Architecture page: one network, its numbers beside the paper's, its diagram and layers."""

from __future__ import annotations

import json

import streamlit as st

import explorer
from components import cache, widgets
from explorer.diagram import COLOURS, KIND_NAMES, dot_available

st.title("Architecture")
st.caption("Pick a network: every number below is computed exactly from the model itself.")

name = widgets.architecture_picker("arch")
spec = explorer.get(name)
input_size, batch = widgets.input_controls(spec, "arch")

try:
    trace = cache.trace(name, input_size, batch)
except explorer.ExplorerError as exc:
    st.error(str(exc))
    st.stop()

st.subheader(spec.title)
if spec.notes:
    st.markdown(spec.notes)
widgets.metrics(trace)

# --- published figures ---------------------------------------------------------------------
rows, notes = widgets.published_rows(spec, trace)
if spec.published is not None and (rows or spec.published.extra):
    st.markdown(f"#### Published figures — {spec.published.source}")
    if input_size != spec.input_size and rows:
        st.warning(
            f"The published figures are for a {spec.input_size[1]}×{spec.input_size[2]} input; "
            "MACs change with the input size."
        )
    if rows:
        st.dataframe(rows, hide_index=True, key="arch_published")
    if notes:
        with st.expander(f"Notes on the published figures ({len(notes)})"):
            st.markdown("\n".join(f"{i}. {note}" for i, note in enumerate(notes, 1)))
    if spec.published.extra:
        st.markdown("  \n".join(f"**{k}:** {v}" for k, v in spec.published.extra))
    if spec.published.note:
        st.caption(spec.published.note)

# --- diagram -------------------------------------------------------------------------------
max_depth = max(r.depth for r in trace.layers)
st.markdown("#### Block diagram")
cols = st.columns([2, 1, 1])
auto = cols[1].checkbox(
    "Auto detail",
    value=True,
    key="arch_auto_depth",
    help="The most detailed level that still fits a screen.",
)
collapse = cols[2].checkbox(
    "Collapse repeats (×N)",
    value=True,
    key="arch_collapse",
    help="Draw a run of identical blocks as one box marked ×N.",
)
depth_choice = None
if not auto and max_depth > 1:
    auto_graph = cache.data_flow(name, input_size, batch, None, collapse)
    depth_choice = cols[0].slider(
        "Diagram detail (depth)",
        1,
        max_depth,
        min(auto_graph.depth, max_depth),
        key=f"arch_diagram_depth_{name}",
        help="1 = top-level blocks; larger numbers open the blocks up.",
    )
try:
    graph = cache.data_flow(name, input_size, batch, depth_choice, collapse)
    dot = cache.diagram_dot(name, input_size, batch, depth_choice, collapse)
except explorer.ExplorerError as exc:
    st.error(str(exc))
    st.stop()
if auto:
    cols[0].markdown(f"Showing depth **{graph.depth}** of {max_depth}, {len(graph.nodes)} boxes.")
with st.container(height=760, border=True):  # a deep network scrolls inside its own box
    st.graphviz_chart(dot, width="content")
legend = " ".join(
    f"<span style='background:{COLOURS[k]};padding:1px 6px;border-radius:4px;"
    f"border:1px solid #bbb'>{label}</span>"
    for k, label in KIND_NAMES.items()
)
st.markdown(
    f"<small>{legend} — arrows carry n_H×n_W×n_C; hover a box for its parameters and MACs.</small>",
    unsafe_allow_html=True,
)

# --- layer table and charts ----------------------------------------------------------------
st.markdown("#### Layers")
# Where the paper publishes per-module figures, open the table at those modules' level.
table_depth_default = min(2, max_depth) or 1
if spec.published is not None and spec.published.modules:
    table_depth_default = min(spec.published.modules[0].name.count(".") + 1, max_depth)
depth = st.slider(
    "Table detail (depth)",
    1,
    max(max_depth, 1),
    table_depth_default,
    key=f"arch_table_depth_{name}",
    disabled=max_depth <= 1,
    help="1 = top-level blocks; the deepest level lists every single layer.",
)
table, macs_chart, params_chart, shape_chart = cache.layer_view(name, input_size, batch, depth)
widgets.layer_table(table, key="arch_layers")
st.caption(
    "Output size of a conv/pool layer: ⌊(n + 2p − f)/s⌋ + 1 (n input size, p padding, "
    "f filter size, s stride). Receptive field: input pixels one output value can see."
)

left, right = st.columns(2)
left.plotly_chart(macs_chart, key="arch_macs_chart")
right.plotly_chart(params_chart, key="arch_params_chart")
st.plotly_chart(shape_chart, key="arch_shape_chart")

# --- downloads -----------------------------------------------------------------------------
st.markdown("#### Downloads")
stem = f"{name}_{input_size[1]}x{input_size[2]}"
d = st.columns(5)
# CSV and JSON are made when clicked (a classroom mostly does not download).
d[0].download_button(
    "Layer table (CSV)", lambda: widgets.rows_to_csv(table), f"{stem}.csv", "text/csv"
)
d[1].download_button(
    "Trace (JSON)",
    lambda: json.dumps(trace.to_dict(), indent=1),
    f"{stem}.json",
    "application/json",
)
d[2].download_button("Diagram (DOT)", dot, f"{stem}.dot", "text/vnd.graphviz")
if dot_available():
    d[3].download_button(
        "Diagram (SVG)",
        lambda: cache.diagram_image(name, input_size, batch, depth_choice, collapse, "svg"),
        f"{stem}.svg",
        "image/svg+xml",
    )
    d[4].download_button(
        "Diagram (PNG)",
        lambda: cache.diagram_image(name, input_size, batch, depth_choice, collapse, "png"),
        f"{stem}.png",
        "image/png",
    )
else:
    d[3].caption("SVG/PNG need graphviz's `dot` on the server.")

# --- paper ---------------------------------------------------------------------------------
if spec.paper or spec.url:
    st.markdown("#### Paper")
    ref = spec.paper or spec.url
    if spec.url and spec.url != ref:
        ref += f" [{spec.url}]({spec.url})"
    st.markdown(ref)
