"""Problem set 3: mistakes real students make with LeNet-5 and AlexNet, and other ways to be right.

``MUTANTS``: each must lose points, under pytest and under nbgrader.
``ALTERNATIVES``: correct answers written differently; each must get full marks.
Which check cells each one fails is measured and kept in ``snapshots/``.
"""
from __future__ import annotations

from pathlib import Path

from grader import notebook as nbio
from grader.sample_class import ps03_lenet_alexnet as sample_class
from grader.submissions import Submission, mutate, solution_answers

ROOT = Path(__file__).resolve().parents[2]
SOLUTION = nbio.read(ROOT / "solutions" / "ps03_lenet_alexnet" / "lenet_alexnet.ipynb")
ANSWERS = solution_answers(SOLUTION)
LENET, ALEX, ALEX12 = "lenet5_answer", "alexnet_answer", "alexnet2012_answer"
REQUIRED = (8, 2)  # mutants, alternatives


def _m(name, about, cell, old, new, count=1):
    return Submission(name, about, answers=mutate(ANSWERS, cell, old, new, count))


MUTANTS = [
    _m("sparse_first_maps", "C3 reads the first len(table[o]) maps, not the table's",
       "sparse_conv_answer", "conv(x[:, t])", "conv(x[:, :len(t)])"),
    _m("sparse_dense", "C3 as a dense convolution (every map reads every input)",
       "sparse_conv_answer", "nn.Conv2d(len(t), 1, kernel_size) for t in self.table",
       "nn.Conv2d(max(max(t) for t in self.table) + 1, 1, kernel_size) for t in self.table"),
    _m("lenet_max_pooling", "LeNet-5 with max pooling instead of average pooling", LENET,
       "nn.AvgPool2d(2)", "nn.MaxPool2d(2)", count=2),
    _m("lenet_relu", "LeNet-5 with ReLU instead of sigmoid", LENET, "nn.Sigmoid()", "nn.ReLU()", count=4),
    _m("dropout_active_in_eval", "AlexNet calls dropout with training=True", ALEX,
       "return self.classifier(torch.flatten(x, 1))",
       "return self.classifier(nn.functional.dropout(torch.flatten(x, 1), 0.5, training=True))"),
    _m("dropout_argument_ignored", "AlexNet's dropout is always 0.5, whatever `dropout` says",
       ALEX, "nn.Dropout(p=dropout)", "nn.Dropout(p=0.5)", count=2),
    _m("adaptive_max_pool", "AlexNet pools to 6x6 by the maximum, not the mean", ALEX,
       "nn.AdaptiveAvgPool2d((6, 6))", "nn.AdaptiveMaxPool2d((6, 6))"),
    _m("alexnet_no_avgpool", "AlexNet without the adaptive average pooling", ALEX,
       "x = self.avgpool(self.features(x))", "x = self.features(x)"),
    sample_class.LRN_ALPHA,
    _m("alexnet2012_no_groups", "the 2012 AlexNet without the two GPU groups", ALEX12,
       ", groups=2)", ")", count=3),
    _m("alexnet2012_lrn_before_relu", "LRN before the ReLU instead of after", ALEX12,
       "nn.ReLU(inplace=True), lrn(),", "lrn(), nn.ReLU(inplace=True),", count=2),
    _m("quiz_224", "quiz: AlexNet's first layer computed for a 224 input", "quiz_answer",
       "quiz_conv1_out = (227 - 11) // 4 + 1", "quiz_conv1_out = (224 - 11) // 4 + 1"),
]

_MASKED_C3 = '''
class SparseConv2d(nn.Module):
    """One grouped-by-hand loop over output maps, with index buffers instead of lists."""

    def __init__(self, table, kernel_size):
        super().__init__()
        self.maps = nn.ModuleList()
        for i, t in enumerate(table):
            self.register_buffer(f"index{i}", torch.tensor(list(t)), persistent=False)
            self.maps.append(nn.Conv2d(len(t), 1, kernel_size))

    def forward(self, x):
        outs = [conv(x.index_select(1, getattr(self, f"index{i}")))
                for i, conv in enumerate(self.maps)]
        return torch.cat(outs, dim=1)
'''

_FLAT_LENET = '''
class LeNet5(nn.Module):
    """Named layers and a flat forward, functional activations: matched by order."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.c1 = nn.Conv2d(1, 6, 5)
        self.c3 = nn.Conv2d(6, 16, 5)
        self.f5 = nn.Linear(400, 120)
        self.f6 = nn.Linear(120, 84)
        self.out = nn.Linear(84, num_classes)

    def forward(self, x):
        x = nn.functional.avg_pool2d(torch.sigmoid(self.c1(x)), 2)
        x = nn.functional.avg_pool2d(torch.sigmoid(self.c3(x)), 2)
        x = torch.sigmoid(self.f5(x.flatten(1)))
        return self.out(torch.sigmoid(self.f6(x)))
'''

ALTERNATIVES = [
    Submission("alt_index_buffers", "C3 with index buffers and index_select",
               answers={**ANSWERS, "sparse_conv_answer": _MASKED_C3}),
    Submission("alt_flat_lenet", "LeNet-5 with its own layer names and functional activations",
               answers={**ANSWERS, LENET: _FLAT_LENET}),
]

#: the entries that make a misconception of ``grader.misconceptions.ps03_lenet_alexnet``
DIAGNOSED = {
    "sparse_first_maps": "c3_first_maps",
    "sparse_dense": "c3_dense",
    "lenet_max_pooling": "lenet_max_pooling",
    "lenet_relu": "lenet_relu",
    "adaptive_max_pool": "alexnet_adaptive_max_pool",
    "dropout_argument_ignored": "alexnet_dropout_fixed",
    "lrn_alpha_not_scaled": "lrn_alpha_not_scaled",
    "cho_lrn": "lrn_alpha_not_scaled",
    "alexnet2012_lrn_before_relu": "lrn_before_relu",
    "alexnet2012_no_groups": "alexnet2012_no_groups",
    "quiz_224": "quiz_conv1_224",
}
