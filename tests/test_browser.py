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
from load_client import load_client

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
        sys.executable, "-m", "streamlit", "run", "components/asgi.py",
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
        load_client().stop_server(proc)


def _save(page, tmp_path: Path, name: str) -> Path:  # type: ignore[no-untyped-def]
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path))
    SCREENS.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, SCREENS / path.name)
    return path


def _console_errors(page) -> list[str]:  # type: ignore[no-untyped-def]
    """The page's console errors and uncaught exceptions, collected from now on."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors


def _idle(page) -> None:  # type: ignore[no-untyped-def]
    """Until the script run the last interaction started has finished."""
    page.wait_for_timeout(300)
    page.wait_for_function(
        "() => document.querySelector('[data-testid=stApp]')?.dataset.testScriptState"
        " !== 'running' && !document.querySelector('[data-testid=stStatusWidget]')"
        " && !document.querySelector('[data-testid=stSkeleton]')",
        timeout=120_000,
    )
    page.wait_for_timeout(300)


# Every box of the diagram has a drawn outline (a <path>, <polygon> or <ellipse> with an area),
# not just its text: issue 11's boxes "drawn as bare text" after a depth change.
BARE_BOXES = """() => {
  const nodes = [...document.querySelectorAll('.explorer-diagram svg g.node')];
  const bare = nodes.filter(g => {
    const s = g.querySelector('path, polygon, ellipse');
    if (!s) return true;
    const b = s.getBBox();
    return b.width < 1 || b.height < 1;
  }).map(g => g.textContent.trim().slice(0, 40));
  return {count: nodes.length, bare};
}"""

# Headline numbers: a metric value is cut off when its text is wider than its box.
CLIPPED = """() => [...document.querySelectorAll(
    '[data-testid=stMetricValue], [data-testid=stMetricValue] *, [data-testid=stMetricLabel] p,'
    + ' [data-testid=stTable] th, [data-testid=stMarkdownContainer] th')]
  .filter(e => e.scrollWidth > e.clientWidth + 1)
  .map(e => e.innerText.slice(0, 40))"""


def _boxes(page) -> dict:  # type: ignore[no-untyped-def,type-arg]
    page.locator(".explorer-diagram svg").first.wait_for(timeout=60_000)
    result: dict = page.evaluate(BARE_BOXES)  # type: ignore[type-arg]
    return result


def _open_diagram(page, url: str) -> None:  # type: ignore[no-untyped-def]
    """Open `url` and wait until its pan-and-zoom diagram has drawn its boxes."""
    page.goto(url)
    page.locator('.explorer-diagram[data-ready="1"] svg g.node').first.wait_for(timeout=120_000)
    _idle(page)


def _pick_network(page, name: str) -> None:  # type: ignore[no-untyped-def]
    box = page.locator("[data-testid=stSelectbox]").filter(has_text="Architecture").first
    box.locator("input").click()
    page.keyboard.type(name)
    page.keyboard.press("Enter")
    _idle(page)


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.mark.parametrize("size", [(1280, 720), (1024, 768)])
def test_headlines_fit_and_diagram_boxes_stay_drawn(
    app_url: str,
    browser,
    size: tuple[int, int],
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    width, height = size
    page = browser.new_page(viewport={"width": width, "height": height})
    errors = _console_errors(page)
    try:
        page.goto(f"{app_url}/?arch=vgg16")  # VGG-16's 11-digit MACs were cut off
        page.get_by_text("Block diagram").first.wait_for(timeout=120_000)
        _idle(page)
        metric = page.locator("[data-testid=stMetricValue]").filter(has_text="15,470,264,320")
        assert metric.count() == 1
        assert page.evaluate(CLIPPED) == []
        assert _boxes(page)["bare"] == []

        _pick_network(page, "googlenet-paper")
        assert page.evaluate(CLIPPED) == []
        assert _boxes(page)["bare"] == []
        page.get_by_text("Auto detail").click()
        _idle(page)
        slider = page.get_by_role("slider", name="Diagram detail (depth)")
        slider.focus()
        page.keyboard.press("ArrowRight")  # depth 2 -> 3: 14 boxes lost their shape before
        _idle(page)
        after = _boxes(page)
        assert after["count"] >= 80 and after["bare"] == []

        page.reload()
        page.get_by_text("Block diagram").first.wait_for(timeout=120_000)
        _idle(page)
        assert _boxes(page)["bare"] == []
        _save(page, tmp_path, f"architecture_{width}x{height}")
        assert errors == []
    finally:
        page.close()


def test_quick_downloads_all_arrive(app_url: str, browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 item 5: Diagram PNG, then SVG, then the layer CSV, clicked quickly: the CSV
    was lost in 2 of 3 runs (a deferred file dropped by the rerun the first click started)."""
    page = browser.new_page(viewport={"width": 1280, "height": 720}, accept_downloads=True)
    try:
        page.goto(f"{app_url}/?arch=resnet18")
        page.get_by_text("Diagram (PNG)").first.wait_for(timeout=120_000)
        _idle(page)
        got = {}
        for _ in range(3):
            for label in ("Diagram (PNG)", "Diagram (SVG)", "Layer table (CSV)"):
                with page.expect_download(timeout=30_000) as download:
                    page.get_by_text(label).first.click()
                got[label] = Path(download.value.path()).read_bytes()
        assert got["Diagram (PNG)"].startswith(b"\x89PNG")
        assert b"<svg" in got["Diagram (SVG)"] and b"layer1.0" in got["Diagram (SVG)"]
        assert got["Layer table (CSV)"].startswith(b"Layer,Lecture,Type,")
    finally:
        page.close()


PAGES = [
    # (sidebar link, text to wait for, expects a diagram, expects a plotly chart)
    ("Cost lab (1×1 convs)", "120,422,400", True, True),
    ("Custom network", "61,706", True, True),
    ("Compare", "Parameters vs multiply-accumulates", False, True),
]


def test_explore_pages_render_diagram_and_charts(app_url: str, browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        page.goto(app_url)
        page.get_by_text("Block diagram").first.wait_for(timeout=120_000)
        for link, text, diagram, chart in PAGES:
            page.locator("[data-testid=stSidebarNav]").get_by_role("link", name=link).click()
            page.get_by_text(text).first.wait_for(timeout=120_000)
            _idle(page)
            if chart:
                page.locator(".js-plotly-plot").first.wait_for(timeout=30_000)
            if diagram:
                boxes = _boxes(page)
                assert boxes["count"] >= 3 and boxes["bare"] == []
            assert page.get_by_text("Traceback").count() == 0
            assert page.evaluate(CLIPPED) == []
            _save(page, tmp_path, link.split(" ")[0].lower())
        assert errors == []  # no favicon from the internet, no failed requests
    finally:
        page.close()


# Every chosen item of a multiselect lies inside its field, its name not cut: at 1280×720 the
# Ensembles page showed two of its three members, the third behind the field's edge.
HIDDEN_CHIPS = """(label) => {
  const box = [...document.querySelectorAll('[data-testid=stMultiSelect]')]
    .find(e => e.innerText.startsWith(label));
  const field = box.querySelector('[data-testid=stMultiSelectTagsContainer]')
    .getBoundingClientRect();
  const tags = [...box.querySelectorAll('[data-tag]')];
  return {count: tags.length, hidden: tags.filter(t => {
    const r = t.getBoundingClientRect();
    const text = t.querySelector('span[title]') || t;
    return r.right > field.right + 1 || r.left < field.left - 1
      || text.scrollWidth > text.clientWidth + 1;
  }).map(t => t.innerText)};
}"""


def test_ensemble_members_all_visible(app_url: str, browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    try:
        page.goto(f"{app_url}/ensemble")
        page.get_by_text("Ensemble:").first.wait_for(timeout=120_000)
        _idle(page)
        chips = page.evaluate(HIDDEN_CHIPS, "Models")
        assert chips == {"count": 3, "hidden": []}
        _save(page, tmp_path, "ensemble_1280x720")
    finally:
        page.close()


def test_the_convolution_steps_in_the_browser_without_a_script_run(  # type: ignore[no-untyped-def]
    app_url: str, browser
) -> None:
    """How a layer computes: pressing ▶ steps through the frames (each title writes that
    output's products and sum) and sends the server nothing: no script run."""
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    sent: list[str] = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda frame: sent.append(str(frame))))
    try:
        page.goto(f"{app_url}/layer_arithmetic")
        title = page.locator(".js-plotly-plot .gtitle").first
        title.wait_for(timeout=120_000)
        _idle(page)
        assert title.text_content().endswith("= 0")  # output (1,1): all 10s · (1, 0, −1)
        before = len(sent)
        page.locator(".js-plotly-plot .updatemenu-button").first.click()  # ▶ Play
        page.wait_for_function(  # the next frames come from the figure itself
            "(t) => document.querySelector('.js-plotly-plot .gtitle')?.textContent !== t",
            arg=title.text_content(),
            timeout=30_000,
        )
        shown = title.text_content()
        assert shown.endswith(("= 0", "= 30")) and "10·1" in shown
        page.wait_for_timeout(1500)
        assert len(sent) == before  # stepping sent nothing to the server
    finally:
        page.close()


@pytest.mark.parametrize(
    ("typed", "picked"),
    [("resnet152", "resnet152"), ("vgg16", "vgg16"), ("alexnet", "alexnet"),
     ("timm/resnet152", "timm%2Fresnet152")],
)  # fmt: skip
def test_the_network_box_picks_the_exact_name_first(  # type: ignore[no-untyped-def]
    app_url: str, browser, typed: str, picked: str
) -> None:
    """Issue 21: typing "resnet152" and Enter picked timm/resnet152 (the browser's fuzzy search
    ranked the short "timm/…" name above the long "resnet152 — title" label)."""
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    try:
        page.goto(f"{app_url}/?arch=lenet5")
        page.get_by_text("Block diagram").first.wait_for(timeout=120_000)
        _idle(page)
        _pick_network(page, typed)
        assert page.url.endswith(f"arch={picked}"), page.url
    finally:
        page.close()


DIAGRAM_STATE = """() => {
  const root = document.querySelector('.explorer-diagram[data-ready="1"]');
  const box = root.getBoundingClientRect();
  const nodes = [...root.querySelector('svg').querySelectorAll('g.node')];  // not the minimap
  const rect = n => { const r = n.getBoundingClientRect();
                      return [r.left - box.left, r.top - box.top, r.right - box.left,
                              r.bottom - box.top]; };
  const inside = r => r[0] >= -2 && r[1] >= -2 && r[2] <= box.width + 2 && r[3] <= box.height + 2;
  const texts = [...root.querySelectorAll('svg .svg-pan-zoom_viewport text')]
      .map(t => parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a);
  return {height: box.height, window: window.innerHeight, minText: Math.min(...texts),
          first: rect(nodes[0]), last: rect(nodes[nodes.length - 1]),
          firstIn: inside(rect(nodes[0])), lastIn: inside(rect(nodes[nodes.length - 1])),
          mini: !!root.querySelector('.explorer-diagram-mini')};
}"""


@pytest.mark.parametrize(
    ("arch", "size"), [("googlenet-paper", (1280, 720)), ("densenet201", (1024, 768))]
)
def test_a_big_diagram_opens_readable_and_pans_zooms_and_fits(  # type: ignore[no-untyped-def]
    app_url: str, browser, arch: str, size: tuple[int, int], tmp_path: Path
) -> None:
    """Issue 21: GoogLeNet sat in a 760-px scroll box taller than a 720-px projector, and
    DenseNet-201's input lay past the edge of its box; text was 10–11 px. Now the box fits
    the window, the first view has text of at least 16 px with the input in view, Fit shows
    both ends, Output brings the output in view, Ctrl + wheel zooms, and dragging pans."""
    width, height = size
    page = browser.new_page(viewport={"width": width, "height": height})
    errors = _console_errors(page)
    try:
        _open_diagram(page, f"{app_url}/?arch={arch}")
        diagram = page.locator(".explorer-diagram").first
        diagram.scroll_into_view_if_needed()
        page.wait_for_timeout(300)
        first = page.evaluate(DIAGRAM_STATE)
        assert first["height"] <= 0.8 * first["window"] + 1  # no box taller than the window
        assert first["minText"] >= 16 and first["firstIn"] and first["mini"], first
        _save(page, tmp_path, f"diagram_{arch}_{width}x{height}")

        diagram.get_by_role("button", name="Fit").click()
        page.wait_for_timeout(400)
        fitted = page.evaluate(DIAGRAM_STATE)
        assert fitted["firstIn"] and fitted["lastIn"], fitted

        diagram.get_by_role("button", name="Output").click()
        page.wait_for_timeout(400)
        output = page.evaluate(DIAGRAM_STATE)
        assert output["lastIn"] and output["minText"] >= 16, output

        box = diagram.bounding_box()
        assert box is not None
        centre = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.mouse.move(*centre)
        page.keyboard.down("Control")
        page.mouse.wheel(0, -400)  # Ctrl + wheel zooms in
        page.keyboard.up("Control")
        page.wait_for_timeout(400)
        zoomed = page.evaluate(DIAGRAM_STATE)
        assert zoomed["minText"] > 1.5 * output["minText"], (zoomed, output)

        page.mouse.move(*centre)
        page.mouse.down()
        page.mouse.move(centre[0] + 120, centre[1] + 90, steps=6)  # drag to pan
        page.mouse.up()
        page.wait_for_timeout(400)
        panned = page.evaluate(DIAGRAM_STATE)
        moved = (panned["last"][0] - zoomed["last"][0], panned["last"][1] - zoomed["last"][1])
        assert abs(moved[0] - 120) < 8 and abs(moved[1] - 90) < 8, moved
        assert errors == []
    finally:
        page.close()


def test_the_deepest_densenet_diagram_opens_readable(app_url: str, browser) -> None:  # type: ignore[no-untyped-def]
    """DenseNet-201 at depth 4 (512 boxes, a drawing 35,579 px tall) needed a 111× zoom from
    its fitted view to reach 16-px text; the pan-and-zoom library stopped at 60×: 13 px."""
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    try:
        _open_diagram(page, f"{app_url}/?arch=densenet201")
        page.get_by_text("Auto detail").click()
        _idle(page)
        slider = page.get_by_role("slider", name="Diagram detail (depth)")
        slider.focus()
        for _ in range(3):  # depth 1 -> 4, one step at a time as a student would
            page.keyboard.press("ArrowRight")
            _idle(page)
        page.locator(".explorer-diagram").first.scroll_into_view_if_needed()
        page.wait_for_timeout(500)
        state = page.evaluate(DIAGRAM_STATE)
        boxes = page.locator(".explorer-diagram svg .svg-pan-zoom_viewport g.node").count()
        assert boxes >= 500 and state["minText"] >= 16 and state["firstIn"], (boxes, state)
    finally:
        page.close()


# Elements whose content is wider than their box (a cut number, a picture past the page's edge).
OVERFLOWING = """() => {
  const main = document.querySelector('[data-testid=stMainBlockContainer]')
    .getBoundingClientRect();
  const kinds = '[data-testid=stImage] img, [data-testid=stMetricValue],'
      + ' [data-testid=stButton] button, [data-testid=stDownloadButton] button';
  return [...document.querySelectorAll(kinds)]
    .filter(e => e.getBoundingClientRect().right > main.right + 1
                 || e.scrollWidth > e.clientWidth + 1)
    .map(e => (e.innerText || e.getAttribute('alt') || e.tagName).slice(0, 40));
}"""


@pytest.mark.parametrize("path", ["predict", "inside", "?arch=googlenet-paper"])
def test_pages_fit_a_1024_by_768_laptop(app_url: str, browser, path: str) -> None:  # type: ignore[no-untyped-def]
    """Issue 21: at 1024×768 Predict's two pictures ran past the page and its forward-pass
    metric read "196.…", Look inside's metrics read "69.9 …", and the Architecture page's
    diagram switches and downloads were cut."""
    page = browser.new_page(viewport={"width": 1024, "height": 768})
    try:
        page.goto(f"{app_url}/{path}")
        page.locator("[data-testid=stMainBlockContainer]").first.wait_for(timeout=120_000)
        _idle(page)
        if path == "inside":
            page.get_by_text("A picture (sample or upload)").click()
            _idle(page)
        assert page.evaluate(OVERFLOWING) == []
        assert page.evaluate(CLIPPED) == []
    finally:
        page.close()


EVERY_PAGE = ("", "compare", "residual", "cost_lab", "layer_arithmetic", "predict", "transfer",
              "augmentation", "ensemble", "custom_network", "inside")  # fmt: skip


@pytest.mark.parametrize("size", [(1280, 720), (1024, 768), (1440, 900)])
def test_every_page_opened_by_its_url_fits_and_logs_nothing(  # type: ignore[no-untyped-def]
    app_url: str, browser, size: tuple[int, int]
) -> None:
    """Issue 21: each page opened by its own URL, as a shared link or a reload does, at a
    projector's and two laptops' sizes: nothing past its column, no cut metric or table head,
    no console error and no failed request (Streamlit's frontend used to ask two wrong URLs
    for its base path on every page but the first)."""
    width, height = size
    page = browser.new_page(viewport={"width": width, "height": height})
    errors = _console_errors(page)
    failed: list[str] = []
    page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
    try:
        for path in EVERY_PAGE:
            page.goto(f"{app_url}/{path}")
            page.locator("[data-testid=stMainBlockContainer] h1").first.wait_for(timeout=120_000)
            _idle(page)
            assert (path, page.evaluate(OVERFLOWING)) == (path, [])
            assert (path, page.evaluate(CLIPPED)) == (path, [])
            assert (path, failed, errors) == (path, [], [])
    finally:
        page.close()


# For each titled plotly chart: its title's and its toolbar's boxes, and whether they meet.
TITLE_UNDER_TOOLBAR = """(plot) => {
  const t = plot.querySelector('.gtitle'), m = plot.querySelector('.modebar');
  if (!t || !m) return null;
  const a = t.getBoundingClientRect(), b = m.getBoundingClientRect();
  const meet = a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
  return {title: t.textContent, meet: meet, shown: getComputedStyle(m).opacity};
}"""


@pytest.mark.parametrize(("path", "charts"), [("?arch=vgg16", 2), ("compare", 3)])
def test_chart_toolbars_leave_the_titles_readable(  # type: ignore[no-untyped-def]
    app_url: str, browser, path: str, charts: int
) -> None:
    """Issue 21: plotly's toolbar, shown while the mouse is over a chart, covered the end of
    "Multiply-accumulates per layer" on a 1280×720 projector (now "Multiply-accumulates and
    parameters per layer", one chart)."""
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    try:
        page.goto(f"{app_url}/{path}")
        plots = page.locator(".js-plotly-plot")
        plots.first.wait_for(timeout=120_000)
        _idle(page)
        seen = []
        for i in range(plots.count()):
            plots.nth(i).scroll_into_view_if_needed()
            plots.nth(i).hover()
            page.wait_for_timeout(300)
            seen.append(plots.nth(i).evaluate(TITLE_UNDER_TOOLBAR))
        titled = [s for s in seen if s is not None]
        assert len(titled) == charts and all(s["shown"] == "1" for s in titled), seen
        assert [s["title"] for s in titled if s["meet"]] == []
    finally:
        page.close()


# The centre of the first box of the diagram (not its input) that lies inside the visible part
# of its frame, clear of the buttons and the minimap, and the box's id.
VISIBLE_BOX = """(kind) => {
  const d = document.querySelector('.explorer-diagram').getBoundingClientRect();
  for (const g of document.querySelectorAll('.explorer-diagram svg g.node[id^=box-]')) {
    if (g.id === 'box-input' || !g.textContent.includes(kind)) continue;
    const b = g.getBoundingClientRect(), x = b.x + b.width / 2, y = b.y + b.height / 2;
    if (x > d.left + 10 && x < d.right - 160 && y > d.top + 50 && y < d.bottom - 40
        && y > 0 && y < innerHeight) return [x, y, g.id];
  }
  return null;
}"""


def test_a_click_on_a_box_picks_its_layer_and_leads_to_its_arithmetic(  # type: ignore[no-untyped-def]
    app_url: str, browser, tmp_path: Path
) -> None:
    """Issues 21 and 22: a click on a diagram box (a drag still pans) marks the box, selects
    its layer's row in the layer table and links to "How a layer computes" for that layer,
    where the real layer's sum equals the value of the network's own forward pass."""
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    errors = _console_errors(page)
    try:
        _open_diagram(page, f"{app_url}/?arch=lenet5")
        page.locator(".explorer-diagram").first.scroll_into_view_if_needed()
        page.wait_for_timeout(300)
        found = page.evaluate(VISIBLE_BOX, "conv")
        assert found is not None
        x, y, box_id = found
        page.mouse.click(x, y)
        _idle(page)
        picked = page.locator("[data-testid=stMarkdownContainer]").filter(
            has_text="Picked in the diagram"
        )
        text = picked.first.inner_text()
        assert "Conv2d" in text and "156 parameters" in text, text  # LeNet-5's C1: 6·(5·5+1)
        layer = text.split("Picked in the diagram: ")[1].split(" ")[0]
        marked = page.evaluate(
            "() => [...document.querySelectorAll('.explorer-diagram g.explorer-picked')]"
            ".map(g => g.id)"
        )
        assert marked == [box_id]
        # The run the click started may still be sending the table below the text (under
        # load it starts after _idle's first look): wait until its selected row is there.
        page.locator("[data-testid=stDataFrame] [aria-selected=true]").first.wait_for(
            state="attached", timeout=60_000  # the grid's cells for screen readers, not drawn
        )
        selected = page.evaluate(
            "() => [...document.querySelectorAll('[data-testid=stDataFrame] [aria-selected=true]')]"
            ".map(e => e.textContent)"
        )
        assert len(selected) == 1 and selected[0].startswith(layer.split(".")[0]), selected
        _save(page, tmp_path, "picked_box_lenet5_1280x720")

        assert errors == []
        href = picked.first.get_by_role("link").get_attribute("href")
        assert href is not None and f"layer={layer}" in href
        # Opening a page by its URL: Streamlit's frontend used to probe /<page>/_stcore/health
        # and /<page>/_stcore/host-config for its base path (two 404s; components/asgi.py).
        missing: list[str] = []
        page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
        page.goto(f"{app_url}/{href.split('/')[-1]}")
        page.get_by_role("tab", name="A real layer").click()
        page.get_by_text("✓ equal").first.wait_for(timeout=120_000)
        _idle(page)
        chosen = page.locator("[data-testid=stSelectbox]").filter(has_text="Layer").first
        shown = chosen.inner_text() + " " + chosen.locator("input").first.input_value()
        assert layer in shown, shown
        page.get_by_text("✓ equal").first.scroll_into_view_if_needed()
        page.wait_for_timeout(300)
        _save(page, tmp_path, "real_layer_lenet5_1280x720")
        assert missing == [] and errors == []
    finally:
        page.close()
