"""One function decides a layer's kind; the trace's records, the diagram's boxes and the shape
chart all read it."""

from __future__ import annotations

import pytest

import explorer
from explorer.analysis.analysis import analyse
from explorer.core.layer_kinds import KINDS, kind_of


@pytest.mark.parametrize(
    ("type_name", "is_leaf", "kind"),
    [
        ("Conv2d", True, "conv"),
        ("ConvTranspose2d", True, "conv"),
        ("Conv2dNormActivation", False, "block"),  # torchvision: conv + norm + activation
        ("ConvNormAct", False, "block"),  # timm's: it used to read "norm"
        ("BatchNorm2d", True, "norm"),
        ("LayerNorm2d", True, "norm"),
        ("MaxPool2d", True, "pool"),
        ("Linear", True, "linear"),
        ("ReLU", True, "act"),
        ("Sequential", False, "block"),
        ("Identity", True, "other"),
    ],
)
def test_kind_of_a_class_name(type_name: str, is_leaf: bool, kind: str) -> None:
    assert kind_of(type_name, is_leaf) == kind and kind in KINDS


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v3_small", "googlenet-paper"])
def test_records_and_boxes_agree(name: str) -> None:
    a = analyse(name)
    by_name = {r.name: r for r in a.trace.layers}
    graph = a.graph(a.max_depth, collapse=False)
    boxes = [n for n in graph.nodes if n.name in by_name and n.kind not in ("input", "output")]
    assert boxes
    for node in boxes:
        assert node.kind == by_name[node.name].kind, node.name
    assert {r.kind for r in explorer.trace("mobilenet_v3_small").layers if not r.is_leaf} == {
        "block"
    }


@pytest.mark.parametrize(
    ("arch", "labels"),
    [
        ("lenet5", "CONV1 POOL1 CONV2 POOL2 FC3 FC4 FC5"),
        ("alexnet-paper", "CONV1 POOL1 CONV2 POOL2 CONV3 CONV4 CONV5 POOL5 FC6 FC7 FC8"),
    ],
)
def test_layers_are_named_as_the_lecture_and_the_papers_write_them(arch: str, labels: str) -> None:
    """Issue 21: the lecture writes CONV1, POOL1, FC6 beside a layer; the table showed only the
    module path. Layers with weights take the next number; a pool the number it follows."""
    from explorer.core.layer_kinds import lecture_labels

    trace = explorer.trace(arch)
    assert " ".join(lecture_labels(trace.layers).values()) == labels
    vgg = lecture_labels(explorer.trace("vgg16-paper").layers)
    assert sum(v.startswith(("CONV", "FC")) for v in vgg.values()) == 16  # VGG-*16*
