"""Compare page: 2–6 architectures side by side (numbers, scatter, top-1, depth)."""

from __future__ import annotations

import streamlit as st

import explorer
from components import plots, ready, widgets
from components.markdown import plain

# The lecture's classic line-up, oldest first, built as the papers describe them (the same
# networks the Architecture page shows for these names).
CLASSICS = ["lenet5", "alexnet-paper", "vgg16-paper", "resnet152-paper", "googlenet-paper"]
KEY = "compare_names"

st.title("Compare architectures")
st.caption("Pick 2 to 6 networks. Each is traced at its own default input size.")

all_names = explorer.names()
if KEY not in st.session_state:
    st.session_state[KEY] = [n for n in ("alexnet", "vgg16", "resnet50") if n in all_names]


def _classics() -> None:
    st.session_state[KEY] = [n for n in CLASSICS if n in all_names]


st.button(
    "LeNet-5 → AlexNet → VGG-16 → ResNet-152 → GoogLeNet",
    on_click=_classics,
    help="The lecture's classic networks in one click.",
    key="compare_preset",
)
chosen: list[str] = st.multiselect(
    "Architectures",
    all_names,
    key=KEY,
    max_selections=6,
    format_func=widgets.label_of,
)
if len(chosen) < 2:
    st.info("Choose at least two architectures to compare.")
    st.stop()


view = ready.compare_view(tuple(chosen))
for error in view.errors:
    st.error(plain(error))
rows = view.rows
if len(rows) < 2:
    st.stop()

st.dataframe(
    view.table.arrow,
    hide_index=True,
    key="compare_table",
    column_config={
        "Architecture": st.column_config.TextColumn(width="medium"),  # googlenet-paper whole
        "Year": st.column_config.NumberColumn(format="%d"),
        "Params": st.column_config.NumberColumn(format="localized"),
        "MACs": st.column_config.NumberColumn(format="localized"),
        "Weight layers": st.column_config.NumberColumn(
            help="conv and FC layers on the longest input→output path (the papers' depth)"
        ),
        "ImageNet top-1 %": st.column_config.TextColumn(
            help="torchvision's offline weights metadata; — where there is none"
        ),
        "Weights": st.column_config.TextColumn(help="float32 parameters and buffers"),
    },
)
plots.show(view.scatter, key="compare_scatter")

left, right = st.columns(2)
if view.top1 is not None:
    plots.show(view.top1, key="compare_top1", where=left)
else:
    left.info("None of these has an ImageNet top-1 figure in torchvision's metadata.")
plots.show(view.depth, key="compare_depth", where=right)
missing = [r.architecture for r in rows if r.top1 is None]
if missing:
    st.caption(f"No ImageNet top-1 for: {', '.join(missing)} (no torchvision weights).")
st.caption(
    "Top-1 comes from torchvision's DEFAULT weights; some (e.g. ResNet-152's IMAGENET1K_V2) "
    "were trained with a newer recipe and score higher than the original paper."
)
