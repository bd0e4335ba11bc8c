"""Problem set 6: mistakes real students make with DenseNet and DPN, and other ways to be right.

``MUTANTS``: each must lose points, under pytest and under nbgrader.
``ALTERNATIVES``: correct answers written differently; each must get full marks.
Which check cells each one fails is measured and kept in ``snapshots/``.
"""
from __future__ import annotations

from pathlib import Path

from grader import notebook as nbio
from grader.sample_class import ps06_densenet_dpn as sample_class
from grader.submissions import Submission, mutate, solution_answers

ROOT = Path(__file__).resolve().parents[2]
SOLUTION = nbio.read(ROOT / "solutions" / "ps06_densenet_dpn" / "densenet_dpn.ipynb")
ANSWERS = solution_answers(SOLUTION)
LAYER, BLOCK, TRANSITION = "dense_layer_answer", "dense_block_answer", "transition_answer"
DENSENET, DUAL, DPN = "densenet_answer", "dual_path_answer", "dpn68_answer"
REQUIRED = (8, 2)  # mutants, alternatives



def _m(name, about, cell, old, new, count=1):
    return Submission(name, about, answers=mutate(ANSWERS, cell, old, new, count))


MUTANTS = [
    _m("no_relu_before_3x3", "DenseLayer: no ReLU between the second BatchNorm and the 3x3",
       LAYER, "return self.conv2(self.relu2(self.norm2(out)))",
       "return self.conv2(self.norm2(out))"),
    _m("no_bottleneck", "DenseLayer: the 1x1 convolution makes k maps, not bn_size * k",
       LAYER, "bn_size * growth_rate", "growth_rate",
       count=3),
    sample_class.ADDS_LIKE_RESNET,
    _m("last_layer_only", "DenseBlock: returns only the last layer's maps", BLOCK,
       "return torch.cat(features, 1)", "return features[-1]"),
    _m("transition_max_pool", "Transition: max pooling instead of average pooling", TRANSITION,
       "nn.AvgPool2d(kernel_size=2, stride=2)", "nn.MaxPool2d(kernel_size=2, stride=2)"),
    _m("no_compression", "DenseNet: transitions keep every channel (no compression)", DENSENET,
       "Transition(num_features, num_features // 2))\n                num_features //= 2",
       "Transition(num_features, num_features))"),
    _m("no_final_relu", "DenseNet: no ReLU after norm5, before pooling", DENSENET,
       "out = F.relu(self.features(x))", "out = self.features(x)"),
    _m("densenet_fan_out", "DenseNet: He initialisation with mode='fan_out' (ResNet's), not "
       "PyTorch's default 'fan_in' as torchvision's DenseNet", DENSENET,
       "nn.init.kaiming_normal_(m.weight)",
       'nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")'),
    _m("densenet_classifier_bias", "DenseNet: the classifier's bias keeps PyTorch's default, "
       "not 0", DENSENET, """            elif isinstance(m, nn.Linear):
                nn.init.constant_(m.bias, 0)
""", ""),
    _m("dense_new_maps_first", "DualPathBlock: the new dense maps go before the old ones", DUAL,
       "shortcut[:, c:], out[:, c:]], 1)", "out[:, c:], shortcut[:, c:]], 1)"),
    _m("stride_on_first_1x1", "DualPathBlock: the down block strides in its first 1x1", DUAL,
       "self.c1x1_a = bn_relu_conv(in_chs, num_1x1_a, 1)\n"
       "        self.c3x3_b = bn_relu_conv(num_1x1_a, num_3x3_b, 3, stride, groups)",
       "self.c1x1_a = bn_relu_conv(in_chs, num_1x1_a, 1, stride)\n"
       "        self.c3x3_b = bn_relu_conv(num_1x1_a, num_3x3_b, 3, 1, groups)"),
    _m("default_eps", "DualPathBlock: BatchNorm's default eps 1e-5, not DPN's 1e-3", DUAL,
       "nn.BatchNorm2d(in_channels, eps=1e-3)", "nn.BatchNorm2d(in_channels)"),
    _m("groups_ignored", "DualPathBlock: the 3x3 convolution is not grouped", DUAL,
       "padding=kernel_size // 2, groups=groups, bias=False)",
       "padding=kernel_size // 2, bias=False)"),
    _m("no_final_norm", "DPN68: no BatchNorm and ReLU after the last stage", DPN,
       "        layers += [nn.BatchNorm2d(in_chs, eps=1e-3), nn.ReLU(inplace=True)]\n", ""),
]

_RUNNING_CONCAT = '''
class DenseBlock(nn.ModuleDict):
    def __init__(self, num_layers, num_input_features, bn_size, growth_rate):
        super().__init__()
        for i in range(num_layers):
            self.add_module("denselayer%d" % (i + 1),
                            DenseLayer(num_input_features + i * growth_rate, growth_rate,
                                       bn_size))

    def forward(self, x):
        for layer in self.values():
            x = torch.cat([x, layer(x)], dim=1)  # the same as concatenating all at the end
        return x
'''

_SEQUENTIAL_LAYER = '''
class DenseLayer(nn.Sequential):
    """BN-ReLU-Conv(1x1)-BN-ReLU-Conv(3x3) as one Sequential: numbered names, the same order."""
    def __init__(self, num_input_features, growth_rate, bn_size):
        width = bn_size * growth_rate
        super().__init__(nn.BatchNorm2d(num_input_features), nn.ReLU(),
                         nn.Conv2d(num_input_features, width, 1, bias=False),
                         nn.BatchNorm2d(width), nn.ReLU(),
                         nn.Conv2d(width, growth_rate, 3, padding=1, bias=False))
'''

_SPLIT_DUAL_PATH = '''
def bn_relu_conv(in_channels, out_channels, kernel_size, stride=1, groups=1):
    return nn.Sequential(nn.BatchNorm2d(in_channels, eps=0.001), nn.ReLU(),
                         nn.Conv2d(in_channels, out_channels, kernel_size, stride,
                                   (kernel_size - 1) // 2, groups=groups, bias=False))


class DualPathBlock(nn.Module):
    def __init__(self, in_chs, num_1x1_a, num_3x3_b, num_1x1_c, inc, groups,
                 block_type="normal"):
        super().__init__()
        self.split = [num_1x1_c, inc]
        stride = 2 if block_type == "down" else 1
        if block_type != "normal":
            self.proj = bn_relu_conv(in_chs, num_1x1_c + 2 * inc, 1, stride)
        else:
            self.proj = None
        self.branch = nn.Sequential(bn_relu_conv(in_chs, num_1x1_a, 1),
                                    bn_relu_conv(num_1x1_a, num_3x3_b, 3, stride, groups),
                                    bn_relu_conv(num_3x3_b, num_1x1_c + inc, 1))

    def forward(self, x):
        s = self.proj(x) if self.proj is not None else x
        res, dense = s[:, :self.split[0]], s[:, self.split[0]:]
        new_res, new_dense = torch.split(self.branch(x), self.split, dim=1)
        return torch.cat((res + new_res, dense, new_dense), dim=1)
'''

ALTERNATIVES = [
    Submission("alt_running_concat", "DenseBlock concatenating as it goes",
               answers={**ANSWERS, BLOCK: _RUNNING_CONCAT}),
    Submission("alt_sequential_layer", "DenseLayer as one nn.Sequential",
               answers={**ANSWERS, LAYER: _SEQUENTIAL_LAYER}),
    Submission("alt_split_dual_path", "DualPathBlock with torch.split and a Sequential branch",
               answers={**ANSWERS, DUAL: _SPLIT_DUAL_PATH}),
]

#: the entries that make a misconception of ``grader.misconceptions.ps06_densenet_dpn``
DIAGNOSED = {
    "no_relu_before_3x3": "dense_layer_no_relu2",
    "no_bottleneck": "dense_layer_no_bottleneck",
    "adds_like_resnet": "dense_block_adds",
    "cho_adds": "dense_block_adds",
    "last_layer_only": "dense_block_last_only",
    "transition_max_pool": "transition_max_pool",
    "no_compression": "densenet_no_compression",
    "no_final_relu": "densenet_no_final_relu",
    "dense_new_maps_first": "dpn_new_dense_first",
    "stride_on_first_1x1": "dpn_stride_on_first_1x1",
    "default_eps": "dpn_default_eps",
    "groups_ignored": "dpn_groups_ignored",
    "no_final_norm": "dpn_no_final_norm",
}
