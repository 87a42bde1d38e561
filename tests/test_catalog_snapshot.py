"""Every paper-faithful and torchvision entry traces to the totals and layer shapes stored before
the engine was rebuilt (tests/data/catalog_snapshot.json, written by
benchmarks/catalog_snapshot.py from the old code). The 1,371 timm entries are checked by the
same script with --timm (`make bench`): about 3 minutes, too long for every test run."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import catalog_snapshot  # noqa: E402

STORED = json.loads((ROOT / "tests" / "data" / "catalog_snapshot.json").read_text())


def test_the_snapshot_covers_both_catalogs() -> None:
    ours = catalog_snapshot.catalog(with_timm=False)
    assert len(ours) >= 100 and all(name in STORED for name in ours)
    assert sum(name.startswith("timm/") for name in STORED) >= 1300


@pytest.mark.parametrize("name", catalog_snapshot.catalog(with_timm=False))
def test_totals_and_layers_equal_the_snapshot(name: str) -> None:
    assert catalog_snapshot.entry(name) == STORED[name]


def test_a_changed_layer_changes_the_entry() -> None:
    """The digest sees one layer's shape: the oracle would catch a tracer that got one wrong."""
    small = catalog_snapshot.entry("lenet5")
    assert small["digest"] != STORED["alexnet-paper"]["digest"]
    assert small["params"] == 61_706 and STORED["vgg16"]["params"] == 138_357_544
