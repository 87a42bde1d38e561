"""The web server `explorer app` runs: Streamlit's own app for components/app.py (`st.App`),
with one middleware that tells the browser where the server is.

Opened by a page's URL (`/look_inside`), Streamlit's frontend does not know its base path,
so it asks `/look_inside/_stcore/health` and `/look_inside/_stcore/host-config` first and
falls back to `/`: two 404s in every student's console. The frontend skips that guess when
the page sets `window.__streamlit.BACKEND_BASE_URL` before its script loads (the setting
meant for hosts that embed Streamlit); `BackendBase` writes it into every HTML page the
server sends, from `server.baseUrlPath` (what an administrator sets behind a proxy that
serves the app under a path).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import streamlit as st
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from streamlit import config


def base_url_script(base_path: str) -> bytes:
    """The tag that sets the frontend's server address: this page's origin and base path."""
    path = "/" + "/".join(part for part in base_path.split("/") if part)
    where = json.dumps(path.rstrip("/") + "/")
    return (
        "<script>window.__streamlit=Object.assign(window.__streamlit||{},"
        f"{{BACKEND_BASE_URL:window.location.origin+{where}}})</script>"
    ).encode()


class BackendBase:
    """ASGI middleware: HTML answers get `base_url_script` as the first thing in <head>."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "GET":
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        body: list[bytes] = []

        async def send_page(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start" and start is None:
                headers = dict(message.get("headers", []))
                if headers.get(b"content-type", b"").startswith(b"text/html"):
                    start = message  # held until the whole page is here
                    return
            if start is None or message["type"] != "http.response.body":
                await send(message)
                return
            body.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            await send_with_script(start, b"".join(body), send)

        await self.app(scope, receive, send_page)


async def send_with_script(start: Message, page: bytes, send: Send) -> None:
    headers = dict(start.get("headers", []))
    if headers.get(b"content-encoding") == b"gzip":
        page = gzip.decompress(page)
    script = base_url_script(str(config.get_option("server.baseUrlPath") or ""))
    page = page.replace(b"<head>", b"<head>" + script, 1)
    kept = [(k, v) for k, v in start.get("headers", [])
            if k not in (b"content-length", b"content-encoding", b"etag")]  # fmt: skip
    kept.append((b"content-length", str(len(page)).encode()))
    await send({**start, "headers": kept})
    await send({"type": "http.response.body", "body": page, "more_body": False})


app = st.App(Path(__file__).with_name("app.py"), middleware=[Middleware(BackendBase)])
