"""Why ResNets work: a plain network and its residual twin, trained side by side.

He et al. 2015, "Deep Residual Learning for Image Recognition", §4.2 (CIFAR-10), with the
networks of explorer.labs.residual_nets. Here the input is the 8×8 digits that ship with
scikit-learn (feature maps 8×8 → 4×4 → 2×2), widths are 8/16/32 so a 56-layer network trains on
two CPU cores. With the same seed both twins start from the same weights and see the same
mini-batches: the shortcut is the only difference.

Settings are priced by explorer.analysis.pricing before training (depths, epochs). The server runs
an
experiment in a job worker (explorer.serving.jobs), never in the process that renders pages.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from explorer.core import limits
from explorer.labs.digits import DigitsData
from explorer.labs.residual_nets import (
    KINDS,
    SUPPORTED_DEPTHS,
    CifarStyleNet,
    DenseResidualBlock,
    ExperimentError,
    IdentityDemo,
    Kind,
    blocks_per_stage,
    build_network,
    identity_demo,
)

__all__ = [
    "DEFAULT_DEPTHS",
    "KINDS",
    "MAX_EPOCHS",
    "SCHEDULES",
    "SUPPORTED_DEPTHS",
    "DenseResidualBlock",
    "DigitsData",
    "EpochMetrics",
    "ExperimentConfig",
    "ExperimentError",
    "ExperimentResult",
    "IdentityDemo",
    "ProgressCallback",
    "RunId",
    "RunResult",
    "build_network",
    "identity_demo",
    "load_digits_data",
    "run_experiment",
]

Schedule = Literal["cosine", "constant"]
SCHEDULES: tuple[Schedule, ...] = ("cosine", "constant")
DEFAULT_DEPTHS = (8, 20, 56)
MAX_EPOCHS = limits.RESIDUAL_MAX_EPOCHS


# ---------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------


def load_digits_data(seed: int = 0, train_size: int = 1200) -> DigitsData:
    """Seeded train/test split of the 1,797 8×8 digits (x: (N, 1, 8, 8)), pixels scaled by the
    training mean/std; explorer.labs.digits' DigitsData, whose raw_test holds the 8×8 test
    images."""
    from sklearn.datasets import load_digits  # ships with scikit-learn: no download

    digits = load_digits()
    images = np.asarray(digits.images, dtype=np.float32)
    if not 10 <= train_size < len(images):
        raise ExperimentError(f"train_size must be between 10 and {len(images) - 1}.")
    order = np.random.default_rng(seed).permutation(len(images))
    x = torch.from_numpy(images[order]).unsqueeze(1)
    y = torch.from_numpy(np.asarray(digits.target)[order].astype(np.int64))
    x_train, x_test = x[:train_size], x[train_size:]
    mean, std = x_train.mean(), x_train.std()
    return DigitsData(
        (x_train - mean) / std,
        y[:train_size],
        (x_test - mean) / std,
        y[train_size:],
        raw_test=np.asarray(digits.images)[order][train_size:],
    )


# ---------------------------------------------------------------------------------------
# Experiment
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExperimentConfig:
    """Everything that determines the numbers: same config, same results.

    The learning rate starts at `lr` and, with `schedule="cosine"`, falls along half a cosine
    to 0 at the last step (the paper starts at 0.1 and divides it by 10 twice over 64,000
    steps; a default run here has 100 steps). With the paper's 0.1 the 8- and 20-layer
    residual nets fit the digits almost perfectly in 10 epochs, leaving depth nothing to
    improve; at 0.02 the deeper residual nets end lower, as in the paper's figure 6, and the
    deeper plain nets still end higher.
    """

    depths: tuple[int, ...] = DEFAULT_DEPTHS
    epochs: int = 10
    seed: int = 0
    batch_size: int = 128
    lr: float = 0.02
    schedule: Schedule = "cosine"
    momentum: float = 0.9
    widths: tuple[int, int, int] = (8, 16, 32)
    train_size: int = 1200
    #: CPU threads for the process that runs the experiment (the CLI sets it at start, the
    #: server's job workers have their own setting); run_experiment never changes it.
    threads: int = field(default=1, compare=False)

    def __post_init__(self) -> None:
        if not self.depths:
            raise ExperimentError("Choose at least one depth.")
        for depth in self.depths:
            blocks_per_stage(depth)
        if len(set(self.depths)) != len(self.depths):
            raise ExperimentError("Each depth may appear only once.")
        if self.epochs < 1:
            raise ExperimentError("Epochs must be at least 1.")
        limits.check_residual(self.depths, self.epochs)
        if self.batch_size < 2:
            raise ExperimentError("Batch size must be at least 2 (BatchNorm needs two samples).")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ExperimentError("The learning rate must be a positive number.")
        if self.schedule not in SCHEDULES:
            raise ExperimentError(
                f"Unknown learning-rate schedule {self.schedule!r}: use 'cosine' or 'constant'."
            )
        if self.threads < 1:
            raise ExperimentError("Use at least 1 CPU thread.")

    def learning_rate(self, step: int, total_steps: int) -> float:
        """The learning rate of (0-based) SGD step `step` out of `total_steps`."""
        if self.schedule == "constant" or total_steps <= 0:
            return self.lr
        return self.lr * 0.5 * (1.0 + math.cos(math.pi * step / total_steps))

    @property
    def run_ids(self) -> tuple[RunId, ...]:
        return tuple(RunId(d, k) for d in self.depths for k in KINDS)


@dataclass(frozen=True)
class RunId:
    depth: int
    kind: Kind

    @property
    def label(self) -> str:
        return f"{self.kind}-{self.depth}"


@dataclass(frozen=True)
class EpochMetrics:
    """One epoch of one run. Training loss/error are averaged over that epoch's mini-batches
    (as in the paper's training curves); test error is measured after the epoch."""

    epoch: int
    train_loss: float
    train_error: float
    test_error: float
    seconds: float


@dataclass(frozen=True)
class RunResult:
    depth: int
    kind: Kind
    params: int
    epochs: tuple[EpochMetrics, ...]
    #: module paths of the conv/fc layers, input to output
    grad_layers: tuple[str, ...]
    #: L2 norm of each layer's weight gradient at the first training step
    grad_norms: tuple[float, ...]
    completed: bool

    @property
    def label(self) -> str:
        return f"{self.kind}-{self.depth}"

    @property
    def train_loss(self) -> list[float]:
        return [e.train_loss for e in self.epochs]

    @property
    def train_error(self) -> list[float]:
        return [e.train_error for e in self.epochs]

    @property
    def test_error(self) -> list[float]:
        return [e.test_error for e in self.epochs]

    def to_dict(self) -> dict[str, Any]:
        return {
            "depth": self.depth,
            "kind": self.kind,
            "params": self.params,
            "completed": self.completed,
            "train_loss": self.train_loss,
            "train_error": self.train_error,
            "test_error": self.test_error,
            "seconds": [e.seconds for e in self.epochs],
            "grad_layers": list(self.grad_layers),
            "grad_norms": list(self.grad_norms),
        }


@dataclass(frozen=True)
class ExperimentResult:
    config: ExperimentConfig
    runs: tuple[RunResult, ...]
    cancelled: bool = False
    seconds: float = field(default=0.0, compare=False)

    def run(self, depth: int, kind: str) -> RunResult:
        for r in self.runs:
            if r.depth == depth and r.kind == kind:
                return r
        raise KeyError(f"{kind}-{depth}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": asdict(self.config),
            "cancelled": self.cancelled,
            "runs": [r.to_dict() for r in self.runs],
        }


#: progress(run, epoch, metrics) -> keep going? Called after every epoch; return False to
#: cancel. epoch is 1-based; the run's result so far is in `metrics`.
ProgressCallback = Callable[[RunId, int, EpochMetrics], bool]


def _gradient_norms(model: CifarStyleNet) -> tuple[tuple[str, ...], tuple[float, ...]]:
    names, norms = [], []
    for name, m in model.weighted_layers():
        grad: Tensor | None = m.weight.grad
        names.append(name)
        norms.append(float(torch.linalg.vector_norm(grad)) if grad is not None else 0.0)
    return tuple(names), tuple(norms)


def _train_run(
    run_id: RunId,
    config: ExperimentConfig,
    data: DigitsData,
    progress: ProgressCallback | None,
) -> RunResult:
    # Same seed for the plain and the residual twin: identical initial weights and batches.
    model = build_network(run_id.depth, run_id.kind, config.widths, seed=config.seed)
    params = sum(p.numel() for p in model.parameters())
    optimiser = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum)
    shuffle = torch.Generator().manual_seed(config.seed)
    n = len(data.y_train)
    steps_per_epoch = -(-n // config.batch_size) - (n % config.batch_size == 1)
    total_steps = config.epochs * steps_per_epoch
    step = 0
    grad_layers: tuple[str, ...] = ()
    grad_norms: tuple[float, ...] = ()
    history: list[EpochMetrics] = []
    for epoch in range(1, config.epochs + 1):
        start = time.perf_counter()
        model.train()
        order = torch.randperm(n, generator=shuffle)
        loss_sum, wrong, seen = 0.0, 0, 0
        for idx in order.split(config.batch_size):
            if len(idx) < 2:  # BatchNorm cannot normalise a batch of one sample
                continue
            x, y = data.x_train[idx], data.y_train[idx]
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            if not grad_norms:
                grad_layers, grad_norms = _gradient_norms(model)
            for group in optimiser.param_groups:
                group["lr"] = config.learning_rate(step, total_steps)
            optimiser.step()
            step += 1
            loss_sum += loss.item() * len(idx)
            wrong += int((logits.argmax(1) != y).sum())
            seen += len(idx)
        model.eval()
        with torch.no_grad():
            test_wrong = int((model(data.x_test).argmax(1) != data.y_test).sum())
        metrics = EpochMetrics(
            epoch=epoch,
            train_loss=loss_sum / seen,
            train_error=wrong / seen,
            test_error=test_wrong / max(1, len(data.y_test)),
            seconds=time.perf_counter() - start,
        )
        history.append(metrics)
        if progress is not None and progress(run_id, epoch, metrics) is False:
            return RunResult(
                run_id.depth, run_id.kind, params, tuple(history), grad_layers, grad_norms, False
            )
    return RunResult(
        run_id.depth, run_id.kind, params, tuple(history), grad_layers, grad_norms, True
    )


def run_experiment(
    config: ExperimentConfig | None = None,
    progress: ProgressCallback | None = None,
    *,
    depths: Sequence[int] | None = None,
    epochs: int | None = None,
    seed: int | None = None,
) -> ExperimentResult:
    """Train plain and residual networks of each depth (in that order) on the digits.

    `progress(run, epoch, metrics)` is called after every epoch; returning False stops the
    experiment, and the result then holds the epochs finished so far with `cancelled=True`.
    Never changes process-wide state (thread count, global RNG): every random number comes
    from local generators, so concurrent runs in one process do not disturb each other.
    """
    if config is None:
        config = ExperimentConfig()
    overrides: dict[str, Any] = {}
    if depths is not None:
        overrides["depths"] = tuple(int(d) for d in depths)
    if epochs is not None:
        overrides["epochs"] = epochs
    if seed is not None:
        overrides["seed"] = seed
    if overrides:
        config = ExperimentConfig(**{**asdict(config), **overrides})
    data = load_digits_data(config.seed, config.train_size)
    start = time.perf_counter()
    runs: list[RunResult] = []
    for run_id in config.run_ids:
        result = _train_run(run_id, config, data, progress)
        runs.append(result)
        if not result.completed:
            return ExperimentResult(config, tuple(runs), True, time.perf_counter() - start)
    return ExperimentResult(config, tuple(runs), False, time.perf_counter() - start)
