"""Stress: 16 threads mix every kind of work a classroom sends one server (issue 10).

Meta builds, real builds, traces of every kind of architecture (catalog, typed stack, a
user's module), predictions (lenet5-digits, offline), transfer-learning features, augmentation
previews and a short residual run, all at once and repeated. Requirements:
- no exception;
- every result bit-identical to the same call made alone, serially, in a fresh process
  (`python tests/test_stress.py OUT` computes those references);
- no session's data in another's: each "session" has its own images, and its predictions and
  features are exactly its own (the issue's 1,437 images gave 1,631 feature rows).

Real builds draw random initial weights (no seed, like the app's "random weights"), so what is
compared for them is the structure: names, shapes, dtypes, devices, requires_grad.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
THREADS = 16
ROUNDS = 3
STACK = "input 16x16x3 | conv 8 3 same relu | bn | maxpool 2 | dropout 0.1 | fc 10 | softmax"
SESSIONS = 4  # sessions with their own images (predictions and transfer features)


def _digest(*parts: object) -> str:
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, torch.Tensor):
            t = part.detach().cpu().contiguous()
            h.update(f"{t.dtype}{tuple(t.shape)}".encode())
            h.update(t.numpy().tobytes())
        else:
            h.update(repr(part).encode())
    return h.hexdigest()


def _structure(model: nn.Module) -> str:
    params = [
        (n, tuple(p.shape), str(p.dtype), p.device.type, p.requires_grad)
        for n, p in model.named_parameters()
    ]
    buffers = [(n, tuple(b.shape), str(b.dtype), b.device.type) for n, b in model.named_buffers()]
    return _digest(params, buffers, [type(m).__name__ for m in model.modules()])


class UserNet(nn.Module):
    """A user's own module (not in the catalog): traced through a meta copy."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 6, 3), nn.ReLU(), nn.Conv2d(6, 4, 3, stride=2))
        self.skip = nn.Conv2d(3, 4, 1, stride=2)
        self.head = nn.Linear(4, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x) + self.skip(x)[:, :, :7, :7]
        return self.head(y.mean((2, 3)))


@cache
def _loaded():  # type: ignore[no-untyped-def]
    """One LoadedModel shared by every thread, as st.cache_resource shares it."""
    from explorer.weights import loading as weights

    return weights.load("lenet5-digits", device="cpu")


@cache
def _digit_batches() -> tuple[torch.Tensor, ...]:
    from explorer.labs import digits

    x = digits.load_data().x_test
    return tuple(digits.normalize(x[i * 25 : i * 25 + 20 + i]) for i in range(SESSIONS))


def _meta_build() -> str:
    from explorer.analysis.meta_models import build_meta

    return _structure(build_meta("resnet18"))


def _real_build() -> str:
    from explorer.analysis.building import build_model

    return _structure(build_model("lenet5")) + _structure(build_model(STACK))


def _trace_catalog() -> str:
    from explorer.analysis.trace import trace

    return _digest(trace("resnet18").to_dict(), trace("googlenet", batch_size=2).to_dict())


def _trace_stack() -> str:
    from explorer.analysis.trace import trace

    return _digest(trace(STACK).to_dict(), trace(STACK, batch_size=3).to_dict())


def _trace_user_module() -> str:
    from explorer.analysis.trace import trace

    return _digest(trace(UserNet(), input_size=(3, 17, 17)).to_dict())


def _predict(session: int) -> Callable[[], str]:
    def run() -> str:
        from explorer.labs import digits, predict

        photo, label = digits.sample_photo(session)
        result = predict.predict(_loaded(), photo, top=3)
        crops = predict.ten_crop_predict(_loaded(), photo, top=3).averaged
        return _digest(session, label, result.top, result.probabilities, crops.probabilities)

    return run


def _features(session: int) -> Callable[[], str]:
    def run() -> str:
        from explorer.labs import transfer

        batch = _digit_batches()[session]
        feats = transfer.features(_loaded(), batch, chunk=7)
        assert len(feats) == len(batch)  # exactly this session's rows
        return _digest(session, feats)

    return run


def _augment(seed: int) -> Callable[[], str]:
    def run() -> str:
        from explorer.core import images
        from explorer.labs import augment

        image = images.fit_within(images.load_sample("cat"), 64)
        samples = augment.DEFAULT_PIPELINE.samples(image, 3, seed)
        mixed = augment.mix_preview(image, image.rotate(90), method="mixup", alpha=0.4, seed=seed)
        return _digest(seed, *samples, mixed.image, mixed.weight_a)

    return run


def _residual() -> str:
    from explorer.labs.residual_experiment import ExperimentConfig, run_experiment

    config = ExperimentConfig(depths=(8,), epochs=1, seed=3, train_size=128, batch_size=64)
    runs = run_experiment(config).runs
    return _digest([{k: v for k, v in r.to_dict().items() if k != "seconds"} for r in runs])


TASKS: dict[str, Callable[[], str]] = {
    "meta build": _meta_build,
    "real build": _real_build,
    "trace catalog": _trace_catalog,
    "trace typed stack": _trace_stack,
    "trace user module": _trace_user_module,
    "residual run": _residual,
    **{f"predict session {s}": _predict(s) for s in range(SESSIONS)},
    **{f"features session {s}": _features(s) for s in range(SESSIONS)},
    **{f"augment seed {s}": _augment(s) for s in range(3)},
}


def _references() -> dict[str, str]:
    """Every task once, serially, in a fresh Python process with this process's intra-op thread
    count (float reductions split by thread count round differently; an earlier test in this
    worker may have run the experiment CLI, which sets its own process's count)."""
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), str(torch.get_num_threads())],
        cwd=ROOT,
        capture_output=True,
        check=True,
        timeout=600,
    )
    refs: dict[str, str] = json.loads(out.stdout)
    return refs


def test_sixteen_threads_mixing_every_kind_of_work() -> None:
    refs = _references()
    assert set(refs) == set(TASKS)
    work = [name for _ in range(ROUNDS) for name in TASKS]
    # Interleave so that every kind of work overlaps every other.
    work = work[::2] + work[1::2]
    before_threads = torch.get_num_threads()
    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(lambda name: (name, TASKS[name]()), work))
    mismatched = [name for name, digest in results if digest != refs[name]]
    assert mismatched == []
    assert len(results) == len(work) == ROUNDS * len(TASKS)
    assert torch.get_num_threads() == before_threads  # nobody changed the process's threads
    model = _loaded().model
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())
    assert all(p.grad is None for p in model.parameters())


if __name__ == "__main__":  # the references: each task alone, in this fresh process
    torch.set_num_threads(int(sys.argv[1]))  # a test harness process, not the server
    sys.stdout.write(json.dumps({name: task() for name, task in TASKS.items()}))
