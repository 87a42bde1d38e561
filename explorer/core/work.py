"""What a job's work and the page that runs it share: the picture a job is sent, the errors a
job ends with, and the price under which work runs inline in a page's thread.

Plain data and plain functions, below everything that does work (explorer.labs,
explorer.inside) and the worker processes that run it (explorer.serving.jobs).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from explorer.core import limits
from explorer.core.errors import ExplorerError

__all__ = ["INLINE_MAX_MACS", "JobCancelled", "JobError", "Picture", "runs_inline"]

INLINE_MAX_MACS = limits.INLINE_MAX_MACS


def runs_inline(macs: int) -> bool:
    """Whether work of `macs` multiply-accumulates is cheap enough to run in a page's thread."""
    return macs <= INLINE_MAX_MACS


class JobError(ExplorerError, RuntimeError):
    """A job that failed for a reason other than an ExplorerError, or whose worker stopped."""


class JobCancelled(ExplorerError, RuntimeError):
    """The job was cancelled before it finished."""


@dataclass(frozen=True)
class Picture:
    """A picture as plain bytes, what a job is sent instead of a Pillow image: `to_image()`
    gives the same pixels (mode, size and bytes), and `key` names them in a job's key."""

    mode: str
    width: int
    height: int
    pixels: bytes

    @classmethod
    def of(cls, image: Any) -> Picture:
        return cls(image.mode, image.width, image.height, image.tobytes())

    def to_image(self) -> Any:
        import PIL.Image

        return PIL.Image.frombytes(self.mode, (self.width, self.height), self.pixels)

    @property
    def key(self) -> tuple[str, int, int, str]:
        digest = hashlib.blake2b(self.pixels, digest_size=20).hexdigest()
        return (self.mode, self.width, self.height, digest)
