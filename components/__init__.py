"""Streamlit pages and widgets: thin, they read state, call `explorer` and render.

Importing this package is cheap: `python -m components.server` imports it before Streamlit
listens, and the server must answer its health check at once (the heavy imports happen in
its warm-up thread). The pages' shared start-up work is in components/cache.py.
"""
