"""Shared test fixtures. Feature-specific fixtures live in their own test modules."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from explorer.serving.jobs import JobRunner

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="module")
def runner(request: pytest.FixtureRequest) -> Iterator[JobRunner]:
    """One job worker at this process's torch thread count (so its results compare bit for bit
    with the same call made inline), importing the test module's `WORKER_PRELOAD` first."""
    r = JobRunner(1, threads=torch.get_num_threads(), preload=request.module.WORKER_PRELOAD)
    yield r
    r.shutdown()
