"""Serving a classroom: job worker processes and the Look inside page's jobs. The server
launcher, which starts Streamlit, is components/server.py."""
