"""Problem set 4: mistakes real students make with VGG and GoogLeNet, and other ways to be right.

``MUTANTS``: each must lose points, under pytest and under nbgrader.
``ALTERNATIVES``: correct answers written differently; each must get full marks.
Which check cells each one fails is measured and kept in ``snapshots/``.
"""
from __future__ import annotations

from pathlib import Path

from grader import notebook as nbio
from grader.sample_class import ps04_vgg_googlenet as sample_class
from grader.submissions import Submission, mutate, solution_answers

ROOT = Path(__file__).resolve().parents[2]
SOLUTION = nbio.read(ROOT / "solutions" / "ps04_vgg_googlenet" / "vgg_googlenet.ipynb")
ANSWERS = solution_answers(SOLUTION)
LAYERS, VGG, INCEPTION, GNET = ("make_layers_answer", "vgg_answer", "inception_answer",
                                "googlenet_answer")
REQUIRED = (8, 2)  # mutants, alternatives


def _m(name, about, cell, old, new, count=1):
    return Submission(name, about, answers=mutate(ANSWERS, cell, old, new, count))


MUTANTS = [
    _m("vgg_adaptive_max_pool", "VGG pools to 7x7 by the maximum, not the mean", "vgg_answer",
       "nn.AdaptiveAvgPool2d((7, 7))", "nn.AdaptiveMaxPool2d((7, 7))"),
    _m("vgg_no_dropout", "VGG's classifier without its two Dropout layers", "vgg_answer",
       ", nn.Dropout(p=dropout),", ",", count=2),
    _m("vgg16_one_conv_short", "VGG-16's last stage with two convolutions instead of three",
       LAYERS, '''512, 512, 512, "M",
              512, 512, 512, "M"],''', '''512, 512, 512, "M",
              512, 512, "M"],'''),
    _m("bn_after_relu", "BatchNorm after the ReLU instead of before", LAYERS,
       '''            if batch_norm:
                layers.append(nn.BatchNorm2d(v))
            layers.append(nn.ReLU(inplace=True))''', '''            layers.append(nn.ReLU(inplace=True))
            if batch_norm:
                layers.append(nn.BatchNorm2d(v))'''),
    _m("vgg_no_first_relu", "VGG's classifier without the ReLU after the first linear layer",
       VGG, "nn.Linear(512 * 7 * 7, 4096), nn.ReLU(True),", "nn.Linear(512 * 7 * 7, 4096),"),
    _m("vgg_default_init", "VGG keeps PyTorch's default initialisation (no init loop)", VGG,
       """        # torchvision's initialisation: He et al. 2015 (fan_out) for convolutions
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.constant_(m.bias, 0)
""", ""),
    _m("vgg_linear_default_init", "VGG initialised like ResNet: He convolutions, but the linear "
       "layers keep PyTorch's default, not normal(0, 0.01)", VGG,
       """            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.constant_(m.bias, 0)
""", ""),
    sample_class.BRANCH_ORDER,
    _m("bn_default_eps", "BasicConv2d's BatchNorm with PyTorch's default eps", INCEPTION,
       "nn.BatchNorm2d(out_channels, eps=0.001)", "nn.BatchNorm2d(out_channels)"),
    _m("true_5x5", "the paper's 5x5 kernel in branch 3 (torchvision uses 3x3)", INCEPTION,
       "BasicConv2d(ch5x5red, ch5x5, kernel_size=3, padding=1)",
       "BasicConv2d(ch5x5red, ch5x5, kernel_size=5, padding=2)"),
    _m("missing_batchnorm", "BasicConv2d without its BatchNorm (and with a bias)", INCEPTION,
       "        return torch.relu(self.bn(self.conv(x)))", "        return torch.relu(self.conv(x))"),
    _m("googlenet_no_maxpool3", "GoogLeNet skips the pooling between stages 3 and 4", GNET,
       "x = self.maxpool3(self.inception3b(self.inception3a(x)))",
       "x = self.inception3b(self.inception3a(x))"),
    _m("googlenet_he_init", "GoogLeNet initialised like ResNet (He, fan_out), not with "
       "torchvision's truncated normal of standard deviation 0.01", GNET,
       "nn.init.trunc_normal_(m.weight, mean=0.0, std=0.01, a=-2, b=2)",
       'nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")'),
    _m("googlenet_std_1", "GoogLeNet's weights drawn from a standard normal (std 1, not 0.01)",
       GNET, "nn.init.trunc_normal_(m.weight, mean=0.0, std=0.01, a=-2, b=2)",
       "nn.init.normal_(m.weight)"),
    _m("quiz_7x7_per_layer", "quiz: the 3x3 stack counted as one layer", "quiz_answer",
       "quiz_stack_weights = 3 * (3 * 3 * 64 * 64)", "quiz_stack_weights = 3 * 3 * 64 * 64"),
]

_CONCAT_LIST = '''
class BasicConv2d(nn.Module):
    def __init__(self, in_channels, out_channels, **kwargs):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class Inception(nn.Module):
    """The branches in a ModuleList, concatenated in a comprehension."""

    def __init__(self, in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj):
        super().__init__()
        self.branches = nn.ModuleList([
            BasicConv2d(in_channels, ch1x1, kernel_size=1),
            nn.Sequential(BasicConv2d(in_channels, ch3x3red, kernel_size=1),
                          BasicConv2d(ch3x3red, ch3x3, kernel_size=3, padding=1)),
            nn.Sequential(BasicConv2d(in_channels, ch5x5red, kernel_size=1),
                          BasicConv2d(ch5x5red, ch5x5, kernel_size=3, padding=1)),
            nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True),
                          BasicConv2d(in_channels, pool_proj, kernel_size=1)),
        ])

    def forward(self, x):
        return torch.cat([branch(x) for branch in self.branches], dim=1)
'''

_LOOP_LAYERS = '''
def make_layers(cfg, batch_norm=False):
    """Stages first, then flattened into one Sequential (torchvision's order)."""
    stages, current, in_channels = [], [], 3
    for v in cfg:
        if v == "M":
            stages.append(current + [nn.MaxPool2d(2, 2)])
            current = []
            continue
        current.append(nn.Conv2d(in_channels, v, 3, padding=1))
        current += [nn.BatchNorm2d(v)] if batch_norm else []
        current.append(nn.ReLU(inplace=True))
        in_channels = v
    return nn.Sequential(*[m for stage in stages + [current] for m in stage])


cfgs = {name: [int(v) if v != "M" else v for v in spec.split()] for name, spec in {
    "vgg11": "64 M 128 M 256 256 M 512 512 M 512 512 M",
    "vgg13": "64 64 M 128 128 M 256 256 M 512 512 M 512 512 M",
    "vgg16": "64 64 M 128 128 M 256 256 256 M 512 512 512 M 512 512 512 M",
    "vgg19": "64 64 M 128 128 M 256 256 256 256 M 512 512 512 512 M 512 512 512 512 M",
}.items()}
'''

ALTERNATIVES = [
    Submission("alt_branch_list", "Inception's branches in a ModuleList",
               answers={**ANSWERS, INCEPTION: _CONCAT_LIST}),
    Submission("alt_staged_layers", "make_layers by stages; cfgs parsed from strings",
               answers={**ANSWERS, LAYERS: _LOOP_LAYERS}),
]

#: the entries that make a misconception of ``grader.misconceptions.ps04_vgg_googlenet``
DIAGNOSED = {
    "bn_after_relu": "bn_after_relu",
    "vgg_adaptive_max_pool": "vgg_adaptive_max_pool",
    "vgg_no_dropout": "vgg_no_dropout",
    "branch_order_swapped": "inception_branch_order",
    "cho_branches": "inception_branch_order",
    "bn_default_eps": "basic_conv_default_eps",
    "true_5x5": "inception_true_5x5",
    "quiz_7x7_per_layer": "quiz_stack_one_layer",
}
