"""Problem set 7: mistakes real students make with SENet and Inception-v4, and other ways to be right.

``MUTANTS``: each must lose points, under pytest and under nbgrader.
``ALTERNATIVES``: correct answers written differently; each must get full marks.
Which check cells each one fails is measured and kept in ``snapshots/``.
"""
from __future__ import annotations

from pathlib import Path

from grader import notebook as nbio
from grader.sample_class import ps07_inception_v4_senet as sample_class
from grader.submissions import Submission, mutate, solution_answers

ROOT = Path(__file__).resolve().parents[2]
SOLUTION = nbio.read(ROOT / "solutions" / "ps07_inception_v4_senet" / "inception_v4_senet.ipynb")
ANSWERS = solution_answers(SOLUTION)
SE, SE_BLOCK, SE_NET = "se_block_answer", "se_bottleneck_answer", "se_resnet_answer"
CONV, A, B, C, V4 = ("basic_conv_answer", "inception_a_answer", "inception_b_answer",
                     "inception_c_answer", "inception_v4_answer")
REQUIRED = (8, 2)  # mutants, alternatives



def _m(name, about, cell, old, new, count=1):
    return Submission(name, about, answers=mutate(ANSWERS, cell, old, new, count))


MUTANTS = [
    _m("no_sigmoid", "SEBlock: no sigmoid, the channel weights are unbounded", SE,
       "s = self.sigmoid(self.fc2(self.relu(self.fc1(s))))",
       "s = self.fc2(self.relu(self.fc1(s)))"),
    _m("max_squeeze", "SEBlock: squeezes by global max pooling, not the mean", SE,
       "s = x.mean((2, 3), keepdim=True)", "s = x.amax((2, 3), keepdim=True)"),
    sample_class.SE_AFTER_ADDITION,
    _m("stride_on_3x3", "SEBottleneck: the stride on the 3x3 (torchvision's v1.5), not on conv1",
       SE_BLOCK,
       "kernel_size=1, stride=stride, bias=False)\n        self.bn1 = nn.BatchNorm2d(planes)\n"
       "        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, padding=1, bias=False)",
       "kernel_size=1, bias=False)\n        self.bn1 = nn.BatchNorm2d(planes)\n"
       "        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=stride, padding=1,"
       " bias=False)"),
    _m("reduction_4", "SEResNet50: SE blocks with reduction 4 instead of 16", SE_NET,
       "SEBottleneck(self.inplanes, planes, stride, downsample)",
       "SEBottleneck(self.inplanes, planes, stride, downsample, 4)"),
    _m("se_resnet_no_dropout", "SEResNet50 without timm's dropout before last_linear", SE_NET,
       "return self.last_linear(self.dropout(x))", "return self.last_linear(x)"),
    _m("se_resnet_default_init", "SEResNet50 keeps PyTorch's default initialisation (no He "
       "initialisation of its convolutions)", SE_NET,
       "# timm's senet.py, _weight_init: He initialisation (fan_out) of every convolution,\n"
       "        # the SE blocks' included; BatchNorm 1 and 0; last_linear keeps PyTorch's "
       "default.\n"
       "        for m in self.modules():\n"
       "            if isinstance(m, nn.Conv2d):\n"
       "                nn.init.kaiming_normal_(m.weight, mode=\"fan_out\", "
       "nonlinearity=\"relu\")\n"
       "            elif isinstance(m, nn.BatchNorm2d):\n"
       "                nn.init.constant_(m.weight, 1.0)\n"
       "                nn.init.constant_(m.bias, 0.0)\n", ""),
    _m("floor_max_pool", "SEResNet50: the stem's max pooling rounds down (no ceil_mode)", SE_NET,
       "nn.MaxPool2d(3, stride=2, ceil_mode=True)", "nn.MaxPool2d(3, stride=2)"),
    _m("default_eps", "BasicConv2d: BatchNorm's default eps 1e-5, not Inception-v4's 1e-3", CONV,
       "nn.BatchNorm2d(out_channels, eps=0.001)", "nn.BatchNorm2d(out_channels)"),
    _m("avg_pool_counts_padding", "InceptionA: average pooling divides by the padded window", A,
       "self.branch3 = nn.Sequential(nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)",
       "self.branch3 = nn.Sequential(nn.AvgPool2d(3, stride=1, padding=1)"),
    _m("padded_reduction", "ReductionA: the strided 3x3 is padded like the others", A,
       "self.branch0 = BasicConv2d(384, 384, 3, stride=2)",
       "self.branch0 = BasicConv2d(384, 384, 3, stride=2, padding=1)"),
    _m("seven_by_one_first", "InceptionB: branch1 applies 7x1 before 1x7", B,
       "BasicConv2d(192, 224, (1, 7), padding=(0, 3)),\n"
       "            BasicConv2d(224, 256, (7, 1), padding=(3, 0)))",
       "BasicConv2d(192, 224, (7, 1), padding=(3, 0)),\n"
       "            BasicConv2d(224, 256, (1, 7), padding=(0, 3)))"),
    _m("split_half_dropped", "InceptionC: branch1 keeps the 1x3 and drops the parallel 3x1", C,
       "self.branch1_1a(x1), self.branch1_1b(x1),", "self.branch1_1a(x1),"),
    _m("three_inception_a", "InceptionV4: three Inception-A blocks instead of four", V4,
       "*[InceptionA() for _ in range(4)]", "*[InceptionA() for _ in range(3)]"),
]

_LINEAR_SE = '''
class SEBlock(nn.Module):
    """The paper's fully connected layers as nn.Linear (the same matrices as 1x1 convolutions)."""
    def __init__(self, channels, reduction=16):
        super().__init__()
        self.fc1 = nn.Linear(channels, channels // reduction)
        self.fc2 = nn.Linear(channels // reduction, channels)

    def forward(self, x):
        z = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        w = torch.sigmoid(self.fc2(F.relu(self.fc1(z))))
        return x * w[:, :, None, None]
'''

_BRANCH_LIST = '''
class InceptionA(nn.Module):
    """The four branches in one ModuleList: the same layers in the same order."""
    def __init__(self):
        super().__init__()
        self.branches = nn.ModuleList([
            BasicConv2d(384, 96, 1),
            nn.Sequential(BasicConv2d(384, 64, 1), BasicConv2d(64, 96, 3, padding=1)),
            nn.Sequential(BasicConv2d(384, 64, 1), BasicConv2d(64, 96, 3, padding=1),
                          BasicConv2d(96, 96, 3, padding=1)),
            nn.Sequential(nn.AvgPool2d(3, 1, 1, count_include_pad=False),
                          BasicConv2d(384, 96, 1)),
        ])

    def forward(self, x):
        return torch.cat([branch(x) for branch in self.branches], dim=1)


class ReductionA(nn.Module):
    def __init__(self):
        super().__init__()
        self.branch0 = BasicConv2d(384, 384, 3, stride=2)
        self.branch1 = nn.Sequential(BasicConv2d(384, 192, 1), BasicConv2d(192, 224, 3, padding=1),
                                     BasicConv2d(224, 256, 3, stride=2))

    def forward(self, x):
        return torch.cat([self.branch0(x), self.branch1(x), F.max_pool2d(x, 3, 2)], dim=1)
'''

# A mistake that needs the whole of an alternative's cell.
MUTANTS.append(Submission(
    "linear_se_not_initialised", "SEBlock with nn.Linear layers, which SEResNet50's He "
    "initialisation (of nn.Conv2d only) leaves at PyTorch's default",
    answers={**ANSWERS, SE: _LINEAR_SE}))

ALTERNATIVES = [
    Submission("alt_linear_se", "SEBlock with nn.Linear layers and F.adaptive_avg_pool2d "
               "(SEResNet50 He-initialises them too, but not last_linear)",
               answers={**mutate(ANSWERS, SE_NET, "if isinstance(m, nn.Conv2d):",
                                 "if isinstance(m, (nn.Conv2d, nn.Linear)) and "
                                 "m is not self.last_linear:"),
                        SE: _LINEAR_SE}),
    Submission("alt_branch_list", "Inception-A's branches in a ModuleList; functional max pool",
               answers={**ANSWERS, A: _BRANCH_LIST}),
]

#: the entries that make a misconception of ``grader.misconceptions.ps07_inception_v4_senet``
DIAGNOSED = {
    "no_sigmoid": "se_no_sigmoid",
    "max_squeeze": "se_squeeze_max",
    "se_after_addition": "se_after_addition",
    "cho_se_sum": "se_after_addition",
    "stride_on_3x3": "se_stride_on_3x3",
    "se_resnet_no_dropout": "se_resnet_no_dropout",
    "floor_max_pool": "se_resnet_floor_max_pool",
    "default_eps": "inception_default_eps",
    "avg_pool_counts_padding": "inception_a_pool_counts_padding",
}
