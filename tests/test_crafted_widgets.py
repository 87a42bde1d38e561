"""Widget values a browser never sends but a crafted websocket message can: each page shows a
clear message or falls back to a sane value, never a traceback."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from components.widgets import whole

PAGES = Path(__file__).resolve().parents[1] / "components" / "views"


def page(name: str) -> AppTest:
    return AppTest.from_file(str(PAGES / f"{name}.py"), default_timeout=120)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(math.nan, 7), (math.inf, 7), (1e308, 100), (-5, 0), ("12", 12), ("x", 7), (None, 7)],
)
def test_a_number_widget_value_is_a_whole_number_in_range(value: object, expected: int) -> None:
    assert whole(value, 0, 100, 7) == expected


def test_a_nan_seed_falls_back() -> None:
    at = page("augmentation")
    at.session_state["aug_seed"] = math.nan
    at.run()
    assert not at.exception


def test_more_ensemble_members_than_allowed_is_a_message() -> None:
    at = page("ensemble")
    at.run()
    names = ["lenet5-digits", "lenet5-digits-seed1", "lenet5-digits-seed2"] * 2  # 6 members
    at.session_state["ensemble_models"] = names
    at.session_state["ensemble_image_source"] = "sample"
    at.run()
    assert not at.exception
