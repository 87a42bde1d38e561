"""Empty-weight builds are private to the building thread: no patch anyone else can see."""

from __future__ import annotations

import threading

import torch
from torch import nn

import explorer
from explorer.analysis.building import build_model
from explorer.analysis.meta_models import build_meta
from explorer.engine.building import empty_init


class _Frozen(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 8)
        self.scale = nn.Parameter(torch.ones(8), requires_grad=False)
        self.register_buffer("steps", torch.zeros(1))


class _Mixed(nn.Module):
    """Mixes a value tensor (CPU) with an allocated one (meta) in __init__: the fallback."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.arange(4).float() + torch.zeros(4))


def test_requires_grad_false_survives_a_meta_build() -> None:
    with empty_init():
        model = _Frozen()
    assert model.scale.device.type == "meta" and model.fc.weight.device.type == "meta"
    assert model.scale.requires_grad is False
    assert model.fc.weight.requires_grad is True


def test_builder_that_needs_values_falls_back() -> None:
    spec = explorer.ArchSpec(
        name="mixed-test", family="test", title="mixed", builder=_Mixed, input_size=(1, 4, 4)
    )
    model = build_meta(spec)
    assert model.weight.device.type == "meta" and tuple(model.weight.shape) == (4,)


def test_meta_and_real_builds_in_parallel_threads() -> None:
    """Issue 10: 3 real-build threads against 1 meta thread raised 812 KeyErrors in 15.7k
    builds when the meta build patched nn.Module process-wide. Now: none, and every real model
    has real, initialised weights."""
    errors: list[BaseException] = []
    problems: list[str] = []
    stop = threading.Event()

    def real() -> None:
        try:
            while not stop.is_set():
                model = _Frozen()
                if model.fc.weight.device.type != "cpu" or not model.fc.weight.abs().sum() > 0:
                    problems.append("real model without real weights")
                if model.scale.requires_grad:
                    problems.append("requires_grad lost in a real build")
                lenet = build_model("lenet5")
                if next(lenet.parameters()).device.type != "cpu":
                    problems.append("build_model gave meta weights")
        except BaseException as exc:
            errors.append(exc)

    def meta() -> None:
        try:
            for _ in range(40):
                model = build_meta("resnet18")
                if any(not p.is_meta for p in model.parameters()):
                    problems.append("meta build with real weights")
                with empty_init():
                    frozen = _Frozen()
                if frozen.scale.requires_grad or not frozen.fc.weight.is_meta:
                    problems.append("meta build lost requires_grad or device")
        except BaseException as exc:
            errors.append(exc)
        finally:
            stop.set()

    threads = [threading.Thread(target=real) for _ in range(3)]
    threads.append(threading.Thread(target=meta))
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[:3]
    assert not problems, problems[:3]
    assert nn.init.kaiming_uniform_.__module__ == "torch.nn.init"
    assert nn.Module.register_parameter.__module__ == "torch.nn.modules.module"


class _Shared(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)
        self.again = self.conv  # the same module under two names
        self.frozen = nn.Linear(3, 3)
        self.frozen.weight.requires_grad_(False)
        self.extra = [nn.ReLU()]  # a module outside _modules, as some user code does

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.extra[0](self.again(self.conv(x)))
        return self.frozen(x.mean((2, 3)))


def test_meta_copy_is_shallow_private_and_faithful() -> None:
    from explorer.engine.building import meta_copy

    model = _Shared()
    before = model.conv.weight.detach().clone()
    hook_dicts = {id(m): dict(m._forward_hooks) for m in model.modules()}
    copy_ = meta_copy(model)
    assert copy_.conv is copy_.again and copy_.conv is not model.conv
    assert copy_.conv.weight.is_meta and model.conv.weight.device.type == "cpu"
    assert copy_.frozen.weight.requires_grad is False and copy_.frozen.bias.requires_grad
    assert copy_.extra[0] is not model.extra[0]
    copy_.conv.register_forward_hook(lambda *a: None)
    assert all(dict(m._forward_hooks) == hook_dicts[id(m)] for m in model.modules())
    assert torch.equal(model.conv.weight, before)
    t = explorer.trace(model, (3, 8, 8))
    assert t.total_params == sum(p.numel() for p in model.parameters())
    assert t.trainable_params == t.total_params - 9
    assert t.layer("conv").calls == 2


def test_seeded_real_build_is_the_builders_own_init_without_the_global_rng() -> None:
    """build_model(generator=g) runs the builder as it is, its draws handed to g: the weights
    of `torch.manual_seed(s)` + a default build, for any builder (a ViT's class token, the
    nn.init functions that dispatch to the mode themselves), and the global RNG is untouched."""
    from explorer.weights import loading as weights

    for name in ("vit_b_16", "resnet18"):
        torch.manual_seed(0)
        reference = build_model(name).state_dict()
        before = torch.random.get_rng_state()
        seeded = build_model(name, generator=torch.Generator().manual_seed(0)).state_dict()
        assert torch.equal(before, torch.random.get_rng_state())
        assert all(torch.equal(reference[k], seeded[k]) for k in reference)
    # "random" weights are that seeded build: a worker process makes the very same model
    a = weights.load("vit_b_16", "random").model.state_dict()
    b = weights.load("vit_b_16", "random").model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
