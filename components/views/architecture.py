"""Architecture page: one network, its numbers beside the paper's, its diagram and layers."""

from __future__ import annotations

from urllib.parse import quote

import streamlit as st

import explorer
from components import cache, diagram_view, plots, ready, tables, widgets
from components.markdown import plain
from explorer.catalog.timm_models import deploy_form
from explorer.core.layer_math import short
from explorer.graph.diagram import COLOURS, KIND_NAMES, dot_available

st.title("Architecture")
st.caption("Pick a network: every number below is computed exactly from the model itself.")

name = widgets.architecture_picker("arch")
spec = explorer.get(name)
input_size, batch = widgets.input_controls(spec, "arch")

try:
    analysis = cache.analysis(name, input_size, batch)  # one meta build, one recorded pass
    trace = analysis.trace
except explorer.ExplorerError as exc:
    st.error(plain(str(exc)))
    st.stop()

st.subheader(spec.title)
if spec.notes:
    st.markdown(spec.notes)
widgets.metrics(trace, analysis.depth)

# --- published figures ---------------------------------------------------------------------
published, notes = ready.published_view(name, input_size, batch)
rows = published.rows
if spec.published is not None and (rows or spec.published.extra):
    st.markdown(f"#### Published figures — {spec.published.source}")
    if input_size != spec.input_size and rows:
        st.warning(
            f"The published figures are for a {spec.input_size[1]}×{spec.input_size[2]} input; "
            "MACs change with the input size."
        )
    if rows:
        st.dataframe(published.arrow, hide_index=True, key="arch_published")
    if notes:
        with st.expander(f"Notes on the published figures ({len(notes)})"):
            st.markdown("\n".join(f"{i}. {note}" for i, note in enumerate(notes, 1)))
    if spec.published.extra:
        st.markdown("  \n".join(f"**{k}:** {v}" for k, v in spec.published.extra))
    if spec.published.note:
        st.caption(spec.published.note)
# A re-parameterisable timm network: its deploy form beside it (what timm's table describes).
deploy = deploy_form(name)
if deploy is not None:
    try:
        fused = cache.trace(deploy)
    except explorer.ExplorerError as exc:
        st.caption(plain(f"Its deploy form could not be traced: {exc}"))
    else:
        st.markdown(
            f"**Deploy form** (fused by timm's `reparameterize_model` for inference): "
            f"{fused.total_params:,} parameters and {short(fused.total_macs)} MACs, against "
            f"{trace.total_params:,} and {short(trace.total_macs)} as trained. "
            f"[Open `{deploy}` →](?arch={quote(deploy)})"
        )

# --- diagram -------------------------------------------------------------------------------
max_depth = max(r.depth for r in trace.layers)
st.markdown("#### Block diagram")
# two rows: the three switches fit a third of a 1024×768 page each; the depth below them
cols = st.columns(3, vertical_alignment="center")
detail = st.container()
auto = cols[0].checkbox(
    "Auto detail",
    value=True,
    key="arch_auto_depth",
    help="The most detailed level that still fits a screen.",
)
collapse = cols[1].checkbox(
    "Collapse repeats",
    value=True,
    key="arch_collapse",
    help="Draw a run of identical blocks as one box marked ×N; untick to open every block "
    "(each with its identity shortcut).",
)
rankdir = (
    cols[2].segmented_control(
        "Direction",
        ["TB", "LR"],
        default="TB",
        key="arch_rankdir",
        format_func=lambda d: {"TB": "↓ down", "LR": "→ across"}[d],
        help="Left to right suits a projector's wide screen: the network wraps into rows, "
        "as text does, each cut where every route passes (the PNG download stays one strip).",
    )
    or "TB"
)
depth_choice = None
if not auto and max_depth > 1:
    auto_graph = analysis.graph(None, collapse)
    depth_choice = detail.slider(
        "Diagram detail (depth)",
        1,
        max_depth,
        min(auto_graph.depth, max_depth),
        key=f"arch_diagram_depth_{name}",
        help="1 = top-level blocks; larger numbers open the blocks up.",
    )
try:
    graph = analysis.graph(depth_choice, collapse)
    dot = analysis.dot(depth_choice, collapse, rankdir)
except explorer.ExplorerError as exc:
    st.error(plain(str(exc)))
    st.stop()
if auto:
    detail.markdown(
        f"Showing depth **{graph.depth}** of {max_depth}, {len(graph.nodes)} boxes."
    )
svg = None
refused = False
if dot_available():
    try:
        svg = cache.diagram_svg(name, input_size, batch, depth_choice, collapse, rankdir)
    except explorer.ExplorerError as exc:  # too many arrows, or dot too slow: say so
        st.warning(plain(str(exc)))
        refused = True
if not refused:  # without `dot` on the server, the browser draws the DOT text
    widgets.diagram(svg, dot, height=760)
# A click on a box picks its layers: their rows are selected in the layer table below.
picked_key = f"arch_picked_{name}_{input_size}_{batch}"
if svg is not None:
    box = diagram_view.box_clicks(key="arch_box_clicks")
    if box is not None:
        st.session_state[picked_key] = analysis.box_layers(box, depth_choice, collapse)
legend = " ".join(
    f"<span style='background:{COLOURS[k]};padding:1px 6px;border-radius:4px;"
    f"border:1px solid #bbb;display:inline-block;white-space:nowrap;margin:2px'>{label}</span>"
    for k, label in KIND_NAMES.items()
)
st.markdown(
    f"<small>{legend} — arrows carry n_H×n_W×n_C; hover a box for its parameters and MACs.</small>",
    unsafe_allow_html=True,
)

# How a layer of this network computes, step by step (any network with weights: trained, or
# seeded random), on the "How a layer computes" page.
with_weights = "lenet5-digits" if name == "lenet5" else name
has_weights = with_weights in cache.with_weights()
picked: tuple[str, ...] = st.session_state.get(picked_key, ())
if picked:
    first = trace.layer(picked[0])
    text = f"**Picked in the diagram:** `{picked[0]}`"
    if len(picked) > 1:
        text += f" … `{picked[-1]}` ({len(picked)} identical blocks, each)"
    text += (
        f" — {first.type}, output {tables.shape_text(first, trace.input_shape)}, "
        f"{first.params:,} parameters, {short(first.macs)} MACs. Its rows are selected in the "
        "layer table below."
    )
    if has_weights and first.type in ("Conv2d", "MaxPool2d", "AvgPool2d"):
        text += (
            f" [How does this layer compute? →](layer_arithmetic?arch={quote(with_weights)}"
            f"&layer={quote(picked[0])})"
        )
    st.markdown(text)
elif svg is not None:
    st.caption("Click a box to pick its layer in the table below.")
if has_weights:
    st.markdown(
        f"[How does one of these layers compute? Pick a layer and a position and follow its "
        f"arithmetic with real numbers →](layer_arithmetic?arch={quote(with_weights)})"
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
view = ready.layer_view(name, input_size, batch, depth)
tables.layer_table(view.table, key="arch_layers", picked=picked)
st.caption(
    "Output size of a conv/pool layer: ⌊(n + 2p − f)/s⌋ + 1 (n input size, p padding, "
    "f filter size, s stride). Receptive field: input pixels one output value can see."
)

plots.show(view.bars, key="arch_layer_bars")
branches = st.toggle(
    "Shape chart: every conv and pool layer (branches and 1×1 reductions too)",
    key="arch_shape_branches",
    help="Off: only the main path, the tensors every route from input to output passes "
    "through (a ResNet block's output, an inception module's concatenation).",
)
plots.show(ready.shape_view(name, input_size, batch, branches), key="arch_shape_chart")

# --- downloads -----------------------------------------------------------------------------
# Every file is made now from cached results and a click does not rerun the page, so quick
# clicks on several buttons never ask for a file the previous run has already dropped.
st.markdown("#### Downloads")
stem = f"{name}_{input_size[1]}x{input_size[2]}"
d = [*st.columns(3), *st.columns(3)]  # two rows: five labels fit a 1024-px page
files: list[tuple[str, str | bytes, str, str]] = [
    ("Layer table (CSV)", view.csv, "csv", "text/csv"),
    ("Trace (JSON)", analysis.trace_json, "json", "application/json"),
    ("Diagram (DOT)", dot, "dot", "text/vnd.graphviz"),
]
if svg is not None:
    files += [
        (
            "Diagram (SVG)",
            analysis.diagram("svg", depth_choice, collapse, rankdir),
            "svg",
            "image/svg+xml",
        ),
        (
            "Diagram (PNG)",
            analysis.diagram("png", depth_choice, collapse, rankdir),
            "png",
            "image/png",
        ),
    ]
elif not dot_available():
    d[3].caption("SVG/PNG need graphviz's `dot` on the server.")
for col, (label, data, ext, mime) in zip(d, files):
    col.download_button(label, data, f"{stem}.{ext}", mime, key=f"arch_dl_{ext}", on_click="ignore")

# --- paper ---------------------------------------------------------------------------------
if spec.paper or spec.url:
    st.markdown("#### Paper")
    ref = spec.paper or spec.url
    if spec.url and spec.url != ref:
        ref += f" [{spec.url}]({spec.url})"
    st.markdown(ref)
