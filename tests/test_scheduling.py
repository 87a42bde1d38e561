"""components.scheduling: a bounded number of page runs at once, first come first served, a
click in an open tab before a tab being opened."""

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


def _order_in(gate: Gate, kinds: str) -> list[str]:
    """One slot held; then runs arrive one after the other, "o" for a tab being opened and
    "c" for a click in an open tab. The order they get in once the slot is let go."""
    order: list[str] = []
    go = threading.Event()
    held = threading.Event()

    def holder() -> None:
        with gate.slot():
            held.set()
            go.wait(5)

    def run(name: str) -> None:
        with gate.slot(open_tab=name.startswith("c")):
            order.append(name)

    threads = [threading.Thread(target=holder)]
    threads[0].start()
    assert held.wait(5)
    counts = {"o": 0, "c": 0}
    for kind in kinds:
        counts[kind] += 1
        threads.append(threading.Thread(target=run, args=(f"{kind}{counts[kind]}",)))
        threads[-1].start()
        while gate.waiting < len(threads) - 1:  # it is in line before the next one comes
            time.sleep(0.001)
    go.set()
    for t in threads:
        t.join(5)
    assert gate.inside == 0 and gate.waiting == 0
    return order


def test_a_click_in_an_open_tab_goes_before_tabs_being_opened() -> None:
    # The click came last but goes first; the tabs being opened keep their order.
    assert _order_in(Gate(1, passes=3), "ooooc") == ["c1", "o1", "o2", "o3", "o4"]


def test_clicks_never_starve_tabs_being_opened() -> None:
    """However many clicks wait, a tab being opened gets in after at most `passes` of them."""
    order = _order_in(Gate(1, passes=3), "oocccccccc")
    assert order == ["c1", "c2", "c3", "o1", "c4", "c5", "c6", "o2", "c7", "c8"]


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
