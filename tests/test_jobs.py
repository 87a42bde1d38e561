"""explorer.serving.jobs: long jobs in worker processes, shared by key, cancellable, bounded."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import torch

from explorer.core.errors import BudgetError, ExplorerError
from explorer.core.work import JobCancelled, JobError
from explorer.labs.residual_experiment import ExperimentConfig, run_experiment
from explorer.serving import jobs
from explorer.serving.jobs import JobRunner, countdown


@pytest.fixture(scope="module")
def runner() -> Iterator[JobRunner]:
    r = JobRunner(2, max_queued=3)
    yield r
    r.shutdown()


def test_identical_requests_share_one_run(runner: JobRunner) -> None:
    """Issue 15: ten identical residual requests trained ten times."""
    config = ExperimentConfig(depths=(8,), epochs=1, seed=4, train_size=128, batch_size=64)
    key = ("residual", config)
    submitted = [runner.submit(key, run_experiment, config, subscriber=f"s{i}") for i in range(10)]
    job = submitted[0]
    assert all(j is job for j in submitted) and len(job.subscribers) == 10
    assert job.wait(120) and job.state == "done"
    result = job.outcome()
    assert [e[0].label for e in job.events] == ["plain-8", "residual-8"]  # one run, 2 epochs
    assert runner.submit(key, run_experiment, config) is job  # kept for the next visitor
    # The worker uses one thread in its own process: same numbers as here at one thread.
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        here = run_experiment(config)
    finally:
        torch.set_num_threads(threads)
    assert [r.to_dict() | {"seconds": 0} for r in result.runs] == [
        r.to_dict() | {"seconds": 0} for r in here.runs
    ]


def test_cancel_stops_only_when_nobody_waits(runner: JobRunner) -> None:
    a = runner.submit("wait", countdown, 30.0, subscriber="a")
    runner.submit("wait", countdown, 30.0, subscriber="b")
    time.sleep(1.0)
    runner.cancel("wait", "a")
    assert not a.wait(1.0) and not a.cancel_requested  # b still waits for it
    runner.cancel("wait", "b")
    assert a.wait(15) and a.state == "cancelled"
    assert a.result < 30.0 / 0.05 and runner.get("wait") is None  # forgotten: next one starts anew
    again = runner.submit("wait", countdown, 0.2)
    assert again is not a and again.wait(30) and again.outcome() >= 1


def test_a_job_that_raises_cancelled_ends_cancelled_not_failed(runner: JobRunner) -> None:
    job = runner.submit("raises", countdown, 30.0, raise_cancelled=True)
    time.sleep(0.5)
    runner.cancel("raises")
    assert job.wait(20) and job.state == "cancelled"
    assert job.outcome() is None  # as a job that returns None at its next report
    assert runner.get("raises") is None  # forgotten, like any cancelled run


def test_a_job_that_ignores_cancel_is_stopped(
    runner: JobRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jobs, "CANCEL_GRACE_S", 0.5)
    job = runner.submit("stubborn", countdown, 60.0, ignore_cancel=True)
    time.sleep(1.0)
    runner.cancel("stubborn")
    assert job.wait(20) and job.state == "cancelled"
    with pytest.raises(JobCancelled):
        job.outcome()
    after = runner.submit("after", countdown, 0.1)  # a fresh worker took its place
    assert after.wait(60) and after.state == "done"


def test_errors_come_back_as_one_clear_error(runner: JobRunner) -> None:
    bad = runner.submit("bad", run_experiment, "not a config")
    assert bad.wait(60) and bad.state == "failed"
    with pytest.raises(JobError, match="The job failed: AttributeError"):
        bad.outcome()
    assert runner.get("bad") is None
    clear = runner.submit("clear", run_experiment, None, depths=(12,))
    assert clear.wait(60)
    with pytest.raises(ExplorerError, match="Depth 12 is not of the form 6n\\+2"):
        clear.outcome()


def test_the_queue_is_bounded() -> None:
    small = JobRunner(1, max_queued=2)
    try:
        small.submit("running", countdown, 5.0)
        time.sleep(0.5)  # let the worker thread take it off the queue
        small.submit("q1", countdown, 0.1)
        small.submit("q2", countdown, 0.1)
        with pytest.raises(BudgetError) as caught:
            small.submit("q3", countdown, 0.1)
        assert str(caught.value) == (
            "2 jobs are already waiting for a worker; the limit is 2. Try again in a minute."
        )
        assert small.submit("q1", countdown, 0.1) is small.get("q1")  # joining is not queueing
    finally:
        small.shutdown()


def test_default_workers_leave_a_core_for_the_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(jobs.WORKERS_ENV, raising=False)
    monkeypatch.setattr(jobs.os, "cpu_count", lambda: 16)
    assert jobs.default_workers() == 15
    monkeypatch.setattr(jobs.os, "cpu_count", lambda: 1)
    assert jobs.default_workers() == 1
    monkeypatch.setenv(jobs.WORKERS_ENV, "4")
    assert jobs.default_workers() == 4


def test_a_reply_the_server_cannot_rebuild_fails_that_job_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The realistic case: the code on disk changed while the server ran, so a replacement
    worker's reply names a class the server does not have (AttributeError, not
    UnpicklingError). Before, the thread that feeds the worker died: the job stayed "running"
    and every later job waited for ever."""
    real = jobs.load_reply
    failures = iter([AttributeError("module 'explorer.core.records' has no attribute 'Newer'")])

    def reads_once_wrong(data: bytes) -> object:
        error = next(failures, None)
        if error is not None:
            raise error
        return real(data)

    monkeypatch.setattr(jobs, "load_reply", reads_once_wrong)
    one = JobRunner(1, threads=1)
    try:
        broken = one.submit("reply", countdown, 0.1)
        assert broken.wait(60) and broken.state == "failed"
        with pytest.raises(JobError, match=r"reply could not be read.*AttributeError"):
            broken.outcome()
        after = one.submit("after", countdown, 0.1)  # the same runner, a fresh worker
        assert after.wait(60) and after.state == "done" and after.outcome() >= 1
    finally:
        one.shutdown()


def test_a_job_nobody_asks_for_any_more_is_cancelled() -> None:
    """Issue 24: a student started the largest residual run and closed the tab; the job kept
    the only worker busy. A page touches the job at every poll; when every subscriber stopped
    asking `abandon_s` ago, the run stops (running or still queued)."""
    one = JobRunner(1, threads=1, abandon_s=1.0)
    try:
        kept = one.submit("kept", countdown, 3.0, subscriber="a")
        queued = one.submit("queued", countdown, 30.0, subscriber="b")
        end = time.monotonic() + 60
        while not kept.done and time.monotonic() < end:  # "a" watches its job; "b" has left
            one.touch("kept", "a")
            time.sleep(0.1)
        assert kept.state == "done" and kept.outcome() >= 40
        assert queued.wait(30) and queued.state == "cancelled"
        left = one.submit("left", countdown, 30.0, subscriber="c")
        assert left.wait(15) and left.state == "cancelled"
        assert left.finished is not None and left.finished - left.submitted < 10
        script = one.submit("script", countdown, 1.5)  # no page: the caller itself waits
        assert script.wait(30) and script.state == "done"
    finally:
        one.shutdown()


def test_one_session_runs_one_job_at_a_time_and_holds_a_small_queue() -> None:
    two = JobRunner(2, threads=1, per_session=2)
    try:
        first = two.submit("a1", countdown, 30.0, subscriber="a")
        second = two.submit("a2", countdown, 0.1, subscriber="a")
        with pytest.raises(BudgetError, match=r"You already have 2 jobs running or waiting"):
            two.submit("a3", countdown, 0.1, subscriber="a")
        other = two.submit("b1", countdown, 0.1, subscriber="b")  # a's second job waits; b's runs
        assert other.wait(30) and other.state == "done"
        assert first.state == "running" and second.state == "queued"
        two.cancel("a1", "a")
        assert second.wait(30) and second.state == "done"
    finally:
        two.shutdown()


def test_a_short_job_does_not_wait_behind_a_long_one() -> None:
    """Issue 24: a ten-crop (about 1.3 s of work) waited 279 s behind a residual run on the only
    worker. A short-lane worker takes short jobs while the pool is busy."""
    one = JobRunner(1, threads=1)
    try:
        long = one.submit("long", countdown, 60.0, subscriber="a")
        time.sleep(0.5)
        short = one.submit("short", countdown, 0.2, subscriber="b", lane="short")
        queued_long = one.submit("long2", countdown, 0.2, subscriber="c")
        assert short.wait(60) and short.state == "done"
        assert long.state == "running" and queued_long.state == "queued"  # long jobs still wait
        with pytest.raises(ValueError, match="lane"):
            one.submit("x", countdown, 0.1, lane="medium")
    finally:
        one.shutdown()


def _short_behind_long(long_yields_s: float) -> tuple[float, float]:
    """A long job runs; the short lane is busy; a second long job queues, then a short one.
    When the first long job ends: (when the second long job started, when the short did)."""
    one = JobRunner(1, threads=1, long_yields_s=long_yields_s)
    try:
        first = one.submit("long1", countdown, 1.5, subscriber="a")
        time.sleep(0.3)
        busy_lane = one.submit("s0", countdown, 2.5, subscriber="b", lane="short")
        later_long = one.submit("long2", countdown, 0.2, subscriber="c")
        short = one.submit("s1", countdown, 0.2, subscriber="d", lane="short")
        assert all(j.wait(60) for j in (first, busy_lane, later_long, short))
        assert later_long.started is not None and short.started is not None
        return later_long.started, short.started
    finally:
        one.shutdown()


def test_a_free_worker_takes_short_jobs_first_but_a_long_one_never_starves() -> None:
    """Issue 24's heavy classroom: 21 ten-crops and Look insides arrived in one second and
    queued for the short-lane worker alone (median 20.6 s) while the pool worker went from one
    training to the next. A free pool worker now takes waiting short jobs first, unless the
    oldest long job has waited `long_yields_s`."""
    long_started, short_started = _short_behind_long(30.0)
    assert short_started < long_started  # queued after the long job, run before it
    long_started, short_started = _short_behind_long(0.5)
    assert long_started < short_started  # the long job had waited its turn: first come
