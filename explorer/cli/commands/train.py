"""`explorer train lenet5-digits`: reproduce the shipped LeNet-5 digits weights."""

from __future__ import annotations

import argparse

from explorer.cli.arguments import epochs, output_file, seed

NAME = "train"
HELP = "train lenet5-digits (LeNet-5 on scikit-learn's digits) reproducibly"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from explorer.labs import digits
    from explorer.weights import shipped

    parser.add_argument("model", choices=[shipped.WEIGHTS_NAME])
    parser.add_argument("--epochs", type=epochs, default=digits.DEFAULT_EPOCHS)
    parser.add_argument("--seed", type=seed, default=digits.DEFAULT_SEED)
    parser.add_argument(
        "-o",
        "--output",
        type=output_file(".safetensors"),
        default="lenet5-digits.safetensors",
        help="weights file to write, NAME.safetensors, in a folder that exists (the training "
        "metadata goes next to it as NAME.json)",
    )


def run(args: argparse.Namespace) -> int:
    from explorer.labs import digits

    print(f"training LeNet-5 on sklearn digits: {args.epochs} epochs, seed {args.seed}", flush=True)

    def progress(epoch: int, epochs: int, loss: float, acc: float) -> None:
        bar = "#" * round(20 * epoch / epochs)
        print(
            f"  [{bar:<20}] epoch {epoch:>3}/{epochs}  loss {loss:.4f}  "
            f"held-out accuracy {acc:.2%}",
            flush=True,
        )

    model, report = digits.train(epochs=args.epochs, seed=args.seed, progress=progress)
    path = digits.save(model, report, args.output)
    print(
        f"held-out accuracy: {report.test_accuracy:.2%} "
        f"({report.test_correct}/{report.test_size}) in {report.seconds:.0f} s"
    )
    print(f"wrote {path} and {path.with_suffix('.json')}")
    return 0
