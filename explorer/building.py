"""Building models: on the meta device for tracing (no weight memory), or for real.

`empty_init()` is the same trick as accelerate's `init_empty_weights`: parameters and buffers
are moved to the meta device the moment a module registers them, and torch.nn.init's
functions do nothing. It works where `with torch.device("meta")` does not (every regnet
builder calls `.tolist()` on a tensor it creates), and it skips weight initialisation, which
is most of a meta build's time. The patch is active only in the thread that asked for it, so
a Streamlit session building a real model at the same moment is not affected.
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from explorer.architectures import ArchSpec, resolve
from explorer.architectures.registry import is_registered

_local = threading.local()
_patch_lock = threading.Lock()
_patch_users = 0
_originals: dict[str, Callable[..., Any]] = {}

_INIT_FUNCTIONS = [
    name
    for name in dir(nn.init)
    if name.endswith("_") and not name.startswith("_") and callable(getattr(nn.init, name))
]


def _active() -> bool:
    return getattr(_local, "depth", 0) > 0


def _register_parameter(module: nn.Module, name: str, param: nn.Parameter | None) -> None:
    _originals["register_parameter"](module, name, param)
    if param is not None and _active() and param.device.type != "meta":
        cls = type(param)
        extra = param.__dict__
        module._parameters[name] = cls(param.to("meta"), **extra)


def _register_buffer(
    module: nn.Module, name: str, tensor: torch.Tensor | None, persistent: bool = True
) -> None:
    if tensor is not None and _active() and tensor.device.type != "meta":
        tensor = tensor.to("meta")
    _originals["register_buffer"](module, name, tensor, persistent)


def _init_wrapper(name: str) -> Callable[..., Any]:
    def init(tensor: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        if _active():
            return tensor
        return _originals[f"init.{name}"](tensor, *args, **kwargs)

    init.__name__ = name
    init.__wrapped__ = _originals[f"init.{name}"]  # type: ignore[attr-defined]
    return init


def _install() -> None:
    _originals["register_parameter"] = nn.Module.register_parameter
    _originals["register_buffer"] = nn.Module.register_buffer
    nn.Module.register_parameter = _register_parameter  # type: ignore[method-assign,assignment]
    nn.Module.register_buffer = _register_buffer  # type: ignore[method-assign,assignment]
    for name in _INIT_FUNCTIONS:
        _originals[f"init.{name}"] = getattr(nn.init, name)
        setattr(nn.init, name, _init_wrapper(name))


def _uninstall() -> None:
    nn.Module.register_parameter = _originals.pop("register_parameter")  # type: ignore[method-assign]
    nn.Module.register_buffer = _originals.pop("register_buffer")  # type: ignore[method-assign]
    for name in _INIT_FUNCTIONS:
        setattr(nn.init, name, _originals.pop(f"init.{name}"))


@contextmanager
def empty_init() -> Iterator[None]:
    """Inside: modules built in this thread get meta parameters/buffers and skip init."""
    global _patch_users
    with _patch_lock:
        if _patch_users == 0:
            _install()
        _patch_users += 1
    _local.depth = getattr(_local, "depth", 0) + 1
    try:
        yield
    finally:
        _local.depth -= 1
        with _patch_lock:
            _patch_users -= 1
            if _patch_users == 0:
                _uninstall()


def build_meta(arch: str | ArchSpec, **kwargs: Any) -> nn.Module:
    """The architecture with every parameter and buffer on the meta device, in eval mode."""
    spec = resolve(arch)
    with empty_init():
        model = spec.builder(**kwargs)
    return model.eval()


# Meta models of catalog architectures, kept for re-tracing (another input size or batch is a
# new trace of the same model). One is about 1-3 MB of Python objects. Each has its own lock:
# a trace adds hooks to the model, so two threads never trace the same model at once.
META_CACHE_SIZE = 32
_meta_cache: OrderedDict[str, tuple[nn.Module, threading.Lock]] = OrderedDict()
_meta_cache_lock = threading.Lock()


@contextmanager
def borrowed_meta_model(arch: str | ArchSpec) -> Iterator[nn.Module]:
    """A meta model of `arch`, held exclusively while the block runs; cached for catalog
    entries, built fresh for anything else (layer stacks, unregistered specs)."""
    spec = resolve(arch)
    if not is_registered(spec):
        yield build_meta(spec)
        return
    with _meta_cache_lock:
        entry = _meta_cache.get(spec.name)
        if entry is not None:
            _meta_cache.move_to_end(spec.name)
    if entry is None:
        built = (build_meta(spec), threading.Lock())
        with _meta_cache_lock:
            entry = _meta_cache.setdefault(spec.name, built)
            while len(_meta_cache) > META_CACHE_SIZE:
                _meta_cache.popitem(last=False)
    model, lock = entry
    with lock:
        yield model


def build_model(
    arch: str | ArchSpec, *, device: str | torch.device = "cpu", **kwargs: Any
) -> nn.Module:
    """A real, randomly initialised model (weights are loaded by explorer.weights)."""
    spec = resolve(arch)
    model = spec.builder(**kwargs)
    return model.to(device).eval()


def meta_copy(model: nn.Module) -> nn.Module:
    """A copy of a user's module with meta parameters and buffers; the original is untouched
    and no weight data is copied."""
    memo: dict[int, Any] = {}
    for p in model.parameters():
        memo[id(p)] = nn.Parameter(
            torch.empty_like(p, device="meta"), requires_grad=p.requires_grad
        )
    for b in model.buffers():
        memo[id(b)] = torch.empty_like(b, device="meta")
    return copy.deepcopy(model, memo).eval()
