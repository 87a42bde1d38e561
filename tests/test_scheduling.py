"""components.scheduling: a bounded number of page runs at once, first come first served."""

from __future__ import annotations

import threading
import time

import pytest

from components.scheduling import SLOTS_ENV, Gate, default_slots


def test_at_most_n_runs_at_once_in_arrival_order() -> None:
    gate = Gate(2)
    order: list[int] = []
    peak = [0]
    lock = threading.Lock()
    blocker = threading.Event()

    def run(i: int) -> None:
        with gate.slot():
            with lock:
                order.append(i)
                peak[0] = max(peak[0], gate.inside)
            blocker.wait(5) if i < 2 else time.sleep(0.01)

    threads = []
    for i in range(8):  # arrive one after the other
        threads.append(threading.Thread(target=run, args=(i,)))
        threads[-1].start()
        time.sleep(0.05)
    assert order == [0, 1] and gate.waiting == 6  # the first two run, six wait in line
    blocker.set()
    for t in threads:
        t.join()
    assert order == list(range(8)) and peak[0] == 2 and gate.inside == 0


def test_a_run_waiting_on_a_worker_gives_its_slot_back() -> None:
    gate = Gate(1)
    got_in, let_go = threading.Event(), threading.Event()

    def other_tab() -> None:
        with gate.slot():
            got_in.set()
            let_go.wait(5)

    with gate.slot():
        with gate.slot():  # a nested slot is the same slot
            assert gate.inside == 1
        with gate.released():
            other = threading.Thread(target=other_tab)
            other.start()
            assert got_in.wait(5)  # the other tab ran while this one waited on its job
            let_go.set()
        assert gate.inside == 1  # ...and this run took a slot again when its wait ended
    other.join(5)
    assert gate.inside == 0 and not other.is_alive()


def test_a_run_that_ends_while_its_slot_is_given_back_does_not_queue_again() -> None:
    """A rerun or a closed tab raises inside the wait: the run ends without taking a slot."""
    gate = Gate(1)
    with pytest.raises(RuntimeError), gate.slot(), gate.released():
        raise RuntimeError("rerun")
    assert gate.inside == 0 and gate.waiting == 0
    with gate.slot():  # nothing leaked: the one slot is free
        assert gate.inside == 1


def test_slots_come_from_the_administrator_or_the_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SLOTS_ENV, "3")
    assert default_slots() == 3
    monkeypatch.setenv(SLOTS_ENV, "0")  # no limit
    gate = Gate(default_slots())
    with gate.slot(), gate.slot():
        assert gate.inside == 0
    monkeypatch.setenv(SLOTS_ENV, "many")
    assert default_slots() >= 1
