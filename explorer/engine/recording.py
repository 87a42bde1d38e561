"""The recorded data flow of one meta forward pass: which tensor went into which module.

Module hooks alone miss what is not a module: the channel concatenation of an inception
block (`torch.cat`), the residual addition of a ResNet block (`out += identity`), a
`torch.flatten` in `forward`. So the same forward pass that the tracer counts
(explorer.engine.forward_pass) can also run under `EventRecorder`, a `TorchFunctionMode` that notes
every tensor function with the identities and shapes of its tensors. Module calls are noted
by the tracer's own hooks, so the `Trace` and the `Recording` describe one and the same pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

from explorer.core.hyper import plain_value
from explorer.core.records import LayerRecord

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Event:
    """One step of the recorded forward pass, in execution order."""

    kind: str  # "pre" / "post" (a module call begins / ends) or "op" (a tensor function)
    name: str  # module path, or the function's name
    inputs: tuple[tuple[int, Shape], ...]  # (tensor id, shape) of every tensor argument
    outputs: tuple[tuple[int, Shape], ...] = ()
    args: tuple[Any, ...] = ()  # plain non-tensor arguments of an op (pooling sizes)
    params: tuple[str, ...] = ()  # learned tensors among the inputs (ViT's pos_embedding)


@dataclass(frozen=True)
class Recording:
    architecture: str
    input_shape: Shape
    input_id: int
    output_ids: tuple[tuple[int, Shape], ...]
    events: tuple[Event, ...]
    modules: dict[str, LayerRecord]  # the Trace's own records of the same pass, by path

    @property
    def max_depth(self) -> int:
        return max((m.depth for m in self.modules.values()), default=0)


def _tensors(obj: Any, out: list[torch.Tensor] | None = None) -> list[torch.Tensor]:
    """Every tensor in nested tuples, lists and dicts, in order (pytree's flatten without its
    per-node type registry, which was most of a recording's overhead)."""
    if out is None:
        out = []
    if isinstance(obj, torch.Tensor):
        out.append(obj)
    elif isinstance(obj, tuple | list):
        for value in obj:
            _tensors(value, out)
    elif isinstance(obj, dict):
        for value in obj.values():
            _tensors(value, out)
    return out


class EventRecorder(TorchFunctionMode):
    """Notes every tensor function called during the pass (module calls come from hooks)."""

    def __init__(self, params: dict[int, str] | None = None) -> None:
        super().__init__()
        self.events: list[Event] = []
        self.keep: list[torch.Tensor] = []  # keeps ids unique for the whole pass (meta: free)
        # id -> name of every parameter, and of tensors computed from parameters alone
        # (ViT's class token expanded to the batch), so a graph can show where they join.
        self.params = dict(params or {})

    def ids(self, obj: Any) -> tuple[tuple[int, Shape], ...]:
        out = []
        for t in _tensors(obj):
            self.keep.append(t)
            out.append((id(t), tuple(t.shape)))
        return tuple(out)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        result = func(*args, **kwargs)
        inputs = self.ids((args, kwargs) if kwargs else args)
        if inputs:
            outputs = self.ids(result)
            if outputs:
                name = getattr(func, "__name__", str(func))
                if name.startswith("_") and not name.startswith("__"):  # F._max_pool2d
                    name = name.lstrip("_")
                plain = tuple(plain_value(a) for a in args[1:] if not isinstance(a, torch.Tensor))
                plain += tuple(
                    (k, plain_value(v))
                    for k, v in kwargs.items()
                    if not isinstance(v, torch.Tensor)
                )
                known = self.params
                learned = tuple(dict.fromkeys(known[i] for i, _ in inputs if i in known))
                if learned and all(i in self.params for i, _ in inputs):
                    for i, _ in outputs:
                        self.params[i] = learned[0]
                self.events.append(Event("op", name, inputs, outputs, plain, learned))
        return result


def op_hyper(ev: Event) -> dict[str, Any]:
    """Kernel, stride and padding of functional pooling (F.max_pool2d(x, 3, 2, 1))."""
    if ev.name not in ("max_pool2d", "avg_pool2d"):
        return {}
    positional = [
        a for a in ev.args if not (isinstance(a, tuple) and len(a) == 2 and isinstance(a[0], str))
    ]
    keywords = {
        a[0]: a[1]
        for a in ev.args
        if isinstance(a, tuple) and len(a) == 2 and isinstance(a[0], str)
    }
    order: tuple[str, ...] = ("kernel_size", "stride", "padding", "dilation", "ceil_mode")
    if ev.name == "avg_pool2d":
        order = ("kernel_size", "stride", "padding", "ceil_mode")
    hyper = dict(zip(order, positional))
    hyper.update({k: v for k, v in keywords.items() if k in order})
    if hyper.get("stride") in (None, ()):
        hyper["stride"] = hyper.get("kernel_size")
    return hyper
