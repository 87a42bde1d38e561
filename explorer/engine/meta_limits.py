"""What cannot be traced on the meta device, said in one clear sentence naming the op and the
layer: a forward that reads values (`.item()`, `if x.any()`, `nonzero`, boolean masks),
TorchScript modules, lazy modules before their first call.

A meta tensor has a shape and a dtype but no values, so a trace can follow any forward whose
control flow depends on shapes only.
"""

from __future__ import annotations

from torch import jit, nn
from torch.nn.parameter import is_lazy

from explorer.core.errors import ExplorerError


class MetaTraceError(ExplorerError, RuntimeError):
    """A model, or one of its layers, that the meta device cannot run (see
    explorer.engine.meta_limits)."""


# (text in PyTorch's message, the op, what it means in a forward)
_DATA_DEPENDENT = (
    ("Tensor.item()", "Tensor.item()", "reads a value out of a tensor (`.item()`, `float(x)`, "
     "`if x.sum() > 0`, `x.any()` in an `if`)"),
    ("torch.nonzero()", "torch.nonzero()", "selects elements by value (`nonzero`, `x[x > 0]`, "
     "`torch.where(mask)`, `masked_select`), so the output's size depends on the data"),
    ("data-dependent", "a data-dependent operation", "needs the tensor's values"),
    ("aten._local_scalar_dense", "Tensor.item()", "reads a value out of a tensor"),
    ("aten.nonzero", "torch.nonzero()", "selects elements by value"),
)


def _where(name: str, module: nn.Module) -> str:
    kind = type(module).__name__
    return f"layer {name!r} ({kind})" if name else f"the model's own forward ({kind})"


def data_dependent(cause: BaseException, name: str, module: nn.Module, label: str) -> (
    MetaTraceError | None
):
    """The clear error for a forward that needs values, or None if `cause` is something else."""
    text = str(cause)
    for needle, op, meaning in _DATA_DEPENDENT:
        if needle in text:
            return MetaTraceError(
                f"{label} cannot be traced on the meta device: {_where(name, module)} calls "
                f"{op}, which {meaning}; meta tensors have shapes but no values. Trace a "
                "model whose control flow depends on shapes only, or move that step out of "
                "forward()."
            )
    return None


def check_module(model: nn.Module, label: str) -> None:
    """Refuse what cannot run on meta before trying: TorchScript, uninitialised lazy layers."""
    if isinstance(model, jit.ScriptModule):
        raise MetaTraceError(
            f"{label} is a TorchScript module ({type(model).__name__}); a trace needs the "
            "Python module it was scripted from (TorchScript cannot run with hooks on the meta "
            "device). Trace the nn.Module before torch.jit.script / torch.jit.trace."
        )
    for name, module in model.named_modules():
        if isinstance(module, jit.ScriptModule):
            raise MetaTraceError(
                f"{label} contains a TorchScript module at {_where(name, module)}; a trace "
                "needs plain nn.Modules throughout."
            )
        lazy = [p for p, v in module.named_parameters(recurse=False) if is_lazy(v)]
        lazy += [b for b, v in module.named_buffers(recurse=False) if is_lazy(v)]
        if lazy:
            raise MetaTraceError(
                f"{label} has a lazy layer not yet called: {_where(name, module)} has no shape "
                f"for {', '.join(lazy)} until its first forward. Call the model once on a real "
                "example (or use the non-lazy layer) before tracing."
            )


def has_forward(model: nn.Module) -> bool:
    """False for a module whose class never defined forward() (a plain container of layers)."""
    return type(model).forward is not nn.Module.forward
