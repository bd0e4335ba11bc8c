"""Problem set 5: ResNet and ResNeXt as ``nn.Module``s, against torchvision's.

Students write ``BasicBlock``, ``Bottleneck`` (with ``groups`` and
``base_width``, which makes it the ResNeXt block), ``ResNet(block, layers)``
and ``ResNeXt50_32x4d``, mirroring ``torchvision.models.resnet``.  Every
check compares with torchvision's own classes built with ``weights=None``:
exact parameter counts, output shapes, the same function once torchvision's
(generated) weights are copied in, the initialisation, and the properties of residual blocks.
"""
from __future__ import annotations

from . import lazy_problem_set

#: Paper numbers, asserted against torchvision in tests/test_references.py.
PARAMS = {"resnet18": 11_689_512, "resnet34": 21_797_672, "resnet50": 25_557_032,
          "resnext50_32x4d": 25_028_904}


def build():
    """The problem set.  Built on first use: torch and Hypothesis load only then."""
    import functools

    import torchvision
    from torchvision.models import resnet as tv

    from .. import strategies as S
    from ..cases import ModuleCase
    from ..checks import ProblemSet, ValueCheck
    from ..module_checks import (GradientFlowCheck, InitCheck, OutputShapeCheck,
                                 ParamCountCheck, SameFunctionCheck, ZeroGammaCheck)
    from ..probes import student
    from ..shortcuts import MODELS_BY_HAND

    def tv_model(name, **kwargs):
        return S.bound(functools.partial(getattr(torchvision.models, name), weights=None),
                       (), kwargs)

    # The networks, as the student builds them and as torchvision names them.
    nets = {
        "resnet18": ("ResNet", [student("BasicBlock"), [2, 2, 2, 2]], {}),
        "resnet34": ("ResNet", [student("BasicBlock"), [3, 4, 6, 3]], {}),
        "resnet50": ("ResNet", [student("Bottleneck"), [3, 4, 6, 3]], {}),
        "resnext50_32x4d": ("ResNeXt50_32x4d", [], {}),
    }

    def net(name, input_shape=(1, 3, 32, 32), **kwargs):
        cls, args, kw = nets[name]
        kw = {**kw, **kwargs}
        return ModuleCase(cls, tuple(args), tuple(sorted(kw.items())), input_shape,
                          tv_model(name, **kwargs), f"torchvision.models.{name}")

    def shapes_of(name):
        cls, args, kw = nets[name]
        return S.network_input_cases(cls, args, kw,
                                     functools.partial(getattr(torchvision.models, name),
                                                       weights=None),
                                     f"torchvision.models.{name}", sizes=(8, 256))

    def block(cls, ref, **features):
        return S.residual_block_cases(cls, ref, **features)

    basic, bottleneck = block("BasicBlock", tv.BasicBlock), block("Bottleneck", tv.Bottleneck)
    grouped = block("Bottleneck", tv.Bottleneck, bottleneck=True, grouped=True)
    bottleneck = block("Bottleneck", tv.Bottleneck, bottleneck=True)

    return ProblemSet("ps05_resnet_resnext", "resnet_resnext.ipynb", rules=MODELS_BY_HAND,
                      call_timeout=60.0, memory_mb=8192, checks=[
        # --- the residual blocks
        SameFunctionCheck(
            "basic_block_function", "BasicBlock computes torchvision's BasicBlock",
            cls="BasicBlock", strategy=basic, max_examples={"quick": 12, "thorough": 30}),
        ZeroGammaCheck(
            "basic_block_zero_gamma", "A BasicBlock whose last BatchNorm is zero is relu(x)",
            cls="BasicBlock", strategy=block("BasicBlock", tv.BasicBlock, identity=True),
            max_examples={"quick": 5, "thorough": 15}),
        GradientFlowCheck(
            "basic_block_gradients", "Every BasicBlock parameter gets a gradient",
            cls="BasicBlock", strategy=block("BasicBlock", tv.BasicBlock,
                                             identity=False, training=True),
            max_examples={"quick": 3, "thorough": 8}),
        ParamCountCheck(
            "bottleneck_params", "Bottleneck has torchvision's parameter count",
            cls="Bottleneck", strategy=bottleneck, max_examples={"quick": 10, "thorough": 30}),
        SameFunctionCheck(
            "bottleneck_function", "Bottleneck computes torchvision's Bottleneck",
            cls="Bottleneck", strategy=bottleneck, max_examples={"quick": 12, "thorough": 30}),
        ZeroGammaCheck(
            "bottleneck_zero_gamma", "A Bottleneck whose last BatchNorm is zero is relu(x)",
            cls="Bottleneck",
            strategy=block("Bottleneck", tv.Bottleneck, bottleneck=True, identity=True),
            max_examples={"quick": 5, "thorough": 15}),
        SameFunctionCheck(
            "resnext_block_function", "Bottleneck with groups and base_width is the ResNeXt block",
            cls="Bottleneck", strategy=grouped, max_examples={"quick": 12, "thorough": 30}),
        # --- the networks
        ParamCountCheck(
            "resnet_params", "ResNet-18, -34 and -50 have torchvision's parameter counts",
            cls="ResNet", examples=[net("resnet18"), net("resnet34"), net("resnet50")]),
        OutputShapeCheck(
            "resnet_shapes", "ResNet gives (N, num_classes) wherever torchvision does",
            cls="ResNet", strategy=S.st.one_of(*(shapes_of(n) for n in ("resnet18", "resnet50"))),
            examples=[net(n, (2, 3, 224, 224)) for n in ("resnet18", "resnet50")],
            max_examples={"quick": 8, "thorough": 20}),
        SameFunctionCheck(
            "resnet18_function", "ResNet-18 computes torchvision's resnet18",
            cls="ResNet", examples=[net("resnet18"), net("resnet18", (2, 3, 40, 56))]),
        SameFunctionCheck(
            "resnet_function", "ResNet-34 and ResNet-50 compute torchvision's",
            cls="ResNet", examples=[net("resnet34"), net("resnet50", (2, 3, 32, 32), num_classes=10)]),
        GradientFlowCheck(
            "resnet_gradients", "Every ResNet-18 parameter gets a gradient",
            cls="ResNet", examples=[net("resnet18", (2, 3, 32, 32))]),
        InitCheck(
            "resnet_init", "ResNet starts as torchvision's: He initialisation (fan_out), "
            "BatchNorm 1 and 0, and zero_init_residual",
            cls="ResNet", examples=[net("resnet18", ()),
                                    net("resnet18", (), zero_init_residual=True),
                                    net("resnet50", (), zero_init_residual=True)],
            hint="torchvision initialises every convolution with nn.init.kaiming_normal_(w, "
                 "mode='fan_out', nonlinearity='relu'): standard deviation sqrt(2 / fan_out), "
                 "fan_out = out_channels * kH * kW."),
        ParamCountCheck(
            "resnext50_params", "ResNeXt50_32x4d has torchvision's parameter count",
            cls="ResNeXt50_32x4d", examples=[net("resnext50_32x4d")]),
        SameFunctionCheck(
            "resnext50_function", "ResNeXt50_32x4d computes torchvision's",
            cls="ResNeXt50_32x4d",
            examples=[net("resnext50_32x4d"),
                      net("resnext50_32x4d", (2, 3, 64, 48), num_classes=7)]),
        # --- numbers from the lecture
        ValueCheck(
            "quiz_resnet", "Quiz: residual units, bottleneck weights and map sizes",
            answers={"quiz_resnet34_units": lambda: 3 + 4 + 6 + 3,
                     "quiz_bottleneck_params": lambda: sum(
                         p.numel() for p in tv.Bottleneck(256, 64).parameters()),
                     "quiz_layer3_size": lambda: 224 // 16},
            hints={"quiz_bottleneck_params": "1x1 256->64, 3x3 64->64, 1x1 64->256, no "
                                             "biases, and three BatchNorms with 2 parameters "
                                             "per channel."}),
    ])


check, progress, __getattr__ = lazy_problem_set(__name__, build)
