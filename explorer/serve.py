"""The app's server process: Streamlit, with the heavy imports warmed in the background.

`explorer app` execs into `python -m explorer.serve run components/app.py ...`. A student's
first visit would otherwise pay torch's and torchvision's imports (about 4 s on an idle
2-core machine, 8 s under load) inside the page script. Here a daemon thread imports them
while Streamlit starts listening, so the server answers /_stcore/health at once and the first
page finds the modules loaded (or waits only for the rest of an import already under way).
The launcher itself still imports no torch: this module runs only in the server process.
"""

from __future__ import annotations

import gc
import importlib
import sys
import threading

# What every page needs first: the engine and its view helpers (no streamlit code here).
WARM_MODULES = (
    "torch",
    "torchvision",
    "plotly.graph_objects",
    "explorer.architectures",
    "explorer.trace",
    "explorer.graph",
    "explorer.diagram",
    "explorer.report",
    "explorer.predict",
)


def _warm() -> None:
    for name in WARM_MODULES:
        try:
            importlib.import_module(name)
        except Exception:  # a page that needs a broken module reports it properly itself
            return
    gc.freeze()  # start-up objects out of the collector's way, as the CLI does


def main() -> None:
    threading.Thread(target=_warm, name="explorer-warm-imports", daemon=True).start()
    from streamlit.web import cli

    sys.argv = ["streamlit", *sys.argv[1:]]
    cli.main()


if __name__ == "__main__":
    main()
