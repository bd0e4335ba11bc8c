"""The course's own models (``grader.models``) and the model-grading machinery
(``grader.probes`` and ``ModuleCheck``), against torchvision and the papers' numbers."""
from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np
import pytest
import timm
import torch
import torchvision
from torch import nn

from grader import models, probes
from grader import references as R
from grader.cases import ModuleCase
from grader.checks import PROFILES
from grader.module_checks import (GradientFlowCheck, OutputPropertyCheck, ParamCountCheck,
                                   SameFunctionCheck, ZeroGammaCheck)
from grader.problems import (ps03_lenet_alexnet, ps04_vgg_googlenet, ps05_resnet_resnext,
                             ps06_densenet_dpn, ps07_inception_v4_senet, ps08_efficient_nets)
from grader.strategies import bound
from grader.target import LocalTarget


def n_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def test_paper_numbers():
    assert n_params(models.LeNet5()) == 61_706
    assert n_params(models.LeNet5Paper()) == 60_000  # LeCun et al. 1998: "60,000 parameters"
    assert n_params(models.SparseConv2d(models.C3_TABLE, 5)) == 1_516
    assert sum(len(t) for t in models.C3_TABLE) == 60
    assert n_params(R.on_meta(models.AlexNetPaper)) == 60_965_224


@pytest.mark.parametrize("module, table", [
    (ps03_lenet_alexnet, {"alexnet": torchvision.models.alexnet}),
    (ps04_vgg_googlenet, {"vgg11": torchvision.models.vgg11, "vgg16": torchvision.models.vgg16,
                          "vgg19": torchvision.models.vgg19,
                          "vgg16_bn": torchvision.models.vgg16_bn,
                          "googlenet": functools.partial(torchvision.models.googlenet,
                                                         aux_logits=False, init_weights=True)}),
    (ps05_resnet_resnext, {name: getattr(torchvision.models, name)
                           for name in ps05_resnet_resnext.PARAMS}),
])
def test_problem_set_numbers_are_torchvisions(module, table):
    for name, build in table.items():
        assert n_params(R.on_meta(functools.partial(build, weights=None))) == module.PARAMS[name]


@pytest.mark.parametrize("module", [ps06_densenet_dpn, ps07_inception_v4_senet,
                                    ps08_efficient_nets],
                         ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_problem_set_numbers_of_timm_and_torchvision(module):
    """Architecture pairs II: references from torchvision where it has them, else timm."""
    for name, count in module.PARAMS.items():
        build = (functools.partial(getattr(torchvision.models, name), weights=None)
                 if hasattr(torchvision.models, name) else functools.partial(timm.create_model, name))
        assert n_params(R.on_meta(build)) == count, name


def test_c3_reads_only_its_table():
    layer = models.SparseConv2d(models.C3_TABLE, 5).double()
    x = torch.randn(1, 6, 9, 9, dtype=torch.float64, requires_grad=True)
    for o, inputs in enumerate(models.C3_TABLE):
        grad, = torch.autograd.grad(layer(x)[0, o].sum(), x)
        assert set(torch.nonzero(grad.abs().sum((0, 2, 3))).flatten().tolist()) == set(inputs)


@pytest.mark.parametrize("name", sorted(models.SMALL))
def test_small_variants_take_32x32_and_learn(name):
    torch.manual_seed(0)
    model = models.SMALL[name](num_classes=10)
    x = torch.randn(8, 1 if name == "lenet5" else 3, 32, 32)
    y = torch.arange(8) % 10
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    losses = []
    for _ in range(3):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert model(x).shape == (8, 10) and losses[-1] < losses[0]


def _filled(spec, seed):
    """What ``probes.fill`` gives each entry of ``spec``, as both sides of a check fill it."""
    out = []
    for i, (name, shape) in enumerate(spec):
        out.append(torch.empty(shape, dtype=torch.float64))
        probes.fill(out[-1], name, i, seed)
    return out


def test_filled_weights_are_deterministic_and_scaled():
    spec = [["conv.weight", [64, 32, 3, 3]], ["bn.running_var", [64]], ["fc.weight", [3, 2_000_000]]]
    a, b = _filled(spec, 0), _filled(spec, 0)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not torch.equal(a[0], _filled(spec, 1)[0])
    assert abs(a[0].var().item() - 2 / (32 * 9)) < 0.2 * 2 / (32 * 9)  # He variance
    assert a[1].min() > 0  # a variance
    assert a[2][0, :10].tolist() != a[2][1, :10].tolist()  # tiled, but rows differ


def test_state_dicts_are_matched_by_order_when_names_differ():
    ref = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    spec = probes.entries(ref)

    class Mine(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 2, 3)
            self.norm = nn.BatchNorm2d(2)

    assert probes._match(Mine(), spec)["0.weight"] == "conv.weight"
    wrong = nn.Sequential(nn.Conv2d(1, 2, 5), nn.BatchNorm2d(2))
    assert "tensor #0" in probes._match(wrong, spec)


def test_a_linear_layer_takes_a_1x1_convolutions_weights():
    """SE blocks and classifiers: nn.Linear and a 1x1 convolution hold the same matrix."""
    ref = nn.Sequential(nn.Conv2d(6, 3, 1), nn.ReLU())
    spec = probes.entries(ref)
    mine = nn.Linear(6, 3).double()
    assert probes.load_generated(mine, spec, 0) == {"0.weight": "weight", "0.bias": "bias"}
    ref = ref.double()
    probes.load_generated(ref, spec, 0)
    x = torch.randn(2, 6, dtype=torch.float64)
    assert torch.allclose(mine(x), ref[0](x[:, :, None, None])[:, :, 0, 0])
    assert "tensor #0" in probes._match(nn.Conv2d(6, 3, 3), spec)  # a 3x3 is not a 1x1


def test_property_check_judges_the_students_own_output():
    """A judge sees the input and the output, with the student's own init."""
    def keeps_input(case, x, y):
        return None if np.array_equal(y[:, :x.shape[1]], x) else "the input is not kept"

    case = ModuleCase("Grow", (3,), (), (2, 3, 4, 4), None, "a dense layer")
    check = OutputPropertyCheck("grow", "keeps its input", cls="Grow", judge=keeps_input,
                                examples=[case])
    for body, passes in (("torch.cat([x, self.conv(x)], 1)", True),
                         ("torch.cat([self.conv(x), x], 1)", False)):
        ns = {"nn": nn, "torch": torch}
        exec(f"""
class Grow(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, 2, 3, padding=1)
    def forward(self, x):
        return {body}
""", ns)
        result = check.run(LocalTarget(ns), PROFILES["quick"])
        assert result.passed == passes, result.message
    assert "the input is not kept" in result.message


# --- ModuleCheck in the student's kernel (LocalTarget) --------------------------------------

def _check(kind):
    tv = torchvision.models.resnet
    case = ModuleCase("BasicBlock", (4, 4), (), (2, 4, 5, 5), bound(tv.BasicBlock, (4, 4)),
                      "torchvision.models.resnet.BasicBlock")
    return kind(f"block_{kind.__name__}", "a block", cls="BasicBlock", examples=[case])


def _namespace(forward_body: str, bn2=True) -> dict:
    ns = {"nn": nn, "torch": torch}
    exec(f"""
class BasicBlock(nn.Module):
    expansion = 1
    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes) if {bn2} else nn.Identity()
        self.downsample = downsample
    def forward(self, x):
{forward_body}
""", ns)
    return ns


RIGHT = """        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + x)"""
NO_RELU_AFTER_ADD = """        out = torch.relu(self.bn1(self.conv1(x)))
        return self.bn2(self.conv2(out)) + x"""


@pytest.mark.parametrize("kind", [ParamCountCheck, SameFunctionCheck, ZeroGammaCheck,
                                  GradientFlowCheck], ids=lambda kind: kind.__name__)
def test_module_checks_pass_a_right_block(kind):
    result = _check(kind).run(LocalTarget(_namespace(RIGHT)), PROFILES["quick"])
    assert result.passed, result.message


def test_function_check_names_the_first_layer_that_differs():
    check = _check(SameFunctionCheck)
    result = check.run(LocalTarget(_namespace(NO_RELU_AFTER_ADD)), PROFILES["quick"])
    assert not result.passed
    # Every layer with weights agrees; the missing ReLU comes after the last of them.
    assert "differ from PyTorch" in result.message and "after them" in result.message


DETACHED = """        out = torch.relu(self.bn1(self.conv1(x))).detach()
        return torch.relu(self.bn2(self.conv2(out)) + x)"""


@pytest.mark.parametrize("body, bn_kwargs, words", [
    # the block's input overwritten: eval is right, backward cannot run
    ("""        out = torch.relu(self.bn1(self.conv1(x)))
        x += self.bn2(self.conv2(out))
        return torch.relu(x)""", "", "in-place operation"),
    # Keras' momentum: every output is right, the running statistics drift another way
    (RIGHT, ", momentum=0.99", "running statistics"),
    # the first half cut off from autograd
    (DETACHED, "", "gets no gradient"),
], ids=["in_place_input", "keras_momentum", "detached"])
def test_function_check_compares_a_training_step(body, bn_kwargs, words):
    ns = _namespace(body)
    if bn_kwargs:
        source = f"""
class BasicBlock(nn.Module):
    expansion = 1
    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes{bn_kwargs})
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes{bn_kwargs})
    def forward(self, x):
{body}
"""
        exec(source, ns)
    result = _check(SameFunctionCheck).run(LocalTarget(ns), PROFILES["quick"])
    assert not result.passed
    assert "in train mode" in result.message and words in result.message, result.message


def test_grading_leaves_the_repeated_example_to_the_hidden_run():
    """Feedback (a public run alone) takes the example's training step; grading leaves the
    example to the hidden run that follows, which repeats it under the secret seed."""
    check, target = _check(SameFunctionCheck), LocalTarget(_namespace(DETACHED))
    public = PROFILES["quick"]
    assert not check.run(target, public).passed
    assert check.run(target, dataclasses.replace(public, hidden_follows=True)).passed
    hidden = check.run(target, dataclasses.replace(PROFILES["thorough"], secret="s"))
    assert not hidden.passed and "gets no gradient" in hidden.message, hidden.message


def test_params_check_shows_the_layers():
    check = _check(ParamCountCheck)
    result = check.run(LocalTarget(_namespace(RIGHT, bn2=False)), PROFILES["quick"])
    assert not result.passed
    assert "has 296 parameters" in result.message and "bn2 BatchNorm2d" in result.message
    assert "(-8)" in result.message


def test_zero_gamma_check_catches_relu_before_the_addition():
    body = """        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out))) + x"""
    result = _check(ZeroGammaCheck).run(LocalTarget(_namespace(body)), PROFILES["quick"])
    assert not result.passed and "relu(x)" in result.message


def test_init_check_compares_constants_exactly_and_weights_by_their_statistics():
    from grader.module_checks import _init_problem
    from grader.probes import statistics

    g = torch.Generator().manual_seed(0)
    he = torch.randn(64, 64, 3, 3, generator=g) * math.sqrt(2 / (64 * 9))
    again = torch.randn(64, 64, 3, 3, generator=g) * math.sqrt(2 / (64 * 9))
    uniform = (torch.rand(64, 64, 3, 3, generator=g) * 2 - 1) * math.sqrt(3 * 2 / (64 * 9))
    shape = [64, 64, 3, 3]
    assert _init_problem("w", shape, statistics(he), statistics(again)) is None
    assert "kurtosis" in _init_problem("w", shape, statistics(he), statistics(uniform))
    assert "standard deviation" in _init_problem("w", shape, statistics(he),
                                                 statistics(he * math.sqrt(2)))
    assert _init_problem("w", shape, statistics(he), statistics(he * 2), "Use fan_out.").endswith(
        " Use fan_out.")
    assert "must start at 0" in _init_problem("bn.weight", [64], statistics(torch.zeros(64)),
                                              statistics(torch.ones(64)))
    # too few values to compare their distribution: only constant or random
    small = torch.randn(10, generator=g)
    assert _init_problem("b", [10], statistics(small), statistics(small * 3)) is None
    assert "everywhere" in _init_problem("b", [10], statistics(small), statistics(torch.ones(10)))
