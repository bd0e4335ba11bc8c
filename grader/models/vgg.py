"""VGG: Simonyan & Zisserman, "Very deep convolutional networks for large-scale
image recognition", ICLR 2015.  The full-size models are torchvision's."""
from __future__ import annotations

from torch import nn
from torchvision.models.vgg import make_layers

#: Three stages of 3x3 convolutions for 32x32 inputs ("M" is a 2x2 max pool).
SMALL_CFG = [32, 32, "M", 64, 64, "M", 128, 128, "M"]


def vgg_small(num_classes: int = 10, in_channels: int = 3, batch_norm: bool = True,
              cfg=SMALL_CFG) -> nn.Sequential:
    features = make_layers(cfg, batch_norm=batch_norm)
    if in_channels != 3:
        features[0] = nn.Conv2d(in_channels, cfg[0], kernel_size=3, padding=1)
    return nn.Sequential(features, nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Dropout(0.3), nn.Linear(cfg[-2], num_classes))
