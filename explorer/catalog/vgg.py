"""VGG configurations A-E of Simonyan & Zisserman 2015 (Table 1), including A-LRN and C."""

from __future__ import annotations

import torch
from torch import nn

from explorer.catalog.alexnet import fc_head, paper_lrn
from explorer.catalog.registry import ArchSpec, Published, register

SIMONYAN_2015 = (
    "K. Simonyan, A. Zisserman. Very Deep Convolutional Networks for Large-Scale Image "
    "Recognition. ICLR 2015."
)
SIMONYAN_2015_URL = "https://arxiv.org/abs/1409.1556"

# Table 1, one entry per layer: an int is a 3x3 conv with that many filters, (1, n) a 1x1 conv,
# "M" a 2x2/2 max pool, "LRN" local response normalisation.
Layer = int | tuple[int, int] | str
CONFIGS: dict[str, list[Layer]] = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "A-LRN": [64, "LRN", "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "C": [
        64, 64, "M", 128, 128, "M", 256, 256, (1, 256), "M",
        512, 512, (1, 512), "M", 512, 512, (1, 512), "M",
    ],
    "D": [
        64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M",
    ],
    "E": [
        64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
        512, 512, 512, 512, "M", 512, 512, 512, 512, "M",
    ],
}


def _features(config: list[Layer]) -> nn.Sequential:
    layers: list[nn.Module] = []
    channels = 3
    for item in config:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        elif item == "LRN":
            layers.append(paper_lrn())
        elif isinstance(item, tuple):
            kernel, out = item
            layers += [nn.Conv2d(channels, out, kernel_size=kernel), nn.ReLU(inplace=True)]
            channels = out
        else:
            assert isinstance(item, int)
            layers += [nn.Conv2d(channels, item, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            channels = item
    return nn.Sequential(*layers)


class VGGPaper(nn.Module):
    """A VGG configuration of Table 1: conv stacks, then FC-4096, FC-4096, FC-1000 on 7x7x512
    (no adaptive pooling: the paper's networks take 224x224 crops)."""

    def __init__(self, config: str, num_classes: int = 1000, dropout: float = 0.5) -> None:
        super().__init__()
        self.config = config
        self.features = _features(CONFIGS[config])
        self.flatten = nn.Flatten()
        self.classifier = fc_head(512 * 7 * 7, num_classes, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.flatten(self.features(x)))


def _vgg(config: str, num_classes: int, dropout: float) -> VGGPaper:
    return VGGPaper(config, num_classes=num_classes, dropout=dropout)


def vgg11_paper(*, num_classes: int = 1000, dropout: float = 0.5) -> VGGPaper:
    """VGG configuration A (11 weight layers) from `Very Deep Convolutional Networks for
    Large-Scale Image Recognition <https://arxiv.org/abs/1409.1556>`_: 132,863,336 params."""
    return _vgg("A", num_classes, dropout)


def vgg11_lrn(*, num_classes: int = 1000, dropout: float = 0.5) -> VGGPaper:
    """VGG configuration A-LRN (Simonyan & Zisserman 2015): A with LRN after the first conv."""
    return _vgg("A-LRN", num_classes, dropout)


def vgg13_paper(*, num_classes: int = 1000, dropout: float = 0.5) -> VGGPaper:
    """VGG configuration B (13 weight layers), Simonyan & Zisserman 2015."""
    return _vgg("B", num_classes, dropout)


def vgg16_c(*, num_classes: int = 1000, dropout: float = 0.5) -> VGGPaper:
    """VGG configuration C (Simonyan & Zisserman 2015): 16 weight layers, the third conv of
    blocks 3, 4 and 5 is 1x1."""
    return _vgg("C", num_classes, dropout)


def vgg16_paper(*, num_classes: int = 1000, dropout: float = 0.5) -> VGGPaper:
    """VGG configuration D, the VGG-16 (Simonyan & Zisserman 2015): 138,357,544 params."""
    return _vgg("D", num_classes, dropout)


def vgg19_paper(*, num_classes: int = 1000, dropout: float = 0.5) -> VGGPaper:
    """VGG configuration E, the VGG-19 (Simonyan & Zisserman 2015): 143,667,240 params."""
    return _vgg("E", num_classes, dropout)


_NOTES = (
    "Only 3×3 convolutions (stride 1, 'same' padding) and 2×2 max pools: n_H and n_W halve "
    "after every block while n_C doubles (64 → 128 → 256 → 512). Two stacked 3×3 convs see a "
    "5×5 region and three see 7×7, with fewer weights (3·(3²C²) = 27C² against 49C²) and more "
    "non-linearities. Very large (FC-4096 on 7×7×512 alone holds 102.8M weights) but simple "
    "and uniform."
)

_VARIANTS = (
    # name, config, builder, title, Table 2 params (millions), extra notes
    ("vgg11-paper", "A", vgg11_paper, "VGG-11 (configuration A)", 133, ""),
    (
        "vgg11-lrn", "A-LRN", vgg11_lrn, "VGG-11 with LRN (configuration A-LRN)", 133,
        "\n\nA-LRN adds AlexNet's local response normalisation after the first conv; the "
        "paper found it does not improve accuracy on ILSVRC and only costs memory and time, "
        "so the deeper configurations drop it.",
    ),
    ("vgg13-paper", "B", vgg13_paper, "VGG-13 (configuration B)", 133, ""),
    (
        "vgg16-c", "C", vgg16_c, "VGG-16 with 1×1 convs (configuration C)", 134,
        "\n\nConfiguration C uses 1×1 convolutions as the third conv of blocks 3–5: extra "
        "non-linearity without a larger receptive field. It does worse than D (3×3 everywhere), "
        "so spatial context matters. torchvision has no configuration C.",
    ),
    ("vgg16-paper", "D", vgg16_paper, "VGG-16 (configuration D)", 138, ""),
    ("vgg19-paper", "E", vgg19_paper, "VGG-19 (configuration E)", 144, ""),
)  # fmt: skip

for _name, _config, _builder, _title, _millions, _extra in _VARIANTS:
    register(
        ArchSpec(
            name=_name,
            family="VGG",
            title=_title,
            builder=_builder,
            input_size=(3, 224, 224),
            num_classes=1000,
            paper=SIMONYAN_2015,
            url=SIMONYAN_2015_URL,
            year=2015,
            notes=_NOTES + _extra,
            published=Published(
                source="Simonyan & Zisserman 2015, Table 2 (parameters in millions)",
                params=_millions * 1_000_000,
                params_tolerance=500_000,  # printed to the nearest million
            ),
            tags=("classic", "paper"),
        )
    )
