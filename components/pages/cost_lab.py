"""cost_lab page (placeholder until its issue lands)."""

import streamlit as st

st.title("cost_lab")
st.info("This page is being built.")
