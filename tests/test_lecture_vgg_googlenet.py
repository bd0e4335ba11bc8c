"""Tests for Lecture 6, "VGG and GoogLeNet": every helper in
``lectures/vgg_googlenet_tools.py`` (and the graph walk of ``lectures/arch_tools.py`` it
uses) against PyTorch and torchvision. (``tests/test_lectures.py`` executes the notebook and
checks its figures.)

Run from the repository root:  python -m pytest tests/test_lecture_vgg_googlenet.py -q
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torchvision  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402
from torchvision.models.googlenet import Inception  # noqa: E402
from torchvision.models.vgg import cfgs  # noqa: E402

from grader.models import googlenet_small, vgg_small  # noqa: E402
from lectures import arch_tools as at  # noqa: E402
from lectures import lecture_tools as lt  # noqa: E402
from lectures import vgg_googlenet_tools as vgt  # noqa: E402

# Deterministic property tests: the same examples on every run and machine.
PROPERTY = settings(derandomize=True, database=None, deadline=None, max_examples=30)
IMAGE = (3, 224, 224)


pytestmark = pytest.mark.usefixtures("one_thread")  # see tests/conftest.py


def macs(module, input_shape) -> int:
    """PyTorch's own count for one input (module on any device)."""
    device = next(module.parameters()).device
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        module.eval()(torch.zeros(1, *input_shape, device=device))
    return counter.get_total_flops() // 2


# ---------------------------------------------------------------------------
# VGG
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("letter", sorted(cfgs))
def test_cfg_helpers(letter):
    cfg = cfgs[letter]
    stages = vgt.cfg_stages(cfg)
    assert len(stages) == cfg.count("M") == 5
    assert sum(len(s) for s in stages) == vgt.cfg_convs(cfg)
    assert [v for s in stages for v in s] == [v for v in cfg if v != "M"]
    # torchvision's own model has exactly that many convolutions.
    name = {v: k for k, v in vgt.VGG_CONFIGS.items()}[letter]
    convs = [m for m in vgt.vgg(name).modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == vgt.cfg_convs(cfg) and all(c.kernel_size == (3, 3) for c in convs)


def test_vgg_family_against_torchvision_and_hand_counts():
    rows = {r["model"]: r for r in vgt.vgg_family()}
    assert len(rows) == 8
    expected = {"vgg11": 132_863_336, "vgg16": 138_357_544, "vgg19": 143_667_240,
                "vgg16_bn": 138_365_992}
    for name, n in expected.items():
        assert rows[name]["params"] == n
    for name, r in rows.items():
        model = vgt.vgg(name)
        assert r["params"] == lt.count_params(model)
        assert r["macs"] == macs(model, IMAGE)
        assert r["weight_layers"] == r["convs"] + 3 == at.depth(model)
    # MACs by hand for VGG-16: every 3x3 conv at its map size, then the three linear layers.
    side, c_in, total = 224, 3, 0
    for v in cfgs["D"]:
        if v == "M":
            side //= 2
        else:
            total += lt.conv_macs(c_in, v, 3, side, side)
            c_in = v
    total += lt.linear_macs(25088, 4096) + lt.linear_macs(4096, 4096) + lt.linear_macs(4096, 1000)
    assert rows["vgg16"]["macs"] == total == 15_470_264_320


def test_cost_shares():
    rows = at.layer_table(vgt.vgg("vgg16"), IMAGE)
    shares = vgt.cost_shares(rows)
    assert shares["Conv2d params"] + shares["Linear params"] == pytest.approx(1)
    assert shares["Conv2d macs"] + shares["Linear macs"] == pytest.approx(1)
    linear = sum(lt.linear_params(i, o) for i, o in [(25088, 4096), (4096, 4096), (4096, 1000)])
    assert shares["Linear params"] == pytest.approx(linear / 138_357_544)


def test_smallest_input():
    assert vgt.smallest_input(lambda: torchvision.models.vgg16(weights=None), range(8, 64)) == 32
    # A 5x5 conv needs 5 pixels, then a 2x2 pool needs 2 outputs: 6.
    toy = lambda: nn.Sequential(nn.Conv2d(3, 1, 5), nn.MaxPool2d(2))  # noqa: E731
    assert vgt.smallest_input(toy, range(1, 20)) == 6
    assert vgt.smallest_input(toy, range(1, 6)) is None


# ---------------------------------------------------------------------------
# Depth and receptive field
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name, depth", [("vgg11", 11), ("vgg16", 16), ("vgg19_bn", 19),
                                         ("alexnet", 8), ("resnet18", 18), ("resnet50", 50)])
def test_depth_counts_weight_layers_on_the_longest_path(name, depth):
    model = at.on_meta(lambda: getattr(torchvision.models, name)(weights=None))
    assert at.depth(model) == depth


def test_googlenet_depth_and_counts():
    g = vgt.googlenet()
    assert at.depth(g) == 22
    assert lt.count_params(g) == 6_624_904
    assert lt.count_params(vgt.googlenet(aux_logits=True)) == 13_004_888
    assert g.aux1 is None and next(g.parameters()).device.type == "meta"


STACKS = [
    [(3,)] * 3,
    [(3,), (3,), ("pool", 2, 2), (3,), (3,), ("pool", 2, 2)],
    [(7, 2), ("pool", 3, 2), (1,), (3,)],
    [(3, 1, 2), (3, 2), (5,)],
]


def _module(stack):
    layers = []
    for layer in stack:
        kind, k, s, d = lt.as_layer(layer)
        layers.append(nn.MaxPool2d(k, s) if kind == "pool" else
                      nn.Conv2d(1, 1, k, s, padding=d * (k // 2), dilation=d))
    return nn.Sequential(*layers)


@pytest.mark.parametrize("stack", STACKS, ids=str)
def test_graph_walk_matches_the_chain_formula_and_gradients(stack):
    model = _module(stack)
    r, j = lt.receptive_field(stack)[-1]
    walk = vgt.receptive_field_at(model, str(len(stack) - 1))
    assert (walk["r"], walk["j"]) == (r, j) and walk["path"] == [
        ("pool", *lt.as_layer(x)[1:3]) if lt.as_layer(x)[0] == "pool" else lt.as_layer(x)[1:]
        for x in stack]
    grad = vgt.receptive_field_by_model_gradient(model, str(len(stack) - 1), 4 * r + 8)
    assert lt.nonzero_extent(grad) == (r, r)


def test_inception_receptive_field_takes_the_widest_branch():
    block = Inception(4, 2, 2, 3, 2, 3, 2)
    assert vgt.receptive_field_at(block, "branch2")["r"] == 3     # 1x1 then 3x3
    assert vgt.receptive_field_at(block, "branch4")["r"] == 3     # 3x3 pool then 1x1
    five = vgt.with_true_5x5(block)
    for b, r in [(block, 3), (five, 5)]:
        walk = at.graph_walk(b)
        assert max(v["r"] for v in walk.values()) == r
        assert max(v["depth"] for v in walk.values()) == 2
        grad = vgt.receptive_field_by_model_gradient(b, "branch3", 15)
        assert lt.nonzero_extent(grad) == (r, r)


def test_full_size_receptive_fields_by_path_gradient():
    for model, prefix, r in [(vgt.vgg("vgg16"), "features.28", 196),
                             (vgt.vgg("vgg16"), "features.30", 212),
                             (vgt.googlenet(), "inception5b", 379),
                             (vgt.googlenet_paper(), "inception5b", 715)]:
        walk = vgt.receptive_field_at(model, prefix)
        assert walk["r"] == r == lt.receptive_field(walk["path"])[-1][0]
    walk = vgt.receptive_field_at(vgt.googlenet(), "inception5b")
    assert lt.nonzero_extent(lt.receptive_field_by_gradient(walk["path"])) == (379, 379)
    with pytest.raises(KeyError):
        vgt.receptive_field_at(vgt.googlenet(), "nope")


@pytest.mark.parametrize("build, prefix, r", [
    (vgg_small, "0.17", 32), (googlenet_small, "4", 13), (googlenet_small, "1", 5)])
def test_small_models_formula_vs_backpropagation(build, prefix, r):
    model = build()
    assert vgt.receptive_field_at(model, prefix)["r"] == r
    assert lt.nonzero_extent(vgt.receptive_field_by_model_gradient(model, prefix, 48)) == (r, r)
    # The measurement works on a copy: the model keeps its max pools and weights.
    assert any(isinstance(m, nn.MaxPool2d) for m in model.modules())


def test_add_receptive_fields_follows_the_cfg():
    model = vgt.vgg("vgg11")
    rows = vgt.add_receptive_fields(at.layer_table(model, IMAGE), model)
    stack = [("pool", 2, 2) if v == "M" else (3,) for v in cfgs["A"]]
    assert [r["rf"] for r in rows if r["rf"] != "-"] == [r for r, _ in lt.receptive_field(stack)]
    assert all(r["rf"] == "-" for r in rows if r["type"] in ("Linear", "AdaptiveAvgPool2d"))


def test_block_table():
    g = vgt.googlenet()
    rows = vgt.block_table(g, IMAGE)
    assert sum(r["params"] for r in rows) == lt.count_params(g)
    assert sum(r["macs"] for r in rows) == macs(g, IMAGE) == 1_498_376_192
    assert [r["depth"] for r in rows][-1] == 22 and rows[-1]["rf"] == "image"
    # Output shapes: run the children one after another by hand.
    x = torch.zeros(1, *IMAGE, device="meta")
    shapes = {}
    with torch.no_grad():
        for name, child in g.named_children():
            if name == "fc":
                x = torch.flatten(x, 1)
            x = child(x)
            shapes[name] = tuple(x.shape[1:])
    assert {r["block"]: r["out_shape"] for r in rows} == {
        k: v for k, v in shapes.items() if k != "dropout"}
    small = vgt.block_table(vgg_small(), (3, 32, 32))
    assert [r["block"] for r in small] == ["0", "1", "4"] and small[-1]["out_shape"] == (10,)


# ---------------------------------------------------------------------------
# Inception
# ---------------------------------------------------------------------------


def test_inception_args_and_branch_channels_on_all_modules():
    g = vgt.googlenet()
    for name in vgt.INCEPTIONS:
        block = getattr(g, name)
        args = vgt.inception_args(block)
        rebuilt = Inception(*args)
        assert lt.count_params(rebuilt) == lt.count_params(block)
        widths = vgt.branch_channels(block)
        x = torch.zeros(1, args[0], 7, 7, device="meta")
        with torch.no_grad():
            assert block(x).shape[1] == sum(widths) == args[1] + args[3] + args[5] + args[6]


@given(c_in=st.integers(1, 12), a=st.integers(1, 6), b=st.integers(1, 6), c=st.integers(1, 6),
       d=st.integers(1, 6), e=st.integers(1, 6), f=st.integers(1, 6))
@PROPERTY
def test_inception_weight_formulas(c_in, a, b, c, d, e, f):
    block = Inception(c_in, a, b, c, d, e, f)
    assert at.conv_weights(block) == vgt.inception_weights(c_in, a, b, c, d, e, f, k5=3)
    five = vgt.with_true_5x5(block)
    assert at.conv_weights(five) == vgt.inception_weights(c_in, a, b, c, d, e, f, k5=5)
    # BatchNorm: 2 per output channel of every conv; no conv biases.
    bn = 2 * sum(m.out_channels for m in block.modules() if isinstance(m, nn.Conv2d))
    assert lt.count_params(block) == at.conv_weights(block) + bn
    naive = vgt.NaiveInception(c_in, a, c, e)
    assert at.conv_weights(naive) == vgt.naive_weights(c_in, a, c, e)
    assert vgt.branch_channels(naive) == (a, c, e, c_in)
    x = torch.zeros(1, c_in, 6, 6)
    with torch.no_grad():
        assert five(x).shape == block(x).shape == (1, a + c + e + f, 6, 6)
        assert naive(x).shape == (1, c_in + a + c + e, 6, 6)
    assert macs(naive, (c_in, 6, 6)) == 36 * vgt.naive_weights(c_in, a, c, e)
    assert macs(five, (c_in, 6, 6)) == 36 * at.conv_weights(five)


def test_inception_3a_numbers():
    g = vgt.googlenet()
    assert vgt.inception_args(g.inception3a) == (192, 64, 96, 128, 16, 32, 32)
    assert vgt.naive_weights(192, 64, 128, 32) == 387_072
    assert vgt.inception_weights(192, 64, 96, 128, 16, 32, 32) == 163_328
    assert at.conv_weights(g.inception3a) == 155_136
    # with_true_5x5 copies: the original keeps its 3x3.
    five = vgt.with_true_5x5(g.inception3a)
    assert g.inception3a.branch3[1].conv.kernel_size == (3, 3)
    assert five.branch3[1].conv.kernel_size == (5, 5) and five.branch3[1].conv.padding == (2, 2)
    assert next(five.parameters()).device.type == "meta"


def test_googlenet_paper_variants():
    g = vgt.googlenet()
    extra = sum(a[4] * a[5] * 16 for a in (vgt.inception_args(getattr(g, n)) for n in vgt.INCEPTIONS))
    paper = vgt.googlenet_paper()
    assert lt.count_params(paper) - lt.count_params(g) == extra == 380_928
    assert paper.maxpool4.kernel_size == 3 and g.maxpool4.kernel_size == 2
    only_pool = vgt.googlenet_paper(five_by_five=False)
    assert lt.count_params(only_pool) == lt.count_params(g)
    with torch.no_grad():
        assert paper(torch.zeros(1, *IMAGE, device="meta")).shape == (1, 1000)
    assert macs(paper, IMAGE) == 1_582_671_872


def test_naive_depths_stack_and_network():
    blocks = [(64, 128, 32), (128, 192, 96)]
    assert vgt.naive_depths(192, blocks) == [416, 832]
    stack = vgt.naive_stack(192, blocks)
    with torch.no_grad():
        assert stack(torch.zeros(1, 192, 5, 5)).shape[1] == 832
    assert at.conv_weights(stack) == (vgt.naive_weights(192, *blocks[0])
                                       + vgt.naive_weights(416, *blocks[1]))
    net = vgt.googlenet_naive()
    g = vgt.googlenet()
    widths = [vgt.inception_args(getattr(g, n)) for n in vgt.INCEPTIONS]
    depths = vgt.naive_depths(192, [(w[1], w[3], w[5]) for w in widths])
    assert net.fc.in_features == depths[-1] == 4_944
    with torch.no_grad():
        assert net(torch.zeros(1, *IMAGE, device="meta")).shape == (1, 1000)
    assert lt.count_params(net) == 97_531_080


# ---------------------------------------------------------------------------
# Constants
# ---------------------------------------------------------------------------


def test_constants():
    assert vgt.TOP5 == {"alexnet": 16.43, "vgg16": 7.32, "googlenet": 6.67}
    assert set(vgt.VGG_CONFIGS.values()) <= set(cfgs)
    g = vgt.googlenet()
    assert [n for n, m in g.named_children() if isinstance(m, Inception)] == list(vgt.INCEPTIONS)
