"""Tests for Lecture 10, "Xception, MobileNet and ShuffleNet": every helper in
``lectures/efficient_tools.py`` against PyTorch, timm and torchvision, and the figures that
the notebook does not draw (``tests/test_lectures.py`` executes the notebook and checks its
figures).

Run from the repository root:  python -m pytest tests/test_lecture_efficient.py -q
"""

from __future__ import annotations

import math
from collections import OrderedDict
from fractions import Fraction

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import timm  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import torchvision  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from timm.models.xception import Block as XceptionBlock  # noqa: E402
from timm.models.xception import SeparableConv2d as XceptionSepConv  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402
from torchvision.models.mobilenetv2 import InvertedResidual as MBInvertedResidual  # noqa: E402
from torchvision.models.shufflenetv2 import InvertedResidual as ShuffleUnit  # noqa: E402
from torchvision.models.shufflenetv2 import channel_shuffle  # noqa: E402

from lectures import arch_tools as at  # noqa: E402
from lectures import efficient_tools as eft  # noqa: E402
from lectures import lecture_tools as lt  # noqa: E402
from lectures import zoo_tools as zt  # noqa: E402
from tests.test_lectures import draws  # noqa: E402

D = torch.float64
PROPERTY = settings(derandomize=True, database=None, deadline=None, max_examples=40)


pytestmark = pytest.mark.usefixtures("one_thread")  # see tests/conftest.py


@pytest.fixture(scope="module")
def nets():
    return OrderedDict((name, eft.build(name)) for name in list(eft.MODELS) + list(eft.SCALE))


def rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=D)


def flop_macs(fn) -> int:
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        fn()
    return counter.get_total_flops() // 2


# ---------------------------------------------------------------------------
# The architectures as data
# ---------------------------------------------------------------------------

REFERENCE_PARAMS = {"Xception": 22_855_952, "MobileNet v1": 4_231_976, "MobileNet v2": 3_504_872,
                    "ShuffleNet v2 1x": 2_278_604, "VGG-16": 138_357_544, "GoogLeNet": 6_624_904,
                    "ResNet-50": 25_557_032}


def test_build_is_on_meta_with_the_reference_counts(nets):
    for name, model in nets.items():
        assert next(model.parameters()).device.type == "meta"
        assert lt.count_params(model) == REFERENCE_PARAMS[name], name
    assert eft.input_shape("Xception") == (3, 299, 299) and eft.input_shape("ResNet-50") == (3, 224, 224)
    assert set(eft.PAPER_TOP1) == set(nets)


def test_builders_match_the_libraries():
    real = timm.create_model("mobilenetv1_125", pretrained=False)
    assert lt.count_params(eft.build_timm("mobilenetv1_125")) == lt.count_params(real) == 6_270_840
    assert lt.count_params(eft.mobilenet_v1(1.25)) == lt.count_params(real)
    assert lt.count_params(eft.mobilenet_v1(1.0)) == 4_231_976
    assert lt.count_params(eft.build_torchvision("shufflenet_v2_x0_5")) == lt.count_params(
        torchvision.models.shufflenet_v2_x0_5(weights=None))


def test_mobilenet_v1_width_multiplier_rounds_to_eight():
    for alpha in (0.25, 0.5, 0.75, 1.0, 1.25):
        convs = [m for m in eft.mobilenet_v1(alpha).modules() if isinstance(m, nn.Conv2d)]
        assert all(c.out_channels % 8 == 0 for c in convs)
        assert convs[-1].out_channels == max(8, round(1024 * alpha / 8) * 8)


@pytest.mark.parametrize("name", ["Xception", "MobileNet v1", "ShuffleNet v2 1x", "ResNet-50"])
def test_count_agrees_with_arch_tools_summary(nets, name):
    s = at.summary(nets[name], eft.input_shape(name))
    c = eft.count(nets[name], eft.input_shape(name))
    assert c == {"params": s["params"], "macs": s["macs"]}


@pytest.mark.parametrize("name, key", [("Xception", eft.top_level),
                                       ("MobileNet v2", lambda n: ".".join(n.split(".")[:2])),
                                       ("ShuffleNet v2 1x", eft.top_level),
                                       ("MobileNet v1", eft.top_level)])
def test_module_table_adds_up(nets, name, key):
    model, shape = nets[name], eft.input_shape(name)
    rows = eft.module_table(model, shape, key)
    s = at.summary(model, shape)
    assert sum(r["params"] for r in rows) == s["params"]
    assert sum(r["macs"] for r in rows) == s["macs"]
    convs = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert sum(r["layers"] for r in rows) == len(convs)


def test_module_table_shapes_match_a_real_forward_pass():
    torch.manual_seed(0)
    model = torchvision.models.shufflenet_v2_x0_5(weights=None).eval()
    rows = {r["group"]: r["out_shape"] for r in eft.module_table(model, (3, 64, 64), eft.top_level)}
    x = torch.zeros(1, 3, 64, 64)
    with torch.no_grad():
        y1 = model.conv1(x)
        y2 = model.stage2(model.maxpool(y1))
        y3 = model.stage3(y2)
        y4 = model.stage4(y3)
        y5 = model.conv5(y4)
    assert rows["conv1"] == tuple(y1.shape[1:]) and rows["stage2"] == tuple(y2.shape[1:])
    assert rows["stage3"] == tuple(y3.shape[1:]) and rows["stage4"] == tuple(y4.shape[1:])
    assert rows["conv5"] == tuple(y5.shape[1:]) and rows["fc"] == (1000,)


def test_top_level_and_xception_flow():
    assert eft.top_level("bn1") == "conv1" and eft.top_level("block3.rep.1.conv1") == "block3"
    assert eft.top_level("global_pool.pool") == "pool" and eft.top_level("blocks.2.1.bn1") == "blocks"
    assert [eft.xception_flow(g) for g in ("conv1", "block3", "block4", "block11", "block12", "conv4", "fc")] == [
        "entry", "entry", "middle", "middle", "exit", "exit", "exit"]


def test_xception_table(nets):
    rows = eft.xception_table(nets["Xception"])
    assert [r["flow"] for r in rows].count("middle") == 8
    assert rows[0]["out_shape"] == (32, 149, 149) and rows[-1]["out_shape"] == (1000,)
    assert {r["out_shape"] for r in rows if r["flow"] == "middle"} == {(728, 19, 19)}
    assert sum(r["params"] for r in rows) == 22_855_952


def test_paper_table1(nets):
    rows = eft.paper_table1(nets["MobileNet v1"])
    assert len(rows) == 28
    assert rows[0] == {"type / stride": "Conv / s2", "filter shape": "3 x 3 x 3 x 32",
                       "input size": "224 x 224 x 3", "params": 864, "macs": 10_838_016}
    assert rows[1]["type / stride"] == "Conv dw / s1" and rows[1]["filter shape"] == "3 x 3 x 32 dw"
    assert rows[1]["input size"] == "112 x 112 x 32"
    assert rows[-1]["type / stride"] == "FC / s1" and rows[-1]["params"] == 1024 * 1000 + 1000
    # The same MACs as a real convolution of the listed shape.
    x = torch.zeros(1, 32, 112, 112)
    assert rows[1]["macs"] == flop_macs(lambda: F.conv2d(x, torch.zeros(32, 1, 3, 3), padding=1, groups=32))


def test_cost_by_kind_shares(nets):
    shares = eft.cost_by_kind(nets["MobileNet v1"])
    assert set(shares) == {"Conv 3x3", "Conv dw", "Conv 1x1", "FC"}
    assert math.isclose(sum(v["macs %"] for v in shares.values()), 100)
    assert math.isclose(sum(v["params %"] for v in shares.values()), 100)
    assert round(shares["Conv 1x1"]["macs %"], 2) == 94.86 and round(shares["FC"]["params %"], 2) == 24.33


def test_full_conv_cost_against_a_rebuilt_network():
    # A tiny stack: regular conv, dw + pw, dw(s2) + pw, pool, fc; replaced by full 3x3 convs.
    sep = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1, bias=False), nn.Conv2d(8, 8, 3, 1, 1, groups=8, bias=False),
                        nn.Conv2d(8, 16, 1, bias=False), nn.Conv2d(16, 16, 3, 2, 1, groups=16, bias=False),
                        nn.Conv2d(16, 32, 1, bias=False), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                        nn.Linear(32, 10))
    full = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1, bias=False), nn.Conv2d(8, 16, 3, 1, 1, bias=False),
                         nn.Conv2d(16, 32, 3, 2, 1, bias=False), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(32, 10))
    cost = eft.full_conv_cost(sep, (3, 32, 32))
    assert cost == {"params": lt.count_params(full), "macs": eft.count(full, (3, 32, 32))["macs"]}


def test_v2_settings_is_torchvisions_default():
    model = eft.build_torchvision("mobilenet_v2")
    assert eft.v2_settings(model) == [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2],
                                      [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1]]
    custom = [[1, 16, 1, 1], [4, 24, 3, 2], [6, 40, 2, 1]]
    small = at.on_meta(lambda: torchvision.models.MobileNetV2(inverted_residual_setting=custom))
    assert eft.v2_settings(small) == custom


def test_block_specs():
    assert eft.block_specs(MBInvertedResidual(16, 24, 2, 6)) == [
        ("1x1 conv", 96, "ReLU6"), ("3x3 depthwise", 96, "ReLU6"), ("1x1 conv", 24, "linear")]
    assert eft.block_specs(MBInvertedResidual(16, 16, 1, 1)) == [
        ("3x3 depthwise", 16, "ReLU6"), ("1x1 conv", 16, "linear")]
    assert eft.block_specs(ShuffleUnit(24, 48, 2).branch1) == [
        ("3x3 depthwise", 24, "linear"), ("1x1 conv", 24, "ReLU")]
    assert eft.block_specs(nn.Sequential(nn.Conv2d(3, 5, 3), nn.ReLU())) == [("3x3 conv", 5, "ReLU")]


def test_receptive_fields(nets):
    assert eft.receptive_fields(nets["MobileNet v1"]) == (28, 315)
    assert eft.receptive_fields(nets["VGG-16"]) == (16, 212)
    assert eft.receptive_fields(nets["GoogLeNet"])[0] == 22


def test_receptive_field_against_gradient():
    """A real MobileNet v2 prefix: positive weights, no ReLU6 clipping, the gradient's extent."""
    torch.manual_seed(0)
    prefix = torchvision.models.mobilenet_v2(weights=None).features[:5].double().eval()
    with torch.no_grad():
        for m in prefix.modules():
            if isinstance(m, nn.Conv2d):
                m.weight.fill_(0.01)
    depth, rf = eft.receptive_fields(prefix)
    assert depth == 1 + 2 + 3 * 3
    x = torch.ones(1, 3, 96, 96, dtype=D, requires_grad=True)
    y = prefix(x)
    y[0, 0, y.shape[-2] // 2, y.shape[-1] // 2].backward()
    assert lt.nonzero_extent(x.grad[0].abs().sum(0).numpy()) == (rf, rf)


# ---------------------------------------------------------------------------
# Cost arithmetic
# ---------------------------------------------------------------------------


@PROPERTY
@given(st.integers(1, 12), st.integers(1, 12), st.sampled_from([1, 3, 5]), st.integers(3, 9))
def test_standard_and_separable_cost_against_flop_counter(m, n, k, side):
    x = torch.zeros(1, m, side, side)
    std, sep = eft.standard_cost(m, n, k, side), eft.separable_cost(m, n, k, side)
    p = k // 2
    assert std["macs"] == flop_macs(lambda: F.conv2d(x, torch.zeros(n, m, k, k), padding=p))
    assert std["weights"] == nn.Conv2d(m, n, k, bias=False).weight.numel()
    dw = flop_macs(lambda: F.conv2d(x, torch.zeros(m, 1, k, k), padding=p, groups=m))
    pw = flop_macs(lambda: F.conv2d(x, torch.zeros(n, m, 1, 1)))
    assert (sep["depthwise_macs"], sep["pointwise_macs"], sep["macs"]) == (dw, pw, dw + pw)
    module = XceptionSepConv(m, n, k, padding=p)
    assert sep["weights"] == lt.count_params(module)
    assert Fraction(sep["macs"], std["macs"]) == eft.separable_ratio(n, k)


def test_separable_ratio():
    assert eft.separable_ratio(512, 3) == Fraction(521, 4608)
    assert 8 < 1 / float(eft.separable_ratio(128, 3)) < 9 < 1 / float(eft.separable_ratio(10**6, 3)) + 0.01


@PROPERTY
@given(st.integers(1, 6), st.integers(1, 6), st.sampled_from([1, 3, 5]), st.integers(0, 10))
def test_equivalent_kernel_equals_depthwise_then_pointwise(m, n, k, seed):
    x = rand(2, m, 9, 9, seed=seed)
    dw, pw = rand(m, 1, k, k, seed=seed + 1), rand(n, m, 1, 1, seed=seed + 2)
    two_steps = F.conv2d(F.conv2d(x, dw, padding=k // 2, groups=m), pw)
    w = zt.dws_equivalent_kernel(dw, pw)
    torch.testing.assert_close(F.conv2d(x, w, padding=k // 2), two_steps)


@pytest.mark.parametrize("c, m, h, g", [(240, 60, 28, 3), (272, 68, 14, 4), (64, 16, 8, 8)])
def test_unit_macs_against_flop_counter(c, m, h, g):
    x = torch.zeros(1, c, h, h)

    def run(*convs):
        return flop_macs(lambda: nn.Sequential(*convs)(x))

    with torch.device("meta"):
        x = x.to("meta")
        counted = {
            "ResNet": run(nn.Conv2d(c, m, 1), nn.Conv2d(m, m, 3, padding=1), nn.Conv2d(m, c, 1)),
            "ResNeXt": run(nn.Conv2d(c, m, 1), nn.Conv2d(m, m, 3, padding=1, groups=g),
                           nn.Conv2d(m, c, 1)),
            "ShuffleNet": run(nn.Conv2d(c, m, 1, groups=g), nn.Conv2d(m, m, 3, padding=1, groups=m),
                              nn.Conv2d(m, c, 1, groups=g)),
        }
    assert counted == eft.unit_macs(c, m, h, h, g)


@PROPERTY
@given(st.integers(1, 8), st.integers(1, 8), st.integers(1, 16), st.integers(1, 16),
       st.sampled_from([1, 2, 4]))
def test_memory_access_counts_reads_and_writes(h, w, c1, c2, g):
    c1, c2 = c1 * g, c2 * g
    conv = nn.Conv2d(c1, c2, 1, groups=g, bias=False)
    x = torch.zeros(1, c1, h, w)
    assert eft.memory_access(h, w, c1, c2, g) == x.numel() + conv(x).numel() + conv.weight.numel()
    assert eft.flops_1x1(h, w, c1, c2, g) == flop_macs(lambda: conv(x))
    # Ma et al.'s bound holds for every split of the channels, with equality at c1 = c2.
    assert eft.memory_access(h, w, c1, c2) >= eft.memory_access_bound(h, w, eft.flops_1x1(h, w, c1, c2)) - 1e-6
    assert math.isclose(eft.memory_access(h, w, c1, c1),
                        eft.memory_access_bound(h, w, eft.flops_1x1(h, w, c1, c1)))


def test_guideline_rows():
    g1, g2 = eft.g1_rows(), eft.g2_rows()
    assert [r["c1:c2"] for r in g1] == ["1:1", "1:2", "1:6", "1:12"]
    assert all(abs(r["macs"] / g1[0]["macs"] - 1) < 1e-3 for r in g1 + g2)
    assert [r["memory"] for r in g1] == sorted(r["memory"] for r in g1)
    assert [r["memory"] for r in g2] == sorted(r["memory"] for r in g2)
    assert g2[0]["channels"] == 128 and g2[2]["channels"] == 256


@pytest.mark.parametrize("channels, groups", [(12, 3), (12, 4), (8, 2), (16, 8), (6, 1)])
def test_shuffle_permutation_and_layer(channels, groups):
    perm = eft.shuffle_permutation(channels, groups)
    assert perm == [(i % groups) * (channels // groups) + i // groups for i in range(channels)]
    x = rand(2, channels, 3, 3)
    torch.testing.assert_close(eft.Shuffle(groups)(x), x[:, perm])
    torch.testing.assert_close(eft.Shuffle(groups)(x), channel_shuffle(x, groups))


@pytest.mark.parametrize("channels, groups", [(12, 3), (8, 2), (16, 4)])
def test_connectivity_of_grouped_stacks(channels, groups):
    per = channels // groups
    block = np.kron(np.eye(groups, dtype=bool), np.ones((per, per), dtype=bool))
    plain = eft.grouped_stack(channels, groups, shuffle=False)
    assert (eft.connectivity(plain, channels) == block).all()
    assert (eft.connectivity(plain[:1], channels) == block).all()       # one grouped conv alone
    assert eft.connectivity(eft.grouped_stack(channels, groups, shuffle=True), channels).all()
    # A dense 1x1 convolution connects everything.
    dense = nn.Conv2d(channels, channels, 1, bias=False).double()
    assert eft.connectivity(dense, channels).all()


def test_relu_manifold():
    res = eft.relu_manifold(dims=(2, 3, 15, 30), points=200)
    assert list(res) == [2, 3, 15, 30]
    assert res[2]["error"] > 0.3 and res[30]["error"] < 0.02
    assert res[2]["spiral"].shape == res[2]["recovered"].shape == (200, 2)
    # Deterministic.
    assert eft.relu_manifold(dims=(3,))[3]["error"] == eft.relu_manifold(dims=(3,))[3]["error"]


# ---------------------------------------------------------------------------
# Figures the notebook does not draw (tests/test_lectures.py checks the ones it draws)
# ---------------------------------------------------------------------------


def test_channel_shuffle_figure_measures_the_masks_itself():
    draws(eft.plot_channel_shuffle(8, 2))                          # masks not given


# ---------------------------------------------------------------------------
# The numbers the lecture quotes, checked here so that the notebook can read as a lecture
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def summary(nets):
    return {name: at.summary(model, eft.input_shape(name)) for name, model in nets.items()}


def test_lecture_parameter_counts(summary):
    assert summary["Xception"]["params"] == 22_855_952
    assert summary["MobileNet v1"]["params"] == 4_231_976
    assert summary["MobileNet v2"]["params"] == 3_504_872
    assert summary["ShuffleNet v2 1x"]["params"] == 2_278_604


def test_xception_is_chollets_table_1_and_3(nets):
    table1 = eft.CHOLLET_TABLE1
    assert max(table1, key=lambda n: table1[n][0]) == "Xception"
    assert eft.PAPER_TOP1["Xception"][0] == 100 * table1["Xception"][0]
    params = eft.CHOLLET_TABLE3_PARAMS
    assert lt.count_params(nets["Xception"]) == params["Xception"]       # timm's model: the paper's
    assert round(100 * (1 - params["Xception"] / params["Inception V3"]), 1) == 3.3


def test_towers_between_regular_and_depthwise():
    C = 728
    for g in (1, 4, 28, 728):
        assert lt.count_params(nn.Conv2d(C, C, 3, groups=g, bias=False, device="meta")) == 9 * C * C // g
    # One tower per channel: the grouped 3x3 *is* a depthwise convolution, 9 weights per channel.
    assert lt.count_params(nn.Conv2d(C, C, 3, groups=C, bias=False, device="meta")) == 9 * C == 6_552


def test_timm_separable_conv_is_a_rank_one_full_convolution():
    sep = XceptionSepConv(8, 12, kernel_size=3, padding=1).double()
    assert sep.conv1.groups == 8 and sep.conv1.weight.shape == (8, 1, 3, 3)
    assert sep.pointwise.weight.shape == (12, 8, 1, 1)
    assert [type(m) for m in sep.children()] == [nn.Conv2d, nn.Conv2d]     # no BN, no ReLU between
    x = rand(2, 8, 16, 16)
    W = zt.dws_equivalent_kernel(sep.conv1.weight, sep.pointwise.weight)
    assert W.shape == (12, 8, 3, 3)
    torch.testing.assert_close(sep(x), F.conv2d(x, W, padding=1))
    assert lt.count_params(sep) == 8 * 9 + 8 * 12 == 168
    assert lt.count_params(nn.Conv2d(8, 12, 3, padding=1, bias=False)) == 864
    # Each 3x3 kernel of W is a multiple of the depthwise kernel of its input channel: rank one.
    assert all(torch.linalg.matrix_rank(W[:, m].reshape(12, 9)) == 1 for m in range(8))


def test_separable_ratio_does_not_depend_on_the_input_channels(nets):
    for m in (3, 64):
        ratio = Fraction(eft.separable_cost(m, 32, 3, 112)["macs"], eft.standard_cost(m, 32, 3, 112)["macs"])
        assert ratio == eft.separable_ratio(32, 3)
    xception = nets["Xception"]
    assert xception.conv1.groups == xception.conv2.groups == 1
    assert nets["MobileNet v1"].conv_stem.groups == 1


def test_xception_flows(nets, summary):
    rows = eft.xception_table(nets["Xception"], (3, 299, 299))
    assert sum(r["params"] for r in rows) == summary["Xception"]["params"] == 22_855_952
    assert sum(r["macs"] for r in rows) == summary["Xception"]["macs"] == 8_357_403_496
    middle = [r for r in rows if r["flow"] == "middle"]
    assert len(middle) == 8 and len({r["params"] for r in middle}) == 1      # 8 identical blocks
    assert all(r["out_shape"] == (728, 19, 19) for r in middle)
    assert round(sum(r["params"] for r in middle) / summary["Xception"]["params"], 2) == 0.56


def test_xception_has_36_convolutional_layers_in_14_modules(nets):
    blocks = [m for m in nets["Xception"].modules() if isinstance(m, XceptionBlock)]
    seps = [m for m in nets["Xception"].modules() if isinstance(m, XceptionSepConv)]
    assert len(blocks) == 12 and len(seps) == 34 and 2 + len(seps) == 36
    assert 1 + len(blocks) + 1 == 14     # modules: (conv1, conv2), 12 blocks, (conv3, conv4)


def test_xception_is_keras_xception(nets, summary):
    xception = nets["Xception"]
    running = sum(b.numel() for n, b in xception.named_buffers() if "running_" in n)
    fc = lt.count_params(xception.fc)
    assert running == 54_528 and summary["Xception"]["params"] + running == 22_910_480
    assert fc == 2048 * 1000 + 1000 and summary["Xception"]["params"] + running - fc == 20_861_480
    s224 = eft.count(xception, (3, 224, 224))
    assert eft.xception_table(xception, (3, 224, 224))[-2]["out_shape"] == (2048, 7, 7)
    assert s224["macs"] == 4_552_879_072
    flowers = eft.build_timm("legacy_xception", num_classes=5)
    for n, p in flowers.named_parameters():
        p.requires_grad = n.startswith("fc.")
    trainable = sum(p.numel() for p in flowers.parameters() if p.requires_grad)
    assert trainable == 2048 * 5 + 5 == 10_245
    assert lt.count_params(flowers) == summary["Xception"]["params"] - fc + trainable


def test_xception_blocks():
    mid = XceptionBlock(16, 16, reps=3, strides=1).eval()
    x = torch.randn(2, 16, 8, 8, generator=torch.Generator().manual_seed(1))
    assert [type(m) for m in mid.rep] == [nn.ReLU, XceptionSepConv, nn.BatchNorm2d] * 3
    assert mid.skip is None and mid(x).shape == x.shape                      # identity shortcut
    with torch.no_grad():
        mid.rep[-1].weight.zero_()                                           # last BN outputs its bias (0)
    assert torch.equal(mid(x), x)                                            # the branch off: the identity
    entry = XceptionBlock(16, 32, reps=2, strides=2, start_with_relu=False)
    assert entry(x).shape == (2, 32, 4, 4) and isinstance(entry.rep[-1], nn.MaxPool2d)
    assert entry.skip.kernel_size == (1, 1) and entry.skip.stride == (2, 2)
    assert lt.count_params(XceptionBlock(728, 728, 3, 1)) == 3 * (728 * 9 + 728 * 728 + 2 * 728) == 1_613_976


def test_mobilenet_against_howard_table_8(summary):
    paper = eft.HOWARD_TABLE8
    assert round(summary["MobileNet v1"]["macs"] / 1e6) == paper["MobileNet v1"][1]
    assert round(summary["MobileNet v1"]["params"] / 1e6, 1) == paper["MobileNet v1"][2]
    assert abs(summary["VGG-16"]["macs"] / (paper["VGG-16"][1] * 1e6) - 1) < 0.012
    assert round(summary["VGG-16"]["params"] / 1e6) == paper["VGG-16"][2]
    assert abs(summary["GoogLeNet"]["macs"] / (paper["GoogLeNet"][1] * 1e6) - 1) < 0.04
    assert round(summary["VGG-16"]["macs"] / summary["MobileNet v1"]["macs"]) == 27
    assert round(summary["VGG-16"]["params"] / summary["MobileNet v1"]["params"]) == 33
    assert round(paper["VGG-16"][0] - paper["MobileNet v1"][0], 1) == 0.9


def test_separable_layer_of_the_14x14_stage_against_the_flop_counter(nets):
    M, N, K, DF = 512, 512, 3, 14
    with torch.device("meta"):
        x = torch.zeros(1, M, DF, DF)
        full = nn.Conv2d(M, N, K, padding=1, bias=False)
        dw, pw = nn.Conv2d(M, M, K, padding=1, groups=M, bias=False), nn.Conv2d(M, N, 1, bias=False)
        m_full, m_dw = flop_macs(lambda: full(x)), flop_macs(lambda: dw(x))
        m_pw = flop_macs(lambda: pw(dw(x))) - m_dw
    cost = eft.separable_cost(M, N, K, DF)
    assert m_full == eft.standard_cost(M, N, K, DF)["macs"] == K * K * M * N * DF * DF
    assert (m_dw, m_pw) == (cost["depthwise_macs"], cost["pointwise_macs"])
    ratio = Fraction(m_dw + m_pw, m_full)
    assert ratio == Fraction(1, N) + Fraction(1, K * K) == eft.separable_ratio(N, K)
    assert 8 < 1 / float(ratio) < 9
    # The same two layers in the real network: the first of the five 512 -> 512 separable layers.
    t1 = eft.paper_table1(nets["MobileNet v1"])
    assert t1[13]["filter shape"] == "3 x 3 x 512 dw" and (t1[13]["macs"], t1[14]["macs"]) == (m_dw, m_pw)


def test_mobilenet_cost_by_kind_is_howard_table_2_and_full_convs_table_4(nets, summary):
    shares = eft.cost_by_kind(nets["MobileNet v1"])
    for kind, (m_share, p_share) in eft.HOWARD_TABLE2.items():
        assert round(shares[kind]["macs %"], 2) == m_share and round(shares[kind]["params %"], 2) == p_share
    full = eft.full_conv_cost(nets["MobileNet v1"])
    assert round(full["macs"] / 1e6) == 4867 and round(full["params"] / 1e6, 1) == 29.3
    assert round(full["macs"] / summary["MobileNet v1"]["macs"], 1) == 8.6


def test_mobilenet_v1_as_table_1(nets, summary):
    m1 = nets["MobileNet v1"]
    t1 = eft.paper_table1(m1)
    assert len(t1) == 28 == summary["MobileNet v1"]["weight_layers"]
    assert sum(r["type / stride"].startswith("Conv dw") for r in t1) == 13
    assert sum(r["macs"] for r in t1) == summary["MobileNet v1"]["macs"] == 568_740_352
    assert t1[0]["filter shape"] == "3 x 3 x 3 x 32" and t1[-1]["filter shape"] == "1024 x 1000"
    bn = summary["MobileNet v1"]["params"] - sum(r["params"] for r in t1)
    assert bn == 2 * (32 + sum(c.out_channels for c in m1.modules()
                               if isinstance(c, nn.Conv2d) and c is not m1.conv_stem))


def test_mobilenet_multipliers_against_tables_6_and_7(nets, summary):
    widths = {}
    for alpha, (_, madds, params) in eft.HOWARD_TABLE6.items():
        s = eft.count(eft.mobilenet_v1(alpha), (3, 224, 224))
        assert abs(s["macs"] / 1e6 - madds) < 1 and round(s["params"] / 1e6, 1) == params
        widths[alpha] = s["macs"]
    for side, (_, madds) in eft.HOWARD_TABLE7.items():
        s = eft.count(nets["MobileNet v1"], (3, side, side))
        assert abs(s["macs"] / 1e6 - madds) < 1 and s["params"] == summary["MobileNet v1"]["params"]
    # The alpha^2 law: approximate overall.
    assert all(abs(m / widths[1.0] - alpha ** 2) < 0.025 for alpha, m in widths.items())
    m125 = eft.count(eft.build_timm("mobilenetv1_125"), (3, 224, 224))
    assert m125["params"] == 6_270_840
    assert abs(m125["macs"] / summary["MobileNet v1"]["macs"] - 1.25 ** 2) < 0.02


def test_mobilenet_v2_against_v1_and_torchvisions_metadata(nets, summary):
    s1, s2 = summary["MobileNet v1"], summary["MobileNet v2"]
    assert round(s2["macs"] / 1e6) == 301 and round(s2["macs"] / 1e8) == 3       # paper: 300 M
    assert round(s2["macs"] / s1["macs"], 2) == 0.53 and round(s2["params"] / s1["params"], 2) == 0.83
    m2 = nets["MobileNet v2"]
    bn = sum(p.numel() for m in m2.modules() if isinstance(m, nn.BatchNorm2d) for p in m.parameters())
    assert s2["params"] - bn == 3_470_760
    meta = torchvision.models.MobileNet_V2_Weights.IMAGENET1K_V1.meta
    assert meta["num_params"] == s2["params"] and round(s2["macs"] / 1e9, 3) == meta["_ops"] == 0.301


def test_mobilenet_v2_table(nets, summary):
    m2 = nets["MobileNet v2"]
    assert len([m for m in m2.modules() if isinstance(m, MBInvertedResidual)]) == 17
    rows = eft.module_table(m2, (3, 224, 224), lambda n: ".".join(n.split(".")[:2]))
    s2 = summary["MobileNet v2"]
    assert sum(r["params"] for r in rows) == s2["params"] and sum(r["macs"] for r in rows) == s2["macs"]
    assert [r["out_shape"][1] for r in rows[:-1]] == [112, 112, 56, 56, 28, 28, 28, 14, 14, 14, 14, 14,
                                                      14, 14, 7, 7, 7, 7, 7]
    assert round((rows[-2]["params"] + rows[-1]["params"]) / s2["params"], 2) == 0.48


def test_inverted_residual_narrow_wide_narrow_and_linear():
    torch.manual_seed(0)
    ir = MBInvertedResidual(24, 24, stride=1, expand_ratio=6).eval()
    assert ir.use_res_connect and isinstance(ir.conv[-1], nn.BatchNorm2d)       # ends with BN: linear
    x = torch.randn(2, 24, 8, 8, generator=torch.Generator().manual_seed(2))
    assert ir(x).shape == x.shape
    with torch.no_grad():
        ir.conv[-1].weight.zero_()
    assert torch.equal(ir(x), x)                                                 # branch off -> identity
    down = MBInvertedResidual(24, 32, stride=2, expand_ratio=6)
    assert not down.use_res_connect and down(x).shape == (2, 32, 4, 4)           # no shortcut
    # Weights of the block (no BN): expand 24*144, depthwise 144*9, project 144*24.
    assert sum(m.weight.numel() for m in ir.modules() if isinstance(m, nn.Conv2d)) == (
        24 * 144 + 144 * 9 + 144 * 24) == 8_208


def test_relu_manifold_of_the_lecture():
    res = eft.relu_manifold(dims=(2, 3, 5, 15, 30))
    assert all(res[n]["error"] > 0.3 for n in (2, 3, 5)) and all(res[n]["error"] < 0.02 for n in (15, 30))
    # Without the ReLU, nothing is lost in any dimension.
    spiral = res[2]["spiral"]
    T = np.random.default_rng(0).normal(size=(2, 2))
    assert np.allclose((spiral @ T.T) @ np.linalg.pinv(T).T, spiral)


def test_shufflenet_unit_costs_a_sixth_of_resnets():
    formula = eft.unit_macs(240, 60, 28, 28, 3)
    assert round(formula["ShuffleNet"] / formula["ResNet"], 2) == 0.17


def test_channel_shuffle_of_the_lecture():
    CH, G = 12, 3
    perm = eft.shuffle_permutation(CH, G)
    assert perm == [(i % G) * (CH // G) + i // G for i in range(CH)]        # reshape, transpose, flatten
    x = torch.arange(CH, dtype=torch.float32).view(1, CH, 1, 1)
    by_hand = x.view(1, G, CH // G, 1, 1).transpose(1, 2).reshape(1, CH, 1, 1)
    assert torch.equal(channel_shuffle(x, G), by_hand)
    assert channel_shuffle(x, G).flatten().long().tolist() == perm
    assert sorted(perm) == list(range(CH))                                  # a permutation: nothing lost
    no_shuffle = eft.connectivity(eft.grouped_stack(CH, G, shuffle=False), CH)
    with_shuffle = eft.connectivity(eft.grouped_stack(CH, G, shuffle=True), CH)
    assert no_shuffle.sum(1).max() == 4 and with_shuffle.sum(1).min() == 12


def test_guidelines_g1_and_g2_of_the_lecture():
    g1 = eft.g1_rows(56, 56, 128, ratios=(1, 2, 6, 12))
    g2 = eft.g2_rows(56, 56, 128, groups=(1, 2, 4, 8))
    assert all(abs(r["macs"] / g1[0]["macs"] - 1) < 0.001 for r in g1 + g2)            # the same MACs
    assert [r["memory"] for r in g1] == sorted(r["memory"] for r in g1)                # G1: 1:1 is best
    assert g1[0]["memory"] == eft.memory_access_bound(56, 56, g1[0]["macs"]) == 819_200  # the bound
    assert all(r["memory"] > eft.memory_access_bound(56, 56, r["macs"]) for r in g1[1:])
    assert [r["memory"] for r in g2] == sorted(r["memory"] for r in g2)                # G2
    assert round(g2[-1]["memory"] / g2[0]["memory"], 1) == 2.8


def test_guidelines_g3_and_g4(nets):
    t = torch.randn(1, 116, 28, 28)
    assert flop_macs(lambda: F.relu(t) + t) == 0                      # invisible to a MAC count
    inception = nets["GoogLeNet"].inception3a
    branches = [b for n, b in inception.named_children() if n.startswith("branch")]
    n_convs = lambda mod: sum(isinstance(m, nn.Conv2d) for m in mod.modules())  # noqa: E731
    assert len(branches) == 4 and n_convs(inception) == 6 and n_convs(ShuffleUnit(116, 116, 1)) == 3


def test_shufflenet_v2_unit_splits_and_shuffles():
    import inspect

    torch.manual_seed(0)
    unit = ShuffleUnit(16, 16, stride=1).eval()
    x = torch.randn(2, 16, 8, 8, generator=torch.Generator().manual_seed(3))
    y = unit(x)
    assert eft.block_specs(unit.branch2) == [("1x1 conv", 8, "ReLU"), ("3x3 depthwise", 8, "linear"),
                                             ("1x1 conv", 8, "ReLU")]
    assert len(unit.branch1) == 0                                   # stride 1: the other half is untouched
    assert torch.equal(y[:, 0::2], x[:, :8])
    assert torch.equal(channel_shuffle(torch.cat([x[:, :8], unit.branch2(x[:, 8:])], 1), 2), y)
    down = ShuffleUnit(16, 32, stride=2)
    assert down(x).shape == (2, 32, 4, 4) and len(down.branch1) > 0   # both branches, channels double
    src = inspect.getsource(ShuffleUnit.forward)
    assert "torch.cat" in src and "channel_shuffle(out, 2)" in src


def test_shufflenet_v2_as_table_5(nets, summary):
    s2net = nets["ShuffleNet v2 1x"]
    rows = eft.module_table(s2net, (3, 224, 224), eft.top_level)
    assert [r["out_shape"][0] for r in rows[:-1]] == [24, 116, 232, 464, 1024]
    assert [r["out_shape"][1] for r in rows[:-1]] == [112, 28, 14, 7, 7]
    assert [len(getattr(s2net, f"stage{i}")) for i in (2, 3, 4)] == [4, 8, 4]
    assert sum(r["params"] for r in rows) == summary["ShuffleNet v2 1x"]["params"]
    assert sum(r["macs"] for r in rows) == summary["ShuffleNet v2 1x"]["macs"] == 144_907_992
    half = eft.count(eft.build_torchvision("shufflenet_v2_x0_5"), (3, 224, 224))
    for s, (madds, params) in zip((summary["ShuffleNet v2 1x"], half), eft.SHUFFLENET_V2_COST.values()):
        assert abs(s["macs"] / 1e6 / madds - 1) < 0.015 and round(s["params"] / 1e6, 1) == params


def test_side_by_side(nets, summary):
    names = list(nets)
    rows = {name: dict(zip(("depth", "RF"), eft.receptive_fields(nets[name]))) for name in names}
    assert [rows[n]["depth"] for n in names] == [71, 28, 53, 51, 16, 22, 50]
    assert [rows[n]["RF"] for n in names] == [1083, 315, 491, 527, 212, 379, 427]
    assert 2 + 2 * 34 + 1 == rows["Xception"]["depth"]         # 2 regular convs, 34 separable, fc
    top1 = {n: eft.PAPER_TOP1[n][0] for n in names}
    for n in ("MobileNet v1", "MobileNet v2", "ShuffleNet v2 1x"):
        assert summary[n]["macs"] < summary["GoogLeNet"]["macs"] / 2 and abs(top1[n] - top1["VGG-16"]) < 2.5
    assert round(summary["VGG-16"]["macs"] / summary["ShuffleNet v2 1x"]["macs"]) == 107


def test_faithfulness_notes(nets, summary):
    import inspect

    xception, m1, m2 = nets["Xception"], nets["MobileNet v1"], nets["MobileNet v2"]
    # 1. Xception
    assert "legacy_xception" in timm.list_models("*xception*") and xception.drop_rate == 0.0
    assert xception.conv1.padding == (0, 0) and xception.pretrained_cfg["input_size"] == (3, 299, 299)
    assert xception.pretrained_cfg["mean"] == xception.pretrained_cfg["std"] == (0.5, 0.5, 0.5)
    assert all(list(m.children()) == [m.conv1, m.pointwise] for m in xception.modules()
               if isinstance(m, XceptionSepConv))
    blocks = [m for m in xception.modules() if isinstance(m, XceptionBlock)]
    bns_after = [b.rep[i + 1] for b in blocks for i, mod in enumerate(b.rep)
                 if isinstance(mod, XceptionSepConv)]
    assert len(bns_after) == 32 and all(isinstance(b, nn.BatchNorm2d) for b in bns_after)
    # 2. MobileNet v1
    assert {type(m).__name__ for m in m1.modules() if isinstance(m, (nn.ReLU, nn.ReLU6))} == {"ReLU6"}
    assert {m.eps for m in m1.modules() if isinstance(m, nn.BatchNorm2d)} == {1e-5}
    last_dw = [m for m in m1.modules() if isinstance(m, nn.Conv2d) and m.groups > 1][-1]
    t1 = eft.paper_table1(m1)
    assert last_dw.stride == (1, 1) and t1[-3]["input size"] == "7 x 7 x 1024"
    assert t1[-3]["type / stride"] == "Conv dw / s1"
    assert m1.pretrained_cfg["tag"].startswith("ra4")          # timm's own training recipe
    # 3. MobileNet v2
    blocks_v2 = [m for m in m2.modules() if isinstance(m, MBInvertedResidual)]
    acts = {type(m) for b in blocks_v2 for m in b.modules() if isinstance(m, (nn.ReLU, nn.ReLU6))}
    assert acts == {nn.ReLU6}
    assert {(m.eps, m.momentum) for m in m2.modules() if isinstance(m, nn.BatchNorm2d)} == {(1e-5, 0.1)}
    assert len(blocks_v2[0].conv) == 3 and blocks_v2[0].conv[0][0].groups == 32      # t = 1: dw, project, BN
    assert isinstance(m2.classifier[0], nn.Dropout) and m2.classifier[0].p == 0.2
    assert m2.features[-1][0].out_channels == 1280
    assert round(summary["MobileNet v2"]["params"] / 1e6, 1) == 3.5
    # 4. ShuffleNet v2
    assert eft.block_specs(nets["ShuffleNet v2 1x"].stage2[1].branch2)[1] == ("3x3 depthwise", 58, "linear")
    assert "x.chunk(2, dim=1)" in inspect.getsource(ShuffleUnit.forward)


def test_self_check_answers():
    assert eft.separable_cost(728, 728, 3, 1)["weights"] == 536_536
    assert eft.standard_cost(728, 728, 3, 1)["weights"] == 4_769_856
    assert round(float(eft.separable_ratio(728, 3)), 4) == 0.1125
    assert round(0.25 * 569) == 142
    assert round(eft.count(eft.mobilenet_v1(0.5), (3, 224, 224))["macs"] / 1e6, 1) == 149.5
    specs = eft.block_specs(MBInvertedResidual(24, 24, stride=1, expand_ratio=6))
    assert specs[1] == ("3x3 depthwise", 144, "ReLU6") and specs[2][2] == "linear"
