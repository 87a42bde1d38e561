"""A small seeded sample of benchmarks/fuzz_inputs.py (issue 24): generated bad stacks,
signatures, names, pipelines, images and output paths through the real command line, each
in a worker process watched for time and memory. Every case must be a valid answer or a
one-line error: 0 tracebacks, 0 blow-ups."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "fuzz_inputs.py"


@pytest.mark.parametrize("seed", [0, 7])
def test_a_seeded_sample_of_generated_bad_input_gives_only_clean_errors(seed: int) -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--cases", "120", "--seed", str(seed), "--json",
         "--timeout", "120"],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["failures"] == [] and done.returncode == 0
    assert summary["traceback"] == 0 and summary["blow-up"] == 0
    assert summary["clean"] >= 60  # the generator makes mostly bad input
    assert summary["valid"] + summary["clean"] == 120
