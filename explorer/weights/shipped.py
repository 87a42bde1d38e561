"""The weights this repository ships: LeNet-5 trained on scikit-learn's digits (assets/).

`lenet5-digits` is the default; two more were trained from other seeds on the same split, so
that the Ensembles page has members that work offline. How they were trained is
explorer.labs.digits; what they are, where their files lie and their metadata are here, where
loading (explorer.weights.loading) can read them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ASSETS = Path(__file__).resolve().parents[2] / "assets"
WEIGHTS_NAME = "lenet5-digits"
SHIPPED = (WEIGHTS_NAME, f"{WEIGHTS_NAME}-seed1", f"{WEIGHTS_NAME}-seed2")
CATEGORIES = tuple(str(d) for d in range(10))


def weights_file(name: str = WEIGHTS_NAME) -> Path:
    return ASSETS / f"{name}.safetensors"


def shipped_metadata(name: str = WEIGHTS_NAME) -> dict[str, Any]:
    """The training metadata of shipped weights (assets/<name>.json)."""
    return dict(json.loads(weights_file(name).with_suffix(".json").read_text()))
