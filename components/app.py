"""Entry file: routing only (Material icons: emoji fonts are often missing)."""

from pathlib import Path

import streamlit as st

from components import server as serve
from components import upload_quota
from components.scheduling import GATE

# A local file: a Material-icon favicon is fetched from fonts.gstatic.com on every rerun,
# which fails (and fills the console) on an offline classroom network.
FAVICON = Path(__file__).resolve().parents[1] / "assets" / "favicon.png"
st.set_page_config(page_title="CNN Architecture Explorer", page_icon=str(FAVICON), layout="wide")

# In the order of the case-studies lecture: classic networks, ResNets, 1×1 convolutions and
# Inception, then the practical advice; the app opens where the lecture starts (LeNet-5).
PAGES = {
    "Classic networks": [
        st.Page(
            "views/architecture.py",
            title="Architecture",
            icon=":material/account_tree:",
            default=True,
        ),
        st.Page("views/compare.py", title="Compare", icon=":material/compare_arrows:"),
    ],
    "ResNets": [
        st.Page("views/residual.py", title="Plain vs residual", icon=":material/conversion_path:"),
    ],
    "1×1 convolutions and Inception": [
        st.Page("views/cost_lab.py", title="Cost lab (1×1 convs)", icon=":material/calculate:"),
        st.Page("views/layer_arithmetic.py", title="How a layer computes",
                icon=":material/grid_on:"),
    ],
    "Practical advice": [
        st.Page("views/predict.py", title="Predict", icon=":material/image_search:"),
        st.Page("views/transfer.py", title="Transfer learning", icon=":material/sync_alt:"),
        st.Page("views/augmentation.py", title="Augmentation lab", icon=":material/photo_filter:"),
        st.Page("views/ensemble.py", title="Ensembles", icon=":material/groups:"),
    ],
    "Explore further": [
        st.Page("views/custom_network.py", title="Custom network", icon=":material/edit_note:"),
        st.Page("views/inside.py", title="Look inside", icon=":material/layers:"),
    ],
}

# Under `explorer app`, run no page before the warm-up thread has imported what pages need
# (components/server.py: two threads must not build Python ASTs at once) and opened every
# page once (its own sessions, ?warmup=1, wait for the imports only). At once otherwise.
serve.wait_until_warm(pages=st.query_params.get("warmup") != "1")
upload_quota.install()  # every session runs this file before it can upload anything
# A bounded number of page runs at once, first come first served; a click in a tab that
# already shows a page goes before tabs being opened (components/scheduling.py).
open_tab = "explorer_tab_open" in st.session_state
with GATE.slot(open_tab):
    st.session_state["explorer_tab_open"] = True
    st.navigation(PAGES).run()
