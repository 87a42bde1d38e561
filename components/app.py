"""Entry file: routing only (Material icons: emoji fonts are often missing)."""

from pathlib import Path

import streamlit as st

from components import server as serve

# A local file: a Material-icon favicon is fetched from fonts.gstatic.com on every rerun,
# which fails (and fills the console) on an offline classroom network.
FAVICON = Path(__file__).resolve().parents[1] / "assets" / "favicon.png"
st.set_page_config(page_title="CNN Architecture Explorer", page_icon=str(FAVICON), layout="wide")

PAGES = {
    "Explore": [
        st.Page(
            "views/architecture.py",
            title="Architecture",
            icon=":material/account_tree:",
            default=True,
        ),
        st.Page("views/compare.py", title="Compare", icon=":material/compare_arrows:"),
        st.Page("views/cost_lab.py", title="Cost lab (1×1 convs)", icon=":material/calculate:"),
        st.Page("views/custom_network.py", title="Custom network", icon=":material/edit_note:"),
    ],
    "Data": [
        st.Page("views/augmentation.py", title="Augmentation lab", icon=":material/photo_filter:"),
    ],
    "Use a trained network": [
        st.Page("views/predict.py", title="Predict", icon=":material/image_search:"),
        st.Page("views/inside.py", title="Look inside", icon=":material/layers:"),
        st.Page("views/ensemble.py", title="Ensembles", icon=":material/groups:"),
        st.Page("views/transfer.py", title="Transfer learning", icon=":material/sync_alt:"),
    ],
    "Why ResNets work": [
        st.Page("views/residual.py", title="Plain vs residual", icon=":material/conversion_path:"),
    ],
}

# Under `explorer app`, run no page before the warm-up thread has imported what pages need
# (components/server.py: two threads must not build Python ASTs at once). At once otherwise.
serve.wait_until_warm()
st.navigation(PAGES).run()
