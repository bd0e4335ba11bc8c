"""Problem set 5: mistakes real students make with residual networks, and other ways to be right.

``MUTANTS``: each must lose points, under pytest and under nbgrader.
``ALTERNATIVES``: correct answers written differently; each must get full marks.
Which check cells each one fails is measured and kept in ``snapshots/``.
"""
from __future__ import annotations

from pathlib import Path

from grader import notebook as nbio
from grader.sample_class import ps05_resnet_resnext as sample_class
from grader.submissions import Submission, mutate, solution_answers

ROOT = Path(__file__).resolve().parents[2]
SOLUTION = nbio.read(ROOT / "solutions" / "ps05_resnet_resnext" / "resnet_resnext.ipynb")
ANSWERS = solution_answers(SOLUTION)
BASIC, BOTTLENECK, RESNET = "basic_block_answer", "bottleneck_answer", "resnet_answer"
REQUIRED = (8, 2)  # mutants, alternatives



def _m(name, about, cell, old, new, count=1):
    return Submission(name, about, answers=mutate(ANSWERS, cell, old, new, count))


MUTANTS = [
    sample_class.RELU_BEFORE_ADD,
    _m("residual_in_place", "Bottleneck adds in place, `identity += out`, which overwrites the "
       "block's input: eval outputs are right, backward breaks", BOTTLENECK,
       "return self.relu(out + identity)", "identity += out\n        return self.relu(identity)"),
    _m("keras_momentum", "BasicBlock's BatchNorms with momentum=0.99, Keras' convention (PyTorch's "
       "momentum is 1 minus Keras')", BASIC, "nn.BatchNorm2d(planes)", "nn.BatchNorm2d(planes, "
       "momentum=0.99)", count=2),
    _m("no_relu_after_add", "Bottleneck: no ReLU after the addition", BOTTLENECK,
       "return self.relu(out + identity)", "return out + identity"),
    _m("init_fan_in", "ResNet's He initialisation with mode='fan_in' (PyTorch's default "
       "mode), not torchvision's 'fan_out'", RESNET, 'mode="fan_out"', 'mode="fan_in"'),
    _m("zero_init_ignored", "ResNet accepts zero_init_residual but never zeroes a BatchNorm",
       RESNET, "if zero_init_residual:", "if False:  # zero_init_residual"),
    _m("projection_without_stride", "the projection shortcut forgets its stride", RESNET,
       "conv1x1(self.inplanes, planes * block.expansion, stride)",
       "conv1x1(self.inplanes, planes * block.expansion)"),
    _m("expansion_two", "Bottleneck expands by 2 instead of 4", BOTTLENECK,
       "    expansion = 4\n", "    expansion = 2\n"),
    _m("groups_is_width", "groups set to the channel width instead of the cardinality",
       BOTTLENECK, "conv3x3(width, width, stride, groups)", "conv3x3(width, width, stride, width)"),
    _m("missing_bn2", "BasicBlock without its second BatchNorm", BASIC,
       "out = self.bn2(self.conv2(out))", "out = self.conv2(out)"),
    _m("no_maxpool", "the stem forgets its max pooling", RESNET,
       "x = self.maxpool(self.relu(self.bn1(self.conv1(x))))",
       "x = self.relu(self.bn1(self.conv1(x)))"),
    Submission("stride_on_first_1x1", "Bottleneck strides in its first 1x1 (the paper's v1)",
               answers=mutate(mutate(ANSWERS, BOTTLENECK, "self.conv1 = conv1x1(inplanes, width)",
                                     "self.conv1 = conv1x1(inplanes, width, stride)"),
                              BOTTLENECK, "conv3x3(width, width, stride, groups)",
                              "conv3x3(width, width, 1, groups)")),
    _m("resnext_4x32d", "ResNeXt with 4 groups of width 32 instead of 32 groups of width 4",
       "resnext_answer", "groups=32,\n                         width_per_group=4",
       "groups=4,\n                         width_per_group=32"),
    _m("quiz_layer3", "quiz: layer3's maps taken as 28x28", "quiz_answer",
       "quiz_layer3_size = 14", "quiz_layer3_size = 28"),
]

# --- other correct ways to write it ------------------------------------------------------

_SEQUENTIAL_BLOCKS = '''
class BasicBlock(nn.Module):
    """The residual branch as one Sequential: different names, matched by order."""
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.residual = nn.Sequential(conv3x3(inplanes, planes, stride), nn.BatchNorm2d(planes),
                                      nn.ReLU(), conv3x3(planes, planes), nn.BatchNorm2d(planes))
        self.shortcut = downsample if downsample is not None else nn.Identity()

    def forward(self, x):
        return torch.relu(self.residual(x) + self.shortcut(x))
'''

_FUNCTIONAL_BOTTLENECK = '''
import torch.nn.functional as F


class Bottleneck(nn.Module):
    """ReLUs from torch.nn.functional; the grouped 3x3 built directly with nn.Conv2d."""
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64):
        super().__init__()
        width = int(planes * base_width / 64) * groups
        out = planes * self.expansion
        self.conv1 = nn.Conv2d(inplanes, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, groups=groups,
                               bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.downsample = downsample

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        if self.downsample is not None:
            x = self.downsample(x)
        return F.relu(y + x)
'''

ALTERNATIVES = [
    Submission("alt_sequential_blocks", "BasicBlock as a Sequential branch plus a shortcut "
               "(ResNet zero-inits the branch's last BatchNorm, which has no name `bn2` here)",
               answers={**mutate(ANSWERS, RESNET, "nn.init.constant_(m.bn2.weight, 0)",
                                 "nn.init.constant_(m.residual[-1].weight, 0)"),
                        BASIC: _SEQUENTIAL_BLOCKS}),
    Submission("alt_functional_bottleneck", "Bottleneck with functional ReLUs",
               answers={**ANSWERS, BOTTLENECK: _FUNCTIONAL_BOTTLENECK}),
]

#: the entries that make a misconception of ``grader.misconceptions.ps05_resnet_resnext``
DIAGNOSED = {
    "relu_before_add": "relu_before_add",
    "cho_relu": "relu_before_add",
    "no_relu_after_add": "no_relu_after_add",
    "stride_on_first_1x1": "stride_on_first_1x1",
    "expansion_two": "bottleneck_expansion_two",
    "groups_is_width": "groups_is_width",
    "resnext_4x32d": "resnext_4x32d",
    "no_maxpool": "resnet_no_maxpool",
    "quiz_layer3": "quiz_layer3_28",
}
