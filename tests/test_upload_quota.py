"""Uploads are refused by count and bytes as they arrive, before they are stored (issue 24
item 3): a real server, real websocket sessions, real HTTP uploads to Streamlit's endpoint."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from typing import Any

import pytest
import requests
from load_client import ROOT, connect, load_client
from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager
from streamlit.runtime.uploaded_file_manager import UploadedFileRec

from components.upload_quota import QuotaUploadedFileManager
from explorer.core import limits
from explorer.core.ledger import LEDGER


def test_the_quota_counts_one_store_per_session_and_all_together() -> None:
    """The quota subclass over Streamlit's own store (no server): what is refused is not
    stored, a replaced file is counted once, and a session's end frees its share."""
    store = MemoryUploadedFileManager("/_stcore/upload_file")
    store.__class__ = QuotaUploadedFileManager
    quota: Any = store
    quota.max_files, quota.max_session_bytes, quota.max_server_bytes = 3, 100, 150

    def put(session: str, name: str, size: int) -> str | None:
        record = UploadedFileRec(name, name, "image/png", b"x" * size)
        try:
            store.add_file(session, record)
        except Exception as exc:  # starlette's HTTPException carries the reason
            return str(getattr(exc, "detail", exc))
        return None

    assert put("a", "1", 40) is None and put("a", "2", 40) is None
    assert put("a", "1", 50) is None  # the same file again: replaced, not added
    assert "would reach 110 bytes; the limit is 100 bytes" in (put("a", "3", 20) or "")
    assert put("a", "3", 10) is None
    assert "already holds 3 uploaded files; the limit is 3" in (put("a", "4", 1) or "")
    assert put("b", "1", 49) is None
    everyone = "holds 149 bytes of uploads from every tab; the limit is 150 bytes"
    assert everyone in (put("b", "2", 2) or "")
    assert sorted(store.file_storage) == ["a", "b"] and len(store.file_storage["a"]) == 3
    held = LEDGER.held
    store.remove_session_files("a")  # the session ended: its bytes leave the ledger too
    assert LEDGER.held == held - 100
    assert put("b", "2", 2) is None
    store.remove_file("b", "2")
    assert LEDGER.held == held - 100  # and a deleted file's


async def _session(port: int, client: Any) -> tuple[Any, str]:
    ws = await connect(port)
    await ws.send(client._rerun("", "custom_network"))
    found = await client._until_finished(ws, client.Result("custom_network", ""))
    return ws, found["session_id"]


def _upload(port: int, session_id: str, size: int) -> requests.Response:
    url = f"http://127.0.0.1:{port}/_stcore/upload_file/{session_id}/{uuid.uuid4()}"
    return requests.put(url, files={"file": ("p.png", b"\0" * size, "image/png")}, timeout=60)


def test_a_real_server_refuses_uploads_over_a_sessions_share() -> None:
    client = load_client()
    port = client.free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "components.server", "run", "components/asgi.py",
         "--server.address", "127.0.0.1", "--server.port", str(port), "--server.headless",
         "true", "--browser.gatherUsageStats", "false",
         "--server.enableXsrfProtection", "false"],  # this client sends no XSRF cookie
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip

    async def scenario() -> None:
        first, first_id = await _session(port, client)
        second, second_id = await _session(port, client)
        try:
            count = limits.SESSION_UPLOADS_MAX_FILES
            codes = [_upload(port, first_id, 10).status_code for _ in range(count)]
            assert codes == [204] * count
            refused = _upload(port, first_id, 10)
            assert refused.status_code == 413
            assert f"the limit is {count}" in refused.text
            assert _upload(port, second_id, 10).status_code == 204  # another tab is not refused
            size = 19 * 2**20  # under the 20 MB a single file may have
            fits = (limits.SESSION_UPLOADS_MAX_BYTES - 10) // size
            assert all(_upload(port, second_id, size).status_code == 204 for _ in range(fits))
            over = _upload(port, second_id, size)
            assert over.status_code == 413 and "This tab's uploads would reach" in over.text
        finally:
            await first.close()
            await second.close()

    try:
        assert client.wait_healthy(server, port)
        asyncio.run(scenario())
    finally:
        server.terminate()
        _, err = server.communicate(timeout=60)
    assert b"Traceback" not in err, err.decode()[-2000:]


@pytest.mark.parametrize("name", ["file_storage", "_lock", "_total_bytes"])
def test_the_store_this_relies_on_is_still_streamlits(name: str) -> None:
    """Pinned to the installed Streamlit: if its upload store changes, this fails (and
    upload_quota.install refuses to start the server) instead of the quota silently lapsing."""
    assert hasattr(MemoryUploadedFileManager("/_stcore/upload_file"), name)


def test_the_files_of_sessions_the_server_no_longer_has_are_forgotten() -> None:
    """Streamlit drops a disconnected session from its TTL cache without shutting it down,
    so its uploads stayed in memory for good; the sweep removes them (and their ledger
    share) once the server no longer knows the session."""
    store = MemoryUploadedFileManager("/_stcore/upload_file")
    store.__class__ = QuotaUploadedFileManager
    quota: Any = store
    held = LEDGER.held
    for session in ("kept", "ended"):
        for name in ("1", "2"):
            store.add_file(session, UploadedFileRec(name, name, "image/png", b"x" * 1000))
    assert LEDGER.held == held + 4000
    assert quota.forget_ended_sessions(lambda session: session == "kept") == ["ended"]
    assert sorted(store.file_storage) == ["kept"] and LEDGER.held == held + 2000
    assert quota.forget_ended_sessions(lambda session: True) == []
    store.remove_session_files("kept")
    assert LEDGER.held == held


def test_the_session_manager_the_sweep_asks_is_still_streamlits() -> None:
    """Pinned: the sweep asks Streamlit's session manager whether a session still exists."""
    from streamlit.runtime.session_manager import SessionManager

    assert callable(getattr(SessionManager, "get_session_info", None))
