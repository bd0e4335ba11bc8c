"""Problem set 8: mistakes real students make with Xception, MobileNet and ShuffleNet, and
other ways to be right.

``MUTANTS``: each must lose points, under pytest and under nbgrader.
``ALTERNATIVES``: correct answers written differently; each must get full marks.
Which check cells each one fails is measured and kept in ``snapshots/``.
"""
from __future__ import annotations

from pathlib import Path

from grader import notebook as nbio
from grader.sample_class import ps08_efficient_nets as sample_class
from grader.submissions import Submission, mutate, solution_answers

ROOT = Path(__file__).resolve().parents[2]
SOLUTION = nbio.read(ROOT / "solutions" / "ps08_efficient_nets" / "efficient_nets.ipynb")
ANSWERS = solution_answers(SOLUTION)
SEPARABLE, XBLOCK, XCEPTION = ("separable_conv_answer", "xception_block_answer",
                               "xception_answer")
CONV_BN, MOBILE1 = "conv_bn_answer", "mobilenet_v1_answer"
INVERTED, MOBILE2 = "inverted_residual_answer", "mobilenet_v2_answer"
SHUFFLE, SHUFFLENET = "shuffle_block_answer", "shufflenet_answer"
REQUIRED = (8, 2)  # mutants, alternatives


def _m(name, about, cell, edits):
    """A mutant: ``edits`` is ``(old, new)`` or a list of them, applied in order to ``cell``."""
    answers = ANSWERS
    for old, new in [edits] if isinstance(edits, tuple) else edits:
        answers = mutate(answers, cell, old, new)
    return Submission(name, about, answers=answers)


MUTANTS = [
    _m("no_classifier_dropout", "MobileNetV2: the classifier without its Dropout(0.2)", MOBILE2,
       ("nn.Sequential(nn.Dropout(0.2), nn.Linear(last_channel, num_classes))",
        "nn.Sequential(nn.Linear(last_channel, num_classes))")),
    _m("depthwise_groups_1", "SeparableConv2d: the depthwise convolution has groups=1 (a full "
       "k x k convolution)", SEPARABLE,
       ("groups=in_channels, bias=False)", "bias=False)")),
    _m("norm_between_steps", "SeparableConv2d: a BatchNorm between the depthwise and the "
       "pointwise step, as in MobileNet", SEPARABLE,
       [("        self.pointwise = nn.Conv2d(",
         "        self.bn = nn.BatchNorm2d(in_channels)\n        self.pointwise = nn.Conv2d("),
        ("return self.pointwise(self.conv1(x))", "return self.pointwise(self.bn(self.conv1(x)))")]),
    _m("first_relu_in_place", "XceptionBlock: the first ReLU is in place, so it overwrites the "
       "input that the shortcut adds", XBLOCK,
       ("rep.append(nn.ReLU(inplace=i > 0))", "rep.append(nn.ReLU(inplace=True))")),
    _m("grow_first_ignored", "XceptionBlock: always widens in the first unit (grow_first "
       "ignored)", XBLOCK,
       ("            if grow_first:\n", "            if True:\n")),
    _m("middle_flow_seven", "Xception: the middle flow repeats its block 7 times, not 8",
       XCEPTION,
       [("for i in range(4, 12):", "for i in range(4, 11):"),
        ("for i in range(1, 13):", "for i in [*range(1, 11), 12]:")]),
    _m("padded_stem", "Xception: the first convolution has padding 1 (Keras' has none)",
       XCEPTION, ("nn.Conv2d(3, 32, 3, 2, 0, bias=False)", "nn.Conv2d(3, 32, 3, 2, 1, bias=False)")),
    _m("xception_fan_in", "Xception: He initialisation with mode='fan_in' (PyTorch's default "
       "mode), not timm's 'fan_out'", XCEPTION,
       ('mode="fan_out", nonlinearity="relu"', 'mode="fan_in", nonlinearity="relu"')),
    _m("relu_not_relu6", "conv_bn_relu6: nn.ReLU instead of nn.ReLU6", CONV_BN,
       ("nn.ReLU6(inplace=True)", "nn.ReLU(inplace=True)")),
    # (Striding in the pointwise instead of the depthwise convolution is no mutant: a 3x3
    # convolution of stride 2 and padding 1 equals one of stride 1 sampled at even pixels.)
    _m("four_512_layers", "MobileNetV1: four depthwise separable layers of 512 channels at "
       "14x14, not five", MOBILE1,
       ("(512, 2), (512, 1), (512, 1),", "(512, 2), (512, 1),")),
    _m("no_relu6_after_pointwise", "MobileNetV1: no activation after the pointwise "
       "convolutions", MOBILE1,
       ("layers.append(conv_bn_relu6(c, out, 1))",
        "layers.append(nn.Sequential(nn.Conv2d(c, out, 1, bias=False), "
        "nn.BatchNorm2d(out)))")),
    _m("mobilenet_v1_kaiming", "MobileNetV1: kaiming_normal_(mode='fan_out') as torchvision "
       "does, whose fan-out of a depthwise filter is 9 * channels, not timm's 9 (one group)",
       MOBILE1,
       ("fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels // m.groups\n"
        "                nn.init.normal_(m.weight, 0, (2.0 / fan_out) ** 0.5)",
        'nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")')),
    sample_class.RELU6_AFTER_PROJECTION,
    _m("residual_when_strided", "InvertedResidual: the shortcut is added whenever inp == oup, "
       "even with stride 2", INVERTED,
       ("self.use_res_connect = stride == 1 and inp == oup",
        "self.use_res_connect = inp == oup")),
    _m("width_not_rounded", "MobileNetV2: widths are int(c * width_mult), without "
       "_make_divisible's rounding to multiples of 8", MOBILE2,
       ("new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)", "new_v = int(v)")),
    _m("mobilenet_v2_classifier_default", "MobileNetV2: the classifier keeps PyTorch's default "
       "initialisation, not normal(0, 0.01) and a zero bias", MOBILE2,
       ("            elif isinstance(m, nn.Linear):\n"
        "                nn.init.normal_(m.weight, 0, 0.01)\n"
        "                nn.init.zeros_(m.bias)\n", "")),
    _m("shuffle_wrong_axis", "channel_shuffle: reshapes to (N, C // g, g, H, W), the inverse "
       "shuffle", SHUFFLE,
       ("x.view(n, groups, c // groups, h, w)", "x.view(n, c // groups, groups, h, w)")),
    _m("branch_on_first_half", "ShuffleV2Block: the branch processes the first half and the "
       "second is passed on", SHUFFLE,
       ("x1, x2 = x.chunk(2, dim=1)", "x2, x1 = x.chunk(2, dim=1)")),
    _m("relu_after_depthwise", "ShuffleV2Block: a ReLU after the depthwise convolution's "
       "BatchNorm", SHUFFLE,
       ("            nn.BatchNorm2d(branch_features),\n            nn.Conv2d(branch_features, "
        "branch_features, 1, bias=False),",
        "            nn.BatchNorm2d(branch_features),\n            nn.ReLU(inplace=True),\n"
        "            nn.Conv2d(branch_features, branch_features, 1, bias=False),")),
    _m("no_max_pool", "ShuffleNetV2: no max pooling after the first convolution", SHUFFLENET,
       ("x = self.maxpool(self.conv1(x))", "x = self.conv1(x)")),
]

_SHUFFLE_PERMUTE = '''
def channel_shuffle(x, groups):
    """Channel c * groups + g of the output is channel g * (C // groups) + c of the input."""
    n, c, h, w = x.shape
    return torch.reshape(x, (n, groups, c // groups, h, w)).permute(0, 2, 1, 3, 4).reshape(
        n, c, h, w)


def _branch(inp, out, stride, first_pointwise):
    layers = []
    if first_pointwise:
        layers += [nn.Conv2d(inp, out, 1, bias=False), nn.BatchNorm2d(out), nn.ReLU()]
        inp = out
    layers += [nn.Conv2d(inp, inp, 3, stride, 1, groups=inp, bias=False), nn.BatchNorm2d(inp),
               nn.Conv2d(inp, out, 1, bias=False), nn.BatchNorm2d(out), nn.ReLU()]
    return nn.Sequential(*layers)


class ShuffleV2Block(nn.Module):
    def __init__(self, inp, oup, stride):
        super().__init__()
        half = oup // 2
        self.stride = stride
        self.branch1 = _branch(inp, half, stride, False) if stride > 1 else None
        self.branch2 = _branch(inp if stride > 1 else half, half, stride, True)

    def forward(self, x):
        if self.stride == 1:
            keep, work = torch.split(x, x.shape[1] // 2, dim=1)
        else:
            keep, work = self.branch1(x), x
        return channel_shuffle(torch.cat([keep, self.branch2(work)], 1), 2)
'''

_EXPLICIT_INVERTED = '''
class InvertedResidual(nn.Module):
    """Explicit attributes instead of an nn.Sequential, created in the same order."""
    def __init__(self, inp, oup, stride, expand_ratio):
        super().__init__()
        hidden = int(round(inp * expand_ratio))
        self.expand = conv_bn_relu6(inp, hidden, 1) if expand_ratio != 1 else nn.Identity()
        self.dw = nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False)
        self.dw_bn = nn.BatchNorm2d(hidden)
        self.project = nn.Conv2d(hidden, oup, 1, bias=False)
        self.project_bn = nn.BatchNorm2d(oup)
        self.residual = stride == 1 and inp == oup

    def forward(self, x):
        out = F.relu6(self.dw_bn(self.dw(self.expand(x))))
        out = self.project_bn(self.project(out))
        return x + out if self.residual else out
'''

_TIMM_NAMED_V1 = '''
class DepthwiseSeparable(nn.Module):
    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv_dw = nn.Conv2d(c_in, c_in, 3, stride, 1, groups=c_in, bias=False)
        self.bn1 = nn.BatchNorm2d(c_in)
        self.conv_pw = nn.Conv2d(c_in, c_out, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)

    def forward(self, x):
        x = torch.clamp(self.bn1(self.conv_dw(x)), 0, 6)
        return torch.clamp(self.bn2(self.conv_pw(x)), 0, 6)


class MobileNetV1(nn.Module):
    """timm's names (conv_stem, bn1, blocks, classifier) and ReLU6 as a clamp."""
    def __init__(self, num_classes=1000):
        super().__init__()
        self.conv_stem = nn.Conv2d(3, 32, 3, 2, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(32)
        widths = [64, 128, 128, 256, 256] + [512] * 6 + [1024, 1024]
        strides = [1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1]
        blocks, c = [], 32
        for w, s in zip(widths, strides):
            blocks.append(DepthwiseSeparable(c, w, s))
            c = w
        self.blocks = nn.Sequential(*blocks)
        self.classifier = nn.Linear(1024, num_classes)
        # timm's initialisation: normal(0, sqrt(2 / fan_out)) with the fan-out of one group, a
        # uniform classifier with zero bias; BatchNorm's own 1 and 0 are timm's already.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                kh, kw = m.kernel_size
                nn.init.normal_(m.weight, std=(2 * m.groups / (kh * kw * m.out_channels)) ** 0.5)
        r = num_classes ** -0.5
        nn.init.uniform_(self.classifier.weight, -r, r)
        nn.init.zeros_(self.classifier.bias)

    def forward(self, x):
        x = self.blocks(F.relu6(self.bn1(self.conv_stem(x))))
        return self.classifier(x.mean((2, 3)))
'''

ALTERNATIVES = [
    Submission("alt_shuffle_permute", "channel_shuffle with torch.reshape and permute, "
               "ShuffleV2Block with torch.split and a branch builder",
               answers={**ANSWERS, SHUFFLE: _SHUFFLE_PERMUTE}),
    Submission("alt_explicit_inverted", "InvertedResidual with explicit attributes, "
               "no nn.Sequential", answers={**ANSWERS, INVERTED: _EXPLICIT_INVERTED}),
    Submission("alt_timm_named_v1", "MobileNetV1 with timm's names and torch.clamp as ReLU6; "
               "timm's initialisation written per layer kind, BatchNorm left at its default",
               answers={**ANSWERS, MOBILE1: _TIMM_NAMED_V1}),
]

#: the entries that make a misconception of ``grader.misconceptions.ps08_efficient_nets``
DIAGNOSED = {
    "depthwise_groups_1": "depthwise_groups_1",
    "norm_between_steps": "separable_norm_between_steps",
    "first_relu_in_place": "xception_first_relu_in_place",
    "padded_stem": "xception_padded_stem",
    "relu_not_relu6": "relu_not_relu6",
    "no_relu6_after_pointwise": "no_relu6_after_pointwise",
    "relu6_after_projection": "relu6_after_projection",
    "cho_relu6": "relu6_after_projection",
    "no_classifier_dropout": "mobilenet_v2_no_dropout",
    "shuffle_wrong_axis": "shuffle_wrong_axis",
    "branch_on_first_half": "shuffle_branch_on_first_half",
    "relu_after_depthwise": "shuffle_relu_after_depthwise",
    "no_max_pool": "shufflenet_no_max_pool",
}
