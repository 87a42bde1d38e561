"""benchmarks/classroom_load.py as a module for the tests: Streamlit's websocket protocol, one
session per tab (free ports, starting and waiting for a server, a round of sessions), and one
websocket connection to a server on loopback."""

from __future__ import annotations

import functools
import importlib.util
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


@functools.lru_cache(maxsize=1)  # one module: each call does not run it again
def load_client() -> Any:
    spec = importlib.util.spec_from_file_location(
        "classroom_load", ROOT / "benchmarks" / "classroom_load.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("classroom_load", module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def connect(port: int) -> Any:
    """A browser tab's websocket to the server on 127.0.0.1:`port` (a new session)."""
    return load_client().connect(port)
