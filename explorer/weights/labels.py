"""How the model boxes name a network with weights ("resnet50 (✓ cached, ImageNet top-1
80.9%)"), and when those names can change: a weights file arriving or leaving."""

from __future__ import annotations

from explorer.weights import loading, shipped


def model_label(name: str) -> str:
    """A model box's label: the name, whether its weights file is here (else its size), and
    its ImageNet top-1 where the metadata gives one."""
    if name == shipped.WEIGHTS_NAME:
        return "lenet5-digits — LeNet-5 trained on handwritten digits (shipped, offline)"
    if name in shipped.SHIPPED:
        return f"{name} — the same, trained from another seed (shipped, offline)"
    info = loading.find(name)
    mark = "✓ cached" if info.cached else f"{info.size_text}, not downloaded"
    top1 = f", ImageNet top-1 {info.top1:.1f}%" if info.top1 is not None else ""
    return f"{name} ({mark}{top1})"


def checkpoints_stamp() -> int:
    """When torch's hub checkpoints folder (where the listed networks' weights files live)
    last changed, in nanoseconds, 0 if it does not exist: labels made at one stamp hold until
    a file arrives or leaves (a download is renamed into place when complete)."""
    try:
        return loading.checkpoint_dir().stat().st_mtime_ns
    except OSError:
        return 0
