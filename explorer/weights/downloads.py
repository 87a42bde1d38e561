"""Downloading torchvision weights into the hub cache, and checking cached files.

Safe for a classroom: a lock file makes sessions and processes share one download; the data
goes to a temporary file that replaces the target only once complete and hash-checked
(explorer.core.safe_io); a cached file's SHA-256 prefix (in its name) is checked once per process
before it is used, and a corrupt one is removed so that the next download replaces it.
"""

from __future__ import annotations

import hashlib
import re
import socket
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

from explorer.core.errors import WeightsError
from explorer.core.safe_io import atomic_open, file_lock
from explorer.weights.records import WeightsInfo

Progress = Callable[[int, int], None]  # bytes done, bytes total (0 when unknown)
_HASH_IN_NAME = re.compile(r"-([a-f0-9]+)\.")


def needed_message(info: WeightsInfo) -> str:
    return (
        f"The weights file {info.filename} (~{info.size_text}) for {info.architecture} is "
        f"not on this machine. Download it from {info.url} and put it at {info.path} "
        f"(or run `explorer weights {info.architecture} --download {info.name}` with a network)."
    )


def download(info: WeightsInfo, progress: Progress | None = None, chunk: int = 1 << 20) -> Path:
    """Fetch `info`'s file into the hub cache, checking the SHA-256 prefix in its name.

    Safe to call from several sessions or processes at once: a lock file makes them take turns
    (the second finds the file done), and the data goes to a temporary file that replaces the
    target only once complete and hash-checked, so a download stopped mid-way leaves nothing
    that looks cached.
    """
    if info.cached:
        return info.path
    if not info.url:
        raise WeightsError(f"{info.name} cannot be downloaded; it should be at {info.path}.")
    info.path.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(info.path):
        if info.cached:  # another session finished it while we waited
            return info.path
        try:
            with urllib.request.urlopen(info.url, timeout=30) as response, atomic_open(
                info.path
            ) as out:
                total = int(response.headers.get("Content-Length") or 0)
                digest = hashlib.sha256()
                done = 0
                while block := response.read(chunk):
                    out.write(block)
                    digest.update(block)
                    done += len(block)
                    if progress is not None:
                        progress(done, total)
                _check_digest(info, digest.hexdigest())  # raising here removes the temp file
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            raise WeightsError(f"{_why_failed(info, exc)} {needed_message(info)}") from None
        _mark_verified(info.path)
    return info.path


def _why_failed(info: WeightsInfo, exc: BaseException) -> str:
    """The download failure in words: no raw "[Errno -2]" in front of a student."""
    host = urllib.parse.urlsplit(info.url).hostname or info.url
    reason = getattr(exc, "reason", exc)
    if isinstance(reason, socket.gaierror):
        return f"This server cannot reach {host} (no internet connection: the name is unknown)."
    if isinstance(reason, ConnectionError):
        return f"This server cannot reach {host} (the connection was refused or cut)."
    if isinstance(reason, TimeoutError | socket.timeout):
        return f"{host} did not answer within 30 s."
    if isinstance(exc, urllib.error.HTTPError):
        return f"{host} answered HTTP {exc.code} ({exc.reason})."
    if isinstance(exc, OSError) and exc.strerror:
        return f"The download could not be saved: {exc.strerror.lower()}."
    return f"The download failed: {reason}."


def _check_digest(info: WeightsInfo, hexdigest: str) -> None:
    match = _HASH_IN_NAME.search(info.filename)
    if match and not hexdigest.startswith(match.group(1)):
        raise WeightsError(
            f"The downloaded {info.filename} is corrupt: its SHA-256 starts with "
            f"{hexdigest[: len(match.group(1))]}, not {match.group(1)}. Try again."
        )


# Files whose hash was checked in this process, by (path, size, modification time).
_VERIFIED: set[tuple[str, int, int]] = set()
_VERIFIED_LOCK = threading.Lock()


def _stamp(path: Path) -> tuple[str, int, int]:
    stat = path.stat()
    return (str(path), stat.st_size, stat.st_mtime_ns)


def _mark_verified(path: Path) -> None:
    with _VERIFIED_LOCK:
        _VERIFIED.add(_stamp(path))


def verify_cached(info: WeightsInfo) -> Path:
    """The cached file, its SHA-256 prefix checked once per process before it is used; a
    corrupt file is removed (so the next download replaces it) and refused."""
    if info.source != "torchvision" or not _HASH_IN_NAME.search(info.filename):
        return info.path
    with _VERIFIED_LOCK:
        if _stamp(info.path) in _VERIFIED:
            return info.path
    with file_lock(info.path):
        digest = hashlib.sha256()
        with info.path.open("rb") as file:
            while block := file.read(1 << 20):
                digest.update(block)
        try:
            _check_digest(info, digest.hexdigest())
        except WeightsError:
            info.path.unlink(missing_ok=True)
            raise WeightsError(
                f"The cached {info.filename} was corrupt (its SHA-256 does not match its name) "
                f"and has been removed. {needed_message(info)}"
            ) from None
    _mark_verified(info.path)
    return info.path
