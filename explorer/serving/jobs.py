"""Long jobs (training, big predictions) run in worker processes, away from the pages.

A `JobRunner` owns a fixed number of worker processes (fresh interpreters, so they share
nothing with the server but what a job sends them) and a bounded queue. A job is a plain
function called as `fn(*args, progress=callback, **kwargs)`; the callback sends progress events
back and returns False once the job is cancelled, so a job stops at its next report: it returns
None, or raises JobCancelled from deep inside its work, which the worker reports the same way.

- Identical requests share one run: jobs are keyed, and a request for a key that is queued,
  running or finished gets that job (`submit`). Finished results are kept (least recently
  asked for go first, beyond KEEP_FINISHED of them or KEEP_FINISHED_BYTES together); failed
  and cancelled ones are forgotten so that asking again starts afresh.
- Cancelling is per subscriber: a run shared by several sessions stops only when all of them
  cancelled. A job that ignores the request is stopped by ending its worker after a grace time.
- Why processes, not threads: the residual experiment's small networks spend most of their time
  in Python, holding the GIL; in a thread they slow every page of every session
  (benchmarks/jobs_isolation.py measures it). A worker process uses its own core and its own
  interpreter, and its thread count is set once, in that process, never per request.
- What crosses the channel: the server sends the job (a function by name and its arguments,
  user data only as bytes, strings and numbers) to a child it started itself, over a private
  socket pair. What comes back is no pickle: plain data as JSON with arrays as `numpy.save`
  bytes (explorer.serving.replies), rebuilt into plain containers, numpy arrays and the
  explorer's own dataclasses, enums and errors only: a worker that decoded a hostile picture
  still cannot make the server run code or rebuild a torch tensor (jobs return numpy arrays
  or bytes).
- Scaling: one worker per core but one (the pages keep a core), at least one;
  `EXPLORER_WORKERS` overrides it. A bigger server runs more experiments at once; the queue
  bound (`MAX_QUEUED`) refuses work beyond it with a clear message instead of queueing forever.
- Fairness: a job is submitted in a lane, "long" (training) or "short" (a forward pass or a
  few: Look inside, ten-crop, ensembles). Besides the pool, one short-lane worker takes short
  jobs only, and only while every pool worker is busy, so a short job never waits behind a
  long one. A free pool worker also takes waiting short jobs first (a burst of 20 ten-crops
  and Look insides then shares every worker, not only the short lane's), unless the oldest
  long job has waited `LONG_YIELDS_S`: then first come, first served, so none starves. A
  session (a subscriber) has at most `PER_SESSION` jobs queued or running and runs one at a
  time; the others' jobs go first.
- Abandoned work stops: a page that shows a job's progress `touch`es it every poll; a job whose
  every subscriber stopped asking `abandon_s` ago (the tab closed, the student left the page)
  is cancelled, queued or running. The empty subscriber (the CLI, a script) always waits.
"""

from __future__ import annotations

import atexit
import os
import socket
import subprocess
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from multiprocessing.connection import Connection
from typing import Any

from explorer.core import limits
from explorer.core.errors import BudgetError
from explorer.core.ledger import LEDGER, Reservation
from explorer.core.work import JobCancelled, JobError
from explorer.serving.replies import load_reply

WORKERS_ENV = "EXPLORER_WORKERS"
MAX_QUEUED = limits.JOBS_MAX_QUEUED
PER_SESSION = limits.JOBS_PER_SESSION
ABANDON_S = limits.JOBS_ABANDON_S
LONG_YIELDS_S = limits.JOBS_LONG_YIELDS_S
LANES = ("long", "short")
KEEP_FINISHED = 64  # finished results kept for identical requests
KEEP_FINISHED_BYTES = 256 * 2**20  # ... and their size together (as they came over the channel)
CANCEL_GRACE_S = 10.0  # a job that ignores a cancel is stopped by ending its worker
WORKER_THREADS = 1  # torch threads in each worker process (set once, at its start)


def default_workers() -> int:
    """EXPLORER_WORKERS, or one worker per CPU core but one, at least one."""
    text = os.environ.get(WORKERS_ENV, "").strip()
    if text.isdigit() and int(text) > 0:
        return int(text)
    return max(1, (os.cpu_count() or 1) - 1)


class Job:
    """One keyed run: state, progress events so far, and the outcome once finished."""

    def __init__(self, key: Hashable, fn: Callable[..., Any], args: tuple[Any, ...],
                 kwargs: dict[str, Any], lane: str = "long") -> None:  # fmt: skip
        self.key = key
        self.lane = lane
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.state = "queued"  # queued, running, done, failed, cancelled
        self.events: list[tuple[Any, ...]] = []
        self.result: Any = None
        self.error: BaseException | None = None
        self.nbytes = 0  # the result's size on the channel (the finished-results bound)
        self.kept: Reservation | None = None  # its share of the memory ledger while kept
        self.subscribers: set[str] = set()
        self.seen: dict[str, float] = {}  # subscriber -> when it last asked for this job
        self.cancel_requested = False
        self.submitted = time.monotonic()
        self.started: float | None = None
        self.finished: float | None = None
        self._done = threading.Event()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    def outcome(self) -> Any:
        """The result; raises the job's error (or JobCancelled). Call once `done`."""
        if self.error is not None:
            raise self.error
        return self.result

    def _finish(self, state: str, result: Any = None, error: BaseException | None = None) -> None:
        self.state, self.result, self.error = state, result, error
        self.args, self.kwargs = (), {}  # an upload's bytes or pixels need not stay with it
        self.finished = time.monotonic()
        self._done.set()


def countdown(
    seconds: float,
    *,
    progress: Callable[..., bool],
    ignore_cancel: bool = False,
    raise_cancelled: bool = False,
) -> int:
    """A job that only waits, reporting every 0.05 s (tests, benchmarks): returns the number of
    reports made; stops early when cancelled, unless `ignore_cancel` (with `raise_cancelled`,
    by raising JobCancelled, as the pages' work functions do deep inside their work)."""
    reports, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(0.05)
        reports += 1
        if not progress(reports) and not ignore_cancel:
            if raise_cancelled:
                raise JobCancelled("Cancelled.")
            break
    return reports


class _Worker:
    """One worker process and the server-side thread that feeds it jobs from the queue."""

    def __init__(self, runner: JobRunner, index: int, short_lane: bool = False) -> None:
        self.runner = runner
        self.index = index
        self.short_lane = short_lane  # takes short jobs only, while the pool is busy
        self.busy = False
        self.process: Any = None
        self.conn: Connection | None = None
        self.lock = threading.Lock()
        self.thread = threading.Thread(
            target=self._serve, name=f"explorer-job-worker-{index}", daemon=True
        )

    def _ensure_process(self) -> Connection:
        with self.lock:
            return self._start_process()

    def _start_process(self) -> Connection:
        """A fresh interpreter (explorer.serving.worker) talking over a socket pair. Not
        multiprocessing's spawn: that re-imports the parent's `__main__`, which under Streamlit
        is whichever page script ran last (the child would run a page)."""
        if self.process is None or self.process.poll() is not None:
            parent, child = socket.socketpair()
            with child:
                self.process = subprocess.Popen(
                    [sys.executable, "-m", "explorer.serving.worker", str(child.fileno()),
                     str(self.runner.threads), *self.runner.preload],
                    pass_fds=(child.fileno(),),
                    stdin=subprocess.DEVNULL,
                )  # fmt: skip
            self.conn = Connection(parent.detach())
        assert self.conn is not None
        return self.conn

    def stop(self) -> None:
        with self.lock:
            if self.process is not None:
                self.process.kill()
                self.process.wait(5)
            if self.conn is not None:
                self.conn.close()
            self.process, self.conn = None, None

    def _serve(self) -> None:
        while True:
            job = self.runner._take(self)
            if job is None:
                self.stop()
                return
            try:
                if job.cancel_requested:
                    self.runner._finished(job, "cancelled", error=JobCancelled("Cancelled."))
                else:
                    self._run(job)
            except Exception as exc:
                # must outlive any one job's failure; that job fails and its worker is replaced
                self.stop()
                if job.state not in ("done", "failed", "cancelled"):
                    self.runner._finished(job, "failed", error=JobError(
                        f"The job failed: {type(exc).__name__}: {exc}."))  # fmt: skip
            finally:
                self.runner._release(self)

    def _run(self, job: Job) -> None:
        conn = self._ensure_process()
        job.state, job.started = "running", time.monotonic()
        conn.send((job.fn, job.args, job.kwargs))
        cancel_sent: float | None = None
        while True:
            if not job.cancel_requested and self.runner._abandoned(job):
                job.cancel_requested = True
            if job.cancel_requested and cancel_sent is None:
                conn.send("cancel")
                cancel_sent = time.monotonic()
            if cancel_sent is not None and time.monotonic() - cancel_sent > CANCEL_GRACE_S:
                self.stop()
                self.runner._finished(job, "cancelled", error=JobCancelled("Cancelled."))
                return
            try:
                ready = conn.poll(0.2)
                data = conn.recv_bytes() if ready else b""
                message = load_reply(data) if ready else None
            except (EOFError, OSError):
                ready, message = True, None
            except Exception as exc:
                # (refused by load_reply, a class the server's code no longer has, a broken
                # stream): this job fails alone and its worker is replaced
                self.stop()
                self.runner._finished(job, "failed", error=JobError(
                    f"The job failed: its reply could not be read ({type(exc).__name__}: "
                    f"{str(exc)[:200]})."))  # fmt: skip
                return
            if ready and message is None:  # the worker died (killed, out of memory)
                self.stop()
                self.runner._finished(job, "failed", error=JobError(
                    "The worker process running this job stopped (out of memory?); "
                    "try smaller settings."))  # fmt: skip
                return
            if message is None:
                continue
            if not (isinstance(message, tuple) and len(message) == 2):
                self.stop()
                self.runner._finished(job, "failed", error=JobError(
                    "The job failed: its worker sent something that is not a reply."))  # fmt: skip
                return
            kind, payload = message
            if kind == "progress":
                job.events.append(payload)
            elif kind == "done":
                state = "cancelled" if job.cancel_requested else "done"
                job.nbytes = len(data)
                self.runner._finished(job, state, result=payload)
                return
            else:
                self.runner._finished(job, "failed", error=payload)
                return


class JobRunner:
    """A bounded pool of worker processes with keyed, shared, cancellable jobs."""

    def __init__(
        self,
        workers: int | None = None,
        *,
        max_queued: int = MAX_QUEUED,
        keep_finished: int = KEEP_FINISHED,
        keep_bytes: int = KEEP_FINISHED_BYTES,
        threads: int = WORKER_THREADS,
        preload: tuple[str, ...] = (),
        per_session: int = PER_SESSION,
        abandon_s: float = ABANDON_S,
        long_yields_s: float = LONG_YIELDS_S,
    ) -> None:
        self.workers = workers or default_workers()
        self.max_queued = max_queued
        self.keep_finished = keep_finished
        self.keep_bytes = keep_bytes
        self.threads = threads
        self.per_session = per_session
        self.abandon_s = abandon_s
        self.long_yields_s = long_yields_s
        self._lock = threading.RLock()  # _take asks _abandoned while holding it
        self._wake = threading.Condition(self._lock)
        self._jobs: OrderedDict[Hashable, Job] = OrderedDict()
        self._waiting: list[Job] = []  # queued jobs, first come first
        self._stopping = False
        self._pool = [_Worker(self, i) for i in range(self.workers)]
        self._short = _Worker(self, self.workers, short_lane=True)  # its process starts on need
        self._started = False
        self.preload = preload
        atexit.register(self._stop_workers)  # no worker outlives the server

    def submit(
        self, key: Hashable, fn: Callable[..., Any], *args: Any, subscriber: str = "",
        lane: str = "long", **kwargs: Any,
    ) -> Job:  # fmt: skip
        """The job for `key`: the queued, running or finished one if there is one (identical
        requests share one run), else a new one running `fn(*args, progress=…, **kwargs)` in
        `lane` ("long" or "short", see the module's docstring)."""
        if lane not in LANES:
            raise ValueError(f"lane must be one of {LANES}, not {lane!r}")
        with self._lock:
            job = self._jobs.get(key)
            if job is None or job.state in ("failed", "cancelled") or job.cancel_requested:
                if len(self._waiting) >= self.max_queued:
                    raise BudgetError(
                        f"{len(self._waiting)} jobs are already waiting for a worker; the "
                        f"limit is {self.max_queued}. Try again in a minute."
                    )
                mine = [
                    j for j in self._jobs.values() if not j.done and subscriber in j.subscribers
                ]
                if subscriber and len(mine) >= self.per_session:
                    raise BudgetError(
                        f"You already have {len(mine)} jobs running or waiting; the limit is "
                        f"{self.per_session} at a time. Wait for one to finish or cancel it."
                    )
                job = Job(key, fn, args, kwargs, lane)
                self._jobs[key] = job
                self._waiting.append(job)
                self._start_threads()
                self._wake.notify_all()
            self._jobs.move_to_end(key)
            if not job.done:  # a finished job has nobody left to wait for it
                job.subscribers.add(subscriber)
                job.seen[subscriber] = time.monotonic()
            return job

    def touch(self, key: Hashable, subscriber: str = "") -> None:
        """`subscriber` still waits for the job (a page calls this at every poll)."""
        with self._lock:
            job = self._jobs.get(key)
            if job is not None and subscriber in job.subscribers:
                job.seen[subscriber] = time.monotonic()

    def _abandoned(self, job: Job) -> bool:
        """Whether every subscriber stopped asking for `job` `abandon_s` ago (the empty
        subscriber, a caller without a page, never does)."""
        with self._lock:
            if not job.subscribers or "" in job.subscribers:
                return False
            last = max(job.seen.get(s, job.submitted) for s in job.subscribers)
            return time.monotonic() - last > self.abandon_s

    def _take(self, worker: _Worker) -> Job | None:
        """The next job for `worker` (None: stop): the first queued job (in `_order`) whose
        sessions have no job running (or that is cancelled: it ends at once). Waits for one."""
        with self._wake:
            while not self._stopping:
                running = [j for j in self._jobs.values() if j.state == "running"]
                busy = {s for j in running for s in j.subscribers} - {""}
                for job in self._order(worker):
                    named = job.subscribers - {""}
                    blocked = bool(named) and "" not in job.subscribers and named <= busy
                    if job.cancel_requested or self._abandoned(job) or not blocked:
                        self._waiting.remove(job)
                        if not job.cancel_requested and self._abandoned(job):
                            job.cancel_requested = True
                        worker.busy = True
                        job.state = "running" if not job.cancel_requested else job.state
                        return job
                self._wake.wait(0.5)  # also wakes to notice abandoned queued jobs
            return None

    def _order(self, worker: _Worker) -> list[Job]:
        """The queued jobs `worker` may take, in the order it tries them: the short-lane
        worker, short jobs only and only while every pool worker is busy; a pool worker,
        short jobs first unless the oldest long job has waited LONG_YIELDS_S."""
        if worker.short_lane:
            pool_busy = all(w.busy for w in self._pool)
            return [j for j in self._waiting if j.lane == "short"] if pool_busy else []
        longs = [j for j in self._waiting if j.lane == "long"]
        if longs and time.monotonic() - longs[0].submitted >= self.long_yields_s:
            return list(self._waiting)
        return sorted(self._waiting, key=lambda j: j.lane != "short")  # stable: FIFO within

    def _release(self, worker: _Worker) -> None:
        with self._wake:
            worker.busy = False
            self._wake.notify_all()

    def warm(self) -> None:
        """Start the worker processes now (they import torch and `preload`: seconds), so that
        the first job does not wait for them; a page calls this when it is opened."""
        with self._lock:
            self._start_threads()
        for worker in self._pool:
            worker._ensure_process()

    def _start_threads(self) -> None:
        if not self._started:
            self._started = True
            for worker in (*self._pool, self._short):
                worker.thread.start()

    def get(self, key: Hashable) -> Job | None:
        with self._lock:
            return self._jobs.get(key)

    def cancel(self, key: Hashable, subscriber: str = "") -> None:
        """Withdraw `subscriber` from the job; the run stops when nobody is left waiting."""
        with self._lock:
            job = self._jobs.get(key)
            if job is None or job.done:
                return
            job.subscribers.discard(subscriber)
            if not job.subscribers:
                job.cancel_requested = True
            self._wake.notify_all()

    def running(self) -> int:
        with self._lock:
            return sum(j.state == "running" for j in self._jobs.values())

    def _finished(self, job: Job, state: str, result: Any = None,
                  error: BaseException | None = None) -> None:  # fmt: skip
        with self._lock:
            if job in self._waiting:
                self._waiting.remove(job)
            job._finish(state, result, error)
            self._wake.notify_all()
            if state != "done" and self._jobs.get(job.key) is job:
                del self._jobs[job.key]
            elif self._jobs.get(job.key) is job and job.nbytes:
                try:  # kept for the next visitor only while the memory ledger has room
                    job.kept = LEDGER.reserve(job.nbytes, "a finished result", wait_s=0)
                except BudgetError:
                    del self._jobs[job.key]  # its waiters have it; nobody else will
            done = [k for k, j in self._jobs.items() if j.done]  # least recently asked first
            total = sum(self._jobs[k].nbytes for k in done)
            while done and (len(done) > self.keep_finished or total > self.keep_bytes):
                forgotten = self._jobs.pop(done.pop(0))
                total -= forgotten.nbytes
                if forgotten.kept is not None:
                    forgotten.kept.release()

    def _stop_workers(self) -> None:
        for worker in (*self._pool, self._short):
            worker.stop()

    def shutdown(self) -> None:
        """Stop the workers (queued jobs are dropped)."""
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        for worker in (*self._pool, self._short):
            if worker.thread.is_alive():
                worker.thread.join(10)
            worker.stop()
