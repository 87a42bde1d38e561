"""GoogLeNet exactly as Table 1 of Szegedy et al. 2014 (5x5 convs, LRN, no auxiliary heads)."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from explorer.catalog.registry import ArchSpec, Published, PublishedModule, register

SZEGEDY_2014 = (
    "C. Szegedy, W. Liu, Y. Jia, P. Sermanet, S. Reed, D. Anguelov, D. Erhan, V. Vanhoucke, "
    "A. Rabinovich. Going Deeper with Convolutions. CVPR 2015 (arXiv:1409.4842, 2014)."
)
SZEGEDY_2014_URL = "https://arxiv.org/abs/1409.4842"


class BasicConv2d(nn.Module):
    """A convolution followed by ReLU; the paper's convolutions all use ReLU, including the
    1x1 reductions and projections. (No batch norm: that came with Inception v2.)"""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
        padding: int = 0,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.conv(x))


class Inception(nn.Module):
    """One inception module (Figure 2b): four parallel branches concatenated along channels.

    branch1: 1x1 | branch2: 1x1 reduce -> 3x3 | branch3: 1x1 reduce -> 5x5 |
    branch4: 3x3 max pool (stride 1) -> 1x1 projection. Output channels
    ch1x1 + ch3x3 + ch5x5 + pool_proj; n_H and n_W are unchanged ("same" padding).
    """

    def __init__(
        self,
        in_channels: int,
        ch1x1: int,
        ch3x3red: int,
        ch3x3: int,
        ch5x5red: int,
        ch5x5: int,
        pool_proj: int,
    ) -> None:
        super().__init__()
        self.out_channels = ch1x1 + ch3x3 + ch5x5 + pool_proj
        self.branch1 = BasicConv2d(in_channels, ch1x1, kernel_size=1)
        self.branch2 = nn.Sequential(
            BasicConv2d(in_channels, ch3x3red, kernel_size=1),
            BasicConv2d(ch3x3red, ch3x3, kernel_size=3, padding=1),
        )
        self.branch3 = nn.Sequential(
            BasicConv2d(in_channels, ch5x5red, kernel_size=1),
            BasicConv2d(ch5x5red, ch5x5, kernel_size=5, padding=2),  # torchvision: 3x3 here
        )
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(kernel_size=3, stride=1, padding=1),
            BasicConv2d(in_channels, pool_proj, kernel_size=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = [self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)]
        return torch.cat(branches, dim=1)


class TableRow(NamedTuple):
    """One inception row of Table 1, with its printed params (K) and ops (M)."""

    name: str
    in_channels: int
    ch1x1: int
    ch3x3red: int
    ch3x3: int
    ch5x5red: int
    ch5x5: int
    pool_proj: int
    params_k: int
    ops_m: int


TABLE_1: tuple[TableRow, ...] = (
    TableRow("inception3a", 192, 64, 96, 128, 16, 32, 32, 159, 128),
    TableRow("inception3b", 256, 128, 128, 192, 32, 96, 64, 380, 304),
    TableRow("inception4a", 480, 192, 96, 208, 16, 48, 64, 364, 73),
    TableRow("inception4b", 512, 160, 112, 224, 24, 64, 64, 437, 88),
    TableRow("inception4c", 512, 128, 128, 256, 24, 64, 64, 463, 100),
    TableRow("inception4d", 512, 112, 144, 288, 32, 64, 64, 580, 119),
    TableRow("inception4e", 528, 256, 160, 320, 32, 128, 128, 840, 170),
    TableRow("inception5a", 832, 256, 160, 320, 32, 128, 128, 1072, 54),
    TableRow("inception5b", 832, 384, 192, 384, 48, 128, 128, 1388, 71),
)
_ROWS = {row.name: row for row in TABLE_1}


def googlenet_lrn() -> nn.LocalResponseNorm:
    # The paper gives no constants; these are the reference Caffe model's (bvlc_googlenet).
    return nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)


def _inception(name: str) -> Inception:
    row = _ROWS[name]
    return Inception(*row[1:8])


class GoogLeNetPaper(nn.Module):
    """GoogLeNet of Table 1: 224x224x3 -> 112 -> 56 -> 28 -> 14 -> 7 -> 1x1x1024 -> 1000."""

    def __init__(self, num_classes: int = 1000, dropout: float = 0.4) -> None:
        super().__init__()
        self.conv1 = BasicConv2d(3, 64, kernel_size=7, stride=2, padding=3)  # 112x112x64
        self.maxpool1 = nn.MaxPool2d(3, stride=2, padding=1)  # 56x56x64
        self.lrn1 = googlenet_lrn()
        self.conv2 = nn.Sequential(  # Table 1's "convolution 3x3/1" row, depth 2
            BasicConv2d(64, 64, kernel_size=1),  # #3x3 reduce
            BasicConv2d(64, 192, kernel_size=3, padding=1),  # 56x56x192
        )
        self.lrn2 = googlenet_lrn()
        self.maxpool2 = nn.MaxPool2d(3, stride=2, padding=1)  # 28x28x192
        self.inception3a = _inception("inception3a")  # 28x28x256
        self.inception3b = _inception("inception3b")  # 28x28x480
        self.maxpool3 = nn.MaxPool2d(3, stride=2, padding=1)  # 14x14x480
        self.inception4a = _inception("inception4a")  # 14x14x512
        self.inception4b = _inception("inception4b")  # 14x14x512
        self.inception4c = _inception("inception4c")  # 14x14x512
        self.inception4d = _inception("inception4d")  # 14x14x528
        self.inception4e = _inception("inception4e")  # 14x14x832
        self.maxpool4 = nn.MaxPool2d(3, stride=2, padding=1)  # 7x7x832
        self.inception5a = _inception("inception5a")  # 7x7x832
        self.inception5b = _inception("inception5b")  # 7x7x1024
        self.avgpool = nn.AvgPool2d(7, stride=1)  # 1x1x1024
        self.flatten = nn.Flatten()
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(1024, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.lrn1(self.maxpool1(self.conv1(x)))
        x = self.maxpool2(self.lrn2(self.conv2(x)))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        x = self.inception4c(self.inception4b(self.inception4a(x)))
        x = self.maxpool4(self.inception4e(self.inception4d(x)))
        x = self.inception5b(self.inception5a(x))
        return self.fc(self.dropout(self.flatten(self.avgpool(x))))


def googlenet_paper(*, num_classes: int = 1000, dropout: float = 0.4) -> GoogLeNetPaper:
    """GoogLeNet from `Going Deeper with Convolutions <https://arxiv.org/abs/1409.4842>`_
    (Szegedy et al. 2014), exactly as its Table 1: LRN, 5x5 convolutions in the 5x5 branch,
    no auxiliary classifiers (they are only used in training)."""
    return GoogLeNetPaper(num_classes=num_classes, dropout=dropout)


def _biases(row: TableRow) -> int:
    return row.ch1x1 + row.ch3x3red + row.ch3x3 + row.ch5x5red + row.ch5x5 + row.pool_proj


# Table 1's figures: "params" are weights without biases in K = 1024, "ops" multiply-adds
# without biases in M = 10^6. Tolerances: one unit of the last printed digit (the table
# rounds some rows and truncates others: 4a's 73.6M is printed 73M, 4b's 87.9M as 88M), plus,
# for params, the module's biases, which the table leaves out and our counts include.
_K = 1024
_ERRATA_PARAMS = {
    "conv1": "Printed 2.7K, but a 7×7×3 conv with 64 filters has 9,408 weights (9.2K).",
    "inception4a": "Printed 364K; the row's own filter columns give 375,552 weights (366.8K).",
    "inception4c": "Printed 463K; the row's own filter columns give 509,440 weights (497.5K).",
    "inception4d": "Printed 580K; the row's own filter columns give 604,672 weights (590.5K).",
    "inception4e": "Printed 840K; the row's own filter columns give 867,328 weights (847.0K).",
    "inception5a": "Printed 1072K; the row's own filter columns give 1,042,432 weights (1018K).",
    "inception5b": "Printed 1388K; the row's own filter columns give 1,442,816 weights (1409K).",
}
_ERRATA_OPS = {
    "conv1": (
        "Printed 34M, but 112×112 outputs × 64 filters × 7×7×3 = 118,013,952 multiply-adds "
        "(118M); 34M is 2.7K × 112², so the row's params figure is the wrong one."
    ),
    "inception5a": (
        "Printed 54M; the row's own filter columns give 7×7 × 1,042,432 = 51,079,168 "
        "multiply-adds (51M)."
    ),
}


def _row_note(name: str) -> str:
    parts = []
    if name in _ERRATA_PARAMS:
        parts.append("Erratum (params): " + _ERRATA_PARAMS[name])
    if name in _ERRATA_OPS:
        parts.append("Erratum (ops): " + _ERRATA_OPS[name])
    return " ".join(parts)


def _published_modules() -> tuple[PublishedModule, ...]:
    rows = [
        PublishedModule(
            "conv1",
            params=2_700 * _K // 1000,
            macs=34_000_000,
            params_tolerance=100 * _K // 1000 + 64,  # printed to 0.1K
            macs_tolerance=1_000_000,
            note=_row_note("conv1"),
        ),
        PublishedModule(
            "conv2",
            params=112 * _K,
            macs=360_000_000,
            params_tolerance=_K + 64 + 192,
            macs_tolerance=1_000_000,
        ),
    ]
    for row in TABLE_1:
        rows.append(
            PublishedModule(
                row.name,
                params=row.params_k * _K,
                macs=row.ops_m * 1_000_000,
                params_tolerance=_K + _biases(row),
                macs_tolerance=1_000_000,
                note=_row_note(row.name),
            )
        )
    rows.append(
        PublishedModule(
            "fc", params=1000 * _K, macs=1_000_000, params_tolerance=_K + 1000,
            macs_tolerance=1_000_000,
        )
    )  # fmt: skip
    return tuple(rows)


ERRATA = frozenset(_ERRATA_PARAMS) | frozenset(_ERRATA_OPS)

register(
    ArchSpec(
        name="googlenet-paper",
        family="Inception",
        title="GoogLeNet (Szegedy et al. 2014, Table 1)",
        builder=googlenet_paper,
        input_size=(3, 224, 224),
        num_classes=1000,
        paper=SZEGEDY_2014,
        url=SZEGEDY_2014_URL,
        year=2014,
        notes=(
            "**Inception modules**: instead of choosing a 1×1, 3×3 or 5×5 convolution or a "
            "pooling layer, do them all in parallel and concatenate the results along n_C "
            "(28×28×192 → 28×28×256 in inception 3a).\n\n"
            "**1×1 bottlenecks** make that affordable: a 5×5 convolution from 192 to 32 "
            "channels on 28×28 costs 120.4M multiply-adds; reducing to 16 channels with a 1×1 "
            "convolution first costs 2.4M + 10.0M = 12.4M, ten times less. Every 3×3 and 5×5 "
            "branch starts with such a reduction, and the pooling branch ends with a 1×1 "
            "projection so it does not keep all 192 channels.\n\n"
            "22 layers with weights, about 1.6 × 10⁹ multiply-adds and 7M parameters "
            "(AlexNet: 61M), global average pooling instead of big FC layers. This is the "
            "network of Table 1: 5×5 convolutions in the 5×5 branch (torchvision's "
            "`googlenet` uses 3×3 there and batch norm) and LRN after the first two "
            "convolutions; the two auxiliary classifiers are used only in training and are "
            "left out.\n\n"
            "Table 1 is not self-consistent: its params column disagrees with its own filter "
            "columns for conv1, 4a, 4c, 4d, 4e, 5a and 5b, and its ops for conv1 and 5a; "
            "we build what the filter columns say (see the per-module notes)."
        ),
        published=Published(
            source="Szegedy et al. 2014, Table 1 (params in K = 1024 weights, ops in M MACs)",
            # Section 5: "a computational budget of 1.5 billion multiply-adds at inference
            # time"; Table 1's ops column sums to 1,502M, or 1,586M with conv1 corrected.
            macs=1_500_000_000,
            macs_tolerance=100_000_000,
            modules=_published_modules(),
            note=(
                "Table 1 counts weights without biases ('params', K = 1024) and multiply-adds "
                "without bias adds ('ops'). Several rows disagree with the table's own "
                "filter columns; each such row carries an erratum note."
            ),
        ),
        tags=("classic", "paper"),
    )
)
