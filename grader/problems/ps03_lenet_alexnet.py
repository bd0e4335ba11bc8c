"""Problem set 3: LeNet-5 and AlexNet as ``nn.Module``s.

Students write LeNet's sparse C3 layer (``SparseConv2d``), the modern
``LeNet5``, torchvision's ``AlexNet`` and the 2012 paper's ``AlexNet2012``
(LRN, two "GPU" groups).  The references are ``grader.models`` (LeNet-5, the
paper's AlexNet) and ``torchvision.models.alexnet`` with ``weights=None``.
"""
from __future__ import annotations

from . import lazy_problem_set

PARAMS = {"lenet5": 61_706, "c3": 1_516, "c3_dense": 2_416, "alexnet": 61_100_840,
          "alexnet2012": 60_965_224}


def build():
    """The problem set.  Built on first use: torch and Hypothesis load only then."""
    import functools

    import torchvision

    from .. import models
    from .. import strategies as S
    from ..cases import ModuleCase
    from ..checks import ProblemSet, ValueCheck
    from ..module_checks import (GradientFlowCheck, OutputShapeCheck, ParamCountCheck,
                                 SameFunctionCheck)
    from ..shortcuts import MODELS_BY_HAND

    alexnet = functools.partial(torchvision.models.alexnet, weights=None)
    refs = {"LeNet5": (models.LeNet5, "grader.models.LeNet5"),
            "AlexNet": (alexnet, "torchvision.models.alexnet"),
            "AlexNet2012": (models.AlexNetPaper, "grader.models.AlexNetPaper")}

    def net(cls, input_shape, **kwargs):
        ref, name = refs[cls]
        return ModuleCase(cls, (), tuple(sorted(kwargs.items())), input_shape,
                          S.bound(ref, (), kwargs), name)

    def shapes_of(cls, sizes, channels):
        ref, name = refs[cls]
        return S.network_input_cases(cls, [], {}, ref, name, sizes=sizes, channels=channels)

    c3 = ModuleCase("SparseConv2d", ([list(t) for t in models.C3_TABLE], 5), (), (2, 6, 14, 14),
                    S.bound(models.SparseConv2d, (models.C3_TABLE, 5)), "LeNet-5's C3 layer")
    sparse = S.sparse_conv_cases(models.SparseConv2d)

    return ProblemSet("ps03_lenet_alexnet", "lenet_alexnet.ipynb", rules=MODELS_BY_HAND,
                      call_timeout=60.0, memory_mb=8192, checks=[
        # --- LeNet-5
        ParamCountCheck(
            "sparse_conv_params", "SparseConv2d has one weight per connection",
            cls="SparseConv2d", strategy=sparse, examples=[c3],
            max_examples={"quick": 10, "thorough": 30}),
        SameFunctionCheck(
            "sparse_conv_function", "SparseConv2d reads only the maps in its table",
            cls="SparseConv2d", strategy=sparse, examples=[c3],
            max_examples={"quick": 15, "thorough": 40}),
        ParamCountCheck(
            "lenet5_params", "LeNet5 has 61,706 parameters",
            cls="LeNet5", examples=[net("LeNet5", (1, 1, 32, 32)),
                                    net("LeNet5", (1, 1, 32, 32), num_classes=26)]),
        OutputShapeCheck(
            "lenet5_shapes", "LeNet5 maps (N, 1, 32, 32) to (N, num_classes)",
            cls="LeNet5", strategy=shapes_of("LeNet5", (32, 32), 1),
            examples=[net("LeNet5", (2, 1, 32, 32))], max_examples={"quick": 5, "thorough": 12}),
        SameFunctionCheck(
            "lenet5_function", "LeNet5 computes the reference LeNet-5",
            cls="LeNet5", examples=[net("LeNet5", (3, 1, 32, 32)),
                                    net("LeNet5", (1, 1, 32, 32), num_classes=4)]),
        GradientFlowCheck(
            "lenet5_gradients", "Every LeNet5 parameter gets a gradient",
            cls="LeNet5", examples=[net("LeNet5", (2, 1, 32, 32))]),
        # --- AlexNet
        ParamCountCheck(
            "alexnet_params", "AlexNet has torchvision's 61,100,840 parameters",
            cls="AlexNet", examples=[net("AlexNet", (1, 3, 224, 224)),
                                     net("AlexNet", (1, 3, 224, 224), num_classes=10)]),
        OutputShapeCheck(
            "alexnet_shapes", "AlexNet gives (N, num_classes) wherever torchvision does",
            cls="AlexNet", strategy=shapes_of("AlexNet", (60, 256), 3),
            examples=[net("AlexNet", (2, 3, 224, 224))], max_examples={"quick": 8, "thorough": 20}),
        SameFunctionCheck(
            "alexnet_function", "AlexNet computes torchvision's alexnet",
            cls="AlexNet", examples=[net("AlexNet", (1, 3, 64, 64)),
                                     net("AlexNet", (2, 3, 96, 72), num_classes=10,
                                         dropout=0.3),
                                     # 7x7 feature maps: each adaptive pooling bin holds 4
                                     net("AlexNet", (1, 3, 256, 256))]),
        ParamCountCheck(
            "alexnet2012_params", "AlexNet2012 has the paper's 60,965,224 parameters",
            cls="AlexNet2012", examples=[net("AlexNet2012", (1, 3, 227, 227))]),
        SameFunctionCheck(
            "alexnet2012_function", "AlexNet2012 computes the paper's network (LRN, two groups)",
            cls="AlexNet2012", examples=[net("AlexNet2012", (2, 3, 227, 227), num_classes=10)]),
        # --- numbers from the lecture
        ValueCheck(
            "quiz_lenet_alexnet", "Quiz: C3's weights, LeNet-5's size and AlexNet's first layer",
            answers={"quiz_c3_params": lambda: PARAMS["c3"],
                     "quiz_c3_dense_params": lambda: PARAMS["c3_dense"],
                     "quiz_conv1_out": lambda: (227 - 11) // 4 + 1,
                     "quiz_lenet5_params": lambda: PARAMS["lenet5"]},
            hints={"quiz_c3_params": "each of the 16 maps has len(table[o]) * 25 weights and a "
                                     "bias.",
                   "quiz_conv1_out": "(n + 2p - k) / s + 1 with n = 227, k = 11, s = 4, p = 0."}),
    ])


check, progress, __getattr__ = lazy_problem_set(__name__, build)
