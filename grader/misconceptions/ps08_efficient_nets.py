"""Problem set 8: the mistakes of Xception, MobileNet and ShuffleNet.

Each wrong reference is timm's or torchvision's model (or block) with the mistake
made in it.
"""
from __future__ import annotations

import importlib

import torch
from timm.models._efficientnet_blocks import DepthwiseSeparableConv
from torch import nn
from torchvision.models import mobilenetv2, shufflenetv2

from . import WrongModel, patched, swapped

# Not ``from timm.models import xception``: that name is a deprecated model function.
xception = importlib.import_module("timm.models.xception")

SEPARABLE = ("separable_conv_params", "xception_params")
SHUFFLE = ("shuffle_block_function", "shufflenet_function")


def _ungrouped(conv: nn.Conv2d) -> nn.Conv2d:
    return nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride,
                     conv.padding, conv.dilation, bias=conv.bias is not None)


def _norm_between_steps(module):
    """Xception's separable convolutions with a BatchNorm after the depthwise step."""
    for m in module.modules():
        if isinstance(m, xception.SeparableConv2d):
            m.conv1 = nn.Sequential(m.conv1, nn.BatchNorm2d(m.conv1.out_channels))
    return module


def _shortcut_rectified(self, inp):
    """timm's ``Block`` whose first ReLU works in place: computed first, an identity
    shortcut is the input tensor itself, and the ReLU rectifies it before the addition."""
    skip = inp if self.skip is None else self.skipbn(self.skip(inp))
    if self.skip is None and isinstance(self.rep[0], nn.ReLU):
        skip = torch.relu(skip)
    return self.rep(inp) + skip


def _padded_stem(module):
    if isinstance(module, xception.Xception):
        module.conv1.padding = (1, 1)
    return module


def _no_pointwise_activation(module):
    for m in module.modules():
        if isinstance(m, DepthwiseSeparableConv):
            m.bn2.act = nn.Identity()
    return module


def _relu6_after_projection(module):
    for m in module.modules():
        if isinstance(m, mobilenetv2.InvertedResidual):
            m.conv.append(nn.ReLU6())
    return module


def _shuffle_block(inverse: bool = False, first_half: bool = False):
    """torchvision's ShuffleNet v2 unit, with its channel shuffle inverted (reshaped to
    (N, C // 2, 2, H, W)) or with the branch on the first half of the channels."""
    def forward(self, x):
        if self.stride == 1:
            x1, x2 = x.chunk(2, dim=1)
            if first_half:
                x1, x2 = x2, x1
            out = torch.cat((x1, self.branch2(x2)), dim=1)
        else:
            out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)
        n, c, h, w = out.shape
        shape = (n, c // 2, 2, h, w) if inverse else (n, 2, c // 2, h, w)
        return out.view(shape).transpose(1, 2).reshape(n, c, h, w)
    return forward


def _relu_after_depthwise(module):
    """A ReLU after the BatchNorm of the main branch's depthwise convolution."""
    for m in module.modules():
        if isinstance(m, shufflenetv2.InvertedResidual):
            layers = list(m.branch2)
            i = next(i for i, c in enumerate(layers)
                     if isinstance(c, nn.Conv2d) and c.kernel_size != (1, 1))
            m.branch2 = nn.Sequential(*layers[:i + 2], nn.ReLU(), *layers[i + 2:])
    return module


MISCONCEPTIONS = [
    WrongModel(
        "depthwise_groups_1", "the depthwise convolution has groups=1 (a full k x k "
        "convolution)", SEPARABLE,
        "The depthwise step filters each channel on its own: groups=in_channels, one k x k "
        "filter per channel, so k * k * C weights instead of k * k * C * C. "
        "Reread lecture 10, §2.2.",
        mistake=swapped(nn.Conv2d, lambda m: _ungrouped(m) if m.groups > 1 else m,
                        xception.SeparableConv2d)),
    WrongModel(
        "separable_norm_between_steps", "a BatchNorm between the depthwise and the pointwise "
        "step", SEPARABLE,
        "Xception's separable convolution is depthwise then pointwise with nothing in "
        "between (the paper found that an activation there hurts); MobileNet is the one "
        "that normalises both steps. Reread lecture 10, §1.3.",
        mistake=_norm_between_steps),
    WrongModel(
        "xception_first_relu_in_place", "the block's first ReLU works in place and overwrites "
        "the input the shortcut adds", ("xception_block_function", "xception_function"),
        "An in-place ReLU at the start of the block rectifies the block's input itself, so "
        "an identity shortcut adds relu(x) instead of x: this one ReLU must not work in "
        "place (inplace=False). "
        "Reread lecture 10, §1.3.",
        mistake=patched(xception.Block, _shortcut_rectified)),
    WrongModel(
        "xception_padded_stem", "Xception's first convolution is padded",
        ("xception_function",),
        "The reference (Keras' Xception) starts with an unpadded 3x3 convolution of stride "
        "2, so 299 becomes 149. Reread lecture 10, Part 5.",
        mistake=_padded_stem),
    WrongModel(
        "relu_not_relu6", "ReLU instead of ReLU6",
        ("inverted_residual_function", "mobilenet_v1_function", "mobilenet_v2_function"),
        "MobileNets clip their activations at 6 (nn.ReLU6), which keeps them in a range that "
        "low-precision arithmetic represents well. Reread lecture 10, §2.7.",
        mistake=swapped(nn.ReLU6, lambda m: nn.ReLU(inplace=m.inplace))),
    WrongModel(
        "no_relu6_after_pointwise", "MobileNet v1: no activation after the pointwise "
        "convolutions", ("mobilenet_v1_function",),
        "In MobileNet v1 both steps of a depthwise separable layer are followed by "
        "BatchNorm and ReLU6: 3x3 depthwise, BN, ReLU6, 1x1 pointwise, BN, ReLU6. "
        "Reread lecture 10, §2.2.",
        mistake=_no_pointwise_activation),
    WrongModel(
        "relu6_after_projection", "ReLU6 after the projection (no linear bottleneck)",
        ("inverted_residual_function", "mobilenet_v2_function"),
        "MobileNet v2's projection is linear: the 1x1 convolution back to the narrow width "
        "is followed by BatchNorm only, since a ReLU in the narrow layer destroys "
        "information. Reread lecture 10, §2.7.",
        mistake=_relu6_after_projection),
    WrongModel(
        "mobilenet_v2_no_dropout", "MobileNetV2's classifier without its Dropout(0.2)",
        ("mobilenet_v2_function",),
        "torchvision's MobileNetV2 classifier is Dropout(0.2) then Linear: in training it "
        "zeroes a fifth of the pooled features at random. Reread lecture 10, Part 5.",
        mistake=swapped(nn.Dropout, lambda m: nn.Identity())),
    WrongModel(
        "shuffle_wrong_axis", "the channel shuffle reshapes to (N, C // g, g, H, W)", SHUFFLE,
        "channel_shuffle views the channels as (groups, C // groups), transposes and "
        "flattens; viewing them as (C // groups, groups) computes the inverse permutation. "
        "Reread lecture 10, §3.2.",
        mistake=patched(shufflenetv2.InvertedResidual, _shuffle_block(inverse=True))),
    WrongModel(
        "shuffle_branch_on_first_half", "the branch processes the first half of the channels",
        SHUFFLE,
        "After the channel split (x1, x2 = x.chunk(2, dim=1)) the first half passes through "
        "untouched and the second goes through the branch. Reread lecture 10, §3.2.",
        mistake=patched(shufflenetv2.InvertedResidual, _shuffle_block(first_half=True))),
    WrongModel(
        "shuffle_relu_after_depthwise", "a ReLU after the depthwise convolution", SHUFFLE,
        "In a ShuffleNet v2 unit the depthwise 3x3 convolution is followed by BatchNorm "
        "only; the ReLUs follow the 1x1 convolutions. Reread lecture 10, §3.2.",
        mistake=_relu_after_depthwise),
    WrongModel(
        "shufflenet_no_max_pool", "ShuffleNetV2 without the max pooling after conv1",
        ("shufflenet_function",),
        "ShuffleNet v2's stem is a 3x3 convolution of stride 2 followed by a 3x3 max "
        "pooling of stride 2: the first stage works at 1/4 of the input size. "
        "Reread lecture 10, §3.2.",
        mistake=swapped(nn.MaxPool2d, lambda m: nn.Identity(), shufflenetv2.ShuffleNetV2)),
]
