"""Problem set 3: the mistakes of LeNet-5 and AlexNet.

Each wrong reference is the reference model (``grader.models``' LeNet-5 and 2012
AlexNet, torchvision's AlexNet) with the mistake made in it, so that the mistake,
and only the mistake, differs.
"""
from __future__ import annotations

import torch
from torch import nn

from ..models import SparseConv2d
from . import WrongAnswers, WrongModel, patched, reordered, setting, swapped


def _reads_first_maps(self, x):
    return torch.cat([conv(x[:, :len(t)]) for t, conv in zip(self.table, self.maps)], dim=1)


def _dense_maps(module):
    """Every C3 map reads every input map: the table's largest index + 1 of them."""
    for m in module.modules():
        if isinstance(m, SparseConv2d):
            n = max(max(t) for t in m.table) + 1
            m.maps = nn.ModuleList(nn.Conv2d(n, 1, c.kernel_size) for c in m.maps)
            m.forward = lambda x, m=m: torch.cat([conv(x) for conv in m.maps], dim=1)
    return module


def _ungrouped(conv: nn.Conv2d) -> nn.Conv2d:
    return nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride,
                     conv.padding, bias=conv.bias is not None)


MISCONCEPTIONS = [
    WrongModel(
        "c3_first_maps", "each C3 map reads the first len(table[o]) input maps",
        ("sparse_conv_function",),
        "Output map o reads the input maps listed in table[o], which are not the first ones: "
        "index the input with the table, x[:, table[o]]. Reread lecture 5, §1.4.",
        mistake=patched(SparseConv2d, _reads_first_maps)),
    WrongModel(
        "c3_dense", "C3 as a dense convolution: every map reads every input map",
        ("sparse_conv_params",),
        "C3's point is its sparse table: map o has a len(table[o]) x 5 x 5 filter, so "
        "1,516 parameters instead of a dense layer's 2,416. Reread lecture 5, §1.4.",
        mistake=_dense_maps),
    WrongModel(
        "lenet_max_pooling", "LeNet-5 with max pooling instead of average pooling",
        ("lenet5_function",),
        "LeNet-5's subsampling layers average each 2x2 block; max pooling came with later "
        "networks such as AlexNet. Reread lecture 5, §1.3.",
        mistake=swapped(nn.AvgPool2d, lambda m: nn.MaxPool2d(m.kernel_size, m.stride,
                                                             m.padding))),
    WrongModel(
        "lenet_relu", "LeNet-5 with ReLU instead of sigmoid", ("lenet5_function",),
        "LeNet-5 squashes with a sigmoid after every layer but the last; ReLU arrived with "
        "AlexNet, fourteen years later. Reread lecture 5, §1.3.",
        mistake=swapped(nn.Sigmoid, lambda m: nn.ReLU())),
    WrongModel(
        "alexnet_adaptive_max_pool", "AlexNet pools to 6x6 by the maximum, not the mean",
        ("alexnet_function",),
        "torchvision's AlexNet averages the feature maps into a 6x6 grid "
        "(nn.AdaptiveAvgPool2d); with larger inputs each bin holds several values, and their "
        "maximum is not their mean. Reread lecture 5, §4.1.",
        mistake=swapped(nn.AdaptiveAvgPool2d, lambda m: nn.AdaptiveMaxPool2d(m.output_size))),
    WrongModel(
        "alexnet_dropout_fixed", "dropout is always 0.5, whatever `dropout` says",
        ("alexnet_function",),
        "The `dropout` argument is the probability of both Dropout layers: pass it on, "
        "nn.Dropout(p=dropout). Reread lecture 5, §2.3.",
        mistake=setting(nn.Dropout, p=0.5)),
    WrongModel(
        "lrn_alpha_not_scaled", "the paper's LRN alpha passed to PyTorch as is",
        ("alexnet2012_function",),
        "PyTorch's LocalResponseNorm divides alpha by the window size n, the paper does "
        "not: the paper's alpha = 1e-4 with n = 5 is alpha=5e-4 in PyTorch. "
        "Reread lecture 5, §2.3.",
        mistake=setting(nn.LocalResponseNorm, alpha=lambda m: m.alpha / m.size)),
    WrongModel(
        "lrn_before_relu", "LRN before the ReLU instead of after", ("alexnet2012_function",),
        "The paper normalises the rectified responses: convolution, ReLU, then LRN. "
        "Reread lecture 5, §2.3.",
        mistake=reordered(nn.ReLU, nn.LocalResponseNorm)),
    WrongModel(
        "alexnet2012_no_groups", "the 2012 AlexNet without its two GPU groups",
        ("alexnet2012_params",),
        "Convolutions 2, 4 and 5 were split over two GPUs, each half seeing only its own "
        "half of the maps: groups=2, which halves their weights. Reread lecture 5, §2.3.",
        mistake=swapped(nn.Conv2d, lambda m: _ungrouped(m) if m.groups > 1 else m)),
    WrongAnswers(
        "quiz_conv1_224", "AlexNet's first layer computed for a 224 input",
        ("quiz_lenet_alexnet",),
        "(224 - 11) / 4 + 1 is not a whole number: the 2012 network's input is 227x227. "
        "Reread lecture 5, §4.2.",
        answers={"quiz_conv1_out": lambda: (224 - 11) // 4 + 1}),
]
