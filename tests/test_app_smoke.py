"""Every page opens without an exception, and the entry file routes to all of them."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

COMPONENTS = Path(__file__).resolve().parents[1] / "components"
VIEWS = sorted((COMPONENTS / "views").glob("*.py"))


@pytest.mark.parametrize("page", VIEWS, ids=[p.stem for p in VIEWS])
def test_page_opens_without_exception(page: Path) -> None:
    at = AppTest.from_file(str(page), default_timeout=180).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title, f"{page.stem} shows no title"


def test_every_view_is_routed() -> None:
    """No page file is orphaned (the entry file routes to each view exactly once)."""
    entry = (COMPONENTS / "app.py").read_text()
    for page in VIEWS:
        assert entry.count(f'"views/{page.name}"') == 1, page.name


def test_no_streamlit_auto_pages_folder() -> None:
    """A folder named pages/ beside the entry file makes Streamlit list raw file names in the
    sidebar on a direct first load, before st.navigation runs."""
    assert not (COMPONENTS / "pages").exists()
