"""Downloading pretrained weights as a job in a worker process (explorer.serving.jobs).

A page that asks for a 500 MiB file no longer holds its script run (and a page-run turn) for
minutes: the download runs in a "long" lane worker, the page shows its progress in MiB with a
Cancel button, and every session asking for the same file shares one run. The download is
torch.hub's own (explorer.weights.downloads). A cancelled download cannot stop torch.hub
mid-way; the job runner ends the worker after its grace time, and the `.partial` file left
behind is removed by the next download of that file.
"""

from __future__ import annotations

from collections.abc import Callable

from explorer.core.units import MiB
from explorer.weights import loading as weights


def download_job(arch: str, name: str, *, progress: Callable[..., bool]) -> str:
    """Fetch `arch`'s weights `name` into the hub cache; the file's path."""
    info = weights.find(arch, name)

    def report(done: int, total: int) -> None:
        progress(done // MiB, max(1, -(-total // MiB)), "MiB")

    return str(weights.download(info, report))
