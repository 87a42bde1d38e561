"""Which device runs inference: cuda > mps > cpu, unless the user names one."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

import torch

from explorer.core.errors import ExplorerError


class DeviceError(ExplorerError, ValueError):
    """A device the user asked for that this machine does not have."""


DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def available_devices() -> list[str]:
    """Devices usable here, best first ("cpu" is always last and always present)."""
    found = []
    if torch.cuda.is_available():
        found.append("cuda")
    if _mps_available():
        found.append("mps")
    found.append("cpu")
    return found


def pick_device(requested: str | torch.device | None = "auto") -> torch.device:
    """`auto`/None: the best available device; a name: that device, or a clear error."""
    if isinstance(requested, torch.device):
        requested = str(requested)
    name = (requested or "auto").strip().lower()
    if name == "auto":
        return torch.device(available_devices()[0])
    kind = name.split(":", 1)[0]
    if kind not in DEVICE_CHOICES:
        raise DeviceError(f"Unknown device {requested!r}: use one of {', '.join(DEVICE_CHOICES)}.")
    if kind not in available_devices():
        raise DeviceError(
            f"This machine has no {kind} device; available: {', '.join(available_devices())}."
        )
    return torch.device(name)


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """Mixed precision is used on CUDA only: bf16 where the GPU supports it, else fp16."""
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def autocast(device: torch.device) -> AbstractContextManager[object]:
    dtype = autocast_dtype(device)
    if dtype is None:
        return nullcontext()
    return torch.autocast(device_type="cuda", dtype=dtype)


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work so that a wall-clock latency is honest."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()
