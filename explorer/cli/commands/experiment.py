"""`explorer experiment residual`: train plain and residual networks of several depths."""

from __future__ import annotations

import argparse
import json
import sys

from explorer.cli.arguments import (
    batch_size,
    int_in,
    learning_rate,
    residual_depth,
    residual_epochs,
    seed,
)
from explorer.labs.residual_experiment import (
    DEFAULT_DEPTHS,
    SCHEDULES,
    ExperimentConfig,
    ExperimentResult,
    run_experiment,
)

NAME = "experiment"
HELP = "run a small training experiment (residual: plain vs residual networks on digits)"

_DEFAULTS = ExperimentConfig()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", choices=["residual"], help="which experiment")
    parser.add_argument(
        "--depths", type=residual_depth, nargs="+", default=list(DEFAULT_DEPTHS),
        help="network depths, each 6n+2 (8 14 20 32 44 56 ...)",
    )
    parser.add_argument("--epochs", type=residual_epochs, default=_DEFAULTS.epochs)
    parser.add_argument("--seed", type=seed, default=_DEFAULTS.seed)
    parser.add_argument("--batch-size", type=batch_size, default=_DEFAULTS.batch_size)
    parser.add_argument(
        "--lr", type=learning_rate, default=_DEFAULTS.lr,
        help=f"SGD learning rate at the first step (default {_DEFAULTS.lr})",
    )
    parser.add_argument(
        "--schedule", choices=SCHEDULES, default=_DEFAULTS.schedule,
        help="learning rate: cosine decay to 0 over the run, or constant",
    )
    parser.add_argument(
        "--threads", type=int_in(1, 2), default=_DEFAULTS.threads,
        help="CPU threads for torch (1 or 2)"
    )
    parser.add_argument("--format", choices=["table", "json"], default="table")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")


def run(args: argparse.Namespace) -> int:
    config = ExperimentConfig(
        depths=tuple(args.depths),
        epochs=args.epochs,
        seed=args.seed,
        batch_size=args.batch_size,
        lr=args.lr,
        schedule=args.schedule,
        threads=max(1, min(2, args.threads)),
    )

    # Trained in a worker process that sets its own thread count once (explorer.serving.jobs),
    # so this process's torch settings stay as they were; the progress comes back per epoch.
    from explorer.serving.jobs import JobRunner

    runner = JobRunner(1, threads=config.threads, preload=("explorer.labs.residual_experiment",))
    try:
        job = runner.submit(("residual", config), run_experiment, config)
        shown = 0
        while True:
            finished = job.wait(0.2)
            for run_id, epoch, m in job.events[shown:]:
                shown += 1
                if not args.quiet:
                    print(
                        f"{run_id.label:>12}  epoch {epoch:>3}/{config.epochs}  "
                        f"loss {m.train_loss:.4f}  error {100 * m.train_error:5.1f}%  "
                        f"({m.seconds:.1f} s)",
                        file=sys.stderr,
                        flush=True,
                    )
            if finished:
                break
        result: ExperimentResult = job.outcome()
    finally:
        runner.shutdown()
    if args.format == "json":
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(format_table(result))
    return 0


def format_table(result: ExperimentResult) -> str:
    """Per-epoch training error and loss, one column per network, then a final summary."""
    labels = [r.label for r in result.runs]
    width = max(12, *(len(label) + 2 for label in labels))
    head = "epoch" + "".join(f"{label:>{width}}" for label in labels)
    lines = []
    epochs = max(len(r.epochs) for r in result.runs)
    for title, key, scale, fmt in (
        ("Training error (%)", "train_error", 100.0, "{:.1f}"),
        ("Training loss", "train_loss", 1.0, "{:.4f}"),
    ):
        lines += [title, head]
        for e in range(epochs):
            cells = []
            for r in result.runs:
                values = getattr(r, key)
                text = fmt.format(scale * values[e]) if e < len(values) else "-"
                cells.append(f"{text:>{width}}")
            lines.append(f"{e + 1:>5}" + "".join(cells))
        lines.append("")
    lines.append("Final training error: " + ", ".join(
        f"{r.label} {100 * r.train_error[-1]:.1f}%" for r in result.runs if r.epochs
    ))
    lines.append("Final training loss: " + ", ".join(
        f"{r.label} {r.train_loss[-1]:.4f}" for r in result.runs if r.epochs
    ))
    return "\n".join(lines)
