"""Downloading torchvision weights into the hub cache, and checking cached files.

Safe for a classroom: a lock file makes sessions and processes share one download, which is
torch.hub's own `download_url_to_file` (a temporary `.partial` file that replaces the target
only once complete and hash-checked); a cached file's SHA-256 prefix (in its name) is checked
once per process before it is used, and a corrupt one is removed so that the next download
replaces it. The app runs a download as a job (explorer.serving.inside_jobs.download_job):
its progress is shown and Cancel ends it.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import re
import socket
import threading
import urllib.error
import urllib.parse
from collections.abc import Callable
from pathlib import Path

import torch.hub

from explorer.core.errors import WeightsError
from explorer.core.safe_io import file_lock
from explorer.core.units import MiB
from explorer.weights.records import WeightsInfo

Progress = Callable[[int, int], None]  # bytes done, bytes total (0 when unknown)
_HASH_IN_NAME = re.compile(r"-([a-f0-9]+)\.")


def needed_message(info: WeightsInfo) -> str:
    return (
        f"The weights file {info.filename} (~{info.size_text}) for {info.architecture} is "
        f"not on this machine. Download it from {info.url} and put it at {info.path} "
        f"(or run `explorer weights {info.architecture} --download {info.name}` with a network)."
    )


def download(info: WeightsInfo, progress: Progress | None = None, poll_s: float = 0.25) -> Path:
    """Fetch `info`'s file into the hub cache with `torch.hub.download_url_to_file`, which
    checks the SHA-256 prefix in its name and moves its `.partial` file into place only once
    complete and checked.

    Safe to call from several sessions or processes at once: a lock file makes them take turns
    (the second finds the file done). `progress(done, total)` hears the bytes written so far
    every `poll_s` seconds (torch.hub only draws a terminal bar): a watcher thread reads the
    size of torch.hub's `.partial` file. Stopping: a job worker that is ended mid-way
    (explorer.serving.jobs cancels that way) leaves a `.partial` file, removed by the next
    download under the same lock.
    """
    if info.cached:
        return info.path
    if not info.url:
        raise WeightsError(f"{info.name} cannot be downloaded; it should be at {info.path}.")
    info.path.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(info.path):
        if info.cached:  # another session finished it while we waited
            return info.path
        for stale in _partials(info.path):  # a download stopped mid-way (its worker ended)
            stale.unlink(missing_ok=True)
        total = round(info.size_mb * MiB)
        match = _HASH_IN_NAME.search(info.filename)
        stop = threading.Event()
        watcher = None
        if progress is not None:
            watcher = threading.Thread(
                target=_watch, args=(info.path, total, progress, stop, poll_s), daemon=True
            )
            watcher.start()
        try:
            torch.hub.download_url_to_file(
                info.url, str(info.path), hash_prefix=match.group(1) if match else None,
                progress=False,
            )  # fmt: skip
        except RuntimeError as exc:
            if "invalid hash value" not in str(exc):
                raise
            raise WeightsError(
                f"The downloaded {info.filename} is corrupt: its SHA-256 does not start with "
                f"{match.group(1) if match else '?'}. Try again."
            ) from None
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            raise WeightsError(f"{_why_failed(info, exc)} {needed_message(info)}") from None
        finally:
            stop.set()
            if watcher is not None:
                watcher.join()
        _mark_verified(info.path)
    if progress is not None:
        size = info.path.stat().st_size
        progress(size, size)
    return info.path


def _partials(path: Path) -> list[Path]:
    """torch.hub's temporary files for `path` (`<name>.<hex>.partial`, beside it)."""
    return list(path.parent.glob(f"{glob.escape(path.name)}.*.partial"))


def _watch(
    path: Path, total: int, progress: Progress, stop: threading.Event, poll_s: float
) -> None:
    """Report the size of the download's `.partial` file until `stop` is set. Never less than
    already reported: once torch.hub has moved the file into place (before `stop` is set) no
    `.partial` file is left, and the bar must not fall back to 0 just before it is full."""
    reported = 0
    while not stop.wait(poll_s):
        done = 0
        for partial in _partials(path):
            with contextlib.suppress(FileNotFoundError):  # moved into place meanwhile
                done += partial.stat().st_size
        reported = max(reported, done)
        progress(reported, max(total, reported))


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
