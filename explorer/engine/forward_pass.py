"""The one meta forward pass behind a trace: module hooks, MAC counting, data-flow events.

`run_forward` calls a private meta model once with one set of hooks. Per module (by index in
`named_modules()`, i.e. by object identity) it notes calls, input and output shapes and the
MACs its own code does (explorer.engine.counting); with `events=True` it also records the data flow
(explorer.engine.recording), from which the diagram and the receptive fields are drawn.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from explorer.core import limits
from explorer.core.errors import BudgetError
from explorer.engine import shape_paths
from explorer.engine.counting import FAST_PATHS, MacCounter
from explorer.engine.recording import Event, EventRecorder

Shapes = tuple[tuple[int, ...], ...]


def tensor_shapes(value: Any) -> Shapes:
    """Shapes of every tensor in a (possibly nested) value, in order."""
    if isinstance(value, torch.Tensor):
        return (tuple(value.shape),)
    if isinstance(value, dict):
        value = list(value.values())
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = [getattr(value, f.name) for f in dataclasses.fields(value)]  # per field
    if isinstance(value, tuple | list):
        return tuple(s for v in value for s in tensor_shapes(v))
    return ()


class Collapsed(Exception):
    """A leaf's output has a spatial size of 0: the input was too small."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.partial: Pass | None = None


class ForwardFailed(Exception):
    """The forward raised; `index` is the innermost module running at the time."""

    def __init__(self, index: int, cause: Exception, partial: Pass) -> None:
        self.index = index
        self.cause = cause
        self.partial = partial


@dataclass
class Pass:
    """What one forward pass noted, per module index (internal; see trace.Trace)."""

    named: list[tuple[str, nn.Module]]
    calls: list[int]
    first_call: list[float]
    own_macs: list[int]
    in_shapes: list[Shapes]
    out_shapes: list[Shapes]
    act_bytes: list[int]
    output: Any = None
    events: list[Event] | None = None
    input_ids: tuple[tuple[int, tuple[int, ...]], ...] = ()
    output_ids: tuple[tuple[int, tuple[int, ...]], ...] = ()
    keep: list[Any] = field(default_factory=list)


def _hook_key() -> int:
    """One hook id for every hook of one pass, taken from the counter that
    `register_forward_hook` uses, so it never collides with anyone else's hook."""
    key = RemovableHandle.next_id
    RemovableHandle.next_id += 1
    return key


def _add_hooks(module: nn.Module, key: int, pre: Any, post: Any) -> None:
    """What `register_forward_pre_hook(pre, with_kwargs=True)` and `register_forward_hook(post,
    with_kwargs=True, always_call=True)` do, without a RemovableHandle (two weakrefs each) per
    hook: a catalog model has hundreds of modules, and a first trace pays for each."""
    module._forward_pre_hooks[key] = pre
    module._forward_pre_hooks_with_kwargs[key] = True
    module._forward_hooks[key] = post
    module._forward_hooks_with_kwargs[key] = True
    module._forward_hooks_always_called[key] = True


def _remove_hooks(module: nn.Module, key: int) -> None:
    for hooks in (
        module._forward_pre_hooks,
        module._forward_pre_hooks_with_kwargs,
        module._forward_hooks,
        module._forward_hooks_with_kwargs,
        module._forward_hooks_always_called,
    ):
        hooks.pop(key, None)


def _recurrent_steps(module: nn.RNNBase, args: tuple[Any, ...]) -> int:
    """Time steps one call of a recurrent layer runs: sequence length × layers × directions."""
    x = args[0] if args else None
    if isinstance(x, nn.utils.rnn.PackedSequence):
        length = int(x.batch_sizes.shape[0])
    elif isinstance(x, torch.Tensor) and x.dim() >= 2:
        length = int(x.shape[1] if module.batch_first and x.dim() == 3 else x.shape[0])
    else:
        length = 1
    return length * int(module.num_layers) * (2 if module.bidirectional else 1)


def run_forward(
    model: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], *, events: bool = False
) -> Pass:
    """Call `model(*args, **kwargs)` once on meta, noting everything a Trace needs.

    `model` must be private to this call (a borrowed or freshly built meta model, or a meta
    copy of a user's module): hooks and pass-through forwards are added and removed again.
    Raises Collapsed or ForwardFailed, each with the partial Pass in `.partial`.
    """
    named = list(model.named_modules())
    n = len(named)
    p = Pass(named, [0] * n, [math.inf] * n, [0] * n, [()] * n, [()] * n, [0] * n)
    stack: list[int] = [0]
    recurrent = [0]  # time steps through LSTM/GRU/RNN layers so far (priced before each runs)
    order = itertools.count()
    recorder = None
    if events:
        recorder = EventRecorder({id(t): n for n, t in model.named_parameters()})

    def pre_hook(i: int) -> Any:
        name = named[i][0]

        def hook(module: nn.Module, a: Any, kw: Any) -> None:
            if isinstance(module, nn.RNNBase):
                recurrent[0] += _recurrent_steps(module, a)
                if recurrent[0] > limits.TRACE_MAX_RECURRENT_STEPS:
                    raise BudgetError(
                        f"Tracing runs {recurrent[0]:,} time steps through recurrent layers "
                        f"(sequence length × layers); the limit is "
                        f"{limits.TRACE_MAX_RECURRENT_STEPS:,}. Use a shorter sequence."
                    )
            stack.append(i)
            p.calls[i] += 1
            if p.first_call[i] == math.inf:
                p.first_call[i] = next(order)
            p.in_shapes[i] = tensor_shapes(a)
            if recorder is not None:
                recorder.events.append(Event("pre", name, recorder.ids((a, kw) if kw else a)))

        return hook

    def post_hook(i: int, leaf: bool) -> Any:
        name = named[i][0]

        def hook(module: nn.Module, a: Any, kw: Any, output: Any) -> None:
            stack.pop()
            shapes = tensor_shapes(output)
            p.out_shapes[i] = shapes
            if recorder is not None:
                recorder.events.append(Event("post", name, (), recorder.ids(output)))
            if leaf:
                p.act_bytes[i] += sum(math.prod(s) for s in shapes) * 4
                for s in shapes:
                    if len(s) >= 3 and 0 in s[2:]:
                        raise Collapsed(i)

        return hook

    passed: list[nn.Module] = []
    hooked: list[nn.Module] = []
    fast = FAST_PATHS.get()
    counter = MacCounter(stack, p.own_macs)
    key = _hook_key()
    try:
        for i, (_, module) in enumerate(named):
            leaf = not module._modules
            _add_hooks(module, key, pre_hook(i), post_hook(i, leaf))
            hooked.append(module)
            if fast and leaf and type(module).forward in shape_paths.PASSTHROUGH_FORWARDS:
                module.forward = shape_paths.passthrough(module, fresh=events)
                passed.append(module)
        if model.training:
            model.eval()
        try:
            with ExitStack() as modes:
                modes.enter_context(torch.no_grad())
                modes.enter_context(counter)
                if recorder is not None:
                    p.input_ids = recorder.ids(args)
                    modes.enter_context(recorder)
                p.output = model(*args, **kwargs)
        except Collapsed as collapsed:
            collapsed.partial = p
            raise
        except BudgetError:
            raise
        except (RuntimeError, ValueError, IndexError, AssertionError) as exc:
            where = counter.failed_at[-1] if counter.failed_at else stack[-1]
            raise ForwardFailed(where, exc, p) from exc
    finally:
        for module in hooked:
            _remove_hooks(module, key)
        for module in passed:
            del module.forward
    if recorder is not None:
        p.output_ids = recorder.ids(p.output)
        p.events = recorder.events
        p.keep = recorder.keep
    return p
