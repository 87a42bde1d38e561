"""Long work run as jobs (explorer.serving.jobs) from a page: submit, show progress, offer Cancel.

A page asks `start(slot, key, fn, *args)` for a job (identical requests of all sessions share
one run; a finished one comes back at once), then `follow(job, ...)` draws a progress bar and
a Cancel button until it finishes and returns its result. Per-session state lives in
st.session_state: which job each slot of the page follows (when a setting changes, the old
job is cancelled for this session), and the keys this session cancelled (they are not
restarted until the student asks again). Progress events are (done, total[, what]).

While a page shows a job's progress it tells the runner, at every poll, that this session
still waits (`still_waiting`); once the tab is closed the wait ends, and a job nobody waits
for is cancelled by the runner (explorer.serving.jobs, `abandon_s`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Hashable
from typing import Any

import streamlit as st
from streamlit import runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

from components import cache
from components.markdown import plain
from components.scheduling import GATE
from explorer.core.errors import ExplorerError
from explorer.serving.jobs import Job

TOKEN = "jobs_token"  # session key: who is waiting (explorer.serving.jobs subscriber)
ACTIVE = "jobs_active"  # session key: slot -> the job key this session follows there
DECLINED = "jobs_declined"  # session key: job keys this session cancelled
POLL_S = 0.25


def session_token() -> str:
    if TOKEN not in st.session_state:
        st.session_state[TOKEN] = uuid.uuid4().hex
    return str(st.session_state[TOKEN])


def _declined() -> set[Hashable]:
    declined: set[Hashable] = st.session_state.setdefault(DECLINED, set())
    return declined


def _cancel(key: Hashable) -> None:
    """The Cancel button: this session stops waiting; the run stops unless another session
    waits for the same result."""
    cache.job_runner().cancel(key, session_token())
    _declined().add(key)


def retry(key: Hashable) -> None:
    """This session asks for `key` again after cancelling it."""
    _declined().discard(key)


def still_waiting(job: Job) -> None:
    """This session still waits for `job`: the runner hears it (a job nobody waits for is
    cancelled). A closed tab ends the page's run here (st.stop) instead of waiting on."""
    ctx = get_script_run_ctx()
    if ctx is not None and runtime.exists():
        connected = runtime.get_instance().is_active_session(ctx.session_id)
        if not connected:
            st.stop()
    cache.job_runner().touch(job.key, session_token())


def start(
    slot: str, key: Hashable, fn: Callable[..., Any], *args: Any, lane: str = "short",
    **kwargs: Any,
) -> Job | None:  # fmt: skip
    """The job for `key` (submitted, or the shared one already there), or None when this
    session cancelled it: then an info line and a button to run it again are shown instead.
    Budgets must be checked before this call (a BudgetError here means the queue is full, or
    this session already has its share of jobs). `lane`: "short" for a bounded number of
    forward passes, "long" for training (explorer.serving.jobs)."""
    runner = cache.job_runner()
    token = session_token()
    active: dict[str, Hashable] = st.session_state.setdefault(ACTIVE, {})
    previous = active.get(slot)
    if previous is not None and previous != key:  # a setting changed: stop waiting for the old
        old = runner.get(previous)
        if old is not None and not old.done:
            runner.cancel(previous, token)
    active[slot] = key
    if key in _declined():
        st.info("Cancelled. Change a setting, or run it again.")
        st.button("Run again", key=f"{slot}_again", on_click=retry, args=(key,))
        return None
    return runner.submit(key, fn, *args, subscriber=token, lane=lane, **kwargs)


def leave(slot: str) -> None:
    """This session no longer follows a job in `slot` (its work now runs inline): the old job
    is cancelled for this session, as when a setting changes between two jobs."""
    previous = st.session_state.get(ACTIVE, {}).pop(slot, None)
    if previous is not None:
        runner = cache.job_runner()
        old = runner.get(previous)
        if old is not None and not old.done:
            runner.cancel(previous, session_token())


def follow(job: Job, label: str, slot: str) -> Any:
    """Show `label`, a progress bar and a Cancel button until the job finishes; its result
    (explorer errors and JobCancelled are raised, for the page to show). A Cancel, or any
    other widget, reruns the page and so ends this wait; the job itself goes on."""
    if not job.done:
        cancel, bar = st.empty(), st.empty()
        cancel.button("Cancel", key=f"{slot}_cancel", on_click=_cancel, args=(job.key,))
        bar.progress(0.0, text=f"{label}: waiting for a free worker…")
        with GATE.released():  # waiting on a worker: other tabs' runs go meanwhile
            _wait(job, label, bar)
        cancel.empty()
        bar.empty()
    return job.outcome()


def _wait(job: Job, label: str, bar: Any) -> None:
    """Poll `job` until it finishes, drawing its progress in `bar`."""
    shown = -1
    while not job.wait(POLL_S):
        still_waiting(job)
        if job.state == "running" and len(job.events) != shown:
            shown = len(job.events)
            bar.progress(*_describe(label, job.events[-1] if job.events else None))


def _describe(label: str, event: tuple[Any, ...] | None) -> tuple[float, str]:
    if not event or len(event) < 2 or not event[1]:
        return 0.0, f"{label}: starting…"
    done, total, *what = event
    text = f"{label}: {done}/{total}" + (f" · {what[0]}" if what else "")
    return min(1.0, done / total), text


class Pending:
    """Jobs a page draws last, so that the rest of the page is usable while they run: `add`
    draws a finished job's result at once, or keeps a place for it; `follow` (at the end of
    the page) waits for each in its place. A page makes one per run."""

    def __init__(self) -> None:
        self._jobs: list[tuple[Job, Any, str, str, Callable[[Any], None]]] = []

    def add(self, job: Job, label: str, slot: str, show: Callable[[Any], None]) -> None:
        if job.done:
            _finish(job, label, slot, show)
        else:
            self._jobs.append((job, st.container(), label, slot, show))

    def follow(self) -> None:
        for job, where, label, slot, show in self._jobs:
            with where:
                _finish(job, label, slot, show)


def _finish(job: Job, label: str, slot: str, show: Callable[[Any], None]) -> None:
    try:
        result = follow(job, label, slot)
    except ExplorerError as exc:
        st.error(plain(str(exc)))
        return
    if result is not None:
        show(result)
