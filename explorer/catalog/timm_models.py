"""Every timm model (`timm.list_models()`), registered as `timm/<name>`.

Registering reads timm's metadata only and builds nothing: the family is the timm module that
defines the model (`timm/resnet`, `timm/vision_transformer`, ...), the input size and class
count come from the model's default pretrained config, as `timm.create_model(name)` would use
them. The `timm/` prefix keeps timm's names apart from torchvision's (`resnet50` is
torchvision's, `timm/resnet50` is timm's; they are different networks).

Published figures: timm's own benchmark table (`assets/timm/benchmark.csv`, trimmed from
`results/benchmark-infer-amp-nchw-pt291-cu128-4090.csv` in huggingface/pytorch-image-models,
Apache-2.0), which gives parameters in millions and GMACs with two decimals, per model and
image size.
"""

from __future__ import annotations

import csv
import functools
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from torch import nn

from explorer.catalog.registry import _REGISTRY, ArchSpec, Published, register

if TYPE_CHECKING:
    from explorer.core.records import Trace

PREFIX = "timm/"
BENCHMARK_CSV = Path(__file__).resolve().parents[2] / "assets" / "timm" / "benchmark.csv"
SOURCE = (
    "timm benchmark table (results/benchmark-infer-amp-nchw-pt291-cu128-4090.csv, "
    "huggingface/pytorch-image-models)"
)
# Why a figure may differ from ours by more than its rounding: timm measures with fvcore's
# FlopCountAnalysis (benchmark.py, `profile_fvcore`), whose table is not the lecture's.
NOTE = (
    "timm's GMACs are measured with fvcore's FlopCountAnalysis (timm's benchmark.py), which "
    "also counts normalisation layers (BatchNorm, LayerNorm, GroupNorm) and adaptive pooling "
    "element by element. Ours counts only the multiply-adds of convolutions, linear layers and "
    "matrix products (attention included). Parameters are counted the same way."
)


# timm's re-parameterisable families: their blocks train as parallel branches (3×3, 1×1,
# identity, each with a BatchNorm) that `timm.utils.reparameterize_model` fuses into one
# convolution for inference. timm's published figures are for the fused form.
DEPLOY = "@deploy"
_DEPLOY_FAMILIES = ("repvgg", "mobileone", "fastvit", "repghostnet", "repvit", "ghostnetv3")


def timm_name(name: str) -> str:
    """'timm/resnet50' -> 'resnet50', 'timm/repvgg_a2@deploy' -> 'repvgg_a2': timm's own name
    (a deploy form's pretrained weights are its training form's, fused after loading)."""
    name = name[len(PREFIX) :] if name.startswith(PREFIX) else name
    return name.removesuffix(DEPLOY)


def is_deploy(name: str) -> bool:
    """Whether `name` is the deploy form of a re-parameterisable timm network."""
    return name.startswith(PREFIX) and name.endswith(DEPLOY)


def deploy_form(name: str) -> str | None:
    """The catalog name of `name`'s deploy (re-parameterised) form, None when it has none."""
    candidate = name + DEPLOY
    return candidate if candidate in _REGISTRY else None


@functools.lru_cache(maxsize=1)
def published_table() -> dict[tuple[str, int], tuple[float, float]]:
    """(timm name, image side) -> (parameters in millions, GMACs), as timm printed them."""
    table: dict[tuple[str, int], tuple[float, float]] = {}
    if not BENCHMARK_CSV.is_file():
        return table
    with BENCHMARK_CSV.open(newline="") as f:
        for row in csv.DictReader(f):
            key = (row["model"], int(row["img_size"]))
            table[key] = (float(row["param_count"]), float(row["gmacs"]))
    return table


def published(name: str, side: int) -> Published | None:
    """timm's published figures for `name` at `side`×`side`, with their rounding."""
    figures = published_table().get((name, side))
    if figures is None:
        return None
    millions, gmacs = figures
    return Published(
        source=SOURCE,
        params=round(millions * 1e6),
        params_tolerance=5_000,  # millions with two decimals
        macs=round(gmacs * 1e9),
        macs_tolerance=5_000_000,  # GMACs with two decimals
        note=NOTE,
        macs_convention="fvcore",
    )


def fvcore_extra(trace: Trace) -> int:
    """What fvcore's FlopCountAnalysis (timm's GMACs) counts on top of our multiply-adds, from
    the layers of a trace: 2 per element of an (affine) BatchNorm in eval mode, 5 per element
    of a LayerNorm/GroupNorm, 1 per input element of an adaptive average pooling (fvcore's
    `batchnorm_flop_jit`, `norm_flop_counter(2)`, `elementwise_flop_counter(1, 0)`), and
    5 (4 without gain) per weight of a weight-standardised convolution, whose F.batch_norm
    over its own weight fvcore counts as a training-mode norm."""
    extra = 0
    for r in trace.layers:
        if "StdConv" in r.type:  # NF-nets, BiT: weights standardised by F.batch_norm per call
            out = int(r.hyper.get("out_channels", 0))
            weight = r.own_params - out * (bool(r.hyper.get("bias")) + ("Scaled" in r.type))
            extra += (5 if "Scaled" in r.type else 4) * weight * max(r.calls, 1)
        elif "BatchNorm" in r.type:
            extra += 2 * math.prod(r.output_shape)
        elif "LayerNorm" in r.type or "GroupNorm" in r.type:
            extra += 5 * math.prod(r.output_shape)
        elif r.type == "AdaptiveAvgPool2d" and r.input_shapes:
            extra += math.prod(r.input_shapes[0])
    return extra


def fvcore_macs(trace: Trace) -> int:
    """Our total under fvcore's convention (to explain a difference with timm's GMACs)."""
    return trace.total_macs + fvcore_extra(trace)


# Blocks that timm re-parameterises (fuses) before benchmarking.
_REPARAM = (
    "RepVggBlock", "MobileOneBlock", "RepConditionalPosEnc", "RepMixer", "RepCPE",
    "ReparamLargeKernelConv", "RepGhostModule", "RepVggDw", "GhostModuleV3",
)  # fmt: skip
_RECURRENT = ("LSTM", "GRU", "RNN")


def fvcore_note(trace: Trace) -> str:
    """Why our total under fvcore's convention is what it is (shown beside that row)."""
    note = (
        "timm's GMACs are fvcore's count: ours plus 2 per BatchNorm element, 5 per "
        "LayerNorm/GroupNorm element and 1 per adaptive-average-pool input element."
    )
    if any(r.type in _RECURRENT for r in trace.layers):
        note += (
            " fvcore has no formula for recurrent layers (LSTM, GRU): timm's figure leaves "
            "their matrix products out; ours counts them (4 gates × hidden × (input + hidden) "
            "per step for an LSTM), so ours is higher."
        )
    if any(r.type in _REPARAM for r in trace.layers):
        deploy = deploy_form(trace.architecture)
        note += (
            " This network re-parameterises for inference (timm's reparameterize_model fuses "
            "its parallel branches into one convolution); timm's parameters and GMACs are for "
            "the fused form, ours for the branches as built, so ours are higher."
            + (f" The fused form is `{deploy}`, checked against the same figures." if deploy
               else "")
        )  # fmt: skip
    return note


# name -> (row label, our total under it, why)
CONVENTIONS = {"fvcore": ("as fvcore counts (timm's convention)", fvcore_macs, fvcore_note)}


def _family(module: str) -> str:
    return f"timm/{module}"


def _spec(name: str, module: str) -> ArchSpec:
    from timm.models import get_pretrained_cfg, is_model_pretrained

    cfg = get_pretrained_cfg(name)
    c, h, w = (int(v) for v in cfg.input_size) if cfg is not None else (3, 224, 224)
    num_classes = int(cfg.num_classes) if cfg is not None and cfg.num_classes else 0
    tag = (cfg.tag or "") if cfg is not None and is_model_pretrained(name) else ""
    paper = ""
    if cfg is not None and (cfg.paper_name or cfg.paper_ids):
        paper = "; ".join(str(p) for p in (cfg.paper_name, cfg.paper_ids) if p)
    url = f"https://huggingface.co/{cfg.hf_hub_id}" if cfg is not None and cfg.hf_hub_id else ""
    return ArchSpec(
        name=PREFIX + name,
        family=_family(module),
        title=PREFIX + name,  # the picker then shows the name once
        builder=functools.partial(_build, name),
        input_size=(c, h, w),
        num_classes=num_classes,
        paper=paper,
        url=url,
        source="timm",
        pretrained=tag,
        published=published(name, h) if h == w else None,
        tags=("timm",),
    )


def register_all() -> None:
    """Register every timm model, and the deploy form of each re-parameterisable one;
    nothing when timm is not installed."""
    try:
        import timm
    except ImportError:
        return
    for module in timm.list_modules():
        for name in timm.list_models(module=module):
            if PREFIX + name not in _REGISTRY:
                spec = register(_spec(name, module))
                if name.startswith(_DEPLOY_FAMILIES):
                    register(_deploy_spec(spec, name))


def _deploy_spec(trained: ArchSpec, name: str) -> ArchSpec:
    """The same network after timm's re-parameterisation: what timm's table describes."""
    return ArchSpec(
        name=trained.name + DEPLOY,
        family=trained.family,
        title=f"{trained.name} (deploy form, re-parameterised)",
        builder=functools.partial(_build_deploy, name),
        input_size=trained.input_size,
        num_classes=trained.num_classes,
        paper=trained.paper,
        url=trained.url,
        notes=(
            f"The inference form of `{trained.name}`: `timm.utils.reparameterize_model` fuses "
            "each block's parallel branches (convolutions of several sizes, identity, "
            "BatchNorms) into one convolution, as timm does before it benchmarks. Same "
            f"outputs, fewer parameters and multiply-adds. [The training form →](?arch="
            f"{trained.name})"
        ),
        source="timm",
        published=trained.published,
        pretrained=trained.pretrained,  # the training form's weights, fused once loaded
        tags=("timm", "deploy"),
    )


def _build_deploy(name: str, **overrides: Any) -> nn.Module:
    """timm's model, re-parameterised (in a meta build the fused weights are made on meta
    too)."""
    return reparameterized(_build(name, **overrides))


def reparameterized(model: nn.Module) -> nn.Module:
    """`model` (timm's training form, just built or just loaded) fused by timm's own
    `reparameterize_model`, in eval mode as timm does: each block's branches become one
    convolution with the same outputs."""
    from timm.utils import reparameterize_model

    model.eval()
    fused: nn.Module = reparameterize_model(model, inplace=True)
    return fused


def _build(name: str, **overrides: Any) -> nn.Module:
    """timm's own constructor. In a meta build, a model that computes a parameter from CPU
    values and meta ones in one op (the "mixed" RoPE ViTs: `torch.arange` stays on the CPU,
    `torch.rand` is made on meta) is built again with timm's own `device="meta"` (every
    tensor on meta); a model whose class takes no `device` then raises TypeError, and
    explorer.analysis.building's slower fallback (real CPU tensors) builds it as before."""
    import timm

    from explorer.engine.building import building_on_meta

    try:
        return timm.create_model(name, pretrained=False, **overrides)
    except RuntimeError:
        if "device" in overrides or not building_on_meta():
            raise
        return timm.create_model(name, pretrained=False, device="meta", **overrides)
