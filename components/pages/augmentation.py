"""augmentation page (placeholder until its issue lands)."""

import streamlit as st

st.title("augmentation")
st.info("This page is being built.")
