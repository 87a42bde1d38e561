"""One output value of a real layer, computed by hand beside the network's own forward pass.

Any convolution or pooling layer of a loaded network (`explain_layer`): the value's receptive
field in the input picture, the layer's real input activations at that position, its real
weights, one input channel's window × filter products, the sums of every channel in at most
`limits.ARITHMETIC_MAX_GROUPS` groups (a 5×5×192 window is 12 sums of 16 channels, not 4,800
numbers), plus the bias, checked against the value the real forward pass produced there, and
what the layer the network applies next makes of it. The window's side is checked before the
forward pass. The lecture's own examples are explorer.labs.arithmetic's.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from explorer.catalog.registry import known
from explorer.core import limits
from explorer.core.errors import BudgetError, SpecError
from explorer.core.layer_math import pair
from explorer.graph.receptive import Field
from explorer.labs.arithmetic import Matrix, as_matrix
from explorer.weights.model_cache import private_copy
from explorer.weights.records import LoadedModel

__all__ = ["ChannelGroup", "LayerPosition", "channel_groups", "explain_layer"]


@dataclass(frozen=True)
class ChannelGroup:
    """Consecutive input channels and the sum of their window × filter products."""

    first: int
    last: int
    total: float


def channel_groups(
    channels: Sequence[int], sums: Sequence[float], most: int = limits.ARITHMETIC_MAX_GROUPS
) -> tuple[ChannelGroup, ...]:
    """`sums` (one per channel of `channels`) in at most `most` groups of a power-of-two size
    (the last may be smaller): 192 channels are 12 groups of 16, 3 channels 3 groups of 1."""
    size = 1
    while math.ceil(len(channels) / size) > most:
        size *= 2
    return tuple(
        ChannelGroup(channels[i], channels[min(i + size, len(channels)) - 1],
                     float(sum(sums[i : i + size])))
        for i in range(0, len(channels), size)
    )  # fmt: skip


@dataclass(frozen=True)
class LayerPosition:
    """One output value of a real layer at one position, computed by hand and by the model."""

    layer: str
    kind: str  # "conv", "max", "avg"
    channel: int
    row: int
    col: int
    input_channels: tuple[int, ...]  # the input channels this filter sees (its group)
    window_rows: tuple[int, int]  # first and last input row of the window (padding: outside)
    window_cols: tuple[int, int]
    per_channel: tuple[float, ...]  # Σ window × filter for each input channel it sees
    groups: tuple[ChannelGroup, ...]  # the same sums in at most ARITHMETIC_MAX_GROUPS groups
    look_at: int  # the input channel whose window, filter and products are shown
    window: Matrix  # that channel's window (padding: 0)
    weights: Matrix  # that channel's filter slice (pooling: none, all zeros)
    products: Matrix  # window × filter, element by element (pooling: the window)
    total: float  # Σ over the channels (before the bias)
    bias: float
    result: float  # total + bias: the layer's output there
    forward: float  # what the real forward pass produced there
    next_layer: str = ""  # the layer that reads this output next in the real forward ("" none)
    next_type: str = ""  # its class ("Tanh", "ReLU", "BatchNorm2d")
    next_value: float | None = None  # what it made of this value (None: another shape)
    # the input picture's pixels this output value sees: (top, left, bottom, right), inclusive,
    # past the edges is padding; None when it sees the whole picture
    picture_window: tuple[int, int, int, int] | None = None

    @property
    def matches(self) -> bool:
        return math.isclose(self.result, self.forward, rel_tol=1e-4, abs_tol=1e-4)

    @property
    def look_sum(self) -> float:
        """Σ products of the channel shown (one term of the sum over channels)."""
        return self.per_channel[self.input_channels.index(self.look_at)]

    @property
    def next_formula(self) -> str | None:
        """The next layer's arithmetic, when it is an activation of this value alone:
        'tanh(0.96248) = 0.74530 ✓' (✓: equal to what the real forward pass passed on)."""
        known = _ACTIVATIONS.get(self.next_type)
        if known is None or self.next_value is None:
            return None
        text, f = known
        expected = f(self.result)
        mark = "✓" if math.isclose(expected, self.next_value, rel_tol=1e-4, abs_tol=1e-4) else "✗"
        return f"{text.format(x=f'{self.result:.5f}')} = {expected:.5f} {mark}"


# Activation layers whose arithmetic on one value the real-layer view writes out.
_ACTIVATIONS: dict[str, tuple[str, Callable[[float], float]]] = {
    "ReLU": ("max(0, {x})", lambda x: max(x, 0.0)),
    "ReLU6": ("min(max(0, {x}), 6)", lambda x: min(max(x, 0.0), 6.0)),
    "Tanh": ("tanh({x})", math.tanh),
    "Sigmoid": ("σ({x})", lambda x: 1.0 / (1.0 + math.exp(-x))),
}


@dataclass
class _Seen:
    """What one private forward pass showed of a layer and of the layer that read it next."""

    input: torch.Tensor
    output: torch.Tensor
    next_layer: str = ""
    next_type: str = ""
    next_output: torch.Tensor | None = None


def _layer_io(model: nn.Module, layer: str, batch: torch.Tensor) -> tuple[nn.Module, _Seen]:
    """The layer's input and output in one forward pass of a private copy (hooks on the copy
    only), copied when made: an in-place activation after the layer (VGG's ReLU) would
    otherwise overwrite the output it read. Also the first leaf layer that reads that output
    (LeNet-5's Tanh, a ResNet's BatchNorm) and what it made of it."""
    copy = private_copy(model)
    modules = dict(copy.named_modules())
    module = modules.get(layer)
    if not isinstance(module, nn.Conv2d | nn.MaxPool2d | nn.AvgPool2d):
        raise SpecError(f"{layer!r} is not a 2-D convolution or pooling layer of this network.")
    found: dict[str, Any] = {}

    def keep(_: nn.Module, args: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        if "out" not in found:
            found["in"], found["out"] = args[0].detach().clone(), out.detach().clone()
            found["tensor"] = out  # which tensor the next layer must read

    def reader(name: str) -> Any:
        def pre(m: nn.Module, args: tuple[Any, ...]) -> None:
            if "next" not in found and args and args[0] is found.get("tensor"):
                found["next"] = (name, m)

        def post(m: nn.Module, _: tuple[Any, ...], out: Any) -> None:
            is_next = found.get("next", (None, None))[1] is m
            if is_next and "next_out" not in found and isinstance(out, torch.Tensor):
                found["next_out"] = out.detach().clone()

        return pre, post

    handles = [module.register_forward_hook(keep)]
    for name, m in modules.items():
        if m is not module and not m._modules:
            pre, post = reader(name)
            handles += [m.register_forward_pre_hook(pre), m.register_forward_hook(post)]
    try:
        with torch.inference_mode():
            copy(batch)
    finally:
        for handle in handles:
            handle.remove()
    next_name, next_module = found.get("next", ("", None))
    return module, _Seen(
        input=found["in"][0].double(),
        output=found["out"][0].double(),
        next_layer=next_name,
        next_type=type(next_module).__name__ if next_module is not None else "",
        next_output=found["next_out"][0].double() if "next_out" in found else None,
    )


def explain_layer(
    loaded: LoadedModel, batch: torch.Tensor, layer: str, channel: int, row: int, col: int,
    look_at: int | None = None,
) -> LayerPosition:
    """Output `channel` at (`row`, `col`) of `layer` for one preprocessed image (`batch`,
    1×C×H×W), recomputed from the layer's real input activations and weights, beside the value
    the real forward pass produced. The shared model is never touched (a private copy)."""
    chosen = dict(loaded.model.named_modules()).get(layer)  # checked before any work
    if isinstance(chosen, nn.Conv2d | nn.MaxPool2d | nn.AvgPool2d):
        f_h, f_w = pair(chosen.kernel_size)
        if max(f_h, f_w) > limits.ARITHMETIC_MAX_WINDOW_SIDE:
            raise BudgetError(
                f"{layer}'s window is {f_h}×{f_w}; the view shows windows of up to "
                f"{limits.ARITHMETIC_MAX_WINDOW_SIDE} a side."
            )
        if isinstance(chosen.padding, str):  # "same"/"valid": no number to pad by
            raise SpecError(f"{layer} uses padding={chosen.padding!r}; pick another layer.")
    module, seen_pass = _layer_io(loaded.model, layer, batch.to(loaded.device))
    x, y = seen_pass.input, seen_pass.output
    c_out, out_h, out_w = y.shape
    if not (0 <= channel < c_out and 0 <= row < out_h and 0 <= col < out_w):
        raise SpecError(f"{layer} has {c_out} channels of {out_h}×{out_w}; pick inside them.")
    f_h, f_w = pair(module.kernel_size)
    s_h, s_w = pair(module.stride or module.kernel_size)
    p_h, p_w = pair(module.padding)
    d_h, d_w = pair(getattr(module, "dilation", 1))
    padded = F.pad(x, (p_w, p_w, p_h, p_h))
    top, left = row * s_h, col * s_w
    rows = slice(top, top + d_h * (f_h - 1) + 1, d_h)
    cols = slice(left, left + d_w * (f_w - 1) + 1, d_w)
    window = padded[:, rows, cols]  # (C_in, f, f)
    if isinstance(module, nn.Conv2d):
        groups = module.groups
        per_group_in = x.shape[0] // groups
        group = channel // (c_out // groups)
        seen = tuple(range(group * per_group_in, (group + 1) * per_group_in))
        filt = module.weight.detach().double()[channel]  # (C_in / groups, f, f)
        per_channel = (window[list(seen)] * filt).sum(dim=(1, 2))
        total = float(per_channel.sum())
        bias = float(module.bias.detach()[channel]) if module.bias is not None else 0.0
        kind = "conv"
    else:
        seen = (channel,)
        region = window[channel]
        is_max = isinstance(module, nn.MaxPool2d)
        total = float(region.max() if is_max else region.mean())
        per_channel, bias, kind = torch.tensor([total]), 0.0, "max" if is_max else "avg"
    look = seen[0] if look_at is None else look_at
    if look not in seen:
        raise SpecError(
            f"Output channel {channel} of {layer} sees input channel"
            + (f"s {seen[0]}…{seen[-1]}" if len(seen) > 1 else f" {seen[0]}")
            + f", not {look}."
        )
    shown_window = window[look]
    if kind == "conv":
        shown_filter = filt[look - seen[0]]
        products = shown_window * shown_filter
    else:
        shown_filter, products = torch.zeros_like(shown_window), shown_window
    result = total + bias
    after = None
    if seen_pass.next_output is not None and seen_pass.next_output.shape == y.shape:
        after = float(seen_pass.next_output[channel, row, col])
    return LayerPosition(
        layer=layer, kind=kind, channel=channel, row=row, col=col, input_channels=seen,
        window_rows=(top - p_h, top - p_h + d_h * (f_h - 1)),
        window_cols=(left - p_w, left - p_w + d_w * (f_w - 1)),
        per_channel=tuple(per_channel.tolist()),
        groups=channel_groups(seen, per_channel.tolist()), look_at=look,
        window=as_matrix(shown_window.tolist()), weights=as_matrix(shown_filter.tolist()),
        products=as_matrix(products.tolist()),
        total=total, bias=bias, result=result, forward=float(y[channel, row, col]),
        next_layer=seen_pass.next_layer, next_type=seen_pass.next_type, next_value=after,
        picture_window=_picture_window(loaded, tuple(batch.shape[1:]), layer, row, col),
    )  # fmt: skip


def _picture_window(
    loaded: LoadedModel, input_size: tuple[int, ...], layer: str, row: int, col: int
) -> tuple[int, int, int, int] | None:
    """Where output (row, col) of `layer` looks in the input picture: its receptive field,
    from one recorded meta pass of the same network (explorer.graph.receptive), done once per
    catalog network and input size (a model from elsewhere is traced each time)."""
    c, h, w = (int(v) for v in input_size)
    size = (c, h, w)
    if known(loaded.architecture):
        fields = _catalog_fields(loaded.architecture, size)
    else:  # not a catalog network (a test's module): its own meta copy
        from explorer.analysis.analysis import analyse

        fields = analyse(loaded.model, size).fields
    field = fields.get(layer)
    return None if field is None else field.window(row, col)


@functools.lru_cache(maxsize=32)  # bounded: a few networks × input sizes
def _catalog_fields(architecture: str, input_size: tuple[int, int, int]) -> dict[str, Field]:
    from explorer.analysis.analysis import analyse

    return analyse(architecture, input_size).fields
