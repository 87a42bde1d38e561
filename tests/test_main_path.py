"""The main path of a network: the tensors every input→output route passes through."""

from __future__ import annotations

import pytest

from explorer.analysis.analysis import record_architecture
from explorer.graph.main_path import main_path_of


def _path(arch: str) -> list[tuple[str, int, int, int]]:
    return [
        (p.name, p.height, p.width, p.channels)
        for p in main_path_of(record_architecture(arch))
    ]


@pytest.mark.parametrize("arch", ["resnet152", "googlenet-paper", "vgg16", "densenet121"])
def test_spatial_size_never_grows_and_channels_never_shrink_along_the_main_path(arch: str) -> None:
    points = _path(arch)
    assert points[0] == ("input", 224, 224, 3)
    heights = [h for _, h, _, _ in points]
    assert heights == sorted(heights, reverse=True)
    channels = [c for _, _, _, c in points[1:]]
    if arch != "densenet121":  # DenseNet's transitions halve the channels on purpose
        assert channels == sorted(channels)


def test_resnet_main_path_is_the_block_outputs_not_the_bottleneck_convs() -> None:
    points = _path("resnet152")
    names = [n for n, *_ in points]
    assert names[:4] == ["input", "conv1", "maxpool", "layer1.0 (+)"]
    assert len([n for n in names if n.endswith("(+)")]) == 3 + 8 + 36 + 3  # every block
    assert not any(".conv" in n for n in names)  # no 1×1 reduction or 3×3 inside a block
    assert points[-2][1:] == (7, 7, 2048)


def test_googlenet_main_path_passes_through_each_concatenation() -> None:
    names = [n for n, *_ in _path("googlenet-paper")]
    assert [n for n in names if n.endswith("(concat)")] == [
        f"inception{m} (concat)" for m in ("3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b")
    ]
    assert not any("branch" in n for n in names)


def test_a_plain_chain_is_all_main_path() -> None:
    assert [n for n, *_ in _path("lenet5")] == [
        "input", "features.0", "features.2", "features.3", "features.5",
    ]  # fmt: skip


def test_a_branch_fed_only_by_parameters_is_no_route_from_the_input() -> None:
    """Swin V2 computes its attention bias from parameters alone (a small MLP over a fixed
    table): that branch joins every block, but no input→output route passes along it, so the
    main path is Swin V1's stage by stage (it used to collapse to input → last block → pool)."""
    v1 = [p.name for p in main_path_of(record_architecture("swin_t"))]
    v2 = [p.name for p in main_path_of(record_architecture("swin_v2_t"))]
    assert len(v2) == len(v1) > 30
    assert v2[:8] == v1[:8]
