"""ensemble page (placeholder until its issue lands)."""

import streamlit as st

st.title("ensemble")
st.info("This page is being built.")
