"""Problem set 6: the mistakes of DenseNet and DPN.

Each wrong reference is torchvision's DenseNet or timm's DPN (or one of their
blocks) with the mistake made in it.
"""
from __future__ import annotations

import torch
from timm.models.dpn import DualPathBlock
from torch import nn
from torchvision.models.densenet import DenseNet, _DenseBlock, _DenseLayer, _Transition

from . import WrongModel, patched, setting, swapped


def _no_relu2(module):
    for m in module.modules():
        if isinstance(m, _DenseLayer):
            m.relu2 = nn.Identity()
    return module


def _no_bottleneck(module):
    """Dense layers whose 1x1 convolution makes k maps instead of bn_size * k."""
    for m in module.modules():
        if isinstance(m, _DenseLayer):
            k = m.conv2.out_channels
            m.conv1 = nn.Conv2d(m.conv1.in_channels, k, 1, bias=False)
            m.norm2 = nn.BatchNorm2d(k)
            m.conv2 = nn.Conv2d(k, k, 3, padding=1, bias=False)
    return module


def _adds(self, x):
    for layer in self.values():
        x = x + layer(x)
    return x


def _last_layer_only(self, x):
    features = [x]
    for layer in self.values():
        features.append(layer(features))
    return features[-1]


def _no_compression(module):
    """DenseNet whose transitions keep every channel (the later layers widen to match)."""
    if not isinstance(module, DenseNet):
        return module
    features, n = module.features, module.features.conv0.out_channels
    for name, m in list(features.named_children()):
        if isinstance(m, _DenseBlock):
            layers = list(m.values())
            k = layers[0].conv2.out_channels
            setattr(features, name, _DenseBlock(len(layers), n, layers[0].conv1.out_channels // k,
                                                k, 0.0))
            n += len(layers) * k
        elif isinstance(m, _Transition):
            setattr(features, name, _Transition(n, n))
    features.norm5 = nn.BatchNorm2d(n)
    module.classifier = nn.Linear(n, module.classifier.out_features)
    return module


def _no_final_relu(self, x):
    out = nn.functional.adaptive_avg_pool2d(self.features(x), (1, 1))
    return self.classifier(torch.flatten(out, 1))


def _new_dense_first(self, x):
    """timm's ``DualPathBlock.forward`` with the new dense maps before the old ones."""
    if self.c1x1_w_s1 is not None:
        x_s = self.c1x1_w_s1(x)
    elif self.c1x1_w_s2 is not None:
        x_s = self.c1x1_w_s2(x)
    else:
        x_s = x
    x_s1, x_s2 = x_s[:, :self.num_1x1_c], x_s[:, self.num_1x1_c:]
    x = self.c1x1_c(self.c3x3_b(self.c1x1_a(x)))
    out1, out2 = x[:, :self.num_1x1_c], x[:, self.num_1x1_c:]
    return torch.cat([x_s1 + out1, out2, x_s2], dim=1)


def _stride_on_first_1x1(module):
    for m in module.modules():
        if isinstance(m, DualPathBlock) and m.key_stride == 2:
            m.c1x1_a.conv.stride, m.c3x3_b.conv.stride = (2, 2), (1, 1)
    return module


def _ungrouped(conv: nn.Conv2d) -> nn.Conv2d:
    return nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride,
                     conv.padding, bias=conv.bias is not None)


def _no_final_norm(module):
    if isinstance(getattr(module, "features", None), nn.Sequential) and hasattr(
            module.features, "conv5_bn_ac"):
        module.features.conv5_bn_ac = nn.Identity()
    return module


MISCONCEPTIONS = [
    WrongModel(
        "dense_layer_no_relu2", "DenseLayer: no ReLU between the second BatchNorm and the 3x3",
        ("dense_layer_function", "dense_block_function", "densenet_function"),
        "A dense layer is pre-activation twice over: BN, ReLU, 1x1 convolution, then BN, "
        "ReLU, 3x3 convolution. Reread lecture 8, §1.3.",
        mistake=_no_relu2),
    WrongModel(
        "dense_layer_no_bottleneck", "the dense layer's 1x1 makes k maps, not bn_size * k",
        ("densenet_params",),
        "DenseNet-B's 1x1 bottleneck widens to bn_size * growth_rate maps (4k), and the 3x3 "
        "convolution brings them down to k. Reread lecture 8, §1.3.",
        mistake=_no_bottleneck),
    WrongModel(
        "dense_block_adds", "DenseBlock adds each layer's maps to its input, as ResNet does",
        ("dense_block_function",),
        "A dense block concatenates: layer l reads the block's input and every earlier "
        "layer's maps side by side, and the block returns them all. Reread lecture 8, §1.3.",
        mistake=patched(_DenseBlock, _adds)),
    WrongModel(
        "dense_block_last_only", "DenseBlock returns only its last layer's maps",
        ("dense_block_function",),
        "A dense block returns the concatenation of its input and every layer's new maps, "
        "c + L * k channels, not the last layer's k. Reread lecture 8, §1.3.",
        mistake=patched(_DenseBlock, _last_layer_only)),
    WrongModel(
        "transition_max_pool", "Transition: max pooling instead of average pooling",
        ("transition_function", "densenet_function"),
        "DenseNet's transition layers downsample with a 2x2 average pooling after their 1x1 "
        "convolution. Reread lecture 8, §1.2.",
        mistake=swapped(nn.AvgPool2d, lambda m: nn.MaxPool2d(m.kernel_size, m.stride))),
    WrongModel(
        "densenet_no_compression", "DenseNet's transitions keep every channel",
        ("densenet_params",),
        "DenseNet-BC compresses at every transition: its 1x1 convolution halves the channels "
        "(compression 0.5). Reread lecture 8, §1.2.",
        mistake=_no_compression),
    WrongModel(
        "densenet_no_final_relu", "DenseNet: no ReLU after norm5, before pooling",
        ("densenet_function",),
        "The features end in a BatchNorm (norm5), and DenseNet's forward applies a ReLU "
        "before the global pooling: relu(features(x)). Reread lecture 8, §4.1.",
        mistake=patched(DenseNet, _no_final_relu)),
    WrongModel(
        "dpn_new_dense_first", "DualPathBlock: the new dense maps before the old ones",
        ("dual_path_block_function", "dpn68_function"),
        "The dense path grows at its end: the residual part, then the old dense maps, then "
        "the inc new ones, [x_s1 + out1, x_s2, out2]. Reread lecture 8, §2.3.",
        mistake=patched(DualPathBlock, _new_dense_first)),
    WrongModel(
        "dpn_stride_on_first_1x1", "DualPathBlock: the down block strides in its first 1x1",
        # not the block check: on a block without down-sampling the mistake changes nothing
        ("dpn68_function",),
        "A down block of DPN strides in its grouped 3x3 convolution (and its projection), "
        "as ResNeXt does, not in the first 1x1. Reread lecture 8, §2.3.",
        mistake=_stride_on_first_1x1),
    WrongModel(
        "dpn_default_eps", "DualPathBlock: BatchNorm's default eps 1e-5, not DPN's 1e-3",
        ("dual_path_block_function", "dpn68_function"),
        "DPN (ported from MXNet) builds every BatchNorm with eps=1e-3. "
        "Reread lecture 8, §4.2.",
        mistake=setting(nn.BatchNorm2d, DualPathBlock, eps=1e-5)),
    WrongModel(
        "dpn_groups_ignored", "DualPathBlock: the 3x3 convolution is not grouped",
        ("dpn68_params",),
        "The 3x3 convolution of a dual path block is grouped, as ResNeXt's (groups=32 in "
        "DPN-68), which divides its weights by the number of groups. Reread lecture 8, §2.3.",
        mistake=swapped(nn.Conv2d, lambda m: _ungrouped(m) if m.groups > 1 else m,
                        DualPathBlock)),
    WrongModel(
        "dpn_no_final_norm", "DPN-68: no BatchNorm and activation after the last stage",
        ("dpn68_params",),
        "DPN's blocks are pre-activation (BN, ReLU, then convolution), so the last block's "
        "output is not normalised yet: the network ends with a BatchNorm and an activation "
        "before pooling, as DenseNet's norm5. Reread lecture 8, §4.2.",
        mistake=_no_final_norm),
]
