"""Streamlit pages and widgets: thin, they read state, call `explorer` and render."""
