"""residual page (placeholder until its issue lands)."""

import streamlit as st

st.title("residual")
st.info("This page is being built.")
