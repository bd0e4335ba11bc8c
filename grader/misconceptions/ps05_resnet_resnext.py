"""Problem set 5: the mistakes of ResNet and ResNeXt.

Each wrong reference is torchvision's model (or block) with the mistake made in it.
"""
from __future__ import annotations

import torch
from torch import nn
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

from . import WrongAnswers, WrongModel, patched, swapped

NETS = ("resnet18_function", "resnet_function", "resnext50_function")
BOTTLENECKS = ("bottleneck_function", "resnext_block_function", "resnet_function",
               "resnext50_function")
COUNTS = ("bottleneck_params", "resnet_params", "resnext50_params")


def _relu_before_add(self, x):
    out = torch.relu(self.bn1(self.conv1(x)))
    out = self.bn2(self.conv2(out))
    identity = x if self.downsample is None else self.downsample(x)
    return torch.relu(out) + identity


def _no_relu_after_add(self, x):
    out = torch.relu(self.bn1(self.conv1(x)))
    out = torch.relu(self.bn2(self.conv2(out)))
    out = self.bn3(self.conv3(out))
    return out + (x if self.downsample is None else self.downsample(x))


def _stride_on_first_1x1(module):
    """ResNet v1: the first 1x1 convolution strides, the 3x3 does not."""
    for m in module.modules():
        if isinstance(m, Bottleneck):
            m.conv1.stride, m.conv2.stride = m.conv2.stride, (1, 1)
    return module


def _rebuilt(model: ResNet, block, **changes) -> ResNet:
    """torchvision's ResNet built as ``model`` was, with ``block`` and ``changes``."""
    kwargs = {"num_classes": model.fc.out_features, "groups": model.groups,
              "width_per_group": model.base_width, **changes}
    layers = [len(model.layer1), len(model.layer2), len(model.layer3), len(model.layer4)]
    return ResNet(block, layers, **kwargs)


class _ExpansionTwo(Bottleneck):
    expansion = 2


def _expansion_two(module):
    """Bottlenecks that widen by 2 instead of 4 (a block alone keeps its given shortcut)."""
    if isinstance(module, ResNet):
        return (_rebuilt(module, _ExpansionTwo) if isinstance(module.layer1[0], Bottleneck)
                else module)
    for m in module.modules():
        if isinstance(m, Bottleneck):
            out = m.conv3.out_channels // 2
            m.conv3 = nn.Conv2d(m.conv3.in_channels, out, 1, bias=False)
            m.bn3 = nn.BatchNorm2d(out)
    return module


def _cardinality_and_width_swapped(module):
    """ResNeXt with ``groups`` and ``width_per_group`` exchanged (4x32d for 32x4d)."""
    if isinstance(module, ResNet) and module.groups > 1:
        return _rebuilt(module, Bottleneck, groups=module.base_width,
                        width_per_group=module.groups)
    return module


def _groups_is_width(module):
    """Every Bottleneck's 3x3 convolution with one group per channel (depthwise)."""
    for m in module.modules():
        if isinstance(m, Bottleneck):
            c = m.conv2
            m.conv2 = nn.Conv2d(c.in_channels, c.out_channels, 3, c.stride, 1,
                                groups=c.in_channels, bias=False)
    return module


MISCONCEPTIONS = [
    WrongModel(
        "relu_before_add", "BasicBlock: the ReLU on the residual branch, before the addition",
        ("basic_block_function", "resnet18_function", "resnet_function"),
        "The residual unit adds the shortcut to the branch's BatchNorm output, then applies "
        "the ReLU to the sum: relu(F(x) + x). Reread lecture 7, §1.3.",
        mistake=patched(BasicBlock, _relu_before_add)),
    WrongModel(
        "no_relu_after_add", "Bottleneck: no ReLU after the addition", BOTTLENECKS,
        "In the original (post-activation) residual unit the sum goes through a ReLU: "
        "relu(F(x) + x). Reread lecture 7, §1.3.",
        mistake=patched(Bottleneck, _no_relu_after_add)),
    WrongModel(
        "stride_on_first_1x1", "Bottleneck: the stride on the first 1x1 convolution (v1)",
        # not the block checks: on a block of stride 1 the mistake changes nothing, so it
        # would agree with any block whose outputs are right and whose training step fails
        ("resnet_function", "resnext50_function"),
        "torchvision's ResNet is v1.5: a downsampling bottleneck strides in its 3x3 "
        "convolution, not in the first 1x1 as in the paper. Reread lecture 7, §4.1.",
        mistake=_stride_on_first_1x1),
    WrongModel(
        "bottleneck_expansion_two", "Bottleneck widens by 2 instead of 4", COUNTS,
        "A bottleneck's last 1x1 convolution restores 4 x planes channels "
        "(expansion = 4): 64 -> 256 in the first stage. Reread lecture 7, §1.3.",
        mistake=_expansion_two),
    WrongModel(
        "groups_is_width", "the 3x3's groups set to the width, not the cardinality", COUNTS,
        "ResNeXt's 3x3 convolution has groups = cardinality (32 in 32x4d), each group "
        "width_per_group channels wide; groups = width would make it depthwise. "
        "Reread lecture 7, §2.3.",
        mistake=_groups_is_width),
    WrongModel(
        "resnext_4x32d", "ResNeXt-50 with 4 groups of width 32, not 32 groups of width 4",
        ("resnext50_params",),
        "In ResNeXt-50 32x4d, 32 is the cardinality (groups) and 4 the width of each group "
        "(width_per_group). Reread lecture 7, §2.3.",
        mistake=_cardinality_and_width_swapped),
    WrongModel(
        "resnet_no_maxpool", "the stem without its max pooling", NETS,
        "ResNet's ImageNet stem is a 7x7 convolution of stride 2, BatchNorm, ReLU and a 3x3 "
        "max pooling of stride 2: the first stage works at 1/4 of the input size. "
        "Reread lecture 7, §1.2.",
        mistake=swapped(nn.MaxPool2d, lambda m: nn.Identity())),
    WrongAnswers(
        "quiz_layer3_28", "layer3's maps taken as 28x28 (224 / 8)", ("quiz_resnet",),
        "The stem divides the input by 4, and layer2 and layer3 each halve it at their first "
        "unit: layer3 works at 224 / 16 = 14. Reread lecture 7, §1.2.",
        answers={"quiz_layer3_size": lambda: 28}),
]
