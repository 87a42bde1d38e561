"""A mutation run over the engine's formulas and the checks around them: each mutant is one small,
realistic mistake; a mutant is killed when the tests fail with it in place.

    python benchmarks/mutation.py            # every mutant, prints killed / total
    python benchmarks/mutation.py --list     # the mutants only

Each mutant is applied to a copy of explorer/ in a temporary folder (this checkout is never
changed) and the tests in TESTS run against that copy.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = (
    "tests/test_mutants.py",
    "tests/test_counting.py",
    "tests/test_shape_paths.py",
    "tests/test_graph.py",
    "tests/test_budgets.py",
)


@dataclass(frozen=True)
class Mutant:
    name: str
    path: str
    before: str
    after: str


MUTANTS = (
    Mutant("addmm_activation drops k", "explorer/engine/counting.py",
           "x.shape[0] * x.shape[1] * w.shape[1]", "x.shape[0] * w.shape[1]"),
    Mutant("addr counts one vector", "explorer/engine/counting.py",
           "lambda m, a, b, *_, **__: a.numel() * b.numel()",
           "lambda m, a, b, *_, **__: a.numel()"),
    Mutant("mv counts rows only", "explorer/engine/counting.py",
           "aten.mv: lambda m, v, *_, **__: m.shape[0] * m.shape[1]",
           "aten.mv: lambda m, v, *_, **__: m.shape[0]"),
    Mutant("ceil_mode correction removed", "explorer/core/layer_math.py",
           "if ceil and (out - 1) * s >= n + p:", "if False:"),
    Mutant("output size without the -1", "explorer/core/layer_math.py",
           "span = n + 2 * p - d * (f - 1) - 1", "span = n + 2 * p - d * (f - 1)"),
    Mutant("functional matmul counted as a layer", "explorer/graph/dataflow.py",
           'own = 1 if node.kind in ("conv", "linear") and node.type not in _ARITHMETIC else 0',
           'own = 1 if node.kind in ("conv", "linear") else 0'),
    Mutant("channel limit off by one", "explorer/core/limits.py",
           "if c > TRACE_MAX_CHANNELS:", "if c >= TRACE_MAX_CHANNELS:"),
    Mutant("side limit off by one", "explorer/core/limits.py",
           "if side > TRACE_MAX_SIDE:", "if side >= TRACE_MAX_SIDE:"),
    Mutant("weights slack above the cap", "explorer/weights/files.py",
           "return min(3 * expected_bytes + limits.WEIGHTS_SLACK_BYTES, "
           "limits.WEIGHTS_MAX_TENSOR_BYTES)",
           "return min(3 * expected_bytes, limits.WEIGHTS_MAX_TENSOR_BYTES) "
           "+ limits.WEIGHTS_SLACK_BYTES"),
    Mutant("reply unpickler takes any explorer class", "explorer/serving/jobs.py",
           "dataclasses.is_dataclass(found) or issubclass(found, (enum.Enum, ExplorerError))",
           "True"),
    Mutant("shear x and y swapped", "explorer/labs/augment/steps.py",
           "shear = (-self.shear_x, self.shear_x, -self.shear_y, self.shear_y)",
           "shear = (-self.shear_y, self.shear_y, -self.shear_x, self.shear_x)"),
    Mutant("RandomResizedCrop's maximum scale ignored", "explorer/labs/augment/steps.py",
           '"scale": (self.scale_min, self.scale_max),\n'
           '                                        "ratio"',
           '"scale": (self.scale_min, 1.0),\n'
           '                                        "ratio"'),
)  # fmt: skip


def run(mutant: Mutant | None, scratch: Path) -> bool:
    """Whether the tests pass with `mutant` applied to the copy in `scratch` (None: none)."""
    if scratch.exists():
        shutil.rmtree(scratch)
    shutil.copytree(ROOT / "explorer", scratch / "explorer",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    if mutant is not None:
        target = scratch / mutant.path
        text = target.read_text()
        if text.count(mutant.before) != 1:
            raise SystemExit(f"mutant {mutant.name!r}: its text is not found once in {mutant.path}")
        target.write_text(text.replace(mutant.before, mutant.after))
    # Run from the copy: `python -m` puts the working folder first on sys.path, ahead of
    # the installed checkout, so `import explorer` finds the mutated copy.
    env = dict(os.environ, PYTHONPATH=str(scratch))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
         f"--rootdir={ROOT}", *(str(ROOT / t) for t in TESTS)],
        cwd=scratch, env=env, capture_output=True, text=True,
    )  # fmt: skip
    return done.returncode == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true")
    args = parser.parse_args()
    if args.list:
        for m in MUTANTS:
            print(f"{m.path}: {m.name}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp) / "tree"
        if not run(None, scratch):
            raise SystemExit("the tests fail without any mutant: nothing to measure")
        killed = 0
        for m in MUTANTS:
            start = time.perf_counter()
            survived = run(m, scratch)
            killed += not survived
            verdict = "SURVIVED" if survived else "killed"
            print(f"{verdict:8}  {m.name}  ({time.perf_counter() - start:.0f} s)", flush=True)
    print(f"mutation score: {killed} of {len(MUTANTS)} killed")
    return 0 if killed == len(MUTANTS) else 1


if __name__ == "__main__":
    sys.exit(main())
