"""A job worker process: `python -m explorer.serving.worker FD THREADS [MODULE…]`, started by
explorer.serving.jobs over a private socket pair. It sets its torch thread count once (this
process only), imports the modules its jobs need, then runs one job at a time, sending its
progress and its outcome back as plain data (explorer.serving.replies)."""

from __future__ import annotations

import sys
from multiprocessing.connection import Connection
from typing import Any

from explorer.core.errors import ExplorerError
from explorer.core.gc_settings import settle_after_imports
from explorer.core.work import JobCancelled, JobError
from explorer.serving.replies import ReplyError, dump_reply, load_reply


def _portable(exc: BaseException) -> BaseException:
    """What the server raises for a job's exception: an ExplorerError as it is (or with its
    message, if it cannot be rebuilt from its reduction, as the pipe to the server must);
    anything else, a bug, as one JobError line."""
    if isinstance(exc, ExplorerError):
        try:
            load_reply(dump_reply(exc))  # what sending it needs: plain arguments, rebuildable
            return exc
        except Exception:
            return ExplorerError(str(exc))
    return JobError(f"The job failed: {type(exc).__name__}: {exc}")


def _worker_main(conn: Connection, threads: int, preload: tuple[str, ...] = ()) -> None:
    """A worker process: import `preload`, then run one job at a time until told to stop."""
    import importlib

    import torch

    torch.set_num_threads(threads)  # this worker process only, once
    for module in preload:
        importlib.import_module(module)
    settle_after_imports()  # this worker process only, once (explorer.core.gc_settings)
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        if message == "cancel":  # a late cancel of a job that already finished
            continue
        fn, args, kwargs = message
        cancelled = False

        def progress(*event: Any) -> bool:
            nonlocal cancelled
            while conn.poll():
                if conn.recv() == "cancel":
                    cancelled = True
            _reply(conn, ("progress", event))
            return not cancelled

        try:
            result = fn(*args, progress=progress, **kwargs)
        except JobCancelled:  # raised where the work heard the cancel: a cancelled run
            _reply(conn, ("done", None))
        except BaseException as exc:  # every failure goes back to the server
            _reply(conn, ("error", _portable(exc)))
        else:
            _reply(conn, ("done", result))


def _reply(conn: Connection, message: tuple[str, Any]) -> None:
    """Send `message` as plain data (explorer.serving.replies); a result that is not plain
    data fails its job with that sentence instead."""
    try:
        data = dump_reply(message)
    except ReplyError as exc:
        if message[0] == "progress":
            raise  # the job's own progress call: it fails the job like any other error
        data = dump_reply(("error", JobError(f"The job failed: {exc}.")))
    conn.send_bytes(data)


if __name__ == "__main__":  # python -m explorer.serving.worker FD THREADS [MODULE…]
    from explorer.serving.worker import _worker_main as serve  # this module's names, not __main__'s

    fd, threads, *modules = sys.argv[1:]
    serve(Connection(int(fd)), int(threads), tuple(modules))
