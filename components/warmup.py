"""Warm before the students arrive: the server opens every page once, as a browser tab would.

A class's first wave paid each page's first-visit work inside the students' tabs: imports
the page does lazily (scikit-learn and scipy for Predict: about 1 s), the analyses and
figures its caches keep, and the job worker a page starts. `warm_pages` opens a session on
this server over Streamlit's own websocket protocol for each page of components/views (with
`?warmup=1`, so that this session does not wait for the warm-up it is part of) and logs each
page's time; components/server.py runs it after the imports, and the pages of real tabs wait
for it (`components.server.wait_until_warm`). The same messages serve the classroom load
benchmark (benchmarks/classroom_load.py).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TextIO

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

VIEWS = Path(__file__).resolve().parent / "views"
WARMUP_QUERY = "warmup=1"


def page_names() -> list[str]:
    """The pages' URL names: Streamlit names an st.Page("views/x.py") by its file, `x`."""
    return sorted(p.stem for p in VIEWS.glob("*.py") if not p.name.startswith("_"))


def rerun_message(query: str, page: str, widgets: tuple[tuple[str, bool], ...] = ()) -> bytes:
    """The message a browser tab sends to run `page` (with its URL query and any buttons
    pressed, as (widget id, True))."""
    msg = BackMsg()
    msg.rerun_script.query_string = query
    msg.rerun_script.page_script_hash = ""
    msg.rerun_script.page_name = page
    for widget_id, trigger in widgets:
        state = msg.rerun_script.widget_states.widgets.add()
        state.id = widget_id
        state.trigger_value = trigger
    return msg.SerializeToString()


def open_page(
    port: int, page: str, query: str = WARMUP_QUERY, timeout: float = 300.0,
    host: str = "127.0.0.1",
) -> list[str]:  # fmt: skip
    """Run `page` once in a fresh session of the server on `host`:`port`; the exceptions
    and st.error texts it showed."""
    from websockets import Origin, Subprotocol
    from websockets.sync.client import connect

    problems: list[str] = []
    with connect(
        f"ws://{host}:{port}/_stcore/stream",
        subprotocols=[Subprotocol("streamlit")],
        origin=Origin(f"http://{host}:{port}"),
        max_size=64 * 2**20,
        open_timeout=timeout,
    ) as ws:
        ws.send(rerun_message(query, page))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            data = ws.recv(timeout=max(0.1, deadline - time.monotonic()))
            fwd = ForwardMsg()
            fwd.ParseFromString(data if isinstance(data, bytes) else data.encode())
            kind = fwd.WhichOneof("type")
            if kind == "script_finished":
                return problems
            if kind == "delta" and fwd.delta.WhichOneof("type") == "new_element":
                element = fwd.delta.new_element
                which = element.WhichOneof("type")
                if which == "exception":
                    problems.append(f"exception: {element.exception.message[:160]}")
                elif which == "alert" and element.alert.format == 1:  # ERROR
                    problems.append(f"error: {element.alert.body[:160]}")
    problems.append(f"did not finish in {timeout:.0f} s")
    return problems


def warm_pages(port: int, host: str = "127.0.0.1", log: TextIO = sys.stderr) -> float:
    """Open every page once; log each page's time (and anything it showed as an error).
    Returns the seconds it took."""
    start = time.perf_counter()
    for page in page_names():
        begun = time.perf_counter()
        try:
            problems = open_page(port, page, host=host)
        except (OSError, TimeoutError) as exc:
            problems = [f"{type(exc).__name__}: {exc}"]
        spent = time.perf_counter() - begun
        note = f" ({'; '.join(problems)})" if problems else ""
        print(f"explorer warm-up: {page} rendered in {spent:.2f} s{note}", file=log, flush=True)
    total = time.perf_counter() - start
    print(f"explorer warm-up: every page rendered in {total:.2f} s", file=log, flush=True)
    return total
