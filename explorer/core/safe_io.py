"""Safe files: every file the explorer writes goes through `atomic_write`/`atomic_open`.

A writer never leaves a half-written file behind and never lets two writers interleave:
the data goes to a temporary file in the same folder, is flushed and fsync'ed, then
`os.replace`d over the target (atomic on POSIX: a reader sees the old file or the new one,
never a mix). `output_path` checks a user's `-o` path before any work starts (no directory,
no missing parent folder: nothing is created that the user did not ask for). `file_lock`
makes concurrent processes and threads take turns (one download, not two). `read_bounded`
reads a file only after checking its size, and never more than the limit.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

import filelock

from explorer.core.errors import ExplorerError
from explorer.core.units import format_bytes

__all__ = [
    "OutputPathError",
    "atomic_open",
    "atomic_write",
    "atomic_write_all",
    "file_lock",
    "output_path",
    "read_bounded",
]


class OutputPathError(ExplorerError, ValueError):
    """An output path that cannot be written: a folder, a missing parent, the wrong suffix."""


def output_path(
    path: str | Path, *, suffixes: Iterable[str] = (), what: str = "output"
) -> Path:
    """The path a user asked us to write, checked before any work: OutputPathError if it is a
    folder, if its folder does not exist, or if its suffix is not one of `suffixes`."""
    target = Path(path).expanduser()
    if len(target.name.encode("utf-8", "surrogateescape")) > 255 or len(str(target)) > 4000:
        raise OutputPathError(
            f"The {what} name {target.name[:40]}… is too long ({len(target.name):,} characters); "
            "file names have at most 255 bytes."
        )
    try:
        is_folder, parent_ok = target.is_dir(), target.parent.is_dir()
    except OSError as exc:  # a name the system refuses to look up
        raise _write_error(target, exc) from None
    if str(path).endswith(("/", os.sep)) or is_folder:
        raise OutputPathError(f"The {what} {path} is a folder; give a file name.")
    parent = target.parent
    if not parent_ok:
        raise OutputPathError(
            f"The folder {parent} does not exist; create it first (the {what} is not written "
            "to a new folder on its own)."
        )
    allowed = tuple(s.lower() for s in suffixes)
    if allowed and target.suffix.lower() not in allowed:
        raise OutputPathError(
            f"The {what} {target.name} must end with {' or '.join(allowed)}."
        )
    return target


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "wb") -> Iterator[IO[bytes]]:
    """A file object writing to a temporary file next to `path`; on success it replaces `path`
    in one step, on any error it is removed and `path` is left as it was."""
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_open writes only ('wb' or 'w'), not {mode!r}")
    target = Path(path)
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise _write_error(target, exc) from None
    try:
        with os.fdopen(fd, "wb") as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temp, 0o644)  # mkstemp makes 0600; a written file gets the usual mode
        os.replace(temp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        if isinstance(exc, OSError):  # a full disk, a read-only folder, a file too large
            raise _write_error(target, exc) from None
        raise
    _fsync_dir(target.parent)


def _write_error(target: Path, exc: OSError) -> OutputPathError:
    """One sentence for a write the system refused; the old file, if any, is left as it was."""
    why = (exc.strerror or type(exc).__name__).lower()
    return OutputPathError(f"Cannot write {target.name[:80]}: {why}. Nothing was changed.")


def atomic_write(path: str | Path, data: bytes | str) -> Path:
    """Write `data` (str as UTF-8) to `path` atomically; returns the path."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    with atomic_open(path) as file:
        file.write(payload)
    return Path(path)


def atomic_write_all(files: dict[Path, bytes]) -> list[Path]:
    """Write several files as one change (weights and their metadata): every file is first
    written and fsync'ed to a temporary file beside its target, so a full disk or a refused
    write leaves every target as it was; only then are they renamed into place, and if a
    rename is refused the targets already replaced get their old contents back."""
    targets = [Path(p) for p in files]
    for target in targets:
        if target.exists() and not target.is_file():
            raise OutputPathError(f"Cannot write {target.name[:80]}: it is not a plain file.")
    temps: list[str] = []
    backups: dict[Path, str] = {}
    try:
        for target in targets:
            try:
                fd, temp = tempfile.mkstemp(
                    prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
                )
                temps.append(temp)
                with os.fdopen(fd, "wb") as file:
                    file.write(files[target])
                    file.flush()
                    os.fsync(file.fileno())
                os.chmod(temp, 0o644)
            except OSError as exc:
                raise _write_error(target, exc) from None
        for target in targets:  # old contents kept aside (a hard link: no copy) for a roll-back
            if target.exists():
                backup = f"{temps[targets.index(target)]}.old"
                with contextlib.suppress(OSError):
                    os.link(target, backup)
                    backups[target] = backup
        done: list[Path] = []
        for target, temp in zip(targets, temps, strict=True):
            try:
                os.replace(temp, target)
            except OSError as exc:
                for earlier in done:
                    with contextlib.suppress(OSError):
                        if earlier in backups:
                            os.replace(backups.pop(earlier), earlier)
                        else:
                            os.unlink(earlier)
                raise _write_error(target, exc) from None
            done.append(target)
    finally:
        for leftover in (*temps, *backups.values()):
            with contextlib.suppress(OSError):
                os.unlink(leftover)
    for folder in {t.parent for t in targets}:
        _fsync_dir(folder)
    return targets


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (best effort: not every file system allows it)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def file_lock(path: str | Path) -> filelock.FileLock:
    """An exclusive lock on `path + '.lock'`, across processes and threads (filelock's
    FileLock: an OS lock on its own open file, so two threads of one process exclude each other
    too; works on Windows as on Unix). Use as `with file_lock(path): ...`."""
    return filelock.FileLock(str(path) + ".lock")


def read_bounded(
    path: str | Path, limit: int, *, what: str = "file", error: type[ExplorerError] = ExplorerError
) -> bytes:
    """The bytes of `path`; `error` before anything is read when the file is missing or larger
    than `limit` (checked with stat), and never more than limit + 1 bytes are read."""
    source = Path(path)
    try:
        size = source.stat().st_size
    except OSError:
        raise error(f"No {what} at {source}.") from None
    if not source.is_file():
        raise error(f"{source} is not a file.")
    if size > limit:
        raise error(
            f"The {what} {source.name} is {format_bytes(size)}; the limit is {format_bytes(limit)}."
        )
    with source.open("rb") as file:
        data = file.read(limit + 1)
    if len(data) > limit:  # it grew after the stat
        raise error(f"The {what} {source.name} is over the limit of {format_bytes(limit)}.")
    return data
