"""Streamlit pages and widgets: thin, they read state, call `explorer` and render."""

import explorer
from explorer.core.gc_settings import settle_after_imports

# Imported once per server process, by the first page. Everything loaded so far (torch,
# torchvision's model modules, the catalog) lives as long as the server (explorer.core.gc_settings).
explorer.names()
settle_after_imports()
