"""LeNet-5: the lecture's simplified version and LeCun et al. 1998 as published."""

from __future__ import annotations

import torch
from torch import nn

from explorer.catalog.registry import ArchSpec, Published, PublishedModule, register

LECUN_1998 = (
    "Y. LeCun, L. Bottou, Y. Bengio, P. Haffner. Gradient-based learning applied to document "
    "recognition. Proceedings of the IEEE, 86(11):2278-2324, 1998."
)
LECUN_1998_URL = "http://yann.lecun.com/exdb/publis/pdf/lecun-98.pdf"

_ACTIVATIONS: dict[str, type[nn.Module]] = {"tanh": nn.Tanh, "relu": nn.ReLU, "sigmoid": nn.Sigmoid}


class LeNet5(nn.Module):
    """The lecture's LeNet-5: 32x32x1 -> conv 6@5x5 -> avgpool 2 -> conv 16@5x5 -> avgpool 2 ->
    fc 120 -> fc 84 -> fc 10 (61,706 parameters with biases)."""

    def __init__(
        self, num_classes: int = 10, activation: str = "tanh", in_channels: int = 1
    ) -> None:
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {sorted(_ACTIVATIONS)}, not {activation!r}"
            )
        act = _ACTIVATIONS[activation]
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, kernel_size=5),  # 32x32x1 -> 28x28x6
            act(),
            nn.AvgPool2d(kernel_size=2, stride=2),  # -> 14x14x6
            nn.Conv2d(6, 16, kernel_size=5),  # -> 10x10x16
            act(),
            nn.AvgPool2d(kernel_size=2, stride=2),  # -> 5x5x16
        )
        self.flatten = nn.Flatten()  # -> 400
        self.classifier = nn.Sequential(
            nn.Linear(16 * 5 * 5, 120),
            act(),
            nn.Linear(120, 84),
            act(),
            nn.Linear(84, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.flatten(self.features(x)))


def lenet5(*, num_classes: int = 10, activation: str = "tanh", in_channels: int = 1) -> LeNet5:
    """LeNet-5 as drawn in the lecture (LeCun et al. 1998, simplified)."""
    return LeNet5(num_classes=num_classes, activation=activation, in_channels=in_channels)


register(
    ArchSpec(
        name="lenet5",
        family="LeNet",
        title="LeNet-5 (the lecture's version)",
        builder=lenet5,
        input_size=(1, 32, 32),
        num_classes=10,
        paper=LECUN_1998,
        url=LECUN_1998_URL,
        year=1998,
        notes=(
            "About 60K parameters. n_H and n_W shrink (32 → 28 → 14 → 10 → 5) while n_C grows "
            "(1 → 6 → 16): the pattern every later CNN follows. Average pooling and tanh, as "
            "in 1998; the lecture's version uses an ordinary fully connected 10-way output "
            "instead of the paper's RBF units."
        ),
        published=Published(
            source="Lecture: 'about 60K parameters'",
            params=60_000,
            params_tolerance=2_000,
        ),
        tags=("classic",),
    )
)


# ---------------------------------------------------------------------------------------------
# LeNet-5 exactly as LeCun et al. 1998 (section II.B) describe it.

# Table I: which of S2's 6 feature maps each of C3's 16 maps is connected to.
C3_TABLE: tuple[tuple[int, ...], ...] = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (0, 4, 5), (0, 1, 5),
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (0, 3, 4, 5), (0, 1, 4, 5), (0, 1, 2, 5),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)  # fmt: skip


class ScaledTanh(nn.Module):
    """The paper's squashing function f(a) = A tanh(S a) with A = 1.7159, S = 2/3 (appendix A)."""

    def __init__(self, amplitude: float = 1.7159, slope: float = 2.0 / 3.0) -> None:
        super().__init__()
        self.amplitude = amplitude
        self.slope = slope

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.amplitude * torch.tanh(self.slope * x)

    def extra_repr(self) -> str:
        return f"amplitude={self.amplitude}, slope={self.slope:.4f}"


class Subsampling(nn.Module):
    """S2/S4: each map's non-overlapping 2x2 sums, times one trainable coefficient, plus one
    trainable bias (2 parameters per map)."""

    def __init__(self, channels: int, kernel_size: int = 2) -> None:
        super().__init__()
        self.channels = channels
        self.kernel_size = kernel_size
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = self.kernel_size
        sums = nn.functional.avg_pool2d(x, k, stride=k) * (k * k)
        return sums * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)

    def extra_repr(self) -> str:
        return f"{self.channels}, kernel_size={self.kernel_size}, stride={self.kernel_size}"


class PartialConv2d(nn.Module):
    """C3: a 5x5 convolution where output map j sees only the input maps `table[j]`.

    Maps with the same number of inputs share one grouped convolution over the gathered input
    maps, so the parameter count (1,516) and the multiply-adds (151,600 connections minus the
    bias adds) are exactly the paper's, with no masked-out weights.
    """

    def __init__(
        self, table: tuple[tuple[int, ...], ...] = C3_TABLE, kernel_size: int = 5
    ) -> None:
        super().__init__()
        self.table = table
        self.in_channels = 1 + max(max(row) for row in table)
        self.out_channels = len(table)
        self.kernel_size = kernel_size
        # Consecutive output maps with equal fan-in form one group ("fan3", "fan4", "fan6").
        self._groups: list[tuple[str, list[int]]] = []
        start = 0
        while start < len(table):
            fan = len(table[start])
            stop = start
            while stop < len(table) and len(table[stop]) == fan:
                stop += 1
            rows = table[start:stop]
            name = f"fan{fan}"
            gather = [i for row in rows for i in row]
            self.add_module(name, nn.Conv2d(len(gather), len(rows), kernel_size, groups=len(rows)))
            self._groups.append((name, gather))
            start = stop

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = [getattr(self, name)(x[:, gather]) for name, gather in self._groups]
        return torch.cat(outs, dim=1)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            "connections=Table I"
        )


def _rbf_prototypes(num_classes: int, features: int) -> torch.Tensor:
    # The paper draws each class's +1/-1 code as a 7x12 bitmap of the character; those bitmaps
    # are not published as data, so we use a fixed pseudo-random +1/-1 code per class.
    generator = torch.Generator().manual_seed(1998)
    bits = torch.randint(0, 2, (num_classes, features), generator=generator)
    return bits.to(torch.float32) * 2 - 1


class RBFOutput(nn.Module):
    """The output layer: y_i = sum_j (x_j - w_ij)^2 with FIXED prototypes w (a buffer, not a
    parameter: the paper chooses them by hand and never trains them). The smallest y wins."""

    prototypes: torch.Tensor

    def __init__(self, in_features: int = 84, num_classes: int = 10) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = num_classes
        self.register_buffer("prototypes", _rbf_prototypes(num_classes, in_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.prototypes
        # ||x - w||^2 = ||x||^2 - 2 x.w + ||w||^2: the x.w products are the layer's multiply-adds.
        distances = (x * x).sum(1, keepdim=True) - 2 * x @ w.t() + (w * w).sum(1)
        return distances.clamp_min(0)  # rounding must not make a squared distance negative

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, fixed"


class LeNet5Paper(nn.Module):
    """LeNet-5 of LeCun et al. 1998, Figure 2: C1, S2, C3, S4, C5, F6 and RBF output."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(1, 6, kernel_size=5)  # 32x32x1 -> 28x28x6, 156 params
        self.act1 = ScaledTanh()
        self.s2 = Subsampling(6)  # -> 14x14x6, 12 params
        self.act2 = ScaledTanh()
        self.c3 = PartialConv2d(C3_TABLE)  # -> 10x10x16, 1,516 params
        self.act3 = ScaledTanh()
        self.s4 = Subsampling(16)  # -> 5x5x16, 32 params
        self.act4 = ScaledTanh()
        self.c5 = nn.Conv2d(16, 120, kernel_size=5)  # -> 1x1x120, 48,120 params
        self.act5 = ScaledTanh()
        self.flatten = nn.Flatten()
        self.f6 = nn.Linear(120, 84)  # 10,164 params
        self.act6 = ScaledTanh()
        self.output = RBFOutput(84, num_classes)  # fixed prototypes, 0 trainable params

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act2(self.s2(self.act1(self.c1(x))))
        x = self.act4(self.s4(self.act3(self.c3(x))))
        x = self.flatten(self.act5(self.c5(x)))
        return self.output(self.act6(self.f6(x)))


def lenet5_1998(*, num_classes: int = 10) -> LeNet5Paper:
    """LeNet-5 from `Gradient-based learning applied to document recognition
    <http://yann.lecun.com/exdb/publis/pdf/lecun-98.pdf>`_ (LeCun et al. 1998), as published:
    trainable subsampling, C3's partial connections (Table I) and RBF outputs; 60,000
    trainable parameters."""
    return LeNet5Paper(num_classes=num_classes)


register(
    ArchSpec(
        name="lenet5-1998",
        family="LeNet",
        title="LeNet-5 (LeCun et al. 1998, as published)",
        builder=lenet5_1998,
        input_size=(1, 32, 32),
        num_classes=10,
        paper=LECUN_1998,
        url=LECUN_1998_URL,
        year=1998,
        notes=(
            "The network as the paper built it, which differs from the lecture's simplified "
            "version in three ways:\n\n"
            "- **Trainable subsampling** (S2, S4): each map's 2×2 sums are multiplied by one "
            "trainable coefficient and shifted by one trainable bias, then squashed.\n"
            "- **Partial connections** in C3 (Table I): the first six maps see 3 contiguous S2 "
            "maps, the next six 4 contiguous, three see 4 non-contiguous and one sees all six. "
            "This breaks symmetry and keeps the connection count down (1,516 parameters "
            "instead of 2,416).\n"
            "- **RBF output**: each class unit outputs the squared distance between F6's 84 "
            "values and a fixed ±1 prototype (a 7×12 bitmap of the character in the paper; a "
            "fixed pseudo-random code here). The prototypes are not trained.\n\n"
            "Activation f(a) = 1.7159·tanh(2a/3). Trainable parameters: 156 + 12 + 1,516 + 32 "
            "+ 48,120 + 10,164 = 60,000, the paper's figure."
        ),
        published=Published(
            source="LeCun et al. 1998, section II.B",
            params=60_000,
            params_tolerance=0,
            modules=(
                PublishedModule("c1", params=156),
                PublishedModule("s2", params=12),
                PublishedModule("c3", params=1_516),
                PublishedModule("s4", params=32),
                PublishedModule("c5", params=48_120),
                PublishedModule("f6", params=10_164),
            ),
            note="The paper's count is of trainable parameters; the RBF prototypes are fixed.",
        ),
        tags=("classic", "paper"),
    )
)
