"""Finished output (issue 23): a warm run of a page sends the figures, tables and pictures made
the first time, kept in st.cache_resource keyed by what they show. It builds no plotly figure,
turns no rows into a pandas frame and encodes no picture again, and what it sends is the
same object every session reads, unchanged by being sent."""

from __future__ import annotations

import sys
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

PAGES = Path(__file__).resolve().parents[1] / "components" / "views"

# (file ending, function) of the work a warm run must not do again
WATCHED = {
    ("plotly/basedatatypes.py", "__init__"): "plotly figure built",
    ("pandas/core/frame.py", "__init__"): "pandas frame built",
    ("PIL/Image.py", "save"): "picture encoded",
    ("PIL/Image.py", "resize"): "picture resized",
}


def counted(run: Callable[[], object]) -> Counter[str]:
    """What `run` did of the watched work, on every thread (a profile hook: nothing patched)."""
    seen: Counter[str] = Counter()

    def hook(frame, event, arg):  # type: ignore[no-untyped-def]
        if event == "call":
            code = frame.f_code
            for (ending, name), what in WATCHED.items():
                if code.co_name == name and code.co_filename.endswith(ending):
                    seen[what] += 1

    sys.setprofile(hook)
    threading.setprofile(hook)
    try:
        run()
    finally:
        sys.setprofile(None)
        threading.setprofile(None)
    return seen


def page(name: str, **query: str) -> AppTest:
    at = AppTest.from_file(str(PAGES / f"{name}.py"), default_timeout=300)
    for key, value in query.items():
        at.query_params[key] = value
    return at


@pytest.mark.parametrize(
    ("name", "query"),
    [("architecture", {"arch": "resnet18"}), ("compare", {}), ("cost_lab", {}),
     ("custom_network", {}), ("augmentation", {}), ("predict", {}), ("ensemble", {}),
     ("transfer", {}), ("residual", {})],
)  # fmt: skip
def test_a_warm_run_of_a_classroom_page_builds_nothing_it_sends(name: str, query: dict) -> None:
    at = page(name, **query)
    at.run()
    assert not at.exception and not at.error
    again = counted(at.run)
    assert not at.exception and not at.error
    assert again == Counter(), f"{name}: a warm run did {dict(again)}"


def test_what_a_page_sends_is_shared_and_unchanged_by_sending() -> None:
    """Two sessions read the same figure and table objects, and showing them changes nothing
    (a figure or table changed in place would show in every session's next run)."""
    from components import ready

    first, second = page("architecture", arch="resnet18"), page("architecture", arch="resnet18")
    first.run()
    view = ready.layer_view("resnet18", (3, 224, 224), 1, 2)
    before = (view.bars.to_dict(), view.table.arrow, view.csv)
    second.run()
    first.run()
    assert not first.exception and not second.exception
    assert ready.layer_view("resnet18", (3, 224, 224), 1, 2) is view
    assert view.bars.to_dict() == before[0]
    assert view.table.arrow.equals(before[1]) and view.csv == before[2]
