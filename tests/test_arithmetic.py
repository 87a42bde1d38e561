"""How a layer computes: every number shown against an independent oracle (PyTorch's own
conv2d and pooling, a matmul, the lecture's counts, the real forward pass of real layers)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import explorer
from explorer.core.errors import BudgetError, SpecError
from explorer.labs import arithmetic as ar
from explorer.labs import real_layer as rl
from explorer.labs.preprocessing import preprocessor_for
from explorer.weights import loading as weights


def _torch(matrix: tuple[tuple[float, ...], ...]) -> torch.Tensor:
    return torch.tensor(matrix, dtype=torch.float64)


@pytest.mark.parametrize(
    ("padding", "stride", "dilation"), [(0, 1, 1), (1, 1, 1), (0, 2, 1), (1, 2, 1), (0, 1, 2)]
)
def test_the_lecture_convolution_equals_pytorchs(padding: int, stride: int, dilation: int) -> None:
    result = ar.convolve(padding=padding, stride=stride, dilation=dilation)
    expected = F.conv2d(
        _torch(ar.LECTURE_IMAGE)[None, None], _torch(ar.LECTURE_KERNEL)[None, None],
        padding=padding, stride=stride, dilation=dilation,
    )[0, 0]  # fmt: skip
    assert torch.equal(_torch(result.output), expected)
    for step in result.steps:  # each shown sum is the sum of the nine shown products
        assert step.total == sum(sum(row) for row in step.products)
        assert step.total == expected[step.row, step.col]
    out = expected.shape[-1]
    assert result.formula.endswith(f"= {out}") and len(result.steps) == out * out


def test_the_lecture_example_finds_the_vertical_edge() -> None:
    result = ar.convolve()
    assert result.formula == "⌊(6 + 2·0 − 3)/1⌋ + 1 = 4"
    assert result.output == ((0.0, 30.0, 30.0, 0.0),) * 4  # the slide's 4×4 answer


@pytest.mark.parametrize("mode", ["max", "avg"])
def test_pooling_equals_pytorchs(mode: str) -> None:
    image = [[float((3 * i + 5 * j) % 7) for j in range(6)] for i in range(6)]
    result = ar.pool(image, mode=mode, f=2, stride=2)
    op = F.max_pool2d if mode == "max" else F.avg_pool2d
    expected = op(torch.tensor(image, dtype=torch.float64)[None, None], 2, 2)[0, 0]
    assert torch.allclose(_torch(result.output), expected)
    assert len(result.steps) == 9


def test_a_one_by_one_convolution_is_a_matmul_at_every_pixel() -> None:
    g = torch.Generator().manual_seed(0)
    pixels = torch.randn(6, 6, 32, generator=g, dtype=torch.float64)
    filters = torch.randn(4, 32, generator=g, dtype=torch.float64)
    bias = torch.randn(4, generator=g, dtype=torch.float64)
    dots = ar.one_by_one(pixels.tolist(), filters.tolist(), bias.tolist(), relu=True)
    expected = pixels.reshape(36, 32) @ filters.T + bias
    assert torch.allclose(torch.tensor([d.dots for d in dots], dtype=torch.float64), expected)
    assert all(min(d.outputs) >= 0 for d in dots)  # network in network: then ReLU


def test_the_cost_counter_reaches_the_lecture_numbers() -> None:
    naive = ar.cost_frames(28, 28, 192, 32, 5)
    assert len(naive) == 32 and naive[-1].total_macs == 120_422_400
    bottleneck = ar.cost_frames(28, 28, 192, 32, 5, bottleneck=16)
    reduce = [f for f in bottleneck if f.stage == "1×1 reduce"]
    assert reduce[-1].stage_macs == 2_408_448
    assert bottleneck[-1].stage_macs == 10_035_200 and bottleneck[-1].total_macs == 12_443_648
    from explorer.catalog import blocks  # the tracer agrees, as in the Cost lab

    size = {"height": 28, "width": 28, "in_channels": 192, "out_channels": 32, "kernel_size": 5}
    assert explorer.trace(blocks.naive_conv_spec(**size)).total_macs == naive[-1].total_macs
    traced = explorer.trace(blocks.bottleneck_conv_spec(**size, bottleneck_channels=16))
    assert traced.total_macs == bottleneck[-1].total_macs


def test_budgets_are_checked_before_the_work() -> None:
    with pytest.raises(BudgetError, match="output positions"):
        ar.convolve([[1.0] * 64 for _ in range(64)], ar.LECTURE_KERNEL)
    with pytest.raises(SpecError, match="does not fit"):
        ar.convolve([[1.0, 2.0]], ar.LECTURE_KERNEL)


@pytest.mark.parametrize(
    ("arch", "choice", "layer", "channel", "row", "col"),
    [
        ("lenet5", "lenet5-digits", "features.0", 3, 10, 12),  # LeNet-5's conv1, trained
        ("resnet18", "random", "layer2.0.conv1", 7, 5, 9),  # a ResNet-18 block's conv, stride 2
        ("mobilenet_v2", "random", "features.2.conv.1.0", 11, 20, 31),  # a depthwise conv
        ("lenet5", "lenet5-digits", "features.2", 4, 6, 3),  # an average pool
    ],
)
def test_a_real_layer_recomputed_by_hand_equals_its_forward(
    arch: str, choice: str, layer: str, channel: int, row: int, col: int
) -> None:
    from explorer.core.images import load_sample

    loaded = weights.load(arch, choice, device="cpu")
    batch = preprocessor_for(loaded).single(load_sample("cat"))[None]
    shown = rl.explain_layer(loaded, batch, layer, channel, row, col)
    assert shown.matches, (shown.result, shown.forward)
    model = dict(loaded.model.named_modules())
    assert shown.next_type == type(model[shown.next_layer]).__name__
    module = dict(loaded.model.named_modules())[layer]
    if isinstance(module, torch.nn.Conv2d):
        assert len(shown.input_channels) == module.in_channels // module.groups
        if module.groups > 1:  # depthwise: each filter sees its own channel only
            assert shown.input_channels == (channel,)
        assert sum(shown.per_channel) == pytest.approx(shown.total)


def test_a_layer_padded_by_name_is_a_clear_error() -> None:
    """padding='same' has no number to pad by; it used to reach int('same')."""
    from torch import nn

    from explorer.weights.records import LoadedModel

    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding="same"))
    loaded = LoadedModel("custom", "random", model, torch.device("cpu"), ("a", "b"), (1, 8, 8))
    with pytest.raises(SpecError, match="padding='same'"):
        rl.explain_layer(loaded, torch.zeros(1, 1, 8, 8), "0", 0, 0, 0)


def test_the_layer_after_is_the_networks_own_and_an_in_place_relu_changes_nothing() -> None:
    """The view said "After a ReLU" for every network (LeNet-5 uses tanh), and VGG's in-place
    ReLU overwrote the conv output it had kept: every negative value read "✗ different"."""
    from explorer.core.images import load_sample

    lenet = weights.load("lenet5", "lenet5-digits", device="cpu")
    batch = preprocessor_for(lenet).single(load_sample("cat"))[None]
    shown = rl.explain_layer(lenet, batch, "features.0", 3, 10, 12)
    assert (shown.next_layer, shown.next_type) == ("features.1", "Tanh")
    assert shown.next_value == pytest.approx(math.tanh(shown.result), abs=1e-5)
    assert shown.next_formula is not None and shown.next_formula.endswith("✓")

    vgg = weights.load("vgg11", "random", device="cpu")
    batch = preprocessor_for(vgg).single(load_sample("cat"))[None]
    negatives = 0
    for channel in range(8):
        shown = rl.explain_layer(vgg, batch, "features.0", channel, 50, 60)
        assert shown.matches, (channel, shown.result, shown.forward)
        assert shown.next_type == "ReLU"
        assert shown.next_value == pytest.approx(max(shown.result, 0.0), abs=1e-5)
        negatives += shown.result < 0
    assert negatives >= 2  # seeded weights: channels 0, 5 and 7 are negative there


def test_a_5x5x192_window_is_summed_in_channel_groups_and_one_channel_written_out() -> None:
    """Issue 22's budget: the lecture's 5×5 conv on 28×28×192 is shown as 12 sums of 16
    channels and one channel's 25 products, not 4,800 numbers; every figure is checked
    against torch's own conv2d and an element-wise product."""
    from torch import nn

    from explorer.core import limits
    from explorer.weights.records import LoadedModel

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(192, 32, 5, padding=2)).eval()
    loaded = LoadedModel("lecture", "random", model, torch.device("cpu"), ("a",), (192, 28, 28))
    x = torch.randn(1, 192, 28, 28)
    shown = rl.explain_layer(loaded, x, "0", channel=5, row=13, col=20, look_at=100)
    assert shown.matches
    assert [(g.first, g.last) for g in shown.groups] == [(i, i + 15) for i in range(0, 192, 16)]
    assert len(shown.groups) <= limits.ARITHMETIC_MAX_GROUPS
    assert sum(g.total for g in shown.groups) == pytest.approx(shown.total, abs=1e-9)
    with torch.no_grad():
        weight = model[0].weight.double()
        padded = F.pad(x.double(), (2, 2, 2, 2))[0, 100, 13:18, 20:25]
        products = padded * weight[5, 100]
        full = F.conv2d(x.double(), weight, model[0].bias.double(), padding=2)
    assert shown.products == tuple(tuple(r) for r in products.tolist())
    assert shown.look_sum == pytest.approx(float(products.sum()), abs=1e-12)
    assert shown.result == pytest.approx(float(full[0, 5, 13, 20]), abs=1e-9)
    sent = 3 * 25 + len(shown.groups)  # the numbers the page writes out
    assert sent == 87
    with pytest.raises(SpecError, match="sees input channels 0…191, not 192"):
        rl.explain_layer(loaded, x, "0", channel=5, row=13, col=20, look_at=192)


def test_a_depthwise_filter_shows_its_one_channel() -> None:
    from torch import nn

    from explorer.weights.records import LoadedModel

    model = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1, groups=8)).eval()
    loaded = LoadedModel("dw", "random", model, torch.device("cpu"), ("a",), (8, 6, 6))
    shown = rl.explain_layer(loaded, torch.randn(1, 8, 6, 6), "0", channel=3, row=2, col=2)
    assert shown.input_channels == (3,) and shown.look_at == 3
    assert [(g.first, g.last) for g in shown.groups] == [(3, 3)]


@pytest.mark.parametrize(
    ("layer", "row", "col"), [("4", 0, 0), ("4", 5, 3), ("2", 3, 7), ("6", 2, 2)]
)
def test_the_picture_window_is_every_input_pixel_the_value_depends_on(
    layer: str, row: int, col: int
) -> None:
    """The field drawn on the picture, checked against autograd: the input pixels whose
    gradient is not zero (random weights, convolutions, strides, padding, dilation and an
    average pool: every pixel in the field counts)."""
    from torch import nn

    from explorer.weights.records import LoadedModel

    torch.manual_seed(1)
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(),
        nn.Conv2d(4, 4, 5, stride=2, padding=2), nn.Tanh(),
        nn.AvgPool2d(3, stride=2, padding=1),
        nn.Conv2d(4, 2, 3, dilation=2, padding=1),
        nn.Conv2d(2, 2, 2, stride=2),
    ).eval()  # fmt: skip
    x = torch.rand(1, 3, 32, 32) + 0.5  # positive: every ReLU passes something
    loaded = LoadedModel("fields", "random", model, torch.device("cpu"), ("a",), (3, 32, 32))
    shown = rl.explain_layer(loaded, x, layer, 0, row, col)
    assert shown.picture_window is not None
    top, left, bottom, right = shown.picture_window

    x = x.clone().requires_grad_(True)
    out = model[: int(layer) + 1](x)
    out[0, 0, row, col].backward()
    assert x.grad is not None
    hit = (x.grad[0].abs().sum(0) > 0).nonzero()
    rows, cols = hit[:, 0], hit[:, 1]
    assert (int(rows.min()), int(cols.min())) == (max(top, 0), max(left, 0))
    assert (int(rows.max()), int(cols.max())) == (min(bottom, 31), min(right, 31))


def test_a_window_too_wide_to_write_out_is_refused_before_the_forward_pass() -> None:
    from torch import nn

    from explorer.weights.records import LoadedModel

    class Counting(nn.Conv2d):
        calls = 0

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            Counting.calls += 1
            return super().forward(x)

    model = nn.Sequential(Counting(1, 1, 17)).eval()
    loaded = LoadedModel("wide", "random", model, torch.device("cpu"), ("a",), (1, 40, 40))
    with pytest.raises(BudgetError, match="17×17"):
        rl.explain_layer(loaded, torch.zeros(1, 1, 40, 40), "0", 0, 0, 0)
    assert Counting.calls == 0
