"""Problem set 7: the mistakes of SENet and Inception-v4.

Each wrong reference is timm's model (or block) with the mistake made in it.
"""
from __future__ import annotations

from timm.models.inception_v4 import InceptionA
from timm.models.senet import SEModule, SENet, SEResNetBottleneck
from torch import nn

from . import WrongModel, patched, setting

SE = ("se_block_function", "se_bottleneck_function", "se_resnet50_function")
INCEPTION = ("inception_a_function", "reduction_a_function", "inception_b_function",
             "reduction_b_function", "inception_c_function", "inception_v4_function")


def _squeeze_by_max(self, x):
    s = x.amax((2, 3), keepdim=True)
    return x * self.sigmoid(self.fc2(self.relu(self.fc1(s))))


def _se_after_addition(self, x):
    shortcut = x if self.downsample is None else self.downsample(x)
    out = self.relu(self.bn1(self.conv1(x)))
    out = self.relu(self.bn2(self.conv2(out)))
    out = self.bn3(self.conv3(out))
    return self.relu(self.se_module(out + shortcut))


def _stride_on_3x3(module):
    """SE-ResNet's bottlenecks striding in the 3x3 (torchvision's v1.5), not in conv1."""
    for m in module.modules():
        if isinstance(m, SEResNetBottleneck):
            m.conv1.stride, m.conv2.stride = (1, 1), m.conv1.stride
    return module


MISCONCEPTIONS = [
    WrongModel(
        "se_no_sigmoid", "SEBlock: no sigmoid, the channel weights are unbounded", SE,
        "Excitation ends in a sigmoid, so that each channel is scaled by a weight between 0 "
        "and 1: a gate, not an arbitrary factor. Reread lecture 9, §2.2.",
        mistake=setting(SEModule, sigmoid=lambda m: nn.Identity())),
    WrongModel(
        "se_squeeze_max", "SEBlock: squeezes by global max pooling, not the mean", SE,
        "Squeeze is global average pooling: each channel is summarised by its mean over the "
        "whole map. Reread lecture 9, §2.2.",
        mistake=patched(SEModule, _squeeze_by_max)),
    WrongModel(
        "se_after_addition", "SEBottleneck: the SE block rescales the sum, shortcut included",
        ("se_bottleneck_function", "se_resnet50_function"),
        "In SE-ResNet the SE block recalibrates the residual branch only, before the "
        "addition: relu(se(F(x)) + shortcut); the identity path stays untouched. "
        "Reread lecture 9, §2.4.",
        mistake=patched(SEResNetBottleneck, _se_after_addition)),
    WrongModel(
        "se_stride_on_3x3", "SEBottleneck: the stride on the 3x3 (torchvision's v1.5)",
        # not the block check: on a block of stride 1 the mistake changes nothing
        ("se_resnet50_function",),
        "SE-ResNet follows the original Caffe ResNet: a downsampling bottleneck strides in "
        "its first 1x1 convolution, not in the 3x3 as torchvision's ResNet-50 does. "
        "Reread lecture 9, §4.3.",
        mistake=_stride_on_3x3),
    WrongModel(
        "se_resnet_no_dropout", "SEResNet50 without dropout before its classifier",
        ("se_resnet50_function",),
        "timm's SE-ResNet-50 applies dropout (drop_rate) to the pooled features before "
        "last_linear: in training it zeroes features at random. Reread lecture 9, §2.5.",
        mistake=setting(SENet, drop_rate=0.0)),
    WrongModel(
        "se_resnet_floor_max_pool", "SEResNet50: the stem's max pooling rounds down",
        ("se_resnet50_function",),
        "SENet's stem pools with ceil_mode=True (the Caffe model's rounding), so odd sizes "
        "keep their last window. Reread lecture 9, §4.3.",
        mistake=setting(nn.MaxPool2d, ceil_mode=False)),
    WrongModel(
        "inception_default_eps", "BasicConv2d: BatchNorm's default eps 1e-5, not 1e-3",
        INCEPTION,
        "Inception-v4 (ported from TensorFlow) builds every BatchNorm with eps=0.001, not "
        "PyTorch's default 1e-5. Reread lecture 9, §4.1.",
        mistake=setting(nn.BatchNorm2d, eps=1e-5)),
    WrongModel(
        "inception_a_pool_counts_padding", "InceptionA: average pooling divides by the padded "
        "window", ("inception_a_function", "inception_v4_function"),
        "Inception-A's 3x3 average pooling (stride 1, padding 1) has count_include_pad=False: "
        "at the border it averages the input pixels only, not the zeros of the padding. "
        "Reread lecture 9, §1.3.",
        mistake=setting(nn.AvgPool2d, InceptionA, count_include_pad=True)),
]
