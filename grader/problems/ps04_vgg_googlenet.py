"""Problem set 4: VGG and GoogLeNet as ``nn.Module``s, against torchvision's.

Students write ``make_layers(cfg, batch_norm)``, the configurations ``cfgs``
of VGG-11/13/16/19, ``VGG(cfg, batch_norm, num_classes, dropout)``,
GoogLeNet's ``BasicConv2d`` and ``Inception`` module, and ``GoogLeNet``,
mirroring ``torchvision.models.vgg`` and ``torchvision.models.googlenet``,
initialised as torchvision initialises them.
"""
from __future__ import annotations

from . import lazy_problem_set

PARAMS = {"vgg11": 132_863_336, "vgg16": 138_357_544, "vgg19": 143_667_240,
          "vgg16_bn": 138_365_992, "googlenet": 6_624_904}


#: a VGG configuration whose stages are narrow until the last (see ``narrow`` in build)
NARROW = [8, "M", 16, "M", 32, "M", 64, "M", 512, "M"]


def _vgg_from_cfg(cfg, batch_norm=False, init_weights=False, **kwargs):
    from torchvision.models import vgg
    return vgg.VGG(vgg.make_layers(cfg, batch_norm), init_weights=init_weights, **kwargs)


def build():
    """The problem set.  Built on first use: torch and Hypothesis load only then."""
    import functools

    import torchvision
    from torchvision.models.googlenet import BasicConv2d, Inception
    from torchvision.models.vgg import cfgs, make_layers

    from .. import strategies as S
    from ..cases import ModuleCase
    from ..checks import ProblemSet, ValueCheck
    from ..module_checks import (GradientFlowCheck, InitCheck, OutputShapeCheck,
                                 ParamCountCheck, SameFunctionCheck)
    from ..probes import student
    from ..shortcuts import MODELS_BY_HAND

    depths = ("vgg11", "vgg13", "vgg16", "vgg19")

    def vgg(name, input_shape=(1, 3, 32, 32), batch_norm=False, **kwargs):
        tv_name = name + ("_bn" if batch_norm else "")
        kw = {**kwargs, **({"batch_norm": True} if batch_norm else {})}
        return ModuleCase("VGG", (student("cfgs", name),), tuple(sorted(kw.items())),
                          input_shape, S.bound(functools.partial(
                              getattr(torchvision.models, tv_name), weights=None), (), kwargs),
                          f"torchvision.models.{tv_name}")

    def narrow(input_shape, init_weights=False, **kwargs):
        """VGG on a custom ``cfg`` with narrow early stages (the classifier still gets 512
        maps): at the paper's resolution each adaptive pooling bin then holds several
        values, as in real use, for a fraction of VGG-11's cost.  ``init_weights`` is
        torchvision's: the function checks overwrite every weight, so their reference
        skips the initialisation that the initialisation check compares."""
        return ModuleCase("VGG", (NARROW,), tuple(sorted(kwargs.items())), input_shape,
                          S.bound(functools.partial(_vgg_from_cfg, NARROW,
                                                    init_weights=init_weights), (), kwargs),
                          "torchvision.models.vgg.VGG(make_layers(cfg))")

    googlenet = functools.partial(torchvision.models.googlenet, weights=None, aux_logits=False,
                                  init_weights=True)

    def gnet(input_shape=(1, 3, 32, 32), **kwargs):
        return ModuleCase("GoogLeNet", (), tuple(sorted(kwargs.items())), input_shape,
                          S.bound(googlenet, (), kwargs), "torchvision.models.googlenet")

    return ProblemSet("ps04_vgg_googlenet", "vgg_googlenet.ipynb", rules=MODELS_BY_HAND,
                      call_timeout=90.0, memory_mb=8192, checks=[
        # --- VGG
        SameFunctionCheck(
            "make_layers_function", "make_layers builds torchvision's VGG features",
            cls="make_layers", strategy=S.vgg_feature_cases(make_layers),
            max_examples={"quick": 12, "thorough": 30}),
        ParamCountCheck(
            "vgg_configs", "cfgs holds VGG-11, -13, -16 and -19 (parameter counts)",
            cls="VGG", examples=[vgg(n) for n in depths] + [vgg("vgg16", batch_norm=True)]),
        OutputShapeCheck(
            "vgg_shapes", "VGG gives (N, num_classes) wherever torchvision does",
            cls="VGG", strategy=S.network_input_cases(
                "VGG", [student("cfgs", "vgg11")], {},
                functools.partial(torchvision.models.vgg11, weights=None),
                "torchvision.models.vgg11", sizes=(24, 160)),
            examples=[vgg("vgg11", (2, 3, 224, 224))], max_examples={"quick": 6, "thorough": 15}),
        SameFunctionCheck(
            "vgg_function", "VGG-11 and VGG-16 with BatchNorm compute torchvision's",
            # VGG-16 trains at 32 px: its features end in one value a map at any size up
            # to 63 px, and the narrow VGG covers the paper's size
            cls="VGG", examples=[vgg("vgg11"), vgg("vgg16", (2, 3, 32, 32), batch_norm=True,
                                                   num_classes=10, dropout=0.3),
                                 narrow((1, 3, 256, 256), num_classes=10)]),
        InitCheck(
            # the classifier's 119M weights are most of the cost, whatever the cfg; NARROW's
            # last three convolutions hold enough values to compare their statistics
            "vgg_init", "VGG starts as torchvision's: He initialisation (fan_out) for "
            "convolutions, normal(0, 0.01) for linear layers, biases 0, BatchNorm 1 and 0",
            cls="VGG", examples=[narrow((), init_weights=True, batch_norm=True, num_classes=10)],
            hint="torchvision initialises convolutions with nn.init.kaiming_normal_(w, "
                 "mode='fan_out', nonlinearity='relu') (standard deviation sqrt(2 / fan_out), "
                 "fan_out = out_channels * kH * kW) and linear layers with "
                 "nn.init.normal_(w, 0, 0.01), every bias 0."),
        # --- GoogLeNet
        SameFunctionCheck(
            "basic_conv_function", "BasicConv2d is conv (no bias), BatchNorm, ReLU",
            cls="BasicConv2d", strategy=S.basic_conv_cases(BasicConv2d),
            max_examples={"quick": 10, "thorough": 25}),
        OutputShapeCheck(
            "inception_shapes", "Inception outputs the sum of its branches' channels",
            cls="Inception", strategy=S.inception_cases(Inception),
            max_examples={"quick": 10, "thorough": 25}),
        SameFunctionCheck(
            "inception_function", "Inception computes torchvision's Inception module",
            cls="Inception", strategy=S.inception_cases(Inception),
            max_examples={"quick": 12, "thorough": 30}),
        ParamCountCheck(
            "googlenet_params", "GoogLeNet has torchvision's 6,624,904 parameters",
            cls="GoogLeNet", examples=[gnet(), gnet(num_classes=10)]),
        OutputShapeCheck(
            "googlenet_shapes", "GoogLeNet gives (N, num_classes) wherever torchvision does",
            cls="GoogLeNet", strategy=S.network_input_cases(
                "GoogLeNet", [], {}, googlenet, "torchvision.models.googlenet",
                sizes=(16, 160)),
            examples=[gnet((2, 3, 224, 224))], max_examples={"quick": 4, "thorough": 10}),
        SameFunctionCheck(
            "googlenet_function", "GoogLeNet computes torchvision's googlenet",
            cls="GoogLeNet", examples=[gnet(), gnet((2, 3, 64, 48), num_classes=10, dropout=0.4)]),
        GradientFlowCheck(
            "googlenet_gradients", "Every GoogLeNet parameter gets a gradient",
            cls="GoogLeNet", examples=[gnet((2, 3, 32, 32))]),
        InitCheck(
            "googlenet_init", "GoogLeNet starts as torchvision's: truncated normal, standard "
            "deviation 0.01, for convolutions and the classifier, BatchNorm 1 and 0",
            cls="GoogLeNet", examples=[gnet(()), gnet((), num_classes=10)],
            hint="torchvision initialises every convolution and linear weight with "
                 "nn.init.trunc_normal_(w, mean=0.0, std=0.01, a=-2, b=2): standard deviation "
                 "0.01 whatever the layer's size."),
        # --- numbers from the lecture
        ValueCheck(
            "quiz_vgg_googlenet", "Quiz: VGG's 3x3 stacks and Inception 3a",
            answers={"quiz_vgg16_convs": lambda: sum(1 for v in cfgs["D"] if v != "M"),
                     "quiz_stack_weights": lambda: 3 * 3 * 3 * 64 * 64,
                     "quiz_7x7_weights": lambda: 7 * 7 * 64 * 64,
                     "quiz_inception3a_out": lambda: 64 + 128 + 32 + 32},
            hints={"quiz_stack_weights": "three 3x3 convolutions from 64 to 64 channels, no "
                                         "biases.",
                   "quiz_inception3a_out": "the branches are concatenated along the channels."}),
    ])


check, progress, __getattr__ = lazy_problem_set(__name__, build)
