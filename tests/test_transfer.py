"""Transfer learning: freezing regimes counted by trace, new heads, precomputed features."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import torch
from torch import nn

from explorer import build_meta, build_model
from explorer.core.errors import BudgetError
from explorer.labs import digits, transfer
from explorer.weights import loading as weights
from explorer.weights import shipped


def test_blocks_open_top_level_sequentials() -> None:
    assert transfer.blocks(build_meta("resnet18")) == [
        "conv1",
        "bn1",
        "layer1.0",
        "layer1.1",
        "layer2.0",
        "layer2.1",
        "layer3.0",
        "layer3.1",
        "layer4.0",
        "layer4.1",
        "fc",
    ]
    assert transfer.blocks(build_meta("lenet5")) == [
        "features.0",
        "features.3",
        "classifier.0",
        "classifier.2",
        "classifier.4",
    ]


@pytest.mark.parametrize("k", [0, 4, 10])
def test_freeze_plan_matches_requires_grad_on_a_real_model(k: int) -> None:
    plan = transfer.freeze_plan("resnet18", k, num_classes=3)
    model = build_model("resnet18")
    transfer.replace_head(model, 3)
    transfer.freeze_first(model, k)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    assert plan.trainable_params == trainable
    assert plan.total_params == total == 11_176_512 + 512 * 3 + 3
    assert plan.frozen_params == total - trainable
    assert sum(b.params for b in plan.blocks) == total
    assert plan.frozen_blocks == tuple(transfer.blocks(model)[:k])
    assert plan.head == "fc" and not plan.blocks[-1].frozen


def test_three_regimes_on_one_scale() -> None:
    n = len(transfer.freeze_plan("resnet18", 0).blocks)
    head_only = transfer.freeze_plan("resnet18", n - 1, num_classes=3)
    assert head_only.trainable_params == 512 * 3 + 3
    assert "new softmax head" in head_only.regime
    assert "fine-tune everything" in transfer.freeze_plan("resnet18", 0).regime
    assert "first 5 blocks" in transfer.freeze_plan("resnet18", 5).regime
    with pytest.raises(transfer.TransferError, match="between 0 and 10"):
        transfer.freeze_first(build_meta("resnet18"), 11)


@pytest.mark.parametrize(
    ("arch", "head", "kind"),
    [("squeezenet1_1", "classifier.1", nn.Conv2d), ("vit_b_16", "heads.head", nn.Linear)],
)
def test_replace_head(arch: str, head: str, kind: type[nn.Module]) -> None:
    model = build_meta(arch)
    assert transfer.replace_head(model, 7) == head
    new = model.get_submodule(head)
    assert isinstance(new, kind) and new.weight.shape[0] == 7 and new.weight.device.type == "meta"


def test_features_are_the_input_of_the_head() -> None:
    loaded = weights.load("lenet5-digits", device="cpu")
    x = digits.normalize(digits.load_data().x_test[:16])
    feats = transfer.features(loaded, x, chunk=5)
    m = loaded.model
    with torch.inference_mode():
        manual = m.classifier[:4](m.flatten(m.features(x)))
    assert feats.shape == (16, 84) and torch.allclose(feats, manual, atol=1e-6)


def test_features_never_touch_the_shared_model() -> None:
    """Issue 10: a hook on the cached model let one session's images land in another's
    features (1,437 images gave 1,631 rows). Eight threads share one model here."""
    loaded = weights.load("lenet5-digits", device="cpu")
    data = digits.load_data()
    batches = [digits.normalize(data.x_train[i * 40 : i * 40 + 30 + i]) for i in range(8)]
    alone = [transfer.features(loaded, b, chunk=7) for b in batches]
    with ThreadPoolExecutor(8) as pool:
        for _ in range(3):
            together = list(pool.map(lambda b: transfer.features(loaded, b, chunk=7), batches))
            for a, t in zip(alone, together, strict=True):
                assert torch.equal(a, t)
    hooks = [
        h for m in loaded.model.modules() for h in (m._forward_pre_hooks, m._forward_hooks) if h
    ]
    assert hooks == []
    assert sum(len(f) for f in alone) == sum(len(b) for b in batches)


def test_transfer_budgets_are_checked_before_work() -> None:
    with pytest.raises(BudgetError, match="2,001 training steps"):
        transfer.train_head(torch.zeros(4, 3), [0, 1, 0, 1], ["a", "b"], steps=2001)
    with pytest.raises(BudgetError, match="50,000,000"):
        transfer.train_head(torch.zeros(2, 30_000_000, dtype=torch.uint8), [0, 1], ["a", "b"])
    loaded = weights.load("lenet5-digits", device="cpu")
    photo, _ = digits.sample_photo(1)
    with pytest.raises(BudgetError, match="501 images"):
        transfer.image_features(loaded, [photo] * 501)


def test_train_head_separates_separable_features() -> None:
    gen = torch.Generator().manual_seed(0)
    centres = torch.randn(3, 20, generator=gen) * 3
    labels = torch.arange(3).repeat_interleave(8)
    feats = centres[labels] + 0.3 * torch.randn(24, 20, generator=gen)
    seen: list[int] = []
    head = transfer.train_head(
        feats,
        labels.tolist(),
        ["a", "b", "c"],
        steps=60,
        progress=lambda step, total, loss: seen.append(step),
    )
    assert head.train_accuracy == 1.0 and seen[-1] == 60
    assert head.losses[-1] < head.losses[0]
    probs = head.probabilities(feats)
    assert torch.allclose(probs.sum(1), torch.ones(24))
    with pytest.raises(transfer.TransferError, match="none for: c"):
        transfer.train_head(feats[:16], labels[:16], ["a", "b", "c"])
    with pytest.raises(transfer.TransferError, match="two classes"):
        transfer.train_head(feats, torch.zeros(24, dtype=torch.long), ["a"])


def test_few_shot_digits_on_precomputed_features() -> None:
    loaded = weights.load("lenet5-digits", device="cpu")
    feats = transfer.digits_features(loaded)
    idx = transfer.few_shot_indices(feats[1], 5)
    assert torch.equal(torch.bincount(feats[1][idx]), torch.full((10,), 5))
    result = transfer.few_shot_digits(feats, 5, steps=100)
    again = transfer.few_shot_digits(feats, 5, steps=100)
    assert result.examples == 50 and result.test_accuracy == again.test_accuracy
    assert result.test_accuracy >= 0.85
    photo, label = digits.sample_photo(3)
    top = transfer.predict_with_head(loaded, result.head, photo, 3)
    assert len(top) == 3 and top[0].label == shipped.CATEGORIES[label]


def test_frozen_layers_are_shaded_in_the_diagram() -> None:
    plan = transfer.freeze_plan("lenet5", 3)
    assert plan.frozen_blocks == ("features.0", "features.3", "classifier.0")
    dot = transfer.frozen_dot("lenet5", plan.frozen_blocks)
    shaded = [line for line in dot.splitlines() if transfer.FROZEN_FILL in line]
    assert len(shaded) == 3
    assert all(
        "frozen: features.0" in d or "frozen: features.3" in d or "frozen: classifier.0" in d
        for d in shaded
    )
    assert transfer.FROZEN_FILL not in transfer.frozen_dot("lenet5", ())
