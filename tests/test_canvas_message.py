"""A crafted canvas message (issue 24 item 1: a 50,000-deep JSON value) reaches Streamlit's
own widget-state decoding before any page code runs: Streamlit's bidi-component deserializer
catches JSONDecodeError but not RecursionError, so that tab shows the error instead of its
page, and keeps failing (the value stays in that session's widget state) until the tab is
reloaded. No page code can run before that decoding, so what the explorer guarantees, and
this real-server test checks, is containment: the server and every other tab go on, and the
attacker's reloaded tab (a new session) works."""

from __future__ import annotations

import asyncio
from typing import Any

from load_client import connect, load_client
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg


async def _run(ws: Any, widgets: dict[str, str]) -> tuple[list[str], list[str]]:
    """One script run of the Look inside page: (element kinds, canvas widget ids)."""
    msg = BackMsg()
    msg.rerun_script.page_name = "inside"
    for widget_id, json_value in widgets.items():
        state = msg.rerun_script.widget_states.widgets.add()
        state.id, state.json_value = widget_id, json_value
    await ws.send(msg.SerializeToString())
    kinds, canvases = [], []
    while True:
        fwd = ForwardMsg()
        fwd.ParseFromString(await ws.recv())
        if fwd.WhichOneof("type") == "script_finished":
            return kinds, canvases
        if fwd.WhichOneof("type") == "delta" and fwd.delta.WhichOneof("type") == "new_element":
            element = fwd.delta.new_element
            kinds.append(element.WhichOneof("type"))
            if kinds[-1] == "bidi_component":
                canvases.append(element.bidi_component.id)


def test_a_deeply_nested_canvas_message_stays_in_its_own_tab() -> None:
    client = load_client()
    port = client.free_port()
    server = client.start_server(port)

    async def scenario() -> None:
        async with connect(port) as attacker, connect(port) as student:
            kinds, canvases = await _run(attacker, {})
            assert "bidi_component" in kinds and len(canvases) == 1
            deep = "[" * 50_000 + "]" * 50_000
            kinds, _ = await _run(attacker, {canvases[0]: deep})
            assert kinds == ["exception"]  # Streamlit's decoding, before the page ran
            kinds, _ = await _run(student, {})  # another tab is not touched
            assert "bidi_component" in kinds and "exception" not in kinds
        async with connect(port) as reloaded:
            kinds, _ = await _run(reloaded, {})
            assert "bidi_component" in kinds and "exception" not in kinds

    try:
        assert client.wait_healthy(server, port)
        asyncio.run(scenario())
        assert server.poll() is None  # still serving
    finally:
        server.terminate()
        server.wait(timeout=60)
