"""ResNet v1 as published (He et al. 2015, Table 1) and the plain networks it is compared with."""

from __future__ import annotations

import torch
from torch import nn

from explorer.catalog.registry import ArchSpec, Published, register

HE_2015 = (
    "K. He, X. Zhang, S. Ren, J. Sun. Deep Residual Learning for Image Recognition. CVPR 2016 "
    "(arXiv:1512.03385, 2015)."
)
HE_2015_URL = "https://arxiv.org/abs/1512.03385"


def conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)


def conv1x1(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)


def projection(in_channels: int, out_channels: int, stride: int) -> nn.Sequential:
    """Option B of section 3.3: a 1x1 convolution (with the block's stride) and BN, used only
    where the shortcut's shape changes."""
    return nn.Sequential(conv1x1(in_channels, out_channels, stride), nn.BatchNorm2d(out_channels))


class BasicBlock(nn.Module):
    """Two 3x3 convs (Figure 5 left); out = relu(F(x) + shortcut(x)), or relu(F(x)) when plain."""

    expansion = 1

    def __init__(
        self, in_channels: int, channels: int, stride: int = 1, shortcut: bool = True
    ) -> None:
        super().__init__()
        out_channels = channels * self.expansion
        self.shortcut = shortcut
        self.conv1 = conv3x3(in_channels, channels, stride)
        self.bn1 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(channels, out_channels)
        self.bn2 = nn.BatchNorm2d(out_channels)
        reshapes = stride != 1 or in_channels != out_channels
        self.downsample = (
            projection(in_channels, out_channels, stride) if shortcut and reshapes else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.shortcut:
            out = out + (x if self.downsample is None else self.downsample(x))
        return self.relu(out)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3, 1x1 expand (Figure 5 right), v1: the stride sits in the FIRST 1x1 conv
    (torchvision's v1.5 moves it to the 3x3 conv, which costs more multiply-adds)."""

    expansion = 4

    def __init__(
        self, in_channels: int, channels: int, stride: int = 1, shortcut: bool = True
    ) -> None:
        super().__init__()
        out_channels = channels * self.expansion
        self.shortcut = shortcut
        self.conv1 = conv1x1(in_channels, channels, stride)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = conv3x3(channels, channels)
        self.bn2 = nn.BatchNorm2d(channels)
        self.conv3 = conv1x1(channels, out_channels)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        reshapes = stride != 1 or in_channels != out_channels
        self.downsample = (
            projection(in_channels, out_channels, stride) if shortcut and reshapes else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.shortcut:
            out = out + (x if self.downsample is None else self.downsample(x))
        return self.relu(out)


class ResNetPaper(nn.Module):
    """The ResNet of Table 1: conv1 7x7/2, max pool 3x3/2, four stages (conv2_x..conv5_x, named
    layer1..layer4 as in torchvision), global average pool, 1000-way FC."""

    def __init__(
        self,
        block: type[BasicBlock | Bottleneck],
        layers: tuple[int, int, int, int],
        num_classes: int = 1000,
        shortcut: bool = True,
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self._channels = 64
        self.layer1 = self._stage(block, 64, layers[0], 1, shortcut)  # conv2_x, 56x56
        self.layer2 = self._stage(block, 128, layers[1], 2, shortcut)  # conv3_x, 28x28
        self.layer3 = self._stage(block, 256, layers[2], 2, shortcut)  # conv4_x, 14x14
        self.layer4 = self._stage(block, 512, layers[3], 2, shortcut)  # conv5_x, 7x7
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(512 * block.expansion, num_classes)

    def _stage(
        self,
        block: type[BasicBlock | Bottleneck],
        channels: int,
        count: int,
        stride: int,
        shortcut: bool,
    ) -> nn.Sequential:
        blocks: list[nn.Module] = []
        for i in range(count):
            blocks.append(block(self._channels, channels, stride if i == 0 else 1, shortcut))
            self._channels = channels * block.expansion
        return nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.flatten(self.avgpool(x)))


def _resnet(
    block: type[BasicBlock | Bottleneck],
    layers: tuple[int, int, int, int],
    num_classes: int,
    shortcut: bool = True,
) -> ResNetPaper:
    return ResNetPaper(block, layers, num_classes=num_classes, shortcut=shortcut)


def resnet18_paper(*, num_classes: int = 1000) -> ResNetPaper:
    """ResNet-18 from `Deep Residual Learning for Image Recognition
    <https://arxiv.org/abs/1512.03385>`_ (He et al. 2015), Table 1: 1.8 x 10^9 FLOPs."""
    return _resnet(BasicBlock, (2, 2, 2, 2), num_classes)


def resnet34_paper(*, num_classes: int = 1000) -> ResNetPaper:
    """ResNet-34 (He et al. 2015, Table 1): 3.6 x 10^9 FLOPs."""
    return _resnet(BasicBlock, (3, 4, 6, 3), num_classes)


def resnet50_paper(*, num_classes: int = 1000) -> ResNetPaper:
    """ResNet-50 v1 (He et al. 2015, Table 1), stride in the bottleneck's first 1x1 conv:
    3.8 x 10^9 FLOPs."""
    return _resnet(Bottleneck, (3, 4, 6, 3), num_classes)


def resnet101_paper(*, num_classes: int = 1000) -> ResNetPaper:
    """ResNet-101 v1 (He et al. 2015, Table 1): 7.6 x 10^9 FLOPs."""
    return _resnet(Bottleneck, (3, 4, 23, 3), num_classes)


def resnet152_paper(*, num_classes: int = 1000) -> ResNetPaper:
    """ResNet-152 v1 (He et al. 2015, Table 1): 11.3 x 10^9 FLOPs."""
    return _resnet(Bottleneck, (3, 8, 36, 3), num_classes)


def plain18(*, num_classes: int = 1000) -> ResNetPaper:
    """The 18-layer plain network of He et al. 2015 (Figure 3 middle, Table 1 without shortcuts)."""
    return _resnet(BasicBlock, (2, 2, 2, 2), num_classes, shortcut=False)


def plain34(*, num_classes: int = 1000) -> ResNetPaper:
    """The 34-layer plain network of He et al. 2015 (Figure 3 middle), the one whose training
    error is HIGHER than plain-18's: the degradation problem."""
    return _resnet(BasicBlock, (3, 4, 6, 3), num_classes, shortcut=False)


_RESNET_NOTES = (
    "**Skip connections.** Each block learns a residual F(x) and outputs relu(F(x) + x): if "
    "the identity is best, the block only has to push F towards 0. This lets 50, 101 and 152 "
    "layers train, where the plain 34-layer net trains worse than the plain 18-layer one (the "
    "degradation problem). Where a block halves n_H, n_W and changes n_C, the shortcut is a "
    "1×1 convolution with stride 2 plus BN (option B); everywhere else it is the identity "
    "and costs nothing. BN follows every convolution, no dropout, no hidden FC layers."
)
_BOTTLENECK_NOTES = (
    "\n\n**Bottleneck blocks** (ResNet-50/101/152): 1×1 to reduce n_C by 4, 3×3, 1×1 back "
    "up, the 1×1-bottleneck idea of Inception. This is **v1**, as published: the stride-2 "
    "downsampling sits in the block's first 1×1 conv. torchvision's `resnet50` is v1.5, "
    "with the stride in the 3×3 conv: more accurate but 4.09 GMACs against the paper's 3.8 "
    "(our `resnet50-paper` measures 3.86 GMACs)."
)
_PLAIN_NOTES = (
    "The **plain** baseline of Figure 3: the same stack of 3×3 convolutions as the ResNet of "
    "the same depth, with no shortcuts at all (so also no 1×1 projections). The paper's "
    "Figure 4: plain-34 has higher training error than plain-18, while ResNet-34 beats "
    "ResNet-18. The extra layers are not overfitting; they are hard to optimise."
)

_VARIANTS = (
    # name, builder, title, Table 1 FLOPs (10^9, the paper counts multiply-adds), notes
    ("resnet18-paper", resnet18_paper, "ResNet-18 (He et al. 2015)", 1.8, _RESNET_NOTES),
    ("resnet34-paper", resnet34_paper, "ResNet-34 (He et al. 2015)", 3.6, _RESNET_NOTES),
    (
        "resnet50-paper", resnet50_paper, "ResNet-50 v1 (He et al. 2015)", 3.8,
        _RESNET_NOTES + _BOTTLENECK_NOTES,
    ),
    (
        "resnet101-paper", resnet101_paper, "ResNet-101 v1 (He et al. 2015)", 7.6,
        _RESNET_NOTES + _BOTTLENECK_NOTES,
    ),
    (
        "resnet152-paper", resnet152_paper, "ResNet-152 v1 (He et al. 2015)", 11.3,
        _RESNET_NOTES + _BOTTLENECK_NOTES,
    ),
    ("plain18", plain18, "Plain-18 (He et al. 2015, no shortcuts)", 1.8, _PLAIN_NOTES),
    ("plain34", plain34, "Plain-34 (He et al. 2015, no shortcuts)", 3.6, _PLAIN_NOTES),
)  # fmt: skip

for _name, _builder, _title, _gflops, _notes in _VARIANTS:
    register(
        ArchSpec(
            name=_name,
            family="ResNet",
            title=_title,
            builder=_builder,
            input_size=(3, 224, 224),
            num_classes=1000,
            paper=HE_2015,
            url=HE_2015_URL,
            year=2015,
            notes=_notes,
            published=Published(
                source=(
                    "He et al. 2015, Table 1, FLOPs row (multiply-adds)"
                    if _name.startswith("resnet")
                    else "He et al. 2015, section 4.1 (plain-34: 3.6 billion FLOPs)"
                    if _name == "plain34"
                    else "He et al. 2015, Table 1 (the 18-layer stack)"
                ),
                macs=round(_gflops * 1e9),
                # Printed to 0.1 x 10^9, but not consistently rounded: 3.66 is printed 3.6
                # and 3.86 as 3.8 (truncated), 7.57 as 7.6 and 11.28 as 11.3 (rounded).
                macs_tolerance=100_000_000,
                note=(
                    "The paper's 'FLOPs' are multiply-adds (our MACs), printed to 0.1 × 10⁹ "
                    "and truncated in some rows (ResNet-34 3.66 → 3.6, ResNet-50 3.86 → 3.8), "
                    "rounded in others (ResNet-101 7.57 → 7.6, ResNet-152 11.28 → 11.3)."
                ),
            ),
            tags=("classic", "paper"),
        )
    )
