"""GoogLeNet: Szegedy et al., "Going deeper with convolutions", CVPR 2015.
The full-size model is torchvision's; the small one reuses its ``Inception``."""
from __future__ import annotations

from torch import nn
from torchvision.models.googlenet import BasicConv2d, Inception


def googlenet_small(num_classes: int = 10, in_channels: int = 3) -> nn.Sequential:
    """A 3x3 stem, two Inception modules (3a, 3b at half width), a pool, one more module."""
    return nn.Sequential(
        BasicConv2d(in_channels, 64, kernel_size=3, padding=1),
        Inception(64, 32, 48, 64, 8, 16, 16),       # 128 channels
        Inception(128, 64, 64, 96, 16, 48, 32),     # 240
        nn.MaxPool2d(3, stride=2, ceil_mode=True),  # 32 -> 16
        Inception(240, 96, 48, 104, 8, 24, 32),     # 256
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(256, num_classes),
    )
