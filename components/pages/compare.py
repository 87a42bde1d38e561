"""compare page (placeholder until its issue lands)."""

import streamlit as st

st.title("compare")
st.info("This page is being built.")
