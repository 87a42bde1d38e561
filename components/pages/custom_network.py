"""custom_network page (placeholder until its issue lands)."""

import streamlit as st

st.title("custom_network")
st.info("This page is being built.")
