"""How long the plain-vs-residual experiment takes, and whether its effect shows.

The issue's target: the page's default run (depths 8, 20, 56; 10 epochs) in "seconds to a
minute" on two CPU cores. Prints, per network, the seconds per epoch with 1 and 2 torch
threads (and the ratio), then runs the default experiment once and prints the final training
error and loss of every network, the ratio of the whole run to the 60-second target, and
whether plain training error and loss rise with depth while the residual ones fall.

    .venv/bin/python benchmarks/residual_speed.py [--epochs 10] [--seed 0] [--skip-threads]
"""

from __future__ import annotations

import argparse
import itertools
import time

import torch

from explorer.labs.residual_experiment import (
    DEFAULT_DEPTHS,
    KINDS,
    ExperimentConfig,
    run_experiment,
)

TARGET_S = 60.0


def seconds_per_epoch(depth: int, threads: int, seed: int) -> dict[str, float]:
    """Seconds of the second (warm) epoch of the plain and the residual network."""
    config = ExperimentConfig(depths=(depth,), epochs=2, seed=seed, threads=threads)
    torch.set_num_threads(threads)  # this benchmark's own process (the server never does this)
    result = run_experiment(config)
    return {kind: result.run(depth, kind).epochs[-1].seconds for kind in KINDS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-threads", action="store_true")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads available")

    if not args.skip_threads:
        print("\nseconds per epoch (1,200 images)     1 thread   2 threads   2/1")
        for depth in DEFAULT_DEPTHS:
            one = seconds_per_epoch(depth, 1, args.seed)
            two = seconds_per_epoch(depth, 2, args.seed)
            for kind in KINDS:
                label = f"{kind}-{depth}"
                print(f"  {label:<33} {one[kind]:9.2f} {two[kind]:11.2f} "
                      f"{two[kind] / one[kind]:6.2f}")

    config = ExperimentConfig(depths=DEFAULT_DEPTHS, epochs=args.epochs, seed=args.seed)
    torch.set_num_threads(config.threads)  # as a job worker runs it (explorer.serving.jobs)
    start = time.perf_counter()
    result = run_experiment(config)
    total = time.perf_counter() - start
    print(f"\ndefault experiment: depths {config.depths}, {config.epochs} epochs, "
          f"seed {config.seed}")
    print(f"  {'network':<14}{'train error %':>14}{'train loss':>12}{'test error %':>14}")
    for run in result.runs:
        last = run.epochs[-1]
        print(f"  {run.label:<14}{100 * last.train_error:>14.1f}{last.train_loss:>12.4f}"
              f"{100 * last.test_error:>14.1f}")
    print(f"  total {total:.1f} s, {total / TARGET_S:.2f}× the {TARGET_S:.0f}-second target")
    for key in ("train_error", "train_loss"):
        plain = [getattr(result.run(d, "plain"), key)[-1] for d in config.depths]
        residual = [getattr(result.run(d, "residual"), key)[-1] for d in config.depths]
        print(f"  plain {key} rises with depth: "
              f"{all(a < b for a, b in itertools.pairwise(plain))}; residual {key} falls "
              f"with depth: {all(a > b for a, b in itertools.pairwise(residual))}")


if __name__ == "__main__":
    main()
