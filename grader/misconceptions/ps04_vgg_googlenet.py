"""Problem set 4: the mistakes of VGG and GoogLeNet.

Each wrong reference is torchvision's model with the mistake made in it.
"""
from __future__ import annotations

import torch
from torch import nn
from torchvision.models.googlenet import BasicConv2d, Inception

from . import WrongAnswers, WrongModel, patched, reordered, setting, swapped


def _branch2_first(self, x):
    return torch.cat([self.branch2(x), self.branch1(x), self.branch3(x), self.branch4(x)], 1)


def _true_5x5(module):
    """Branch 3 with the paper's 5x5 convolution (torchvision's has 3x3)."""
    for m in module.modules():
        if isinstance(m, Inception):
            conv = m.branch3[1].conv
            conv = nn.Conv2d(conv.in_channels, conv.out_channels, 5, padding=2, bias=False)
            m.branch3[1].conv = conv
    return module


MISCONCEPTIONS = [
    WrongModel(
        "bn_after_relu", "BatchNorm after the ReLU instead of before",
        ("make_layers_function", "vgg_function"),
        "torchvision's VGG with batch_norm=True normalises the convolution's output, then "
        "rectifies it: Conv2d, BatchNorm2d, ReLU. Reread lecture 6, §1.3.",
        mistake=reordered(nn.BatchNorm2d, nn.ReLU)),
    WrongModel(
        "vgg_adaptive_max_pool", "VGG pools to 7x7 by the maximum, not the mean",
        ("vgg_function",),
        "torchvision's VGG averages the last feature maps into a 7x7 grid "
        "(nn.AdaptiveAvgPool2d); where a bin holds several values, their maximum is not "
        "their mean. Reread lecture 6, §4.1.",
        mistake=swapped(nn.AdaptiveAvgPool2d, lambda m: nn.AdaptiveMaxPool2d(m.output_size))),
    WrongModel(
        "vgg_no_dropout", "VGG's classifier without its Dropout layers", ("vgg_function",),
        "VGG's classifier has a Dropout(p=dropout) after each of its first two ReLUs: in "
        "training they zero activations at random, and the outputs differ. "
        "Reread lecture 6, §4.1.",
        mistake=swapped(nn.Dropout, lambda m: nn.Identity())),
    WrongModel(
        "inception_branch_order", "Inception concatenates its branches in another order",
        ("inception_function", "googlenet_function"),
        "The module concatenates its branches in a fixed order, 1x1, 3x3, 5x5 (torchvision's "
        "3x3), pool projection, and every later layer depends on which channel is which. "
        "Reread lecture 6, §2.3.",
        mistake=patched(Inception, _branch2_first)),
    WrongModel(
        "basic_conv_default_eps", "BasicConv2d's BatchNorm with PyTorch's default eps",
        ("basic_conv_function", "inception_function", "googlenet_function"),
        "torchvision's GoogLeNet (ported from TensorFlow) builds every BatchNorm with "
        "eps=0.001, not PyTorch's default 1e-5. Reread lecture 6, §4.2.",
        mistake=setting(nn.BatchNorm2d, BasicConv2d, eps=1e-5)),
    WrongModel(
        "inception_true_5x5", "the paper's 5x5 convolution in branch 3",
        ("googlenet_params",),
        "torchvision's Inception module has a 3x3 convolution where the paper draws a 5x5 "
        "(a known bug, kept for its pretrained weights). Reread lecture 6, §4.2.",
        mistake=_true_5x5),
    WrongAnswers(
        "quiz_stack_one_layer", "the weights of a 3x3 stack counted for one layer",
        ("quiz_vgg_googlenet",),
        "A stack of three 3x3 convolutions has three layers of 3 x 3 x 64 x 64 weights each. "
        "Reread lecture 6, §1.3.",
        answers={"quiz_stack_weights": lambda: 3 * 3 * 64 * 64}),
]
