"""Replaying a pipeline from its first changed step: a bounded memo of per-sample states.

Sample k of a preview is `seeded(seed + k)` followed by the steps in order; what step i does
depends only on the picture step i - 1 handed on and on the state of the sample's private
generator at that point. `PrefixMemo` keeps both (the picture and `Generator.get_state()`)
after each step, keyed by the input image's content, the steps so far and the seed. When a
student adds a step, or changes the last one, `Pipeline.samples(..., memo=...)` restarts
every sample from the longest remembered prefix, with a generator restored to that state:
the same random draws on the same picture, hence the same pixels as a cold run, bit for bit
(tests/test_augment_memo.py checks it against the cold path and a seeded global RNG).

The memo is bounded by bytes (least recently used entries go first) and holds private copies:
a picture goes in cloned and comes out cloned, so no caller can change what another one reads.
It is safe to share between threads (one lock; the steps themselves run outside it).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import PIL.Image
import torch

from explorer.core import limits
from explorer.labs.augment.params import Augmentation

DEFAULT_MAX_BYTES = limits.AUGMENT_MEMO_MAX_BYTES
_STATE_OVERHEAD = 512  # key tuple, dict slot, tensor objects: a rough per-entry allowance


@dataclass(frozen=True)
class SampleState:
    """One sample after some steps: its picture and its generator's state."""

    image: torch.Tensor  # what the last step returned (a tv_tensors.Image or a plain tensor)
    generator_state: torch.Tensor  # torch.Generator.get_state(): uint8, 5,056 bytes on CPU

    @property
    def nbytes(self) -> int:
        return int(self.image.nbytes) + int(self.generator_state.nbytes) + _STATE_OVERHEAD


def image_key(image: PIL.Image.Image | torch.Tensor) -> Hashable:
    """A key for an input picture by its content (BLAKE2b of its pixels, its size and type)."""
    if isinstance(image, PIL.Image.Image):
        data = image.tobytes()
        shape: tuple[object, ...] = (image.mode, image.width, image.height)
    else:
        tensor = image.detach().cpu().contiguous()
        data = tensor.as_subclass(torch.Tensor).reshape(-1).view(torch.uint8).numpy().tobytes()
        shape = (type(image).__name__, str(tensor.dtype), tuple(tensor.shape))
    return (shape, hashlib.blake2b(data, digest_size=20).hexdigest())


def steps_key(steps: Sequence[Augmentation]) -> tuple[str, ...]:
    """The steps by `repr`: class and every parameter as written (so 150 and 150.0, or 0.0 and
    -0.0, are different keys: a miss, never a wrong hit)."""
    return tuple(repr(step) for step in steps)


class PrefixMemo:
    """A least-recently-used map (image key, steps so far, seed) -> SampleState, at most
    `max_bytes` in all; an entry larger than an eighth of that is not kept."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, SampleState] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @property
    def nbytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable) -> SampleState | None:
        """A private copy of the state stored under `key`, or None."""
        with self._lock:
            state = self._entries.get(key)
            if state is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
        return SampleState(state.image.clone(), state.generator_state.clone())

    def put(self, key: Hashable, image: torch.Tensor, generator: torch.Generator) -> None:
        """Keep a copy of `image` and of `generator`'s state under `key`."""
        state = SampleState(image.clone(), generator.get_state())
        size = state.nbytes
        if size > self.max_bytes // 8:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old.nbytes
            self._entries[key] = state
            self._bytes += size
            while self._bytes > self.max_bytes and self._entries:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= evicted.nbytes

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0
