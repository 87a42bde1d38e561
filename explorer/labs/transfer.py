"""Transfer learning: the lecture's three freezing regimes and few-shot training of a new head.

Regimes, on one scale `k` = how many of the network's parameterised blocks are frozen:
- k = 0: fine-tune everything (a lot of data);
- 0 < k < n: freeze the first k blocks, train the rest (some data);
- k = n: freeze everything but a new softmax head (little data).

Few-shot training uses the lecture's "precompute activations" trick: with the backbone frozen,
the input of the head is a fixed function of the image, so it is computed once per image and a
small linear head is trained on those vectors alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from explorer.analysis.meta_models import build_meta
from explorer.analysis.trace import trace
from explorer.catalog import resolve
from explorer.core import limits
from explorer.core.errors import ExplorerError
from explorer.core.work import JobCancelled
from explorer.weights import shipped
from explorer.weights.loading import LoadedModel
from explorer.weights.model_cache import worker_model


class TransferError(ExplorerError, ValueError):
    """A network or a data set that transfer learning cannot use as given."""


# --------------------------------------------------------------------------- blocks and freezing


def blocks(model: nn.Module) -> list[str]:
    """Names of the model's parameterised blocks in forward order: top-level children, with
    top-level `nn.Sequential`s opened one level (resnet: conv1, bn1, layer1.0, …, fc)."""
    out: list[str] = []
    if any(True for _ in model.parameters(recurse=False)):
        out.append("")  # parameters held by the root itself (e.g. a ViT's class token)
    for name, child in model.named_children():
        parts = list(child.named_children()) if isinstance(child, nn.Sequential) else []
        for sub, module in parts or [("", child)]:
            if any(True for _ in module.parameters()):
                out.append(f"{name}.{sub}" if sub else name)
    if len(out) < 2:
        raise TransferError("This network has fewer than two parameterised blocks to freeze.")
    return out


def _module(model: nn.Module, name: str) -> nn.Module:
    return model if name == "" else model.get_submodule(name)


def _params(model: nn.Module, name: str) -> list[nn.Parameter]:
    module = _module(model, name)
    return list(module.parameters(recurse=name != ""))


def replace_head(model: nn.Module, num_classes: int) -> str:
    """Swap the last block (a Linear or a 1×1-style Conv2d) for a fresh one with
    `num_classes` outputs; returns the head's name."""
    head = blocks(model)[-1]
    old = _module(model, head)
    if isinstance(old, nn.Sequential):  # e.g. vit's `heads`: its last parameterised layer
        inner = [n for n, m in old.named_children() if any(True for _ in m.parameters())]
        head, old = f"{head}.{inner[-1]}", old.get_submodule(inner[-1])
    device = next(old.parameters()).device
    new: nn.Module
    if isinstance(old, nn.Linear):
        new = nn.Linear(old.in_features, num_classes, device=device)
    elif isinstance(old, nn.Conv2d):
        kernel = cast(tuple[int, int], old.kernel_size)
        stride = cast(tuple[int, int], old.stride)
        new = nn.Conv2d(old.in_channels, num_classes, kernel, stride, device=device)
    else:
        raise TransferError(
            f"The last block {head!r} is a {type(old).__name__}, not a layer "
            "that can be replaced by a new softmax head."
        )
    model.set_submodule(head, new)
    return head


def freeze_first(model: nn.Module, k: int) -> None:
    """Freeze (requires_grad=False) the first k parameterised blocks; the last is never frozen."""
    names = blocks(model)
    if not 0 <= k < len(names):
        raise TransferError(f"k must be between 0 and {len(names) - 1}, not {k}.")
    for p in model.parameters():
        p.requires_grad_(True)
    for name in names[:k]:
        for p in _params(model, name):
            p.requires_grad_(False)


def regime(k: int, n: int) -> str:
    """The lecture's name for freezing k of n blocks (the last block is the head)."""
    if k == 0:
        return "fine-tune everything (much data)"
    if k >= n - 1:
        return "freeze everything but a new softmax head (little data)"
    return f"freeze the first {k} blocks, train the rest (some data)"


@dataclass(frozen=True)
class BlockState:
    name: str
    type: str
    params: int
    trainable_params: int

    @property
    def frozen(self) -> bool:
        return self.trainable_params == 0


@dataclass(frozen=True)
class FreezePlan:
    architecture: str
    k: int
    regime: str
    blocks: tuple[BlockState, ...]  # the last is the (new) head
    total_params: int
    trainable_params: int
    head: str

    @property
    def frozen_params(self) -> int:
        return self.total_params - self.trainable_params

    @property
    def frozen_blocks(self) -> tuple[str, ...]:
        return tuple(b.name for b in self.blocks if b.frozen)


def freeze_plan(arch: str, k: int, num_classes: int | None = None) -> FreezePlan:
    """What freezing the first k blocks of `arch` leaves trainable, counted by
    explorer.analysis.trace
    on a meta-device copy (no weights are allocated). `num_classes` swaps in a new head."""
    spec = resolve(arch)
    model = build_meta(spec)
    head = blocks(model)[-1]
    if num_classes is not None:
        head = replace_head(model, num_classes)
    freeze_first(model, k)
    t = trace(model, spec.input_size, name=spec.name)
    states = []
    for name in blocks(model):
        if name == "":
            own = sum(p.numel() for p in model.parameters(recurse=False))
            trainable = sum(p.numel() for p in model.parameters(recurse=False) if p.requires_grad)
            states.append(BlockState("(root)", "own parameters", own, trainable))
            continue
        record = t.layer(name)
        states.append(BlockState(name, record.type, record.params, record.trainable_params))
    return FreezePlan(
        architecture=spec.name,
        k=k,
        regime=regime(k, len(states)),
        blocks=tuple(states),
        total_params=t.total_params,
        trainable_params=t.trainable_params,
        head=head,
    )


# --------------------------------------------------------------------------- precomputed features


def head_module(loaded: LoadedModel) -> nn.Module:
    """The model's last parameterised layer: the one a new softmax head replaces."""
    return _head_of(loaded.model)


def _head_of(model: nn.Module) -> nn.Module:
    name = blocks(model)[-1]
    module = _module(model, name)
    if isinstance(module, nn.Sequential):
        module = [m for m in module if any(True for _ in m.parameters())][-1]
    return module


def features(
    loaded: LoadedModel,
    batch: torch.Tensor,
    chunk: int = 64,
    progress: Callable[..., bool] | None = None,
) -> torch.Tensor:
    """The frozen backbone's output for a preprocessed batch: the input of the model's head,
    flattened to (N, D), float32 on the CPU. `progress(done, total)` is called after each chunk
    of images; when it returns False, JobCancelled is raised (a cancelled job stops there).

    The head's input is captured by a hook on a private copy of the model that shares its
    weights (explorer.weights.model_cache.private_copy), never on the shared model: two sessions
    extracting features at once cannot see each other's activations."""
    from explorer.core.devices import autocast
    from explorer.weights.model_cache import private_copy

    view = private_copy(loaded.model)
    head = _head_of(view)
    captured: list[torch.Tensor] = []

    def hook(_module: nn.Module, args: tuple[Any, ...]) -> None:
        captured.append(args[0].detach().float().flatten(1).cpu())

    head.register_forward_pre_hook(hook)
    with torch.inference_mode(), autocast(loaded.device):
        for i in range(0, len(batch), chunk):
            view(batch[i : i + chunk].to(loaded.device))
            done = min(i + chunk, len(batch))
            if progress is not None and not progress(done, len(batch)):
                raise JobCancelled("Cancelled.")
    return torch.cat(captured)


def image_features(
    loaded: LoadedModel,
    images: Sequence[Image.Image],
    progress: Callable[..., bool] | None = None,
) -> torch.Tensor:
    """Backbone features of pictures, UPLOAD_CHUNK at a time (progress after each chunk)."""
    from explorer.labs.preprocessing import preprocessor_for

    limits.check_transfer_images(len(images))
    pre = preprocessor_for(loaded)
    batch = torch.stack([pre.single(im) for im in images])
    return features(loaded, batch, UPLOAD_CHUNK, progress)


# Pictures per forward pass: a progress report (and a chance to cancel) after each chunk; the
# same chunks inline and in a worker, so both give the same numbers bit for bit.
UPLOAD_CHUNK = 8


def upload_features(
    loaded: LoadedModel, blobs: Sequence[bytes], progress: Callable[..., bool] | None = None
) -> torch.Tensor:
    """Features of uploaded pictures (their file bytes), each decoded alone at most
    UPLOAD_THUMBNAIL_SIDE pixels on a side (explorer.core.images.decode_image)."""
    from explorer.core.images import decode_image
    from explorer.core.limits import UPLOAD_THUMBNAIL_SIDE

    limits.check_transfer_images(len(blobs))
    pictures = [decode_image(b, max_side=UPLOAD_THUMBNAIL_SIDE) for b in blobs]
    return image_features(loaded, pictures, progress)


def features_job(
    arch: str,
    weights: str,
    device: str,
    blobs: tuple[bytes, ...],
    *,
    progress: Callable[..., bool],
) -> np.ndarray | None:
    """`upload_features` in a worker process (explorer.serving.jobs), with the worker's own copy of
    the backbone: a numpy array (a job returns no torch objects), None once cancelled."""
    if not progress(0, len(blobs)):
        return None
    loaded = worker_model(arch, weights, device)
    return upload_features(loaded, blobs, progress).numpy()


def upload_work(one_image_macs: int, n_images: int) -> int:
    """Multiply-accumulates of the features of `n_images` (explorer.serving.jobs.runs_inline)."""
    return one_image_macs * n_images


# --------------------------------------------------------------------------- a new head


@dataclass(frozen=True)
class TrainedHead:
    """A linear softmax head on standardised backbone features."""

    class_names: tuple[str, ...]
    weight: torch.Tensor  # (K, D)
    bias: torch.Tensor  # (K,)
    mean: torch.Tensor  # (D,) feature standardisation, from the training features
    std: torch.Tensor
    losses: tuple[float, ...]
    train_accuracy: float

    def probabilities(self, feats: torch.Tensor) -> torch.Tensor:
        z = (feats.float() - self.mean) / self.std
        return F.linear(z, self.weight, self.bias).softmax(dim=-1)

    def accuracy(self, feats: torch.Tensor, labels: torch.Tensor) -> float:
        return float((self.probabilities(feats).argmax(1) == labels).float().mean())


HeadProgress = Callable[[int, int, float], None]  # step, steps, loss


def train_head(
    feats: torch.Tensor | np.ndarray,
    labels: torch.Tensor | Sequence[int],
    class_names: Sequence[str],
    *,
    steps: int = 200,
    lr: float = 0.05,
    weight_decay: float = 1e-3,
    seed: int = 0,
    progress: HeadProgress | None = None,
) -> TrainedHead:
    """Full-batch Adam on a new linear head (the backbone is frozen: features are fixed).
    `feats` may be a numpy array (what a features job returns)."""
    feats = torch.as_tensor(feats)
    labels = torch.as_tensor(labels, dtype=torch.long)
    k = len(class_names)
    if k < 2:
        raise TransferError("A classifier needs at least two classes.")
    counts = torch.bincount(labels, minlength=k)
    if len(labels) != len(feats) or int(counts.min()) < 1:
        empty = [class_names[i] for i in range(k) if counts[i] == 0]
        raise TransferError(
            f"Every class needs at least one example; none for: {', '.join(empty)}."
        )
    limits.check_transfer_training(len(feats), int(feats[0].numel()) if len(feats) else 0, steps)
    x = feats.float()
    mean, std = x.mean(0), x.std(0, unbiased=False).clamp_min(1e-6)
    z = (x - mean) / std
    gen = torch.Generator().manual_seed(seed)
    head = nn.Linear(z.shape[1], k)
    with torch.no_grad():
        head.weight.copy_(torch.randn(head.weight.shape, generator=gen) * 0.01)
        head.bias.zero_()
    opt = torch.optim.Adam(head.parameters(), lr=lr, weight_decay=weight_decay)
    losses = []
    every = max(1, steps // 50)
    for step in range(1, steps + 1):
        loss = F.cross_entropy(head(z), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if progress is not None and (step % every == 0 or step == steps):
            progress(step, steps, losses[-1])
    trained = TrainedHead(
        class_names=tuple(class_names),
        weight=head.weight.detach().clone(),
        bias=head.bias.detach().clone(),
        mean=mean,
        std=std,
        losses=tuple(losses),
        train_accuracy=0.0,
    )
    return TrainedHead(**{**trained.__dict__, "train_accuracy": trained.accuracy(x, labels)})


def few_shot_indices(labels: torch.Tensor, shots: int, seed: int = 0) -> torch.Tensor:
    """`shots` examples of each class, picked by a seeded shuffle."""
    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(labels), generator=gen)
    picked: list[int] = []
    for c in labels.unique().tolist():
        picked += order[labels[order] == c][:shots].tolist()
    return torch.tensor(sorted(picked), dtype=torch.long)


def digits_features(
    loaded: LoadedModel, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Backbone features of the digits' training and held-out splits (computed once: cache it)."""
    from explorer.labs import digits

    data = digits.load_data(seed)
    return (
        features(loaded, digits.normalize(data.x_train)),
        data.y_train,
        features(loaded, digits.normalize(data.x_test)),
        data.y_test,
    )


def predict_with_head(
    loaded: LoadedModel, head: TrainedHead, image: Image.Image, top: int = 3
) -> tuple[Any, ...]:
    """The new head's top classes for an image seen through the frozen backbone."""
    return head_top(head, image_features(loaded, [image]), top)


def head_top(head: TrainedHead, feats: torch.Tensor | np.ndarray, top: int = 3) -> tuple[Any, ...]:
    """The new head's top classes for one picture's backbone features (a job's numpy array)."""
    from explorer.labs.predict import top_k

    return top_k(head.probabilities(torch.as_tensor(feats))[0], head.class_names, top)


@dataclass(frozen=True)
class FewShotResult:
    head: TrainedHead
    shots: int  # examples per class
    examples: int
    test_accuracy: float  # on the digits' 360 held-out images


def few_shot_digits(
    digit_features: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor],
    shots: int,
    *,
    steps: int = 200,
    seed: int = 0,
    progress: HeadProgress | None = None,
) -> FewShotResult:
    """A new head trained on `shots` digits per class (precomputed features), tested on the
    held-out split."""

    f_train, y_train, f_test, y_test = digit_features
    idx = few_shot_indices(y_train, shots, seed)
    head = train_head(
        f_train[idx], y_train[idx], shipped.CATEGORIES, steps=steps, seed=seed, progress=progress
    )
    return FewShotResult(head, shots, len(idx), head.accuracy(f_test, y_test))


FROZEN_FILL = "#bdbdbd"
_OPS = ("add", "mul", "concat", "op")


def _inside(name: str, blocks_: tuple[str, ...]) -> bool:
    return any(name == b or name.startswith(b + ".") for b in blocks_ if b)


def frozen_dot(arch: str, frozen_blocks: tuple[str, ...], depth: int = 2) -> str:
    """The block diagram (explorer.graph.diagram) with the layers of `frozen_blocks` shaded grey and
    marked "frozen"; trained layers keep their colours."""
    from explorer.analysis.analysis import analyse
    from explorer.graph import diagram

    analysis = analyse(arch)
    g = analysis.graph(min(depth, max(analysis.recording.max_depth, 1)), collapse=False)
    dot = diagram.to_digraph(g)
    for node in g.nodes:
        if node.kind in ("input", "output"):
            continue
        # A layer box stands for modules; an addition or concatenation belongs to the block
        # whose forward made it (its scope; "" is the root's own forward, in no block).
        names = (node.members or (node.name,)) if node.params or node.kind not in _OPS else ()
        where = names or ((node.scope,) if node.scope else ())
        if where and all(_inside(n, frozen_blocks) for n in where):
            dot.node(
                node.id,
                fillcolor=FROZEN_FILL,
                fontcolor="#333333",
                color="#777777",
                tooltip=f"frozen: {', '.join(where)}",
            )
    return dot.source
