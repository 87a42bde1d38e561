"""A bounded number of page runs at once, first come first served, a click before a new tab.

When a class of 60 opens the app in the same second, Streamlit starts 60 script threads at
once. They share one interpreter lock, so every tab finishes at the end of the wave: the first
message of every session arrived 7–10 s after it connected, within 0.05 s of the last one's.
With at most about one run per core, the first tabs are usable in tenths of a second and the
others follow in the order they came.

`GATE.slot()` wraps a page run (components/app.py). A run that waits for something outside
this process (a job in a worker: components/job_widgets.py) gives its slot back meanwhile
(`GATE.released()`), so that waiting tabs never hold up the others. The number of slots:
`EXPLORER_PAGE_RUNS` (0: no limit), else one per core but one (at least one): the event
loop that sends every tab its page needs the interpreter too. Measured with 60 tabs on the
2-core test machine (benchmarks/classroom_load.py, warm rounds): no limit, median 4.1–4.4 s
and p95 4.2–4.4 s (every tab finishes at the end of the wave); 2 at once, 2.3–2.5 s and
3.7–4.3 s; 1 at once, 1.98–2.00 s and 3.1–3.3 s.

A student who clicks in a tab that already shows a page (picks another network, opens another
page) waits for that one run; a tab being opened waits for its whole page anyway. So runs for
open tabs go before tabs being opened, each line in arrival order, but at most `PASSES` of
them in a row while a tab being opened waits: clicks never starve a class opening the app
(one session has one run at a time, so no tab can flood the line). Measured with
benchmarks/switch_under_load.py (Chromium, resnet18 ↔ resnet152 while 30 other tabs open
pages in waves): see docs/classroom.md.

This is the explorer's own code in its own entry script; Streamlit's runner is not changed.
"""

from __future__ import annotations

import collections
import contextlib
import os
import threading
from collections.abc import Iterator

SLOTS_ENV = "EXPLORER_PAGE_RUNS"
#: How many runs for open tabs may go in a row while a tab being opened waits.
PASSES = 3


def default_slots() -> int:
    """EXPLORER_PAGE_RUNS (0 means no limit), else one per core but one (at least one)."""
    text = os.environ.get(SLOTS_ENV, "").strip()
    if text.isdigit() and len(text) < 6:
        return int(text)
    return max(1, (os.cpu_count() or 2) - 1)


class Gate:
    """At most `slots` holders at once. Waiting threads form two lines, each in arrival order:
    open tabs' runs go first, but at most `passes` in a row while a tab being opened waits."""

    def __init__(self, slots: int, passes: int = PASSES) -> None:
        self.slots = slots
        self.passes = passes
        self._cond = threading.Condition()
        self._inside = 0
        self._opening: collections.deque[object] = collections.deque()  # tabs being opened
        self._open: collections.deque[object] = collections.deque()  # clicks in open tabs
        self._passed = 0  # open tabs' runs let in in a row while a tab being opened waited
        self._local = threading.local()

    @property
    def inside(self) -> int:
        with self._cond:
            return self._inside

    @property
    def waiting(self) -> int:
        with self._cond:
            return len(self._opening) + len(self._open)

    def _next(self) -> collections.deque[object]:
        """The line whose first ticket goes next (called with a ticket waiting)."""
        if self._open and (not self._opening or self._passed < self.passes):
            return self._open
        return self._opening if self._opening else self._open

    def _enter(self, open_tab: bool) -> None:
        if self.slots <= 0:
            return
        ticket = object()
        with self._cond:
            line = self._open if open_tab else self._opening
            line.append(ticket)
            while self._inside >= self.slots or self._next()[0] is not ticket:
                self._cond.wait()
            line.popleft()
            self._passed = self._passed + 1 if open_tab and self._opening else 0
            self._inside += 1
            self._cond.notify_all()  # the next in line may fit too

    def _leave(self) -> None:
        if self.slots <= 0:
            return
        with self._cond:
            self._inside -= 1
            self._cond.notify_all()

    def _holds(self) -> bool:
        return bool(getattr(self._local, "holds", False))

    @contextlib.contextmanager
    def slot(self, open_tab: bool = False) -> Iterator[None]:
        """Hold a slot for the block (a thread that holds one already just goes on).
        `open_tab`: the run is for a tab that already shows a page (a click), not one being
        opened."""
        if self._holds():
            yield
            return
        self._enter(open_tab)
        self._local.holds = True
        try:
            yield
        finally:
            if self._holds():  # (not when the run ended while its slot was given back)
                self._local.holds = False
                self._leave()

    @contextlib.contextmanager
    def released(self) -> Iterator[None]:
        """Give this thread's slot back for the block (waiting on another process), then
        queue for one again, in the open tabs' line (a student is watching this one)."""
        if not self._holds():
            yield
            return
        self._local.holds = False
        self._leave()
        yield  # an exception (a rerun, a closed tab) ends the run without queueing again
        self._enter(open_tab=True)
        self._local.holds = True


#: The server process's gate for page runs.
GATE = Gate(default_slots())
