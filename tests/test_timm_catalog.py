"""timm in the catalog: every model registered by name without building it, traced on meta
with totals equal to PyTorch's FlopCounterMode and parameters equal to sum(p.numel())."""

from __future__ import annotations

import subprocess
import sys
import warnings

import pytest
import timm
import torch
from torch.utils.flop_counter import FlopCounterMode

import explorer
from explorer.catalog import get, names, published, search, suggest
from explorer.catalog.timm_models import DEPLOY, PREFIX, fvcore_macs

# At least 30 models across timm's families: convnets, mobile nets, transformers, hybrids,
# MLP-mixers, attention-free token mixers.
SAMPLE = [
    "resnet18", "resnet50d", "resnext26ts", "seresnet18", "skresnet18", "res2net50_14w_8s",
    "resnest14d", "densenet121", "dla34", "dpn48b", "vgg11", "inception_v3", "repvgg_a0",
    "efficientnet_b0", "mobilenetv3_small_100", "mobilenetv4_conv_small", "mnasnet_050",
    "ghostnet_050", "lcnet_050", "rexnet_100", "tinynet_e", "regnetx_002", "regnety_002",
    "cs3darknet_s", "ese_vovnet19b_slim_dw", "hrnet_w18_small", "convnext_atto",
    "edgenext_xx_small", "vit_tiny_patch16_224", "deit_tiny_patch16_224",
    "swin_tiny_patch4_window7_224", "pit_ti_224", "levit_128s", "xcit_nano_12_p16_224",
    "crossvit_tiny_240", "coat_lite_tiny", "pvt_v2_b0", "mobilevit_xxs",
    "efficientformer_l1", "mixer_s32_224", "resmlp_12_224", "gmlp_ti16_224",
    "poolformer_s12", "convit_tiny", "botnet26t_256", "mambaout_femto", "starnet_s050",
]  # fmt: skip


def test_every_timm_model_is_registered_by_prefixed_name() -> None:
    ours = {n for n in names() if n.startswith(PREFIX) and not n.endswith(DEPLOY)}
    assert len(ours) == len(timm.list_models()) >= 1200
    assert {PREFIX + n for n in timm.list_models()} == ours
    # torchvision's resnet50 and timm's are different entries
    assert get("resnet50").source == "torchvision"
    assert get("timm/resnet50").source == "timm"


def test_specs_come_from_timm_metadata() -> None:
    spec = get("timm/vit_base_patch16_384")
    assert spec.family == "timm/vision_transformer"
    assert spec.input_size == (3, 384, 384)
    assert spec.num_classes == 1000
    assert spec.pretrained  # a default pretrained tag exists
    cfg = timm.models.get_pretrained_cfg("efficientnet_b3")
    assert get("timm/efficientnet_b3").input_size == tuple(cfg.input_size)


def test_unknown_names_suggest_timm_entries() -> None:
    assert suggest("resnet50d")[0] == "timm/resnet50d"
    assert "timm/convnext_atto" in suggest("convnext_atto")
    with pytest.raises(explorer.UnknownArchitectureError, match="timm/resnet50d"):
        explorer.trace("resnet50d")


def test_search_scales_to_the_whole_catalog() -> None:
    found = search("vit base 384")
    assert "timm/vit_base_patch16_384" in found
    assert found.index("timm/vit_base_patch16_384") < found.index("timm/maxvit_base_tf_384")
    assert search("efficientnet b0")[0] == "efficientnet_b0"


def test_catalog_lookups_do_not_import_timm() -> None:
    code = (
        "import sys, explorer\n"
        "explorer.get('resnet50'); explorer.get('lenet5')\n"
        "print('timm' in sys.modules)\n"
        "explorer.get('timm/resnet50')\n"
        "print('timm' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]


@pytest.mark.parametrize("name", SAMPLE)
def test_sample_matches_flop_counter_and_parameters(name: str) -> None:
    spec = get(PREFIX + name)
    t = explorer.trace(spec.name)
    model = explorer.build_meta(spec.name)
    x = torch.empty(1, *spec.input_size, device="meta")
    with warnings.catch_warnings(), FlopCounterMode(display=False) as counter:
        warnings.simplefilter("ignore")
        model(x)
    assert 2 * t.total_macs == counter.get_total_flops()
    assert t.total_params == sum(p.numel() for p in model.parameters())


def test_published_figures_within_rounding() -> None:
    spec = get("timm/resnet50")
    pub = spec.published
    assert pub is not None and pub.params is not None and pub.macs is not None
    t = explorer.trace(spec.name)
    assert abs(t.total_params - pub.params) <= pub.params_tolerance
    # timm's GMACs are fvcore's: ours plus its normalisation/pooling counts agree
    assert abs(t.total_macs - pub.macs) > pub.macs_tolerance
    assert abs(fvcore_macs(t) - pub.macs) <= pub.macs_tolerance
    checks, notes = published.check(spec, t)
    assert [c.figure for c in checks][:2] == ["Parameters", "MACs"]
    assert checks[0].check.startswith("✓") and checks[1].check.startswith("Δ")
    assert checks[2].figure.startswith("MACs as fvcore counts") and checks[2].check.startswith("✓")
    assert "2 per BatchNorm element" in notes[0]
    rep = explorer.trace("timm/repvgg_a0")
    _, rep_notes = published.check(get("timm/repvgg_a0"), rep)
    assert "re-parameterises" in rep_notes[0]  # the Δ has its reason
    vit = get("timm/vit_base_patch16_224")
    tv = explorer.trace(vit.name)
    assert vit.published is not None and vit.published.macs is not None
    assert abs(fvcore_macs(tv) - vit.published.macs) <= vit.published.macs_tolerance


def _architecture_page(arch: str):  # type: ignore[no-untyped-def]
    """The Architecture page under AppTest, run on `arch` (?arch=), without an exception."""
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    view = Path(__file__).resolve().parents[1] / "components" / "views" / "architecture.py"
    at = AppTest.from_file(str(view), default_timeout=180)
    at.query_params["arch"] = arch
    at.run()
    assert not at.exception
    return at


def test_app_picker_searches_the_whole_catalog() -> None:
    at = _architecture_page("timm/resnet18")
    picker = at.selectbox(key="arch_name")
    assert picker.value == "timm/resnet18"
    deploy_forms = sum(n.endswith(DEPLOY) for n in names())  # 48 re-parameterised forms
    shown_timm = sum(o.startswith(PREFIX) for o in picker.options)
    assert shown_timm == len(timm.list_models()) + deploy_forms
    shown = {m.label: m.value for m in at.metric}
    assert shown["Parameters"] == f"{explorer.trace('timm/resnet18').total_params:,}"
    checks = [df.value for df in at.dataframe if "Check" in df.value.columns]
    assert checks and checks[0]["Check"].iloc[0].startswith("✓")  # 11.69 M, as timm prints it
    at.selectbox(key="arch_family").set_value("timm/resnet").run()
    assert not at.exception
    assert all(o.startswith("timm/") for o in at.selectbox(key="arch_name").options)


def test_mixed_rope_vit_builds_on_meta_without_the_cpu_fallback() -> None:
    """timm's "mixed" RoPE ViTs compute a parameter from `torch.arange` (kept on the CPU by
    empty_init) and `torch.rand` (made on meta); they are built with timm's device="meta"
    instead of explorer.analysis.building's fallback, which made real CPU weights and ran timm's
    trunc_normal_ on them (~5 CPU-seconds for the large one)."""
    from explorer.engine.building import empty_init

    name = PREFIX + "vit_small_patch16_rope_mixed_224"
    with empty_init():
        model = get(name).builder()
    assert all(p.is_meta for p in model.parameters())
    assert all(b.is_meta for b in model.buffers())
    direct = timm.create_model("vit_small_patch16_rope_mixed_224", device="meta")
    params = sum(p.numel() for p in direct.parameters())
    assert sum(p.numel() for p in model.parameters()) == params
    assert explorer.trace(name).total_params == params


@pytest.mark.parametrize("name", ["repvgg_a0", "fastvit_t8", "mobileone_s0", "repvit_m1"])
def test_the_deploy_form_is_timms_own_and_matches_timms_table(name: str) -> None:
    """Issue 21: timm's table gives re-parameterised figures (repvgg_a2 25.5 M); the catalog
    showed the training form only. The deploy form is built by timm's own
    reparameterize_model on meta; a real CPU build fused by timm is the oracle, and timm's
    published parameters and GMACs (fvcore) are met, which the training form's are not."""
    from timm.utils import reparameterize_model

    deploy = get(PREFIX + name + DEPLOY)
    assert deploy.published is not None and "deploy" in deploy.tags
    ours = explorer.trace(deploy.name)
    real = reparameterize_model(timm.create_model(name).eval())
    assert ours.total_params == sum(p.numel() for p in real.parameters())
    pub = deploy.published
    assert abs(ours.total_params - pub.params) <= pub.params_tolerance
    assert abs(fvcore_macs(ours) - pub.macs) <= pub.macs_tolerance
    trained = explorer.trace(PREFIX + name)
    assert trained.total_params > ours.total_params
    assert abs(trained.total_params - pub.params) > pub.params_tolerance


def test_the_architecture_page_shows_the_deploy_form_beside_the_trained_one() -> None:
    at = _architecture_page("timm/repvgg_a2")
    beside = [m.value for m in at.markdown if m.value.startswith("**Deploy form**")]
    assert beside and "25,499,944 parameters" in beside[0] and "28,210,600" in beside[0]
    assert "?arch=timm/repvgg_a2%40deploy" in beside[0]

    at = _architecture_page("timm/repvgg_a2@deploy")
    published = next(df.value for df in at.dataframe if "Check" in df.value.columns)
    assert published["Check"].iloc[0].startswith("✓")  # timm's 25.50 M is the fused form's
