"""Streamlit pages and widgets: thin, they read state, call `explorer` and render."""

import gc

import explorer

# Imported once per server process, by the first page. Everything loaded so far (torch,
# torchvision's model modules, the catalog) lives as long as the server: keep it out of the
# garbage collector's full passes, which otherwise cost a first trace ~100 ms of scanning.
explorer.names()
gc.freeze()
