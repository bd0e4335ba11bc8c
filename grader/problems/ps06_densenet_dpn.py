"""Problem set 6: DenseNet and DPN, against torchvision's DenseNet and timm's DPN-68.

Students write ``DenseLayer``, ``DenseBlock``, ``Transition`` and
``DenseNet``, mirroring ``torchvision.models.densenet`` (``DenseNet()`` is
DenseNet-121), then the dual path block and DPN-68 of timm (``dpn68``).
Every check compares with the reference classes built without pretrained
weights: exact parameter counts, output shapes, the same function once the
reference's (generated) weights are copied in, DenseNet's initialisation
(timm's DPN keeps PyTorch's defaults, so DPN's has nothing to check), and the
properties that define each block: a dense block keeps its input and adds
``growth_rate`` channels per layer; a dual path block passes its old dense
features through untouched.
"""
from __future__ import annotations

import numpy as np

from . import lazy_problem_set

#: Paper numbers, asserted against torchvision and timm in tests/test_references.py.
PARAMS = {"densenet121": 7_978_856, "densenet169": 14_149_480, "densenet161": 28_681_000,
          "dpn68": 12_611_602}


def _keeps_input(case, x, y):
    """A dense block's output starts with its input, then ``growth_rate`` maps per layer."""
    layers, c, _, k = case.args
    if y.shape[:1] + y.shape[2:] != x.shape[:1] + x.shape[2:] or y.shape[1] != c + layers * k:
        return (f"the output has shape {y.shape}; a dense block concatenates its input "
                f"({c} channels) and {layers} x growth_rate = {layers * k} new ones, "
                f"{c + layers * k} channels at the input's size.")
    if not np.array_equal(y[:, :c], x):
        return ("the first channels of the output are not the input: a dense block passes "
                "its input on unchanged, concatenated with what each layer adds.")
    return None


def _keeps_dense_path(case, x, y):
    """A ``normal`` dual path block copies its input's dense part to the output."""
    in_chs, _, _, c, inc, _ = case.args
    if y.shape[:1] + y.shape[2:] != x.shape[:1] + x.shape[2:] or y.shape[1] != in_chs + inc:
        return (f"the output has shape {y.shape}; a block without projection keeps the "
                f"{in_chs} input channels' layout and adds inc = {inc} dense channels: "
                f"{in_chs + inc} channels at the input's size.")
    if not np.array_equal(y[:, c:in_chs], x[:, c:]):
        return (f"channels {c}..{in_chs - 1} of the output are not the input's dense part: "
                "the densely connected path passes old features on unchanged (they follow "
                "the num_1x1_c residual channels, and the new inc channels come last).")
    return None


def build():
    """The problem set.  Built on first use: torch and Hypothesis load only then."""
    import functools

    import timm
    import torchvision
    from timm.models import dpn as timm_dpn
    from torchvision.models import densenet as tv

    from .. import strategies as S
    from ..cases import ModuleCase
    from ..checks import ProblemSet, ValueCheck
    from ..module_checks import (GradientFlowCheck, InitCheck, OutputPropertyCheck,
                                 OutputShapeCheck, ParamCountCheck, SameFunctionCheck)
    from ..shortcuts import MODELS_BY_HAND

    def densenet(args=(), input_shape=(1, 3, 32, 32), **kwargs):
        """``DenseNet(*args)``: DenseNet-121 by default, else torchvision's class alike."""
        if args:
            ref, name = S.bound(tv.DenseNet, tuple(args), kwargs), "torchvision.models.DenseNet"
        else:
            ref = S.bound(functools.partial(torchvision.models.densenet121, weights=None), (),
                          kwargs)
            name = "torchvision.models.densenet121"
        return ModuleCase("DenseNet", tuple(args), tuple(sorted(kwargs.items())), input_shape,
                          ref, name)

    def tv_net(name):
        return S.bound(functools.partial(getattr(torchvision.models, name), weights=None))

    def dpn68(input_shape=(1, 3, 32, 32), **kwargs):
        return ModuleCase("DPN68", (), tuple(sorted(kwargs.items())), input_shape,
                          S.bound(functools.partial(timm.create_model, "dpn68"), (), kwargs),
                          "timm dpn68")

    small = ((8, (2, 3), 16, 2), (2, 3, 32, 32))  # growth 8, two blocks: cheap to run

    return ProblemSet("ps06_densenet_dpn", "densenet_dpn.ipynb", rules=MODELS_BY_HAND,
                      call_timeout=60.0, memory_mb=8192, checks=[
        # --- DenseNet's parts
        SameFunctionCheck(
            "dense_layer_function", "DenseLayer computes torchvision's _DenseLayer",
            cls="DenseLayer", strategy=S.dense_layer_cases(tv._DenseLayer),
            max_examples={"quick": 10, "thorough": 30}),
        OutputPropertyCheck(
            "dense_block_keeps_input",
            "DenseBlock concatenates: its input comes out unchanged, plus k maps per layer",
            cls="DenseBlock", strategy=S.dense_block_cases(tv._DenseBlock), judge=_keeps_input,
            max_examples={"quick": 8, "thorough": 25}),
        SameFunctionCheck(
            "dense_block_function", "DenseBlock computes torchvision's _DenseBlock",
            cls="DenseBlock", strategy=S.dense_block_cases(tv._DenseBlock),
            max_examples={"quick": 10, "thorough": 30}),
        SameFunctionCheck(
            "transition_function", "Transition computes torchvision's _Transition",
            cls="Transition", strategy=S.transition_cases(tv._Transition),
            max_examples={"quick": 10, "thorough": 30}),
        # --- DenseNet
        ParamCountCheck(
            "densenet_params",
            "DenseNet() is DenseNet-121; other configurations match torchvision too",
            cls="DenseNet",
            examples=[ModuleCase("DenseNet", (), (), (), tv_net("densenet121"),
                                 "torchvision.models.densenet121"),
                      ModuleCase("DenseNet", (32, (6, 12, 32, 32), 64), (), (),
                                 tv_net("densenet169"), "torchvision.models.densenet169"),
                      ModuleCase("DenseNet", (48, (6, 12, 36, 24), 96), (), (),
                                 tv_net("densenet161"), "torchvision.models.densenet161")]),
        OutputShapeCheck(
            "densenet_shapes", "DenseNet gives (N, num_classes) wherever torchvision does",
            cls="DenseNet",
            strategy=S.network_input_cases(
                "DenseNet", (), {}, functools.partial(torchvision.models.densenet121,
                                                      weights=None),
                "torchvision.models.densenet121", sizes=(8, 200)),
            examples=[densenet((), (2, 3, 224, 224))], max_examples={"quick": 3, "thorough": 6}),
        SameFunctionCheck(
            "densenet_function", "DenseNet computes torchvision's, small and 121",
            cls="DenseNet", examples=[densenet(small[0], small[1], num_classes=10),
                                      densenet((), (1, 3, 32, 32)),
                                      densenet((), (1, 3, 48, 40), num_classes=7)]),
        GradientFlowCheck(
            "densenet_gradients", "Every DenseNet parameter gets a gradient",
            cls="DenseNet", examples=[densenet(small[0], small[1], num_classes=10)]),
        InitCheck(
            "densenet_init", "DenseNet starts as torchvision's: He initialisation (fan_in) "
            "for convolutions, BatchNorm 1 and 0, the classifier's bias 0",
            cls="DenseNet", examples=[densenet((), ()), densenet(small[0], (), num_classes=10)],
            hint="torchvision initialises every convolution with nn.init.kaiming_normal_(w), "
                 "PyTorch's default mode='fan_in': standard deviation sqrt(2 / fan_in), "
                 "fan_in = in_channels * kH * kW."),
        # --- DPN
        SameFunctionCheck(
            "dual_path_block_function", "DualPathBlock computes timm's DualPathBlock",
            cls="DualPathBlock", strategy=S.dual_path_cases(timm_dpn.DualPathBlock),
            max_examples={"quick": 12, "thorough": 30}),
        OutputPropertyCheck(
            "dual_path_keeps_dense_path",
            "A DualPathBlock passes its old dense features on unchanged",
            cls="DualPathBlock",
            strategy=S.dual_path_cases(timm_dpn.DualPathBlock, block_type="normal"),
            judge=_keeps_dense_path, max_examples={"quick": 8, "thorough": 25}),
        ParamCountCheck(
            "dpn68_params", "DPN68 has timm's dpn68 parameter count",
            cls="DPN68", examples=[dpn68()]),
        OutputShapeCheck(
            "dpn68_shapes", "DPN68 gives (N, num_classes) wherever timm's does",
            cls="DPN68", strategy=S.network_input_cases(
                "DPN68", (), {}, functools.partial(timm.create_model, "dpn68"), "timm dpn68",
                sizes=(8, 200)),
            examples=[dpn68((2, 3, 224, 224))], max_examples={"quick": 3, "thorough": 6}),
        SameFunctionCheck(
            "dpn68_function", "DPN68 computes timm's dpn68",
            cls="DPN68", examples=[dpn68(), dpn68((2, 3, 40, 56), num_classes=10)]),
        # --- numbers from the lecture
        ValueCheck(
            "quiz_densenet", "Quiz: channels, layers and connections of DenseNet and DPN",
            answers={"quiz_transition1_in": lambda: 64 + 6 * 32,
                     # the stem, two per dense layer, one per transition
                     "quiz_densenet121_convs": lambda: 1 + 2 * (6 + 12 + 24 + 16) + 3,
                     "quiz_dense_connections": lambda: 6 * 7 // 2,
                     "quiz_dpn68_stage1_channels": lambda: 64 + 3 * 16 + 2 * 16},
            hints={"quiz_densenet121_convs": "121 counts the weight layers: the stem, two per "
                                             "dense layer, one per transition, and the "
                                             "classifier (which is not a convolution).",
                   "quiz_dense_connections": "Layer l receives l inputs: the block's input "
                                             "and the l - 1 layers before it."}),
    ])


check, progress, __getattr__ = lazy_problem_set(__name__, build)
