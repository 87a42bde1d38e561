"""Random draws from a local `torch.Generator`, never the global RNG or any process-wide state.

`seeded(s)` enters a `TorchFunctionMode` that hands every random draw made in this thread
(`torch.rand`, `randint`, `randperm`, `Tensor.uniform_`, `Tensor.normal_`, the Beta draw of
MixUp, ...) a private generator seeded with s. PyTorch keeps the mode stack per thread, so
other sessions' threads draw from their own generators or the global one as before; and a
fresh generator seeded with s yields exactly the numbers the global one yields after
seeding it with s. torchvision's v2 transforms and model builders take no generator
argument, so this is the one way to seed them locally without copying their code: previews
(explorer.labs.augment) and real builds with random weights
(explorer.analysis.building.build_model).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

# Every random function the v2 transforms (and torch.distributions.Beta) and model builders
# call; each takes a `generator` keyword. Tensor methods are listed as the functions torch
# dispatches them as. The three nn.init functions hand themselves to the active mode before
# their body runs, and a mode's handler runs with the mode switched off: their draws would
# otherwise escape to the global RNG (nn.init's other functions call the Tensor methods).
_RANDOM_FUNCTIONS = frozenset({
    torch.nn.init.uniform_, torch.nn.init.normal_, torch.nn.init.kaiming_uniform_,
    torch.rand, torch.randn, torch.randint, torch.randperm, torch.normal, torch.bernoulli,
    torch.multinomial, torch.poisson, torch.rand_like, torch.randn_like, torch.randint_like,
    torch._standard_gamma, torch._sample_dirichlet,
    torch.Tensor.uniform_, torch.Tensor.normal_, torch.Tensor.random_, torch.Tensor.bernoulli_,
    torch.Tensor.exponential_, torch.Tensor.geometric_, torch.Tensor.log_normal_,
    torch.Tensor.cauchy_, torch.Tensor.bernoulli,
})


class LocalGenerator(TorchFunctionMode):
    """Random draws in this thread come from `generator` unless a call names its own."""

    def __init__(self, generator: torch.Generator) -> None:
        super().__init__()
        self.generator = generator

    def __torch_function__(
        self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: Any = None
    ) -> Any:
        kwargs = dict(kwargs or {})
        if func in _RANDOM_FUNCTIONS and kwargs.get("generator") is None:
            kwargs["generator"] = self.generator
        return func(*args, **kwargs)


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[torch.Generator]:
    """Within the block, this thread's random draws come from a new generator seeded `seed`."""
    generator = torch.Generator().manual_seed(seed)
    with LocalGenerator(generator):
        yield generator


@contextlib.contextmanager
def resumed(state: torch.Tensor) -> Iterator[torch.Generator]:
    """Like `seeded`, with a generator restored to `state` (from `Generator.get_state()`):
    the draws continue exactly where the generator that state was taken from stood."""
    generator = torch.Generator().set_state(state)
    with LocalGenerator(generator):
        yield generator
