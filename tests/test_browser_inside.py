"""The Look inside page in a real Chromium: a digit drawn with the mouse is read correctly."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from test_browser import ARGS, CHROMIUM, app_url  # noqa: F401  (app_url: a fixture)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Chromium at /usr/bin/chromium"),
]


def _stroke(page, points: list[tuple[float, float]]) -> None:  # type: ignore[no-untyped-def]
    page.mouse.move(*points[0])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(x, y, steps=3)
    page.mouse.up()


def _one(cx: float, cy: float, r: float) -> list[tuple[float, float]]:
    return [(cx, cy - r + i * 2 * r / 20) for i in range(21)]


def _zero(cx: float, cy: float, r: float) -> list[tuple[float, float]]:
    return [
        (cx + 0.6 * r * math.sin(2 * math.pi * i / 36), cy - r * math.cos(2 * math.pi * i / 36))
        for i in range(38)
    ]


@pytest.mark.parametrize(("digit", "shape"), [("1", _one), ("0", _zero)])
def test_drawn_digit_is_predicted(app_url: str, tmp_path: Path, digit: str, shape) -> None:  # noqa: F811
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(app_url + "/inside")
            canvas = page.locator("canvas.upper-canvas")
            canvas.wait_for(state="attached", timeout=90_000)
            page.get_by_text("Draw a digit, or choose weights").wait_for(timeout=60_000)
            box = canvas.bounding_box()
            assert box is not None and box["width"] >= 200
            # the middle of the canvas (its toolbar floats over the top strip)
            cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.58
            _stroke(page, shape(cx, cy, box["height"] * 0.32))
            heading = page.get_by_text("Prediction:")
            heading.wait_for(timeout=60_000)
            assert heading.inner_text().startswith(f"Prediction: {digit} ")
            grids = page.get_by_text("28×28×6 · features.0")  # the grids follow the heading
            grids.wait_for(timeout=60_000)
            assert grids.count() == 1
            assert page.get_by_text("Traceback").count() == 0
            page.screenshot(path=str(tmp_path / f"inside_{digit}.png"))
        finally:
            browser.close()
