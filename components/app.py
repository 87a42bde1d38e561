"""Entry file: routing only."""

import streamlit as st

st.set_page_config(page_title="CNN Architecture Explorer", page_icon="🧠", layout="wide")

PAGES = {
    "Explore": [
        st.Page("pages/architecture.py", title="Architecture", icon="🏗️", default=True),
        st.Page("pages/compare.py", title="Compare", icon="⚖️"),
        st.Page("pages/cost_lab.py", title="Cost lab (1×1 convs)", icon="🧮"),
        st.Page("pages/custom_network.py", title="Custom network", icon="✏️"),
    ],
    "Data": [
        st.Page("pages/augmentation.py", title="Augmentation lab", icon="🎨"),
    ],
    "Use a trained network": [
        st.Page("pages/predict.py", title="Predict", icon="🔮"),
        st.Page("pages/ensemble.py", title="Ensembles", icon="👥"),
        st.Page("pages/transfer.py", title="Transfer learning", icon="🔁"),
    ],
    "Why ResNets work": [
        st.Page("pages/residual.py", title="Plain vs residual", icon="➰"),
    ],
}

st.navigation(PAGES).run()
