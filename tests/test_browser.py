"""The app in a real Chromium: the Explore pages render their diagram and plotly charts."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
SCREENS = Path("/tmp/screens")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Chromium at /usr/bin/chromium"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def app_url(repo_root: Path) -> Iterator[str]:
    port = _free_port()
    cmd = [
        sys.executable, "-m", "streamlit", "run", "components/app.py",
        "--server.address", "127.0.0.1", "--server.port", str(port),
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    proc = subprocess.Popen(
        cmd,
        cwd=repo_root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(repo_root)},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                err = proc.stderr.read().decode() if proc.stderr and proc.poll() is not None else ""
                pytest.fail(f"streamlit did not become healthy: {err[-2000:]}")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _save(page, tmp_path: Path, name: str) -> Path:  # type: ignore[no-untyped-def]
    path = tmp_path / f"{name}.png"
    # Streamlit scrolls an inner container, so grow the viewport to the whole page first.
    height = page.evaluate(
        "() => (document.querySelector('[data-testid=\"stMain\"]') || document.body).scrollHeight"
    )
    page.set_viewport_size({"width": 1400, "height": min(max(int(height) + 50, 1000), 9000)})
    page.wait_for_timeout(800)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size({"width": 1400, "height": 1000})
    SCREENS.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, SCREENS / path.name)
    return path


PAGES = [
    # (path, name, wait for, expects a diagram, expects a plotly chart)
    ("/?arch=resnet18", "architecture", "Block diagram", True, True),
    ("/cost_lab", "cost_lab", "120,422,400", True, True),
    ("/custom_network", "custom_network", "61,706", True, True),
    ("/compare", "compare", "Parameters vs multiply-accumulates", False, True),
]


def test_explore_pages_render_diagram_and_charts(app_url: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            for path, name, text, diagram, chart in PAGES:
                page.goto(app_url + path)
                page.get_by_text(text).first.wait_for(timeout=60_000)
                if chart:
                    page.locator(".js-plotly-plot").first.wait_for(timeout=30_000)
                    assert page.locator(".js-plotly-plot").count() >= 1
                if diagram:
                    svg = page.locator("[data-testid='stGraphVizChart'] svg").first
                    svg.wait_for(timeout=30_000)
                    assert svg.locator("g.node").count() >= 3
                assert page.get_by_text("Traceback").count() == 0
                shot = _save(page, tmp_path, name)
                assert shot.stat().st_size > 10_000
                if name == "architecture" and shutil.which("dot"):
                    # SVG is rendered by `dot` only when clicked (a deferred download).
                    with page.expect_download(timeout=60_000) as download:
                        page.get_by_text("Diagram (SVG)").click()
                    svg = Path(download.value.path()).read_text()
                    assert "<svg" in svg and "BasicBlock ×2" in svg
        finally:
            browser.close()
