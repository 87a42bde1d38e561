"""Why ResNets work: a plain network and its residual twin, trained side by side.

He et al. 2015, "Deep Residual Learning for Image Recognition", §4.2 (CIFAR-10): a 3×3
convolution, three stages of 2n 3×3 convolutions (widths doubling, feature maps halving,
BatchNorm after every convolution), global average pooling and a 10-way fully connected
layer: 6n+2 weighted layers. Here the input is the 8×8 digits that ship with scikit-learn
(feature maps 8×8 → 4×4 → 2×2), widths are 8/16/32 so a 56-layer network trains on two CPU
cores, and the shortcuts that change shape are the paper's option A (subsample by 2 and pad
the new channels with zeros, no parameters). So the plain twin has exactly the same
parameters as the residual one; with the same seed both start from the same weights and see
the same mini-batches: the shortcut is the only difference.

Also here: `identity_demo`, the lecture's argument that a residual block whose W[l+2] and
b[l+2] are zero returns a[l] exactly, a[l+2] = ReLU(0 + a[l]) = a[l] for a[l] ≥ 0.
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
from torch import Tensor, nn

from explorer.errors import ExplorerError

__all__ = [
    "DEFAULT_DEPTHS",
    "KINDS",
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

Kind = Literal["plain", "residual"]
KINDS: tuple[Kind, ...] = ("plain", "residual")
Schedule = Literal["cosine", "constant"]
SCHEDULES: tuple[Schedule, ...] = ("cosine", "constant")
#: Depths 6n+2 as in the paper's CIFAR table (n = 1, 2, 3, 5, 7, 9).
SUPPORTED_DEPTHS = (8, 14, 20, 32, 44, 56)
DEFAULT_DEPTHS = (8, 20, 56)
MAX_EPOCHS = 100


class ExperimentError(ExplorerError, ValueError):
    """Experiment settings that cannot be run (a depth not of the form 6n+2, no epochs, ...)."""


# ---------------------------------------------------------------------------------------
# Networks
# ---------------------------------------------------------------------------------------


class _Shortcut(nn.Module):
    """Option A of the paper: identity, or subsample by `stride` and zero-pad the channels."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        self.extra_channels = out_channels - in_channels

    def forward(self, x: Tensor) -> Tensor:
        if self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]
        if self.extra_channels:
            x = F.pad(x, (0, 0, 0, 0, 0, self.extra_channels))
        return x


class BasicBlock(nn.Module):
    """Two 3×3 conv-BN layers; ReLU(F(x) + x) when residual, ReLU(F(x)) when plain."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, residual: bool) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut: _Shortcut | None = (
            _Shortcut(in_channels, out_channels, stride) if residual else None
        )

    def forward(self, x: Tensor) -> Tensor:
        z = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        if self.shortcut is not None:
            z = z + self.shortcut(x)
        return F.relu(z)


class CifarStyleNet(nn.Module):
    """The paper's 6n+2-layer CIFAR network (plain or residual), for small square inputs."""

    def __init__(
        self,
        depth: int,
        kind: Kind,
        widths: tuple[int, int, int] = (8, 16, 32),
        in_channels: int = 1,
        num_classes: int = 10,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        n = _blocks_per_stage(depth)
        self.depth = depth
        self.kind = kind
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        stages = []
        in_ch = widths[0]
        for stage, width in enumerate(widths):
            blocks = []
            for i in range(n):
                stride = 2 if stage > 0 and i == 0 else 1
                blocks.append(BasicBlock(in_ch, width, stride, residual=kind == "residual"))
                in_ch = width
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.fc = nn.Linear(in_ch, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(
                    m.weight, mode="fan_out", nonlinearity="relu", generator=generator
                )
            elif isinstance(m, nn.Linear):
                _default_linear_init(m, generator)

    def forward(self, x: Tensor) -> Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.stages(x)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))

    def weighted_layers(self) -> list[tuple[str, nn.Conv2d | nn.Linear]]:
        """The 6n+2 conv/fc layers, input to output, with their module paths."""
        return [
            (name, m) for name, m in self.named_modules() if isinstance(m, nn.Conv2d | nn.Linear)
        ]


def _default_linear_init(layer: nn.Linear, generator: torch.Generator | None) -> None:
    """nn.Linear's own initialisation, drawn from `generator` instead of the global RNG
    (two Streamlit sessions training at once must not share one random stream)."""
    nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
    if layer.bias is not None:
        bound = 1 / math.sqrt(layer.in_features)
        nn.init.uniform_(layer.bias, -bound, bound, generator=generator)


def _blocks_per_stage(depth: int) -> int:
    if depth < 8 or (depth - 2) % 6:
        raise ExperimentError(
            f"Depth {depth} is not of the form 6n+2 (n ≥ 1): choose from "
            f"{', '.join(map(str, SUPPORTED_DEPTHS))} or another 6n+2."
        )
    return (depth - 2) // 6


def build_network(
    depth: int, kind: str, widths: tuple[int, int, int] = (8, 16, 32), *, seed: int | None = None
) -> CifarStyleNet:
    """A plain or residual 6n+2-layer network for 1×8×8 digits; `seed` fixes its weights."""
    if kind not in KINDS:
        raise ExperimentError(f"Unknown network kind {kind!r}: use 'plain' or 'residual'.")
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    return CifarStyleNet(depth, kind, widths, generator=generator)


# ---------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DigitsData:
    """scikit-learn's 8×8 digits as normalised (N, 1, 8, 8) tensors, split with a seed."""

    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor


def load_digits_data(seed: int = 0, train_size: int = 1200) -> DigitsData:
    """Seeded train/test split of the 1,797 digits; pixels scaled by the training mean/std."""
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
        (x_train - mean) / std, y[:train_size], (x_test - mean) / std, y[train_size:]
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
    threads: int = 1

    def __post_init__(self) -> None:
        if not self.depths:
            raise ExperimentError("Choose at least one depth.")
        for depth in self.depths:
            _blocks_per_stage(depth)
        if len(set(self.depths)) != len(self.depths):
            raise ExperimentError("Each depth may appear only once.")
        if not 1 <= self.epochs <= MAX_EPOCHS:
            raise ExperimentError(f"Epochs must be between 1 and {MAX_EPOCHS}.")
        if self.batch_size < 2:
            raise ExperimentError("Batch size must be at least 2 (BatchNorm needs two samples).")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ExperimentError("The learning rate must be a positive number.")
        if self.schedule not in SCHEDULES:
            raise ExperimentError(
                f"Unknown learning-rate schedule {self.schedule!r}: use 'cosine' or 'constant'."
            )
        if self.threads not in (1, 2):
            raise ExperimentError("Use 1 or 2 CPU threads.")

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
    Uses at most `config.threads` CPU threads and restores the previous setting.
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
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(max(1, min(config.threads, previous_threads)))
    start = time.perf_counter()
    runs: list[RunResult] = []
    try:
        for run_id in config.run_ids:
            result = _train_run(run_id, config, data, progress)
            runs.append(result)
            if not result.completed:
                return ExperimentResult(config, tuple(runs), True, time.perf_counter() - start)
    finally:
        torch.set_num_threads(previous_threads)
    return ExperimentResult(config, tuple(runs), False, time.perf_counter() - start)


# ---------------------------------------------------------------------------------------
# The identity argument
# ---------------------------------------------------------------------------------------


class DenseResidualBlock(nn.Module):
    """The lecture's residual block on vectors:

    z[l+1] = W[l+1] a[l] + b[l+1],  a[l+1] = ReLU(z[l+1]),
    z[l+2] = W[l+2] a[l+1] + b[l+2], a[l+2] = ReLU(z[l+2] + a[l])        (n_in = n_out)
                                     a[l+2] = ReLU(z[l+2] + W_s a[l])    (W_s: n_out × n_in)
    """

    def __init__(
        self, in_features: int, out_features: int, generator: torch.Generator | None = None
    ) -> None:
        super().__init__()
        self.layer1 = nn.Linear(in_features, out_features)  # W[l+1], b[l+1]
        self.layer2 = nn.Linear(out_features, out_features)  # W[l+2], b[l+2]
        self.projection: nn.Linear | None = (
            nn.Linear(in_features, out_features, bias=False)  # W_s
            if in_features != out_features
            else None
        )
        for m in self.modules():
            if isinstance(m, nn.Linear):
                _default_linear_init(m, generator)

    def shortcut(self, a: Tensor) -> Tensor:
        return a if self.projection is None else self.projection(a)

    def forward(self, a: Tensor) -> Tensor:
        z2 = self.layer2(F.relu(self.layer1(a)))
        return F.relu(z2 + self.shortcut(a))


@dataclass(frozen=True)
class IdentityDemo:
    """What a residual block returns for one input vector a[l], and what it is compared to."""

    in_features: int
    out_features: int
    zero_weight: bool
    zero_bias: bool
    nonnegative_input: bool
    #: "a[l]" (same shapes) or "ReLU(W_s a[l])" (projection shortcut)
    expected_label: str
    input: tuple[float, ...]
    output: tuple[float, ...]
    expected: tuple[float, ...]
    #: max |output - expected|; exactly 0.0 when the block is the identity
    max_abs_difference: float
    #: torch.equal(output, expected): bit-for-bit equal, not merely close
    exact: bool


def identity_demo(
    in_features: int = 256,
    out_features: int = 256,
    *,
    zero_weight: bool = True,
    zero_bias: bool = True,
    nonnegative_input: bool = True,
    seed: int = 0,
) -> IdentityDemo:
    """Build a random residual block, optionally set W[l+2] and/or b[l+2] to zero, and
    compare its output with a[l] (or ReLU(W_s a[l]) when the shapes differ).

    With both zeroed and a[l] ≥ 0 (it is the output of a ReLU), z[l+2] is exactly 0 and
    a[l+2] = ReLU(a[l]) = a[l] bit for bit. A negative input shows why a ≥ 0 matters.
    """
    for n in (in_features, out_features):
        if not 1 <= n <= 4096:
            raise ExperimentError("Layer sizes must be between 1 and 4096 units.")
    generator = torch.Generator().manual_seed(seed)
    block = DenseResidualBlock(in_features, out_features, generator).eval()
    a = torch.randn(1, in_features, generator=generator)
    if nonnegative_input:
        a = F.relu(a)  # a[l] is itself the output of a ReLU
    with torch.no_grad():
        if zero_weight:
            block.layer2.weight.zero_()
        if zero_bias:
            block.layer2.bias.zero_()
        output = block(a)
        expected = a if block.projection is None else F.relu(block.shortcut(a))
    return IdentityDemo(
        in_features=in_features,
        out_features=out_features,
        zero_weight=zero_weight,
        zero_bias=zero_bias,
        nonnegative_input=nonnegative_input,
        expected_label="a[l]" if block.projection is None else "ReLU(W_s a[l])",
        input=tuple(a[0].tolist()),
        output=tuple(output[0].tolist()),
        expected=tuple(expected[0].tolist()),
        max_abs_difference=float((output - expected).abs().max()),
        exact=bool(torch.equal(output, expected)),
    )
