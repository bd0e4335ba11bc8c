"""ResNet and ResNeXt: He et al., "Deep residual learning for image recognition",
CVPR 2016; Xie et al., "Aggregated residual transformations for deep neural
networks", CVPR 2017.  The full-size models are torchvision's.

The small variants borrow one idea of the paper's CIFAR-10 networks (section
4.2): a 3x3 stem with no max pooling, because a 7x7 stride-2 stem and a pool
would shrink a 32x32 image to 8x8 before the first residual unit.  They keep
the ImageNet widths (64-512) and projection shortcuts, with one unit per
stage, so they are far larger than the paper's 0.27M-parameter ResNet-20.
"""
from __future__ import annotations

from torch import nn
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet


def _small(block, layers, num_classes, in_channels, **kwargs) -> ResNet:
    model = ResNet(block, layers, num_classes=num_classes, **kwargs)
    model.conv1 = nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
    model.maxpool = nn.Identity()
    return model


def resnet_small(num_classes: int = 10, in_channels: int = 3) -> ResNet:
    """ResNet-10: one basic block per stage (ResNet-18 has two)."""
    return _small(BasicBlock, [1, 1, 1, 1], num_classes, in_channels)


def resnext_small(num_classes: int = 10, in_channels: int = 3) -> ResNet:
    """One 8x4d bottleneck per stage: cardinality 8, width 4 per group."""
    return _small(Bottleneck, [1, 1, 1, 1], num_classes, in_channels, groups=8,
                  width_per_group=4)
