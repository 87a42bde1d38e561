"""Uploads are counted as they arrive: a session's files and bytes, and all sessions' bytes,
are checked before a file is stored, not after a page has read it.

Streamlit keeps every uploaded file in memory in one `MemoryUploadedFileManager` per server
and checks only each file's size (`server.maxUploadSize`). One student could store 150 files
of 19 MB (+5.8 GB) before the Transfer page said "the limit is 60". Streamlit offers no
setting for a per-session or total quota, and the manager its server builds cannot be chosen
from outside, so `install` gives that one manager object a subclass that refuses a file over
the quota (HTTP 413 with the reason, shown beside the file in the uploader). The subclass
only adds a check before Streamlit's own `add_file` and keeps each stored file's bytes in
the process's memory ledger (explorer.core.ledger) until Streamlit removes it (the file is
replaced or deleted, or its session ends); nothing else changes, and nothing outside this
server's manager is touched. `install` fails loudly when the installed Streamlit no
longer has the manager this relies on (tests/test_upload_quota.py checks it).

Files of ended sessions are forgotten. Streamlit keeps a closed tab's session for
`server.disconnectedSessionTTL` seconds so that it can reconnect, in a TTL cache that drops
it silently when the time is up: the session is never shut down (streamlit/streamlit#12506;
#12521 proposed a fix, and the installed 1.67 still uses a plain TTLCache), so its uploaded
files were never removed (benchmarks/upload_memory.py: +1,096 MiB after three
tabs' uploads, kept for good). A background thread started by `install` looks every
`SWEEP_S` seconds for stored files whose session the server no longer knows (neither
connected nor kept for reconnecting) and removes them, as Streamlit's own shutdown would.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from starlette.exceptions import HTTPException
from streamlit import runtime
from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager
from streamlit.runtime.uploaded_file_manager import UploadedFileRec

from explorer.core import limits
from explorer.core.errors import BudgetError
from explorer.core.ledger import LEDGER, Reservation
from explorer.core.units import format_bytes

_installed = threading.Lock()
_LOG = logging.getLogger(__name__)


class QuotaUploadedFileManager(MemoryUploadedFileManager):
    """Streamlit's in-memory upload store with a check before each file is stored."""

    max_files = limits.SESSION_UPLOADS_MAX_FILES
    max_session_bytes = limits.SESSION_UPLOADS_MAX_BYTES
    max_server_bytes = limits.SERVER_UPLOADS_MAX_BYTES

    def refusal(self, session_id: str, file: UploadedFileRec) -> str | None:
        """Why `file` may not be stored for `session_id` (None: it may)."""
        with self._lock:
            mine = self.file_storage.get(session_id, {})
            replaced = mine.get(file.file_id)
            files = len(mine) + (replaced is None)
            session_bytes = sum(len(f.data) for f in mine.values()) + len(file.data)
            server_bytes = self._total_bytes + len(file.data)
            if replaced is not None:
                session_bytes -= len(replaced.data)
                server_bytes -= len(replaced.data)
        if files > self.max_files:
            return (
                f"This tab already holds {files - 1} uploaded files; the limit is "
                f"{self.max_files}. Remove some first."
            )
        if session_bytes > self.max_session_bytes:
            return (
                f"This tab's uploads would reach {format_bytes(session_bytes)}; the limit is "
                f"{format_bytes(self.max_session_bytes)}. Remove some first, or use smaller "
                "pictures."
            )
        if server_bytes > self.max_server_bytes:
            return (
                f"The server holds {format_bytes(self._total_bytes)} of uploads from every "
                f"tab; the limit is {format_bytes(self.max_server_bytes)}. Try again in a "
                "few minutes."
            )
        return None

    def _reservations(self) -> dict[tuple[str, str], Reservation]:
        """Each stored file's bytes in the process's memory ledger (explorer.core.ledger)."""
        held: dict[tuple[str, str], Reservation] | None = self.__dict__.get("_held_bytes")
        if held is None:
            held = self.__dict__.setdefault("_held_bytes", {})
        return held

    def add_file(self, session_id: str, file: UploadedFileRec) -> None:
        why = self.refusal(session_id, file)
        if why is not None:
            raise HTTPException(status_code=413, detail=why)
        try:
            held = LEDGER.reserve(len(file.data), "this upload", wait_s=0)
        except BudgetError as exc:
            raise HTTPException(status_code=413, detail=str(exc)) from None
        super().add_file(session_id, file)
        with self._lock:
            old = self._reservations().pop((session_id, file.file_id), None)
            self._reservations()[(session_id, file.file_id)] = held
        if old is not None:
            old.release()

    def remove_file(self, session_id: str, file_id: str) -> None:
        super().remove_file(session_id, file_id)
        with self._lock:
            held = self._reservations().pop((session_id, file_id), None)
        if held is not None:
            held.release()

    def remove_session_files(self, session_id: str) -> None:
        super().remove_session_files(session_id)
        with self._lock:
            mine = [k for k in self._reservations() if k[0] == session_id]
            released = [self._reservations().pop(k) for k in mine]
        for held in released:
            held.release()

    def forget_ended_sessions(self, known: Callable[[str], bool]) -> list[str]:
        """Remove the files of every session for which `known(session_id)` is False (the
        server no longer has it); the sessions whose files went."""
        with self._lock:
            sessions = list(self.file_storage)
        ended = [session_id for session_id in sessions if not known(session_id)]
        for session_id in ended:
            self.remove_session_files(session_id)
        return ended


SWEEP_S = 10.0  # how often the files of ended sessions are looked for


def _server_knows(session_id: str) -> bool:
    """The session is connected, or kept for reconnecting (Streamlit's session manager)."""
    if not runtime.exists():
        return True
    manager = runtime.get_instance()._session_mgr
    return manager.get_session_info(session_id) is not None


def _sweep(manager: QuotaUploadedFileManager) -> None:
    while True:
        time.sleep(SWEEP_S)
        try:
            manager.forget_ended_sessions(_server_knows)
        except Exception:  # a sweep that failed is tried again next time
            _LOG.exception("explorer: forgetting the uploads of ended sessions failed")


def install() -> bool:
    """Give the running server's upload store the quota (once; True when it is in place).
    Nothing to do without a Streamlit server (a script) or under AppTest (a stand-in store).
    Raises RuntimeError when the installed Streamlit keeps uploads some other way: this
    module must then be updated."""
    if not runtime.exists():
        return False
    manager = runtime.get_instance().uploaded_file_mgr
    if not type(manager).__module__.startswith("streamlit."):  # AppTest's stand-in (a mock)
        return False
    with _installed:
        if type(manager) is QuotaUploadedFileManager:
            return True
        sessions = getattr(runtime.get_instance(), "_session_mgr", None)
        if (
            type(manager) is not MemoryUploadedFileManager
            or not all(hasattr(manager, n) for n in ("file_storage", "_lock", "_total_bytes"))
            or not callable(getattr(sessions, "get_session_info", None))
        ):
            raise RuntimeError(
                f"Streamlit's upload store is {type(manager).__qualname__}, not the "
                "MemoryUploadedFileManager components/upload_quota.py was written for (or "
                "its session manager has no get_session_info); update it before serving a "
                "class."
            )
        manager.__class__ = QuotaUploadedFileManager
        threading.Thread(
            target=_sweep, args=(manager,), name="explorer-upload-sweep", daemon=True
        ).start()
    return True
