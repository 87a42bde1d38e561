"""The Augmentation lab in a real Chromium: 32 elastic samples are drawn by a worker job with
a progress bar; Cancel stops it and says so; Run again draws the grid."""

from __future__ import annotations

import pytest
from test_browser import ARGS, CHROMIUM, app_url, browser  # noqa: F401  (fixtures)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Chromium at /usr/bin/chromium"),
]


def test_elastic_grid_shows_progress_and_can_be_cancelled(app_url: str, browser) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(f"{app_url}/augmentation")
        page.get_by_role("slider", name="Samples").first.wait_for(timeout=90_000)
        box = page.locator("[data-testid=stSelectbox]").filter(has_text="Add a step").first
        box.locator("input").click()
        page.keyboard.type("Local warping")
        page.keyboard.press("Enter")
        page.wait_for_timeout(500)
        page.get_by_role("button", name="Add step").click()
        page.wait_for_timeout(1000)
        page.get_by_role("slider", name="Samples").first.focus()
        page.keyboard.press("End")  # 32 samples: seconds of warping
        page.get_by_role("button", name="Cancel").wait_for(timeout=60_000)
        page.get_by_text("Warping 32 samples:").wait_for(timeout=60_000)
        page.get_by_role("button", name="Cancel").click()
        page.get_by_text("Cancelled. Change a setting, or run it again.").wait_for(timeout=30_000)
        page.get_by_role("button", name="Run again").click()
        page.get_by_text("32 samples, seeds 0…31").wait_for(timeout=120_000)
        assert page.get_by_role("button", name="Cancel").count() == 0
    finally:
        page.close()
