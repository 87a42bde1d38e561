"""transfer page (placeholder until its issue lands)."""

import streamlit as st

st.title("transfer")
st.info("This page is being built.")
