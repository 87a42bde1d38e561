"""AlexNet as published: Krizhevsky, Sutskever & Hinton 2012, with LRN and two-GPU groups."""

from __future__ import annotations

import torch
from torch import nn

from explorer.catalog.registry import ArchSpec, Published, register

KRIZHEVSKY_2012 = (
    "A. Krizhevsky, I. Sutskever, G. E. Hinton. ImageNet Classification with Deep "
    "Convolutional Neural Networks. NIPS 2012."
)
KRIZHEVSKY_2012_URL = (
    "https://papers.nips.cc/paper/4824-imagenet-classification-with-deep-convolutional-"
    "neural-networks.pdf"
)

# Section 3.3: k = 2, n = 5, alpha = 1e-4, beta = 0.75. PyTorch divides alpha by n, the paper
# does not, so PyTorch's alpha is the paper's alpha times n.
LRN_SIZE = 5
LRN_ALPHA = 1e-4
LRN_BETA = 0.75
LRN_K = 2.0


def paper_lrn(size: int = LRN_SIZE) -> nn.LocalResponseNorm:
    """Local response normalisation with the paper's constants (section 3.3)."""
    return nn.LocalResponseNorm(size, alpha=LRN_ALPHA * size, beta=LRN_BETA, k=LRN_K)


def fc_head(in_features: int, num_classes: int, dropout: float) -> nn.Sequential:
    """AlexNet's classifier, which VGG kept: FC 4096 → ReLU → dropout, twice, then FC to the
    classes (dropout on the outputs of the first two FC layers, section 4.2)."""
    return nn.Sequential(
        nn.Linear(in_features, 4096),
        nn.ReLU(inplace=True),
        nn.Dropout(p=dropout),
        nn.Linear(4096, 4096),
        nn.ReLU(inplace=True),
        nn.Dropout(p=dropout),
        nn.Linear(4096, num_classes),
    )


class AlexNetPaper(nn.Module):
    """AlexNet exactly as the 2012 paper's Figure 2, on one device.

    The two GPUs of the paper become `groups=2`: conv2, conv4 and conv5 see only the 48 (or
    192) maps on their own GPU; conv3 and the fully connected layers see both halves.
    """

    def __init__(self, num_classes: int = 1000, dropout: float = 0.5) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 96, kernel_size=11, stride=4),  # 227x227x3 -> 55x55x96
            nn.ReLU(inplace=True),
            paper_lrn(),
            nn.MaxPool2d(kernel_size=3, stride=2),  # -> 27x27x96 (overlapping pooling)
            nn.Conv2d(96, 256, kernel_size=5, padding=2, groups=2),  # -> 27x27x256
            nn.ReLU(inplace=True),
            paper_lrn(),
            nn.MaxPool2d(kernel_size=3, stride=2),  # -> 13x13x256
            nn.Conv2d(256, 384, kernel_size=3, padding=1),  # -> 13x13x384, across both GPUs
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 384, kernel_size=3, padding=1, groups=2),  # -> 13x13x384
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1, groups=2),  # -> 13x13x256
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),  # -> 6x6x256
        )
        self.flatten = nn.Flatten()  # -> 9216
        self.classifier = fc_head(256 * 6 * 6, num_classes, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.flatten(self.features(x)))


def alexnet_paper(*, num_classes: int = 1000, dropout: float = 0.5) -> AlexNetPaper:
    """AlexNet from `ImageNet Classification with Deep Convolutional Neural Networks
    <https://papers.nips.cc/paper/4824>`_ (Krizhevsky et al. 2012), at 227x227x3 with LRN and
    the two-GPU grouped convolutions: 60,965,224 parameters."""
    return AlexNetPaper(num_classes=num_classes, dropout=dropout)


register(
    ArchSpec(
        name="alexnet-paper",
        family="AlexNet",
        title="AlexNet (Krizhevsky et al. 2012, as published)",
        builder=alexnet_paper,
        input_size=(3, 227, 227),
        num_classes=1000,
        paper=KRIZHEVSKY_2012,
        url=KRIZHEVSKY_2012_URL,
        year=2012,
        notes=(
            "The network that started the deep-learning era (ImageNet 2012, top-5 error 15.3%). "
            "Same pattern as LeNet, much bigger: 55×55×96 → 27×27×256 → 13×13×384 → 6×6×256 "
            "→ 4096 → 4096 → 1000, about 60M parameters, most of them in the first fully "
            "connected layer (9216 × 4096).\n\n"
            "- **ReLU** instead of tanh: trains several times faster.\n"
            "- **Local Response Normalization** (k=2, n=5, α=1e-4, β=0.75) after conv1 and "
            "conv2; later work (VGG) found it does not help.\n"
            "- **Two GPUs**: conv2, conv4 and conv5 only see the maps on their own GPU, which "
            "is a grouped convolution (`groups=2`); it halves those layers' weights.\n"
            "- **Overlapping max pooling** (3×3, stride 2), dropout 0.5 in the first two FC "
            "layers.\n\n"
            "The paper says 224×224 inputs, but 11×11 stride-4 convolutions only give 55×55 "
            "from 227×227: (227 − 11)/4 + 1 = 55. torchvision's `alexnet` is the later "
            "one-GPU variant (64/192 filters, no LRN, 61.1M parameters)."
        ),
        published=Published(
            source="Krizhevsky et al. 2012, section 3 ('60 million parameters')",
            params=60_000_000,
            params_tolerance=1_000_000,
            note="Printed as '60 million'; the architecture of Figure 2 has exactly 60,965,224.",
        ),
        tags=("classic", "paper"),
    )
)
