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
