"""How long a student waits: the app's pages in a real Chromium, against a bare Streamlit page.

Starts two servers on 127.0.0.1: the app (`components/asgi.py`, fresh process, cold caches) and
a *bare* page with the same widgets (selectboxes, number inputs, checkboxes, a slider, a
metric row, a 60-row table, an inline SVG diagram, three plotly charts, download buttons) but
no computation. The bare page is the floor this machine sets: Streamlit's own start-up,
websocket round trips and the browser's layout, whatever the app computes.

Times, in seconds until the page is idle (script finished, no skeletons, no spinner):
- first visit: the first tab on a just-started server (Architecture, resnet18);
- fresh tab: a new tab on the warm server, same address;
- first pick: switching to resnet152 for the first time; switch: back and forth between
  networks already seen (median of 4);
- augmentation step: adding a step to the Augmentation lab's pipeline (after elastic
  warping is in it), median of 3;
- predict: the Predict page with lenet5-digits (offline), first visit.
The bare page is timed the same way (first visit, fresh tab, a widget change).

    .venv/bin/python benchmarks/page_timing.py [--repeat 4]

Loopback only; both servers are stopped at the end. On a shared 2-core machine the numbers
are noisy: compare each app figure with the bare page's, measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
IDLE = (
    "() => document.querySelector('[data-testid=stApp]')?.dataset.testScriptState"
    " !== 'running' && !document.querySelector('[data-testid=stStatusWidget]')"
    " && !document.querySelector('[data-testid=stSkeleton]')"
)

BARE_PAGE = """
import plotly.graph_objects as go
import streamlit as st

st.title("Architecture")
c = st.columns([1, 2])
c[0].selectbox("Family", ["All families", "ResNet", "VGG"], key="fam")
name = c[1].selectbox("Architecture", ["resnet18", "resnet152", "vgg16"], key="name")
st.query_params["arch"] = name  # as the app's picker does (the timing waits for it)
n = st.columns(3)
n[0].number_input("Input height n_H", 1, 1024, 224)
n[1].number_input("Input width n_W", 1, 1024, 224)
n[2].number_input("Batch size", 1, 512, 1)
with st.container(horizontal=True):
    for label in ("Parameters", "MACs", "FLOPs", "Weights", "Activations", "Depth"):
        st.metric(label, "1,814,073,344", width="content", border=True)
d = st.columns(4)
d[1].checkbox("Auto detail", True)
d[2].checkbox("Collapse repeats", True)
with st.container(height=760, border=True):
    st.markdown("<div class='explorer-diagram'>" + SVG + "</div>", unsafe_allow_html=True)
depth = st.slider("Table detail (depth)", 1, 4, 2)
st.dataframe([{"Layer": f"layer{i}", "Type": "Conv2d", "Params": i * 1000, "MACs": i * 10**6}
              for i in range(60)], hide_index=True)
left, right = st.columns(2)
for col in (left, right, st):
    col.plotly_chart(go.Figure(go.Bar(x=list(range(60)), y=list(range(60)))))
dl = st.columns(5)
for i, label in enumerate(("CSV", "JSON", "DOT", "SVG", "PNG")):
    dl[i].download_button(label, "x" * 1000, f"f.{label.lower()}", on_click="ignore")
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(script: Path, runner: str = "streamlit") -> Iterator[str]:
    """A fresh server for `script`: plain Streamlit, or `components.server` (what `explorer
    app`
    execs into: Streamlit with torch's imports warmed in the background)."""
    port = _free_port()
    cmd = [
        sys.executable, "-m", runner, "run", str(script),
        "--server.address", "127.0.0.1", "--server.port", str(port),
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                    break
            except OSError:
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _idle(page) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_timeout(150)
    page.wait_for_function(IDLE, timeout=300_000, polling=50)


def timed(action: Callable[[], None], page) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    action()
    _idle(page)
    return time.perf_counter() - start


def _visit(page, url: str, text: str) -> Callable[[], None]:  # type: ignore[no-untyped-def]
    def go() -> None:
        page.goto(url)
        page.get_by_text(text).first.wait_for(timeout=300_000)

    return go


def typed(page, name: str):  # type: ignore[no-untyped-def]
    """Type `name` into the network box; its exact option, once listed (not the first match:
    "resnet152" also finds timm/resnet152)."""
    box = page.locator("[data-testid=stSelectbox]").filter(has_text="Architecture").first
    box.locator("input").click()
    page.keyboard.type(name)
    option = page.get_by_role("option").filter(has_text=re.compile(rf"^{re.escape(name)}( |$)"))
    option.first.wait_for(timeout=300_000)
    return option.first


def picked(page, name: str) -> None:  # type: ignore[no-untyped-def]
    """Wait until the run that picking `name` started has ended: the address names it (the run
    sets ?arch=) and the page is idle. Idle alone is not enough: under load the run may start
    after the first idle check, and a quick run's "running" state may never reach the DOM
    (React applies it and the run's end together)."""
    page.wait_for_function(
        f"() => new URLSearchParams(location.search).get('arch') === {name!r} && ({IDLE})()",
        timeout=300_000,
        polling=20,
    )


def _pick(page, name: str) -> Callable[[], None]:  # type: ignore[no-untyped-def]
    def go() -> None:
        typed(page, name).click()
        picked(page, name)

    return go


def _add_step(page, title: str) -> Callable[[], None]:  # type: ignore[no-untyped-def]
    def go() -> None:
        box = page.locator("[data-testid=stSelectbox]").filter(has_text="Add a step").first
        box.locator("input").click()
        page.keyboard.type(title)
        page.keyboard.press("Enter")
        _idle(page)
        page.get_by_role("button", name="Add step").click()

    return go


def app_timings(browser, url: str, repeat: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    out: dict[str, float] = {}
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    out["first visit"] = timed(_visit(page, f"{url}/?arch=resnet18", "Block diagram"), page)
    tab = browser.new_page(viewport={"width": 1280, "height": 720})
    out["fresh tab"] = timed(_visit(tab, f"{url}/?arch=resnet18", "Block diagram"), tab)
    tab.close()
    out["first pick of resnet152"] = timed(_pick(page, "resnet152"), page)
    switches = [timed(_pick(page, n), page) for n in ("resnet18", "resnet152") * (repeat // 2)]
    out["switch between seen networks"] = statistics.median(switches)
    page.locator("[data-testid=stSidebarNav]").get_by_role("link", name="Augmentation lab").click()
    page.get_by_text("Pipeline").first.wait_for(timeout=300_000)
    _idle(page)
    out["add elastic warping"] = timed(_add_step(page, "Elastic"), page)
    steps = [timed(_add_step(page, "Mirroring"), page) for _ in range(3)]
    out["augmentation step after elastic"] = statistics.median(steps)
    page.locator("[data-testid=stSidebarNav]").get_by_role("link", name="Predict").click()
    start = time.perf_counter()
    page.get_by_text("What the network saw").first.wait_for(timeout=300_000)
    _idle(page)
    out["predict (lenet5-digits)"] = time.perf_counter() - start
    page.close()
    return out


def bare_timings(browser, url: str, repeat: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    out: dict[str, float] = {}
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    out["first visit"] = timed(_visit(page, url, "Table detail"), page)
    tab = browser.new_page(viewport={"width": 1280, "height": 720})
    out["fresh tab"] = timed(_visit(tab, url, "Table detail"), tab)
    tab.close()
    changes = [timed(_pick(page, n), page) for n in ("resnet152", "resnet18") * (repeat // 2)]
    out["widget change"] = statistics.median(changes)
    page.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=4, help="switches / steps to time")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from explorer.analysis.analysis import record_architecture
    from explorer.graph import dataflow as graph
    from explorer.graph import diagram

    rec = record_architecture("resnet18")
    svg = diagram.inline_svg(diagram.render(graph.build_graph(rec, graph.auto_depth(rec))))
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        bare = Path(tmp) / "bare_page.py"
        bare.write_text(f"SVG = {svg!r}\n" + BARE_PAGE)
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            with server(bare) as url:
                floor = bare_timings(browser, url, args.repeat)
            with server(ROOT / "components" / "asgi.py", "components.server") as url:
                app = app_timings(browser, url, args.repeat)
        finally:
            browser.close()
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print("bare Streamlit page with the same widgets (s):")
    for what, seconds in floor.items():
        print(f"  {what:34s} {seconds:6.2f}")
    print("the app (s), and × the bare page's comparable figure:")
    compare = {"first visit": "first visit", "fresh tab": "fresh tab"}
    for what, seconds in app.items():
        base = floor.get(compare.get(what, "widget change"), 0.0)
        ratio = f"{seconds / base:5.1f}×" if base else ""
        print(f"  {what:34s} {seconds:6.2f}  {ratio}")


if __name__ == "__main__":
    main()
