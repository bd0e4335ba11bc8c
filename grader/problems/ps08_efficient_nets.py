"""Problem set 8: Xception, MobileNet v1 and v2, ShuffleNet v2, against timm and torchvision.

Students write ``SeparableConv2d``, ``XceptionBlock`` and ``Xception`` (timm's
``legacy_xception``), ``MobileNetV1`` (timm's ``mobilenetv1_100``),
``InvertedResidual`` and ``MobileNetV2`` (torchvision's ``mobilenet_v2``), and
``ShuffleV2Block`` and ``ShuffleNetV2`` (torchvision's ``shufflenet_v2_x1_0``).
Every check compares with the reference classes built without pretrained
weights: exact parameter counts, output shapes, the same function once the
reference's (generated) weights are copied in, the initialisation of the
networks whose reference defines its own (Xception, both MobileNets; ShuffleNet
v2 keeps PyTorch's defaults, as torchvision's does), and the properties that define
the blocks: an inverted residual's bottleneck is linear (no ReLU after the
projection), and a ShuffleNet v2 unit of stride 1 passes half its channels on
untouched, interleaved by the channel shuffle.

Cost: PyTorch runs depthwise convolutions in float64 one channel group at a
time, so a whole Xception (23,000 groups) takes seconds whatever the input
size.  Whole networks therefore get one or two small fixed inputs.
"""
from __future__ import annotations

import numpy as np

from . import lazy_problem_set

#: Paper and reference numbers, asserted against timm and torchvision in tests/test_models.py.
PARAMS = {"legacy_xception": 22_855_952, "mobilenetv1_100": 4_231_976,
          "mobilenet_v2": 3_504_872, "shufflenet_v2_x1_0": 2_278_604,
          "shufflenet_v2_x0_5": 1_366_792}

#: ``ShuffleNetV2(stages_repeats, stages_out_channels)`` for torchvision's x1.0 and x0.5.
SHUFFLENET_V2 = {"shufflenet_v2_x1_0": ([4, 8, 4], [24, 116, 232, 464, 1024]),
                 "shufflenet_v2_x0_5": ([4, 8, 4], [24, 48, 96, 192, 1024])}


def _projection_is_linear(case, x, y):
    """The branch of an inverted residual ends in BatchNorm, with no ReLU: it goes negative."""
    inp, oup, stride, _ = case.args
    residual = stride == 1 and inp == oup
    if y.ndim != 4 or y.shape[:2] != (x.shape[0], oup):
        return (f"the output has shape {y.shape}; the block maps {inp} channels to oup = {oup}.")
    branch = y - x if residual and y.shape == x.shape else y
    if not branch.any():
        return None  # a zero-initialised last BatchNorm: nothing to judge (the function check is)
    if not (branch < 0).any():
        what = "output minus input (the residual branch)" if residual else "output"
        return (f"the block's {what} has no negative value, as if an activation (ReLU6) "
                "followed the projection. MobileNetV2's bottleneck is linear: the 1x1 "
                "projection is followed by BatchNorm only, because a ReLU in the narrow "
                "layer destroys information (and the addition would only ever increase x).")
    return None


def _keeps_half(case, x, y):
    """A stride-1 ShuffleNet v2 unit: undoing the shuffle gives back the first half of x."""
    c = case.args[0]
    if y.shape != x.shape:
        return (f"the output has shape {y.shape}; a unit of stride 1 keeps the input's "
                f"shape {x.shape}.")
    n, _, h, w = y.shape
    unshuffled = y.reshape(n, c // 2, 2, h, w).transpose(0, 2, 1, 3, 4).reshape(n, c, h, w)
    if not np.array_equal(unshuffled[:, :c // 2], x[:, :c // 2]):
        return ("channel shuffle followed by its inverse does not give back the untouched "
                f"half: after the inverse shuffle (2 groups), channels 0..{c // 2 - 1} of the "
                f"output must equal the input's first {c // 2} channels exactly, since the "
                "channel split passes them on unchanged (x1, x2 = x.chunk(2, dim=1); only x2 "
                "goes through the branch). In the output they sit at the even channels "
                "y[:, 0::2].")
    return None


def build():
    """The problem set.  Built on first use: torch and Hypothesis load only then."""
    import functools
    import importlib

    import timm
    import torchvision
    from torchvision.models import mobilenetv2, shufflenetv2

    from .. import strategies as S
    from ..cases import ModuleCase
    from ..checks import ProblemSet, ValueCheck
    from ..module_checks import (GradientFlowCheck, InitCheck, OutputPropertyCheck,
                                 OutputShapeCheck, ParamCountCheck, SameFunctionCheck)
    from ..shortcuts import MODELS_BY_HAND

    # Not ``from timm.models import xception``: that name is a deprecated model function.
    timm_xception = importlib.import_module("timm.models.xception")

    def timm_model(name):
        return functools.partial(timm.create_model, name)

    def tv_model(name):
        return functools.partial(getattr(torchvision.models, name), weights=None)

    def case(cls, args, reference, reference_name, input_shape=(), **kwargs):
        """``cls(*args, **kwargs)`` against ``reference(**kwargs)`` on ``input_shape``."""
        return ModuleCase(cls, tuple(args), tuple(sorted(kwargs.items())), input_shape,
                          S.bound(reference, (), kwargs), reference_name)

    def xception(input_shape=(), **kwargs):
        return case("Xception", (), timm_model("legacy_xception"), "timm legacy_xception",
                    input_shape, **kwargs)

    def mobilenet_v1(input_shape=(), **kwargs):
        return case("MobileNetV1", (), timm_model("mobilenetv1_100"), "timm mobilenetv1_100",
                    input_shape, **kwargs)

    def mobilenet_v2(input_shape=(), **kwargs):
        return case("MobileNetV2", (), tv_model("mobilenet_v2"),
                    "torchvision.models.mobilenet_v2", input_shape, **kwargs)

    def shufflenet(name="shufflenet_v2_x1_0", input_shape=(), **kwargs):
        return case("ShuffleNetV2", SHUFFLENET_V2[name], tv_model(name),
                    f"torchvision.models.{name}", input_shape, **kwargs)

    def shapes_of(cls, args, reference, name, sizes):
        # One num_classes: each new one rebuilds both models (0.4 s each for Xception).
        return S.network_input_cases(cls, args, {}, reference, name, sizes=sizes,
                                     classes=False)

    return ProblemSet("ps08_efficient_nets", "efficient_nets.ipynb", rules=MODELS_BY_HAND,
                      call_timeout=60.0, memory_mb=8192, checks=[
        # --- Xception
        ParamCountCheck(
            "separable_conv_params",
            "SeparableConv2d has timm's parameter count: one k x k filter per channel",
            cls="SeparableConv2d", strategy=S.separable_conv_cases(timm_xception.SeparableConv2d),
            max_examples={"quick": 10, "thorough": 30}),
        SameFunctionCheck(
            "separable_conv_function", "SeparableConv2d computes timm's",
            cls="SeparableConv2d", strategy=S.separable_conv_cases(timm_xception.SeparableConv2d),
            max_examples={"quick": 10, "thorough": 30}),
        SameFunctionCheck(
            "xception_block_function", "XceptionBlock computes timm's Block",
            cls="XceptionBlock", strategy=S.xception_block_cases(timm_xception.Block),
            max_examples={"quick": 12, "thorough": 30}),
        ParamCountCheck(
            "xception_params", "Xception has timm's legacy_xception parameter count",
            cls="Xception", examples=[xception(), xception(num_classes=10)]),
        OutputShapeCheck(
            "xception_shapes", "Xception gives (N, num_classes) wherever timm's does",
            cls="Xception", strategy=shapes_of("Xception", (), timm_model("legacy_xception"),
                                               "timm legacy_xception", (7, 320)),
            examples=[xception((2, 3, 299, 299))], max_examples={"quick": 4, "thorough": 10}),
        SameFunctionCheck(
            "xception_function", "Xception computes timm's legacy_xception",
            cls="Xception", examples=[xception((2, 3, 36, 33), num_classes=10)]),
        InitCheck(
            "xception_init", "Xception starts as timm's: He initialisation (fan_out) of every "
            "convolution, BatchNorm 1 and 0",
            cls="Xception", examples=[xception(num_classes=10)],
            hint="timm initialises every nn.Conv2d, depthwise ones included, with "
                 "nn.init.kaiming_normal_(w, mode='fan_out', nonlinearity='relu'): standard "
                 "deviation sqrt(2 / fan_out), fan_out = out_channels * kH * kW."),
        # --- MobileNet v1
        ParamCountCheck(
            "mobilenet_v1_params", "MobileNetV1 has timm's mobilenetv1_100 parameter count",
            cls="MobileNetV1", examples=[mobilenet_v1(), mobilenet_v1(num_classes=10)]),
        SameFunctionCheck(
            "mobilenet_v1_function", "MobileNetV1 computes timm's mobilenetv1_100",
            cls="MobileNetV1", examples=[mobilenet_v1((1, 3, 32, 32)),
                                         # the paper's smallest resolution, 128 px
                                         mobilenet_v1((2, 3, 128, 128), num_classes=7)]),
        InitCheck(
            "mobilenet_v1_init", "MobileNetV1 starts as timm's: normal with the fan-out of one "
            "group, BatchNorm 1 and 0, a uniform classifier with zero bias",
            cls="MobileNetV1", examples=[mobilenet_v1(num_classes=10)],
            hint="timm (_init_weight_goog) draws each convolution's weights from "
                 "normal(0, sqrt(2 / fan_out)) with fan_out = kH * kW * out_channels // groups "
                 "(9 for a depthwise 3x3), and the classifier's from "
                 "uniform(-1 / sqrt(out_features), 1 / sqrt(out_features))."),
        # --- MobileNet v2
        SameFunctionCheck(
            "inverted_residual_function", "InvertedResidual computes torchvision's",
            cls="InvertedResidual",
            strategy=S.inverted_residual_cases(mobilenetv2.InvertedResidual),
            max_examples={"quick": 12, "thorough": 30}),
        OutputPropertyCheck(
            "inverted_residual_linear_bottleneck",
            "InvertedResidual has no ReLU after its projection (linear bottleneck)",
            cls="InvertedResidual",
            strategy=S.inverted_residual_cases(mobilenetv2.InvertedResidual, wide=True),
            judge=_projection_is_linear, max_examples={"quick": 6, "thorough": 15}),
        ParamCountCheck(
            "mobilenet_v2_params",
            "MobileNetV2 has torchvision's parameter count, for any width_mult",
            cls="MobileNetV2", examples=[mobilenet_v2(), mobilenet_v2(width_mult=0.75),
                                         mobilenet_v2(width_mult=1.4, num_classes=10)]),
        SameFunctionCheck(
            "mobilenet_v2_function", "MobileNetV2 computes torchvision's",
            cls="MobileNetV2",
            examples=[mobilenet_v2((1, 3, 32, 32)),
                      # the paper's resolutions run from 96 to 224 px
                      mobilenet_v2((2, 3, 128, 128), width_mult=0.5, num_classes=10)]),
        InitCheck(
            "mobilenet_v2_init", "MobileNetV2 starts as torchvision's: He initialisation "
            "(fan_out), BatchNorm 1 and 0, the classifier normal(0, 0.01) with zero bias",
            cls="MobileNetV2", examples=[mobilenet_v2(num_classes=10),
                                         mobilenet_v2(width_mult=1.4, num_classes=10)],
            hint="torchvision initialises every convolution with nn.init.kaiming_normal_(w, "
                 "mode='fan_out') (standard deviation sqrt(2 / fan_out), fan_out = "
                 "out_channels * kH * kW) and the classifier's nn.Linear with "
                 "nn.init.normal_(w, 0, 0.01)."),
        # --- ShuffleNet v2
        SameFunctionCheck(
            "shuffle_block_function",
            "ShuffleV2Block computes torchvision's shufflenetv2.InvertedResidual",
            cls="ShuffleV2Block", strategy=S.shuffle_block_cases(shufflenetv2.InvertedResidual),
            max_examples={"quick": 12, "thorough": 30}),
        OutputPropertyCheck(
            "shuffle_block_keeps_half",
            "A ShuffleV2Block of stride 1 passes half its channels on untouched",
            cls="ShuffleV2Block",
            strategy=S.shuffle_block_cases(shufflenetv2.InvertedResidual, stride=1),
            judge=_keeps_half, max_examples={"quick": 8, "thorough": 20}),
        ParamCountCheck(
            "shufflenet_params", "ShuffleNetV2 x1.0 and x0.5 have torchvision's parameter counts",
            cls="ShuffleNetV2",
            examples=[shufflenet(), shufflenet("shufflenet_v2_x0_5", num_classes=10)]),
        SameFunctionCheck(
            "shufflenet_function", "ShuffleNetV2 computes torchvision's x1.0 and x0.5",
            cls="ShuffleNetV2",
            examples=[shufflenet(input_shape=(1, 3, 32, 32)),
                      shufflenet("shufflenet_v2_x0_5", (2, 3, 224, 224), num_classes=10)]),
        GradientFlowCheck(
            "shufflenet_gradients", "Every ShuffleNetV2 parameter gets a gradient",
            cls="ShuffleNetV2", examples=[shufflenet("shufflenet_v2_x0_5", (2, 3, 64, 64),
                                                     num_classes=10)]),
        # --- numbers from the lecture
        ValueCheck(
            "quiz_efficient", "Quiz: the cost of separable convolutions, widths and repeats",
            answers={"quiz_standard_macs": lambda: 3 * 3 * 512 * 512 * 14 * 14,
                     "quiz_separable_macs": lambda: 3 * 3 * 512 * 14 * 14 + 512 * 512 * 14 * 14,
                     "quiz_expanded_width": lambda: 6 * 24,
                     "quiz_middle_flow_blocks": lambda: 8},
            hints={"quiz_standard_macs": "D_K * D_K * M * N * D_F * D_F multiply-accumulates.",
                   "quiz_separable_macs": "The depthwise step does D_K * D_K * M * D_F * D_F, "
                                          "the pointwise step M * N * D_F * D_F.",
                   "quiz_expanded_width": "The expansion layer multiplies the input width by "
                                          "the expansion factor t."}),
    ])


check, progress, __getattr__ = lazy_problem_set(__name__, build)
