"""components/asgi.py: every HTML page the server sends tells Streamlit's frontend where the
server is, so a page opened by its URL does not probe /<page>/_stcore/health (issue 21)."""

from __future__ import annotations

import asyncio
import gzip
from typing import Any

from components.asgi import BackendBase, base_url_script

PAGE = b"<!DOCTYPE html><html><head><title>x</title></head><body></body></html>"


def _serve(body: bytes, headers: list[tuple[bytes, bytes]], parts: int = 1,
           method: str = "GET") -> tuple[dict[str, Any], bytes]:  # fmt: skip
    """One request through BackendBase in front of an ASGI app that answers `body`."""

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        step = max(1, len(body) // parts)
        chunks = [body[i : i + step] for i in range(0, len(body), step)]
        for i, chunk in enumerate(chunks):
            await send({"type": "http.response.body", "body": chunk,
                        "more_body": i < len(chunks) - 1})  # fmt: skip

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    scope = {"type": "http", "method": method, "path": "/inside", "headers": []}
    asyncio.run(BackendBase(inner)(scope, receive, send))
    start = sent[0]
    return start, b"".join(m.get("body", b"") for m in sent[1:])


def test_the_page_gets_the_server_address_first_in_its_head() -> None:
    html = [(b"content-type", b"text/html; charset=utf-8"), (b"content-length", b"71")]
    start, body = _serve(PAGE, html, parts=3)
    assert body.startswith(b"<!DOCTYPE html><html><head><script>window.__streamlit=")
    assert b"BACKEND_BASE_URL:window.location.origin+\"/\"" in body
    assert dict(start["headers"])[b"content-length"] == str(len(body)).encode()


def test_a_compressed_page_is_sent_whole_and_plain() -> None:
    html = [(b"content-type", b"text/html"), (b"content-encoding", b"gzip")]
    start, body = _serve(gzip.compress(PAGE), html, parts=4)
    assert b"content-encoding" not in dict(start["headers"])
    assert body.replace(base_url_script(""), b"") == PAGE


def test_other_answers_pass_untouched() -> None:
    script = b"console.log('<head>')"
    for headers, method in [([(b"content-type", b"text/javascript")], "GET"),
                            ([(b"content-type", b"text/html")], "POST")]:  # fmt: skip
        start, body = _serve(script, headers, parts=2, method=method)
        assert body == script and start["headers"] == headers


def test_a_base_path_behind_a_proxy_is_kept() -> None:
    for given in ("explorer", "/explorer/", "explorer//"):
        assert b'window.location.origin+"/explorer/"' in base_url_script(given)
    assert b'window.location.origin+"/a/b/"' in base_url_script("/a/b")
