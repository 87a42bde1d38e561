"""LeNet-5: the lecture's simplified version and LeCun et al. 1998 as published."""

from __future__ import annotations

from torch import nn

from explorer.architectures.registry import ArchSpec, Published, register

LECUN_1998 = (
    "Y. LeCun, L. Bottou, Y. Bengio, P. Haffner. Gradient-based learning applied to document "
    "recognition. Proceedings of the IEEE, 86(11):2278-2324, 1998."
)
LECUN_1998_URL = "http://yann.lecun.com/exdb/publis/pdf/lecun-98.pdf"

_ACTIVATIONS: dict[str, type[nn.Module]] = {"tanh": nn.Tanh, "relu": nn.ReLU, "sigmoid": nn.Sigmoid}


class LeNet5(nn.Module):
    """The lecture's LeNet-5: 32x32x1 -> conv 6@5x5 -> avgpool 2 -> conv 16@5x5 -> avgpool 2 ->
    fc 120 -> fc 84 -> fc 10 (61,706 parameters with biases)."""

    def __init__(self, num_classes: int = 10, activation: str = "tanh", in_channels: int = 1) -> None:
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}, not {activation!r}")
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

    def forward(self, x):  # type: ignore[no-untyped-def]
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
