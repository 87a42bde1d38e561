"""Models ready for inference, shared by every session and bounded by bytes, not by count.

A count bound (Streamlit's `max_entries=8`) lets 8 large models pile up (0.96 → 8.3 GB was
measured). Here the cache holds at most `limits.MODEL_CACHE_BYTES` of parameters and buffers:
before a model is loaded, the least recently used ones leave until the new one's size (from
an empty-weights build: no memory) fits, so the peak stays within the budget too. A model
larger than the whole budget is refused with one sentence. Requests for the same model at
the same moment load it once (the others wait for it). Cached models are shared: callers must
not modify them (the explorer's prediction code never does).

The budget bounds what the models hold, not only what the cache holds:
- loads in flight count against each other (six sessions picking six big models at once
  reserve their sizes before any builds);
- a model that left the cache while a page still uses it stays counted until it is freed
  (a weak reference tells when), so sessions cannot keep evicted models alive beyond the
  budget;
- a load that does not fit even with the cache emptied waits up to `wait_s` for other
  sessions' models to be freed, then is refused with one sentence;
- every model's weights are also reserved in the process's memory ledger
  (explorer.core.ledger) until the model is freed, beside the other work that holds memory.
"""

from __future__ import annotations

import copy
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

from torch import nn

from explorer.core import limits
from explorer.core.errors import BudgetError
from explorer.core.ledger import LEDGER, Ledger
from explorer.core.units import format_bytes
from explorer.core.work import JobError
from explorer.weights import files as weight_files
from explorer.weights import loading
from explorer.weights.loading import LoadedModel, load

Key = tuple[str, str, str]  # (architecture, weights, device)
T = TypeVar("T")


class FactsMemo(Generic[T]):
    """Small immutable results computed from a model (its stages' shapes, a price), kept by a
    key that names the model (architecture, weights, input size, ...), never holding the model
    itself: at most `size` of them, the oldest leaving first. Thread-safe; two threads asking
    for a missing key at once may both compute it (the same result either way)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: dict[Hashable, T] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        with self._lock:
            if key in self._items:
                return self._items[key]
        value = compute()
        with self._lock:
            if len(self._items) >= self.size:
                self._items.pop(next(iter(self._items)))
            self._items[key] = value
        return value


def model_bytes(model: nn.Module) -> int:
    """Bytes of a model's parameters and buffers (what the cache counts)."""
    return sum(t.numel() * t.element_size() for t in (*model.parameters(), *model.buffers()))


class ModelCache:
    """A thread-safe LRU of LoadedModel by bytes, loading each key once at a time."""

    def __init__(
        self,
        budget: int = limits.MODEL_CACHE_BYTES,
        loader: Callable[[str, str, str], LoadedModel] | None = None,
        wait_s: float = limits.MODEL_CACHE_WAIT_S,
        ledger: Ledger = LEDGER,
    ) -> None:
        self.budget = budget
        self.ledger = ledger
        self.wait_s = wait_s
        self._load = loader or (lambda arch, weights, device: load(arch, weights, device=device))
        self._entries: OrderedDict[Key, tuple[LoadedModel, int]] = OrderedDict()
        # reentrant: a model's finalizer (_gone) can run in a thread that holds it (an eviction)
        self._lock = threading.RLock()
        self._freed = threading.Condition(self._lock)
        self._loading: dict[Key, threading.Lock] = {}
        self._reserved = 0  # bytes of loads in flight
        self._evicted: dict[int, int] = {}  # id of a model out of the cache, still alive -> bytes

    @property
    def total_bytes(self) -> int:
        with self._lock:
            return sum(size for _, size in self._entries.values())

    @property
    def held_bytes(self) -> int:
        """Everything the budget bounds: cached models, evicted ones still in use, and loads
        in flight."""
        with self._lock:
            return self._held()

    def _held(self) -> int:
        cached = sum(size for _, size in self._entries.values())
        return cached + sum(self._evicted.values()) + self._reserved

    def keys(self) -> list[Key]:
        with self._lock:
            return list(self._entries)

    def get(self, arch: str, weights: str = "DEFAULT", device: str = "auto") -> LoadedModel:
        key = (arch, weights, device)
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key][0]
            key_lock = self._loading.setdefault(key, threading.Lock())
        with key_lock:  # one load per key; the others find it cached afterwards
            try:
                with self._lock:
                    if key in self._entries:
                        self._entries.move_to_end(key)
                        return self._entries[key][0]
                estimate = self._estimate(arch)
                self._make_room(estimate)  # reserves `estimate` until the model is in
                try:
                    # ...and in the process's ledger, for as long as the model lives
                    held = self.ledger.reserve(estimate, f"{arch}'s weights")
                    try:
                        loaded = self._load(arch, weights, device)
                    except BaseException:
                        held.release()
                        raise
                    held.hold_while(loaded.model)
                finally:
                    with self._lock:
                        self._reserved -= estimate
                        self._freed.notify_all()
                size = model_bytes(loaded.model)
                with self._lock:
                    self._entries[key] = (loaded, size)
                    self._evict(keep=key)
                return loaded
            finally:
                with self._lock:
                    self._loading.pop(key, None)

    def _estimate(self, arch: str) -> int:
        from explorer.analysis.meta_models import build_meta
        from explorer.weights.loading import split_name

        size = weight_files.state_bytes(build_meta(split_name(arch)[0]))
        if size > self.budget:
            raise BudgetError(
                f"{arch} needs {format_bytes(size)} of weights; the model cache on this "
                f"server holds {format_bytes(self.budget)}."
            )
        return size

    def _make_room(self, incoming: int) -> None:
        """Evict until `incoming` more bytes fit beside everything held, waiting up to
        `wait_s` for models other sessions still use; then reserve them (or refuse)."""
        deadline = time.monotonic() + self.wait_s
        with self._lock:
            while True:
                while self._entries and self._held() + incoming > self.budget:
                    self._drop(next(iter(self._entries)))
                if self._held() + incoming <= self.budget:
                    self._reserved += incoming
                    return
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BudgetError(
                        f"The server's models are all in use ({format_bytes(self._held())} of "
                        f"{format_bytes(self.budget)}); this one needs "
                        f"{format_bytes(incoming)} more. Try again in a minute."
                    )
                self._freed.wait(min(left, 0.5))

    def _drop(self, key: Key) -> None:
        """Take `key` out of the cache; its bytes stay counted while anything uses the model."""
        loaded, size = self._entries.pop(key)
        ident = id(loaded.model)
        self._evicted[ident] = size
        weakref.finalize(loaded.model, self._gone, ident)

    def _gone(self, ident: int) -> None:
        with self._lock:
            self._evicted.pop(ident, None)
            self._freed.notify_all()

    def _evict(self, keep: Key) -> None:
        """Drop the least recently used entries (never `keep`) until within the budget."""
        while self._held() > self.budget and len(self._entries) > 1:
            oldest = next(iter(self._entries))
            if oldest == keep:
                self._entries.move_to_end(keep)
                continue
            self._drop(oldest)


_SHARED = ModelCache()


def loaded_model(arch: str, weights: str = "DEFAULT", device: str = "auto") -> LoadedModel:
    """The process-wide model cache (what components/cache.py's wrapper calls)."""
    return _SHARED.get(arch, weights, device)


def upload_of(weights: str) -> bytes | None:
    """The file behind an uploaded-weights token ("upload:<sha>:<name>"), which a worker needs
    with the job (uploads are held in the server's memory only); None for any other weights."""
    if not weights.startswith(loading.UPLOAD_PREFIX):
        return None
    return loading.held_upload(weights)[0]  # WeightsError if it is no longer held


def worker_model(
    arch: str, weights: str, device: str, upload: bytes | None = None
) -> LoadedModel:
    """In a job's worker: the LoadedModel from that process's own model cache (same byte
    budget); an uploaded file comes as `upload` and is held there under its token."""
    if upload is not None:
        token = loading.hold_upload(upload, weights.split(":", 2)[-1])
        if token != weights:
            raise JobError("The uploaded weights changed on their way to the worker.")
    return loaded_model(arch, weights, device)


def private_copy(model: nn.Module) -> nn.Module:
    """A structural copy of `model` whose parameters and buffers share storage with it.

    Parameters come out detached (plain tensors, no `requires_grad`), so a backward pass on the
    copy never writes `.grad` into the shared model; hooks and `eval()` on the copy are private.
    Costs about 10 ms for resnet50 (Python objects only, no weight data)."""
    memo: dict[int, Any] = {id(p): p.detach() for p in model.parameters()}
    memo.update({id(b): b for b in model.buffers()})
    return copy.deepcopy(model, memo).eval()
