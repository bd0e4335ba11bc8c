"""LeNet-5: LeCun, Bottou, Bengio & Haffner, "Gradient-based learning applied to
document recognition", Proc. IEEE 1998.

Two versions:

* ``LeNet5``: the version taught today (conv-pool-conv-pool-FC, sigmoid,
  average pooling, dense C3): 61,706 parameters for 32x32 inputs.
* ``LeNet5Paper``: the paper's network.  Subsampling layers with a trainable
  coefficient and bias per map, the sparse C3 connection table (Table I),
  the scaled tanh ``1.7159 tanh(2x/3)`` and an RBF output layer with fixed
  prototypes: exactly 60,000 trainable parameters.
"""
from __future__ import annotations

import torch
from torch import nn

#: Table I of the paper: the S2 feature maps (0-5) each C3 map (0-15) reads.
C3_TABLE = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (0, 4, 5), (0, 1, 5),
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (0, 3, 4, 5), (0, 1, 4, 5), (0, 1, 2, 5),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)


class SparseConv2d(nn.Module):
    """A convolution whose output map ``o`` reads only the input maps ``table[o]``.

    One small convolution per output map, so the parameter count is the
    paper's: ``sum(len(t) * k * k + 1 for t in table)`` (1,516 for C3).
    """

    def __init__(self, table, kernel_size: int):
        super().__init__()
        self.table = tuple(tuple(t) for t in table)
        self.maps = nn.ModuleList(nn.Conv2d(len(t), 1, kernel_size) for t in self.table)

    def forward(self, x):
        return torch.cat([conv(x[:, list(t)]) for t, conv in zip(self.table, self.maps)], dim=1)


class Subsampling(nn.Module):
    """The paper's S2/S4: the sum of each 2x2 block times a trainable coefficient, plus a bias."""

    def __init__(self, channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x):
        summed = 4 * nn.functional.avg_pool2d(x, 2)
        return summed * self.weight[:, None, None] + self.bias[:, None, None]


class ScaledTanh(nn.Module):
    """The paper's squashing function, f(a) = A tanh(S a) with A = 1.7159, S = 2/3."""

    def forward(self, x):
        return 1.7159 * torch.tanh(2.0 / 3.0 * x)


class RBFOutput(nn.Module):
    """y_i = sum_j (x_j - w_ij)^2 with fixed +-1 prototypes (the paper drew 7x12 bitmaps).

    Returns ``-y`` so that the largest output is the predicted class, as for logits.
    """

    def __init__(self, in_features: int = 84, num_classes: int = 10, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        prototypes = torch.randint(0, 2, (num_classes, in_features), generator=g) * 2.0 - 1.0
        self.register_buffer("prototypes", prototypes)  # fixed, not trained

    def forward(self, x):
        return -((x[:, None, :] - self.prototypes) ** 2).sum(dim=2)


class LeNet5(nn.Module):
    """The modern LeNet-5 for 1x32x32 inputs (pad 28x28 digits by 2)."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, kernel_size=5), nn.Sigmoid(), nn.AvgPool2d(2),   # C1, S2
            nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(), nn.AvgPool2d(2),  # C3 (dense), S4
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(),  # C5 as a dense layer
            nn.Linear(120, 84), nn.Sigmoid(), nn.Linear(84, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


class LeNet5Paper(nn.Module):
    """LeNet-5 as published (Fig. 2 and Table I of the paper) for 1x32x32 inputs."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.c1 = nn.Conv2d(1, 6, kernel_size=5)   # 6 x 28 x 28, 156 parameters
        self.s2 = Subsampling(6)                   # 6 x 14 x 14, 12
        self.c3 = SparseConv2d(C3_TABLE, 5)        # 16 x 10 x 10, 1,516
        self.s4 = Subsampling(16)                  # 16 x 5 x 5, 32
        self.c5 = nn.Conv2d(16, 120, kernel_size=5)  # 120 x 1 x 1, 48,120
        self.f6 = nn.Linear(120, 84)               # 10,164
        self.output = RBFOutput(84, num_classes)   # fixed prototypes
        self.act = ScaledTanh()

    def forward(self, x):
        x = self.act(self.s2(self.c1(x)))
        x = self.act(self.s4(self.c3(x)))
        x = self.act(self.c5(x)).flatten(1)
        return self.output(self.act(self.f6(x)))
