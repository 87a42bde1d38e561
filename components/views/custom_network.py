"""Custom network page: type a layer stack, see it traced, tabulated and drawn."""

from __future__ import annotations

import html

import streamlit as st

import explorer
from components import cache, plots, ready, tables, widgets
from components.markdown import plain
from explorer.catalog.custom import input_rows, looks_like_spec, order_hint
from explorer.core.layer_math import commas
from explorer.graph.diagram import dot_available

EXAMPLES = {
    "LeNet-5 (lecture)": "input 32x32x1 | conv 6 5x5 tanh | avgpool 2 | conv 16 5x5 tanh | "
    "avgpool 2 | fc 120 tanh | fc 84 tanh | fc 10",
    "Small VGG-style": "input 32x32x3 | conv 32 3x3 same relu | conv 32 3x3 same relu | "
    "maxpool 2 | conv 64 3x3 same relu | conv 64 3x3 same relu | maxpool 2 | fc 256 relu | "
    "dropout 0.5 | fc 10",
    "AlexNet's first layers": "input 227x227x3 | conv 96 11x11 s4 relu | maxpool 3 s2 | "
    "conv 256 5x5 same relu | maxpool 3 s2 | conv 384 3x3 same relu",
    "MLP on MNIST (784 inputs)": "input 784 | fc 128 relu | fc 10",
    "1-D conv on a sequence": "input 128x4 | conv 16 5 relu | maxpool 2 | conv 32 5 relu | "
    "globalavgpool | fc 2",
}
KEY = "custom_spec"

st.title("Custom network")
st.markdown(
    "Type a stack of layers separated by `|` (or new lines). "
    "`input HxWxC`, `conv N KxK [sS] [pP | same] [relu]`, `maxpool K [sS]`, `avgpool K`, "
    "`fc N [relu]`, `relu`, `batchnorm`, `dropout P`, `flatten`, `globalavgpool`.  \n"
    "Not an image? `input 784` (features), `input 128x4` (a sequence, length × channels: "
    "conv and pools become 1-D), `input 16x64x64x1` (a volume: 3-D), or `input 32 tokens | "
    "embedding 10000 64 | lstm 128 | fc 10000` (`gru H` too)."
)


def _load(example: str) -> None:
    st.session_state[KEY] = EXAMPLES[example]


PER_ROW = 3  # five buttons in one row cut their names short
names = list(EXAMPLES)
cols = [col for i in range(0, len(names), PER_ROW) for col in st.columns(PER_ROW)]
for col, example in zip(cols, names):
    col.button(
        example,
        on_click=_load,
        args=(example,),
        key=f"custom_ex_{example}",
        use_container_width=True,
    )
if KEY not in st.session_state:
    st.session_state[KEY] = EXAMPLES["LeNet-5 (lecture)"]
text = st.text_area("Layer stack", key=KEY, height=110)


def show_spec_error(source: str, exc: explorer.SpecError) -> None:
    """The message, then the stack with the offending token marked."""
    st.error(plain(str(exc)))
    pos, token = exc.position, exc.token
    if 0 <= pos <= len(source):
        end = pos + max(len(token), 1)
        marked = (
            html.escape(source[:pos])
            + "<mark style='background:#ffb3b3;border-bottom:2px solid #d62728'>"
            + html.escape(source[pos:end] or " ")
            + "</mark>"
            + html.escape(source[end:])
        )
        st.markdown(
            "<pre style='white-space:pre-wrap;font-size:0.95rem'>" + marked + "</pre>",
            unsafe_allow_html=True,
        )
        st.caption(f"Problem at character {pos + 1}" + (f": `{token}`" if token else ""))


if not text.strip():
    st.info("Type a layer stack above, or load an example.")
    st.stop()
if not looks_like_spec(text):
    st.error(
        "This does not look like a layer stack: start with `input HxWxC` (or `input 784`, "
        "`input 128x4`, `input 32 tokens`) or separate layers with `|`. (To look at a "
        "catalog network, use the Architecture page.)"
    )
    st.stop()

hint = order_hint(text)
try:
    analysis = cache.analysis(text, None, 1)  # parsed, built and traced once
except explorer.SpecError as exc:
    show_spec_error(text, exc)
    if hint:
        st.info(hint, icon=":material/lightbulb:")
    st.stop()
except explorer.ExplorerError as exc:
    st.error(plain(str(exc)))
    st.stop()

trace, stack = analysis.trace, analysis.spec
assert stack is not None  # a typed stack, not a module
image = not stack.inputs  # else features, a sequence, a volume or token ids
if hint:
    st.warning(hint, icon=":material/lightbulb:")
said = stack.notes.removeprefix("A typed layer stack.").strip()  # what the input is taken to be
if said:
    st.info(said, icon=":material/input:")
widgets.metrics(trace, analysis.depth)
dot = analysis.dot(None, False)
st.markdown("#### Layers")
table, shape_chart = ready.stack_view(text)
tables.layer_table(table, key="custom_layers")
svg = cache.dot_svg(dot) if dot_available() else None
if shape_chart is not None:
    left, right = st.columns([3, 2])
    with left:
        plots.show(shape_chart, key="custom_shape_chart")
    with right:
        st.markdown("#### Diagram")
        widgets.diagram(svg, dot, height=520)
else:  # the n_H, n_W, n_C chart is an image's
    st.markdown("#### Diagram")
    widgets.diagram(svg, dot, height=520)
st.download_button(
    "Diagram (DOT)", dot, "custom_network.dot", "text/vnd.graphviz", on_click="ignore"
)

st.markdown("#### Input signature")
signature = st.text_input(
    "Trace the stack with another input: full shapes, batch included (N×C×H×W for an image), "
    "optional `:dtype`",
    key="custom_inputs",
    placeholder="e.g. 8x1x32x32 (a batch of 8), or 2x1x64x64"
    if image
    else f"e.g. 8{stack.inputs[1:]} (a batch of 8; this stack takes {stack.inputs})",
)
if signature.strip():
    try:
        rows = input_rows(signature)
    except explorer.ExplorerError as exc:
        st.error(plain(str(exc)))
        st.stop()
    st.dataframe(rows, hide_index=True)
    try:
        sig_trace = explorer.trace(text, inputs=signature)
    except explorer.ExplorerError as exc:
        st.error(plain(str(exc)))
    else:
        st.caption(
            f"Output {'×'.join(map(str, sig_trace.output_shape))} · "
            f"{commas(sig_trace.total_macs)} MACs · {commas(sig_trace.total_params)} parameters"
        )
        sig_table = tables.Table.of_layers(tables.stack_rows(sig_trace))
        tables.layer_table(sig_table, key="custom_signature_layers")
