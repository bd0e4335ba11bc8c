"""Problem set 7: SENet and Inception-v4, against timm's ``legacy_seresnet50`` and ``inception_v4``.

Students write the squeeze-and-excitation block ``SEBlock``, the SE-ResNet
bottleneck ``SEBottleneck`` and ``SEResNet50``, then Inception-v4's blocks
(``InceptionA``, ``ReductionA``, ``InceptionB``, ``ReductionB``,
``InceptionC``) and ``InceptionV4``.  Every check compares with timm's classes
built without pretrained weights: exact parameter counts, output shapes, the
same function once timm's (generated) weights are copied in, SE-ResNet-50's
initialisation (timm's He initialisation; Inception-v4 keeps PyTorch's defaults,
as timm's does, so it has no such check), and the defining property of an SE
block: it only rescales each channel by a factor in (0, 1).
"""
from __future__ import annotations

import numpy as np

from . import lazy_problem_set

#: Paper numbers, asserted against timm in tests/test_models.py.
PARAMS = {"legacy_seresnet50": 28_088_024, "inception_v4": 42_679_816}

#: Inception-v4's blocks: the channels each one takes, and the smallest input it accepts.
BLOCKS = {"InceptionA": (384, 1), "ReductionA": (384, 3), "InceptionB": (1024, 1),
          "ReductionB": (1024, 3), "InceptionC": (1536, 1)}


def _rescales_channels(case, x, y):
    """``y = x * s`` with one factor ``s`` in (0, 1) per image and channel."""
    if y.shape != x.shape:
        return f"the output has shape {y.shape}; an SE block keeps the input's shape {x.shape}."
    n, c = x.shape[:2]
    xs, ys = x.reshape(n, c, -1), y.reshape(n, c, -1)
    for i in range(n):
        for j in range(c):
            where = np.abs(xs[i, j]) > 1e-3
            if not where.any():
                continue
            s = ys[i, j][where] / xs[i, j][where]
            if not np.allclose(s, s[0], rtol=1e-7, atol=1e-9):
                return (f"image {i}, channel {j} is not scaled by one factor: output/input "
                        f"ranges over [{s.min():.4g}, {s.max():.4g}]. Excitation multiplies a "
                        "whole channel by one weight.")
            if not 0 < s[0] < 1:
                return (f"image {i}, channel {j} is scaled by {s[0]:.4g}; the sigmoid keeps "
                        "every channel weight strictly between 0 and 1.")
    return None


def _se_bottleneck(inplanes, planes, stride=1, downsample=None, reduction=16):
    """timm's SE-ResNet bottleneck (groups=1), called as the student's class is."""
    from timm.models.senet import SEResNetBottleneck
    return SEResNetBottleneck(inplanes, planes, 1, reduction, stride, downsample)


def _inception_block(name: str):
    """timm's block as ``InceptionV4`` builds it: no padding unless given, BatchNorm eps 1e-3."""
    import importlib

    from timm.layers import ConvNormAct

    module = importlib.import_module("timm.models.inception_v4")
    return getattr(module, name)(_inception_conv(ConvNormAct))


def _inception_conv(conv_norm_act):
    import functools
    return functools.partial(conv_norm_act, padding=0, norm_layer="batchnorm2d",
                             act_layer="relu", norm_kwargs={"eps": 1e-3},
                             act_kwargs={"inplace": True})


def build():
    """The problem set.  Built on first use: torch and Hypothesis load only then."""
    import functools

    import timm
    from timm.models.senet import SEModule

    from .. import strategies as S
    from ..cases import ModuleCase
    from ..checks import ProblemSet, ValueCheck
    from ..module_checks import (InitCheck, OutputPropertyCheck, OutputShapeCheck,
                                 ParamCountCheck, SameFunctionCheck, ZeroGammaCheck)
    from ..shortcuts import MODELS_BY_HAND

    def timm_net(cls, name, input_shape=(1, 3, 32, 32), **kwargs):
        return ModuleCase(cls, (), tuple(sorted(kwargs.items())), input_shape,
                          S.bound(functools.partial(timm.create_model, name), (), kwargs),
                          f"timm {name}")

    def shapes_of(cls, name, sizes):
        return S.network_input_cases(cls, (), {}, functools.partial(timm.create_model, name),
                                     f"timm {name}", sizes=sizes)

    def block_check(check_id, cls):
        channels, min_size = BLOCKS[cls]
        return SameFunctionCheck(
            check_id, f"{cls} computes timm's {cls}", cls=cls,
            strategy=S.fixed_block_cases(cls, S.bound(functools.partial(_inception_block, cls)),
                                         f"timm.models.inception_v4.{cls}", channels, min_size),
            max_examples={"quick": 2, "thorough": 5})

    return ProblemSet("ps07_inception_v4_senet", "inception_v4_senet.ipynb",
                      rules=MODELS_BY_HAND, call_timeout=60.0, memory_mb=8192, checks=[
        # --- squeeze and excitation
        SameFunctionCheck(
            "se_block_function", "SEBlock computes timm's SEModule",
            cls="SEBlock", strategy=S.se_block_cases(SEModule),
            max_examples={"quick": 10, "thorough": 30}),
        OutputPropertyCheck(
            "se_block_rescales", "An SEBlock multiplies each channel by one factor in (0, 1)",
            cls="SEBlock", strategy=S.se_block_cases(SEModule), judge=_rescales_channels,
            max_examples={"quick": 8, "thorough": 25}),
        SameFunctionCheck(
            "se_bottleneck_function", "SEBottleneck computes timm's SE-ResNet bottleneck",
            cls="SEBottleneck", strategy=S.se_bottleneck_cases(_se_bottleneck),
            max_examples={"quick": 10, "thorough": 30}),
        ZeroGammaCheck(
            "se_bottleneck_zero_gamma", "An SEBottleneck whose last BatchNorm is zero is relu(x)",
            cls="SEBottleneck", strategy=S.se_bottleneck_cases(_se_bottleneck, identity=True),
            max_examples={"quick": 4, "thorough": 12}),
        ParamCountCheck(
            "se_resnet50_params", "SEResNet50 has timm's legacy_seresnet50 count",
            cls="SEResNet50", examples=[timm_net("SEResNet50", "legacy_seresnet50")]),
        OutputShapeCheck(
            "se_resnet50_shapes", "SEResNet50 gives (N, num_classes) wherever timm does",
            cls="SEResNet50", strategy=shapes_of("SEResNet50", "legacy_seresnet50",
                                                 (8, 200)),
            examples=[timm_net("SEResNet50", "legacy_seresnet50", (2, 3, 224, 224))],
            max_examples={"quick": 3, "thorough": 6}),
        SameFunctionCheck(
            "se_resnet50_function", "SEResNet50 computes timm's legacy_seresnet50",
            cls="SEResNet50", examples=[timm_net("SEResNet50", "legacy_seresnet50"),
                                        timm_net("SEResNet50", "legacy_seresnet50", (2, 3, 40, 54),
                                                 num_classes=10, drop_rate=0.5)]),
        InitCheck(
            "se_resnet50_init", "SEResNet50 starts as timm's: He initialisation (fan_out) of "
            "every convolution, the SE blocks' included, BatchNorm 1 and 0",
            cls="SEResNet50",
            examples=[timm_net("SEResNet50", "legacy_seresnet50", (), num_classes=10)],
            hint="timm initialises every nn.Conv2d, the SE blocks' fc1 and fc2 included, with "
                 "nn.init.kaiming_normal_(w, mode='fan_out', nonlinearity='relu'): standard "
                 "deviation sqrt(2 / fan_out), fan_out = out_channels * kH * kW."),
        # --- Inception-v4
        block_check("inception_a_function", "InceptionA"),
        block_check("reduction_a_function", "ReductionA"),
        block_check("inception_b_function", "InceptionB"),
        block_check("reduction_b_function", "ReductionB"),
        block_check("inception_c_function", "InceptionC"),
        ParamCountCheck(
            "inception_v4_params", "InceptionV4 has timm's inception_v4 count",
            cls="InceptionV4", examples=[timm_net("InceptionV4", "inception_v4", (1, 3, 75, 75))]),
        OutputShapeCheck(
            "inception_v4_shapes", "InceptionV4 gives (N, num_classes) wherever timm does",
            cls="InceptionV4", strategy=shapes_of("InceptionV4", "inception_v4",
                                                  (72, 320)),
            examples=[timm_net("InceptionV4", "inception_v4", (2, 3, 299, 299))],
            max_examples={"quick": 2, "thorough": 4}),
        SameFunctionCheck(
            "inception_v4_function", "InceptionV4 computes timm's inception_v4",
            cls="InceptionV4", examples=[timm_net("InceptionV4", "inception_v4", (1, 3, 75, 75)),
                                         timm_net("InceptionV4", "inception_v4", (2, 3, 91, 77),
                                                  num_classes=7)]),
        # --- numbers from the lecture
        ValueCheck(
            "quiz_inception_senet", "Quiz: SE parameters, Inception-v4 sizes and blocks",
            answers={"quiz_se_params_256": lambda: 256 * 16 + 16 + 16 * 256 + 256,
                     "quiz_inception_v4_blocks": lambda: 4 + 7 + 3,
                     "quiz_grid_after_reduction_a": lambda: (35 - 3) // 2 + 1},
            hints={"quiz_se_params_256": "Two 1x1 convolutions with biases: 256 -> 256/16 -> 256.",
                   "quiz_grid_after_reduction_a": "A 3x3 convolution with stride 2 and no "
                                                  "padding on a 35x35 grid."}),
    ])


check, progress, __getattr__ = lazy_problem_set(__name__, build)
