"""One memory ledger per process: what user work holds is reserved here before it is built.

Each part of the explorer has its own limit for one request (limits.py); the ledger bounds
what all requests hold together. Work reserves its bytes before it starts (a model's weights
before they are loaded, a Look inside recording before the forward pass, a class activation
map's activations and gradients while it runs, a picture's pixels before they are decoded,
an uploaded file before it is stored, a finished job's result while it is kept), concurrent
requests count against each other, and a reservation is released when the work ends, or,
for a result that outlives the request (a cached model, cached activations), when that
object is freed (`hold_while`: a weak reference tells). Work that does not fit waits up to
`wait_s` for others to finish, then is refused with one sentence.

The budget: `EXPLORER_MEMORY_BUDGET` (bytes, or with a unit: "6GiB", "800MiB") set by the
administrator, else half of this machine's memory. What the ledger counts is the work's own
data (weights, activations); the interpreter, torch and Streamlit themselves come on top.
"""

from __future__ import annotations

import os
import re
import threading
import time
import weakref
from typing import Any

from explorer.core import limits
from explorer.core.errors import BudgetError
from explorer.core.units import GiB, KiB, MiB, format_bytes

__all__ = ["BUDGET_ENV", "LEDGER", "Ledger", "Reservation", "default_budget", "machine_bytes"]

BUDGET_ENV = "EXPLORER_MEMORY_BUDGET"
_UNITS = {"": 1, "b": 1, "kib": KiB, "mib": MiB, "gib": GiB, "kb": 10**3, "mb": 10**6,
          "gb": 10**9}  # fmt: skip


def machine_bytes() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # not POSIX: assume a small laptop
        return 8 * GiB


def default_budget() -> int:
    """EXPLORER_MEMORY_BUDGET, else half of the machine's memory (at least 1 GiB)."""
    text = os.environ.get(BUDGET_ENV, "").strip().lower().replace(" ", "")
    found = re.fullmatch(r"(\d{1,15})(\.\d{1,6})?([a-z]*)", text)
    if found and found.group(3) in _UNITS:
        number = float(found.group(1) + (found.group(2) or ""))
        return max(64 * MiB, int(number * _UNITS[found.group(3)]))
    return max(GiB, machine_bytes() // 2)


class Reservation:
    """Bytes held in a ledger until `release` (or the end of a `with` block)."""

    def __init__(self, ledger: Ledger, nbytes: int) -> None:
        self.ledger, self.nbytes = ledger, nbytes
        self._released = False
        self._lock = threading.Lock()

    def release(self) -> None:
        with self._lock:
            if self._released:
                return
            self._released = True
        self.ledger._give_back(self.nbytes)

    def hold_while(self, owner: Any) -> Any:
        """Keep these bytes reserved until `owner` is freed (then release); returns `owner`."""
        weakref.finalize(owner, self.release)
        return owner

    def __enter__(self) -> Reservation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class Ledger:
    """A thread-safe count of reserved bytes against one budget."""

    def __init__(self, budget: int | None = None, wait_s: float = limits.LEDGER_WAIT_S) -> None:
        self.budget = default_budget() if budget is None else budget
        self.wait_s = wait_s
        self._held = 0
        self._cond = threading.Condition()

    @property
    def held(self) -> int:
        with self._cond:
            return self._held

    def reserve(self, nbytes: int, what: str, wait_s: float | None = None) -> Reservation:
        """Reserve `nbytes` for `what` ("resnet50's weights"), waiting for room up to
        `wait_s` (the ledger's own wait by default); BudgetError when it does not fit."""
        nbytes = max(0, int(nbytes))
        if nbytes > self.budget:
            raise BudgetError(
                f"{what} needs {format_bytes(nbytes)}; this server gives all work together "
                f"{format_bytes(self.budget)}."
            )
        deadline = time.monotonic() + (self.wait_s if wait_s is None else wait_s)
        with self._cond:
            while self._held + nbytes > self.budget:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BudgetError(
                        f"The server is busy: other work holds {format_bytes(self._held)} of "
                        f"its {format_bytes(self.budget)}, and {what} needs "
                        f"{format_bytes(nbytes)}. Try again in a moment."
                    )
                self._cond.wait(min(left, 0.5))
            self._held += nbytes
        return Reservation(self, nbytes)

    def _give_back(self, nbytes: int) -> None:
        with self._cond:
            self._held -= nbytes
            self._cond.notify_all()


#: The process's ledger (the server's, or a worker's own).
LEDGER = Ledger()
