"""Tests for Lecture 6, "VGG and GoogLeNet": every helper in
``lectures/vgg_googlenet_tools.py`` (and the graph walk of ``lectures/arch_tools.py`` it
uses) against PyTorch and torchvision, and every number the notebook prints or quotes (the
section of the lecture is named in each test's docstring or heading).
(``tests/test_lectures.py`` executes the notebook and checks its figures.)

Run from the repository root:  python -m pytest tests/test_lecture_vgg_googlenet.py -q
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import torchvision  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402
from torchvision.models.googlenet import Inception  # noqa: E402
from torchvision.models.vgg import cfgs  # noqa: E402

from grader.models import AlexNetPaper, googlenet_small, vgg_small  # noqa: E402
from lectures import arch_tools as at  # noqa: E402
from lectures import lecture_tools as lt  # noqa: E402
from lectures import vgg_googlenet_tools as vgt  # noqa: E402

# Deterministic property tests: the same examples on every run and machine.
PROPERTY = settings(derandomize=True, database=None, deadline=None, max_examples=30)
IMAGE = (3, 224, 224)


pytestmark = pytest.mark.usefixtures("one_thread")  # see tests/conftest.py


@pytest.fixture(scope="module")
def vgg16_rows():
    """Section 1.2's table of VGG-16 (with receptive fields) and its summary."""
    model = vgt.vgg("vgg16")
    return vgt.add_receptive_fields(at.layer_table(model, IMAGE), model), at.summary(model, IMAGE)


@pytest.fixture(scope="module")
def goog():
    """torchvision's GoogLeNet on the meta device and its summary (Part 2)."""
    model = vgt.googlenet()
    return model, at.summary(model, IMAGE)


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
    # Section 1.2: the paper's Table 2 in millions; batch norm's scale and shift per channel;
    # 11 -> 19 layers: 8% more parameters, more than twice the MACs.
    params = {name: r["params"] for name, r in rows.items()}
    assert [round(params[n] / 1e6) for n in vgt.VGG_CONFIGS] == [133, 133, 138, 144]
    assert params["vgg16_bn"] - params["vgg16"] == 2 * sum(v for v in cfgs["D"] if v != "M") == 8_448
    assert {r["GMACs"] for name, r in rows.items() if name.startswith("vgg16")} == {15.47}
    assert round(params["vgg19"] / params["vgg11"] - 1, 2) == 0.08
    assert rows["vgg19"]["macs"] / rows["vgg11"]["macs"] > 2


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
    """Part 3: VGG-16's conv5_3 sees 196 pixels (212 after the last pool), GoogLeNet's
    inception 5b 379 (715 with the paper's filters and pool); by formula and by gradient."""
    for model, prefix, r in [(vgt.vgg("vgg16"), "features.28", 196),
                             (vgt.vgg("vgg16"), "features.30", 212),
                             (vgt.googlenet(), "inception5b", 379),
                             (vgt.googlenet_paper(), "inception5b", 715)]:
        walk = vgt.receptive_field_at(model, prefix)
        assert walk["r"] == r == lt.receptive_field(walk["path"])[-1][0]
        assert lt.receptive_field(walk["path"])[-1] == (walk["r"], walk["j"])
    for model, prefix, r in [(vgt.vgg("vgg16"), "features.28", 196),
                             (vgt.googlenet(), "inception5b", 379)]:
        walk = vgt.receptive_field_at(model, prefix)
        assert lt.nonzero_extent(lt.receptive_field_by_gradient(walk["path"])) == (r, r)
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
        assert widths == (args[1], args[3], args[5], args[6])
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
    # Section 4.2: torchvision's "5x5" branch is a 3x3; the paper's 5x5 filters give 7,005,832.
    assert all(getattr(g, n).branch3[1].conv.kernel_size == (3, 3) for n in vgt.INCEPTIONS)
    assert lt.count_params(vgt.googlenet_paper(pool4_3x3=False)) == 7_005_832
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
# The notebook's numbers, Part 1: VGG
# ---------------------------------------------------------------------------


def test_vgg_layout_of_s3_and_s4():
    """Section 1.1: VGG-16's five stages of 2-3 convolutions, 64 to 512 channels; 13 and 16
    convolutions, 16 and 19 weight layers; two hidden layers of 4096 and the output layer."""
    stages = vgt.cfg_stages(cfgs["D"])
    assert [len(s) for s in stages] == [2, 2, 3, 3, 3]
    assert [s[0] for s in stages] == [64, 128, 256, 512, 512]
    assert vgt.cfg_convs(cfgs["D"]) == 13 and vgt.cfg_convs(cfgs["E"]) == 16
    vgg16 = vgt.vgg("vgg16")
    assert at.depth(vgg16) == 16 and at.depth(vgt.vgg("vgg19")) == 19
    assert [m.out_features for m in vgg16.classifier if isinstance(m, nn.Linear)] == [4096, 4096, 1000]
    assert vgt.TOP5["vgg16"] == 7.32 and vgt.TOP5["alexnet"] == 16.43


def test_vgg16_table_totals(vgg16_rows):
    """Section 1.2: 138,357,544 parameters and 15,470,264,320 MACs, row by row."""
    rows, summary = vgg16_rows
    assert sum(r["params"] for r in rows) == summary["params"] == 138_357_544
    assert sum(r["macs"] for r in rows) == summary["macs"] == 15_470_264_320
    assert rows[-1]["out_shape"] == (1000,)


def test_vgg16_second_convolutions_cost_the_same(vgg16_rows):
    """Section 1.2: the second convolution of stages 1-4 costs 224^2 * 64 * 64 * 9 MACs; stage
    5's convolutions a quarter of that."""
    by_name = {r["layer"]: r for r in vgg16_rows[0]}
    assert len({by_name[n]["macs"] for n in ["features.2", "features.7", "features.12",
                                              "features.19"]}) == 1
    assert by_name["features.2"]["macs"] == lt.conv_macs(64, 64, 3, 224, 224) == 1_849_688_064
    assert by_name["features.24"]["macs"] == by_name["features.2"]["macs"] // 4


def test_vgg16_where_costs_live(vgg16_rows):
    """Section 1.2: 74% of the parameters in the first linear layer, 89% in the three, 99% of
    the MACs in the convolutions; 528 MiB of float32 weights."""
    rows, summary = vgg16_rows
    fc1 = {r["layer"]: r for r in rows}["classifier.0"]
    assert fc1["params"] == lt.linear_params(512 * 7 * 7, 4096) == 25_088 * 4096 + 4096 == 102_764_544
    assert round(fc1["params"] / summary["params"], 4) == 0.7427
    shares = vgt.cost_shares(rows)
    assert round(shares["Linear params"], 3) == 0.894 and round(shares["Conv2d macs"], 3) == 0.992
    assert round(summary["params"] * 4 / 2 ** 20) == 528


@pytest.mark.parametrize("n_layers, big", [(2, 5), (3, 7)])
def test_stacked_3x3_receptive_fields(n_layers, big):
    """Section 1.3: two 3x3 layers see 5x5, three see 7x7, as one big filter does."""
    stack = [(3,)] * n_layers
    r, jump = lt.receptive_field(stack)[-1]
    assert r == big
    assert lt.nonzero_extent(lt.receptive_field_by_gradient(stack)) == (big, big)
    assert lt.receptive_field([(big,)])[-1] == (r, jump)


@pytest.mark.parametrize("C", [1, 64, 256])
def test_stacked_3x3_weights(C):
    """Section 1.3: 27 C^2 weights against 49 C^2 ([S4]'s 27 vs 49 for C = 1); 45% and 28%
    saved."""
    stack = nn.Sequential(*[nn.Conv2d(C, C, 3, padding=1, bias=False) for _ in range(3)])
    big = nn.Conv2d(C, C, 7, padding=3, bias=False)
    assert lt.count_params(stack) == 3 * lt.conv_params(C, C, 3, bias=False) == 27 * C * C
    assert lt.count_params(big) == lt.conv_params(C, C, 7, bias=False) == 49 * C * C
    assert round(1 - 27 / 49, 2) == 0.45 and round(1 - 18 / 25, 2) == 0.28


def test_linear_stack_is_one_7x7_filter():
    """Section 1.3: three 3x3 filters without ReLUs are one 7x7 filter (their full
    convolution); with ReLUs in between they are not "one 7x7 filter, then a ReLU"."""
    g = torch.Generator().manual_seed(0)
    k1, k2, k3 = torch.randn(3, 3, 3, generator=g, dtype=torch.float64)
    x = torch.randn(1, 1, 20, 20, generator=g, dtype=torch.float64)
    chain, relu_chain = x, x
    for k in (k1, k2, k3):
        chain = F.conv2d(chain, k[None, None])
        relu_chain = F.relu(F.conv2d(relu_chain, k[None, None]))
    k7 = F.conv_transpose2d(F.conv_transpose2d(k1[None, None], k2[None, None]), k3[None, None])
    assert k7.shape == (1, 1, 7, 7)
    torch.testing.assert_close(chain, F.conv2d(x, k7))
    assert not torch.allclose(relu_chain, F.relu(F.conv2d(x, k7)))


# ---------------------------------------------------------------------------
# The notebook's numbers, Part 2: GoogLeNet
# ---------------------------------------------------------------------------


def test_googlenet_context_numbers(goog):
    """Section 2.1: 6,624,904 parameters, 1.5 GMACs, 22 layers deep (3 + 2 x 9 + 1; 58 weight
    layers over all branches), 6.67% top-5; AlexNet has 9.2x the parameters, not 12x."""
    model, summary = goog
    assert summary["params"] == 6_624_904 and summary["macs"] == 1_498_376_192
    assert round(summary["macs"] / 1e9, 1) == 1.5
    assert at.depth(model) == 22 == 3 + 2 * len(vgt.INCEPTIONS) + 1
    assert summary["weight_layers"] == 58 == 57 + 1
    assert vgt.TOP5["googlenet"] == 6.67
    alex_tv = at.count_params(at.on_meta(lambda: torchvision.models.alexnet(weights=None)))
    alex_paper = at.count_params(at.on_meta(AlexNetPaper))
    assert round(alex_tv / summary["params"], 2) == 9.22
    assert round(alex_paper / summary["params"], 2) == 9.20


def test_googlenet_block_table_numbers(goog):
    """Section 2.2: 129 layers, one row per block adding up to the totals, depth 22, and the
    output depths of the nine Inception modules."""
    model, summary = goog
    assert len(at.layer_table(model, IMAGE)) == 129
    rows = vgt.block_table(model, IMAGE)
    assert sum(r["params"] for r in rows) == summary["params"] == 6_624_904
    assert sum(r["macs"] for r in rows) == summary["macs"]
    assert rows[-1]["depth"] == 22 and rows[-1]["out_shape"] == (1000,)
    assert [r["out_shape"][0] for r in rows if r["type"] == "Inception"] == \
        [256, 480, 512, 512, 512, 528, 832, 832, 1024]


def test_inception_3a_rows_and_the_classifiers(goog, vgg16_rows):
    """Section 2.2: inception (3a) has 155,872 parameters in six convolutions (and their batch
    norms); VGG-16's classifier 123,642,856, GoogLeNet's 1,025,000."""
    model, _ = goog
    rows = [r for r in at.layer_table(model, IMAGE) if r["layer"].startswith("inception3a.")]
    assert sum(r["params"] for r in rows) == at.count_params(model.inception3a) == 155_872
    assert [r["type"] for r in rows].count("Conv2d") == 6
    assert sum(r["params"] for r in vgg16_rows[0] if r["type"] == "Linear") == 123_642_856
    assert at.count_params(model.fc) == 1_025_000


def test_inception_3a_variants(goog):
    """Section 2.3: naive 387,072 weights, paper 163,328 (128M MACs, the paper's Table 1),
    torchvision 155,136; the 5x5 branch 153,600 directly, 15,872 through the bottleneck."""
    model, _ = goog
    variants = [(vgt.NaiveInception(192, 64, 128, 32), vgt.naive_weights(192, 64, 128, 32), 416),
                (vgt.with_true_5x5(model.inception3a),
                 vgt.inception_weights(192, 64, 96, 128, 16, 32, 32), 256),
                (model.inception3a, vgt.inception_weights(192, 64, 96, 128, 16, 32, 32, k5=3), 256)]
    weights = []
    for block, formula, out_channels in variants:
        block = block.to("meta")
        assert at.conv_weights(block) == formula
        assert at.summary(block, (192, 28, 28))["macs"] == formula * 28 * 28
        assert sum(vgt.branch_channels(block)) == out_channels
        weights.append(formula)
    assert weights == [387_072, 163_328, 155_136]
    assert round(weights[1] * 28 * 28 / 1e6) == 128
    five_direct, five_reduced = 192 * 32 * 25, 192 * 16 + 16 * 32 * 25
    assert (five_direct, five_reduced) == (153_600, 15_872)
    assert round(five_direct / five_reduced, 1) == 9.7


def test_naive_googlenet_depth_and_cost(goog):
    """Section 2.3: naive modules grow the depth from 192 to 4,944 channels (torchvision's end
    at 1,024); the network would have 15x the parameters and 8.4x the MACs."""
    model, summary = goog
    widths = [vgt.inception_args(getattr(model, n)) for n in vgt.INCEPTIONS]
    naive_depth = vgt.naive_depths(192, [(w[1], w[3], w[5]) for w in widths])
    real_depth = [sum(vgt.branch_channels(getattr(model, n))) for n in vgt.INCEPTIONS]
    assert naive_depth[0] == 416 and naive_depth[-1] == 4_944 and real_depth[-1] == 1024
    assert all(b > a for a, b in zip([192] + naive_depth, naive_depth))
    naive = at.summary(vgt.googlenet_naive(), IMAGE)
    assert naive["params"] == 97_531_080 and naive["macs"] == 12_568_061_056
    assert round(naive["macs"] / summary["macs"], 1) == 8.4
    assert round(naive["params"] / summary["params"]) == 15


# ---------------------------------------------------------------------------
# The notebook's numbers, Parts 3 to 5 and the self-check
# ---------------------------------------------------------------------------


def test_vgg16_against_googlenet_ratios(goog, vgg16_rows):
    """Part 3: VGG-16 has 20.9 times GoogLeNet's parameters and 10.3 times its MACs."""
    vgg, g = vgg16_rows[1], goog[1]
    assert round(vgg["params"] / g["params"], 1) == 20.9
    assert round(vgg["macs"] / g["macs"], 1) == 10.3


def test_vgg_batchnorm_lrn_and_input_size():
    """Section 4.1: 13 batch norms in vgg16_bn, none in vgg16, no LRN anywhere; adaptive
    pooling to 7x7 makes 32x32 the smallest input, and 31x31 is refused."""
    vgg16 = vgt.vgg("vgg16")
    bns = [m for m in vgt.vgg("vgg16_bn").modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(bns) == 13 and not any(isinstance(m, nn.BatchNorm2d) for m in vgg16.modules())
    assert not any(isinstance(m, nn.LocalResponseNorm)
                   for r in vgt.VGG_CONFIGS for m in vgt.vgg(r).modules())
    assert vgg16.avgpool.output_size == (7, 7)
    smallest = vgt.smallest_input(lambda: torchvision.models.vgg16(weights=None), range(8, 225))
    with torch.no_grad():
        maps = vgg16.features(torch.zeros(1, 3, 32, 32, device="meta"))
        logits = vgg16(torch.zeros(1, 3, 32, 32, device="meta"))
        assert smallest == 32 == 2 ** 5 and maps.shape[1:] == (512, 1, 1)
        assert logits.shape[1:] == (1000,)
        with pytest.raises(RuntimeError):
            vgg16(torch.zeros(1, 3, 31, 31, device="meta"))


def test_googlenet_batchnorm_and_the_papers_count(goog):
    """Section 4.2: 57 convolutions without bias, each with a batch norm (eps 0.001); with the
    paper's biases instead, 6,998,552 parameters, 8.7x fewer than the 2012 AlexNet."""
    model, _ = goog
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(convs) == len(bns) == 57 and all(c.bias is None for c in convs)
    assert {b.eps for b in bns} == {0.001}
    paper = vgt.googlenet_paper(five_by_five=True, pool4_3x3=False)
    bn = sum(m.weight.numel() + m.bias.numel() for m in paper.modules()
             if isinstance(m, nn.BatchNorm2d))
    bias = sum(m.out_channels for m in paper.modules() if isinstance(m, nn.Conv2d))
    paper_params = at.count_params(paper) - bn + bias
    assert paper_params == 6_998_552
    assert round(at.count_params(at.on_meta(AlexNetPaper)) / paper_params, 1) == 8.7


def test_googlenet_aux_heads(goog):
    """Section 4.2: the two auxiliary heads add 6,379,984 parameters, by formula."""
    def aux_params(c_in):   # BasicConv2d (no bias, BN 2 per channel) + fc1 + fc2
        return c_in * 128 + 2 * 128 + lt.linear_params(2048, 1024) + lt.linear_params(1024, 1000)

    with_aux = at.count_params(vgt.googlenet(aux_logits=True))
    assert with_aux == 13_004_888
    assert with_aux - goog[1]["params"] == aux_params(512) + aux_params(528) == 6_379_984


def test_googlenet_smaller_differences(goog):
    """Section 4.2: no LRN (which has no parameters anyway), a 2x2 pool before (5a) that gives
    7x7 maps as the paper's 3x3 does (receptive field 379 against 395), dropout 0.2 and an
    adaptive average pool."""
    model, _ = goog
    assert not any(isinstance(m, nn.LocalResponseNorm) for m in model.modules())
    assert lt.count_params(nn.LocalResponseNorm(5)) == 0
    assert model.maxpool4.kernel_size == 2 and model.maxpool4.stride == 2
    pool3 = vgt.googlenet_paper(five_by_five=False, pool4_3x3=True)
    with torch.no_grad():
        shapes = [m.maxpool4(torch.zeros(1, 832, 14, 14, device="meta")).shape[2:]
                  for m in (model, pool3)]
    assert shapes[0] == shapes[1] == (7, 7)
    assert vgt.receptive_field_at(pool3, "inception5b")["r"] == 395
    assert model.dropout.p == 0.2 and model.avgpool.output_size == (1, 1)


def test_small_variants_train_on_ten_digits():
    """Part 5: on ten digits, one of each class, every Adam step lowers the loss of vgg_small
    (5 steps) and googlenet_small (4), by more than 20% in all."""
    x, y = at.digits_batch(10, size=32, standardize=True)
    assert x.shape == (10, 1, 32, 32) and sorted(y.tolist()) == list(range(10))
    for build, steps in ((lambda: vgg_small(in_channels=1), 5),
                         (lambda: googlenet_small(in_channels=1), 4)):
        losses = at.train_steps(build, x, y, steps=steps)
        assert losses[-1] < 0.8 * losses[0]
        assert all(b < a for a, b in zip(losses, losses[1:]))


def test_self_check_answers(goog, vgg16_rows):
    """The self-check's answers: 1,769,472 against 3,211,264 weights; inception (4a) outputs
    512 channels; 153,600 against 15,872; 16 pixels after VGG's first two stages."""
    model, _ = goog
    assert (27 * 256 ** 2, 49 * 256 ** 2) == (1_769_472, 3_211_264)
    assert sum(vgt.branch_channels(model.inception4a)) == 192 + 208 + 48 + 64 == 512
    assert vgt.inception_args(model.inception4a) == (480, 192, 96, 208, 16, 48, 64)
    assert (192 * 32 * 25, 192 * 16 + 16 * 32 * 25) == (153_600, 15_872)
    two_stages = [(3,), (3,), ("pool", 2, 2), (3,), (3,), ("pool", 2, 2)]
    assert lt.receptive_field(two_stages)[-1] == (16, 4)
    assert {r["layer"]: r for r in vgg16_rows[0]}["features.9"]["rf"] == 16


# ---------------------------------------------------------------------------
# Constants
# ---------------------------------------------------------------------------


def test_constants():
    assert vgt.TOP5 == {"alexnet": 16.43, "vgg16": 7.32, "googlenet": 6.67}
    assert set(vgt.VGG_CONFIGS.values()) <= set(cfgs)
    g = vgt.googlenet()
    assert [n for n, m in g.named_children() if isinstance(m, Inception)] == list(vgt.INCEPTIONS)
