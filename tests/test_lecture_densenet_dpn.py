"""Tests for ``lectures/densenet_dpn_tools.py`` (Lecture 8, DenseNet and DPN): every table,
formula and measurement against torchvision and timm, and the figures that the notebook does
not draw (``tests/test_lectures.py`` executes the notebook and checks its figures).

Run from the repository root:  python -m pytest tests/test_lecture_densenet_dpn.py -q
"""

from __future__ import annotations

from collections import OrderedDict

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import torchvision  # noqa: E402
from timm.models import dpn as timm_dpn  # noqa: E402
from torchvision.models import densenet as tv_densenet  # noqa: E402

from lectures import arch_tools as at  # noqa: E402
from lectures import densenet_dpn_tools as ddt  # noqa: E402
from lectures import lecture_tools as lt  # noqa: E402
from lectures import resnet_tools as rt  # noqa: E402
from tests.test_lectures import draws  # noqa: E402

D = torch.float64
INPUT = (3, 224, 224)


@pytest.fixture(scope="module")
def nets():
    return OrderedDict((name, ddt.build(name)) for name in ddt.MODELS)


def rand(*shape, seed=0, dtype=D):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


# ---------------------------------------------------------------------------
# Building and describing the models
# ---------------------------------------------------------------------------


def test_build_on_meta_with_the_reference_counts(nets):
    assert [lt.count_params(m) for m in nets.values()] == [7_978_856, 12_611_602, 25_557_032]
    assert all(p.is_meta for m in nets.values() for p in m.parameters())
    assert isinstance(nets["DenseNet-121"], torchvision.models.DenseNet)
    assert isinstance(nets["DPN-68"], timm_dpn.DPN)
    assert lt.count_params(ddt.build("dpn92")) == 37_668_392
    assert lt.count_params(ddt.build("densenet121", num_classes=10)) == 7_978_856 - 1024 * 990 - 990


def test_build_cpu_is_seeded_and_in_training_mode():
    a, b = ddt.build_cpu("dpn68", seed=3), ddt.build_cpu("dpn68", seed=3)
    assert a.training and not next(a.parameters()).is_meta
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


@pytest.mark.parametrize("name", ["DenseNet-121", "ResNet-50", "DPN-68"])
def test_layer_table_counts_every_parameter(nets, name):
    """timm's fused BatchNormAct2d (BatchNorm with its ReLU as a child) is a row too."""
    rows = ddt.layer_table(nets[name], INPUT)
    assert sum(r["params"] for r in rows) == lt.count_params(nets[name])
    fused = [m for m in nets[name].modules() if type(m).__name__ == "BatchNormAct2d"]
    assert sum(r["type"] == "BatchNormAct2d" for r in rows) == len(fused)
    if name == "DPN-68":
        assert sum(map(lt.count_params, fused)) == 65_116 and len(fused) > 0


@pytest.mark.parametrize("name", ["DenseNet-121", "DPN-68"])
def test_block_table_adds_up(nets, name):
    model = nets[name]
    rows = ddt.block_table(model, INPUT)
    s = at.summary(model, INPUT)
    assert sum(r["params"] for r in rows) == s["params"]
    assert sum(r["macs"] for r in rows) == s["macs"]
    assert [r["layer"] for r in rows][-1] in ("classifier", "flatten")


def test_block_table_shapes_match_a_real_forward():
    torch.manual_seed(0)
    model = torchvision.models.DenseNet(growth_rate=4, block_config=(2, 3), num_init_features=8,
                                        bn_size=2, num_classes=5).eval()
    rows = ddt.block_table(model, (3, 32, 32))
    shapes, x = {}, torch.zeros(1, 3, 32, 32)
    for name, m in model.features.named_children():
        x = m(x)
        shapes[name] = tuple(x.shape[1:])
    assert {r["layer"]: r["out_shape"] for r in rows if r["layer"] in shapes} == shapes
    assert shapes["denseblock2"] == ((8 + 2 * 4) // 2 + 3 * 4, 4, 4)


@pytest.mark.parametrize("name", ["DenseNet-121", "ResNet-50"])
def test_summary_is_arch_tools_summary(nets, name):
    assert ddt.summary(nets[name], INPUT) == at.summary(nets[name], INPUT)


def test_summary_leaves_dpn_projections_out(nets):
    s, shared = ddt.summary(nets["DPN-68"], INPUT), at.summary(nets["DPN-68"], INPUT)
    assert s["weight_layers"] == 68 == shared["weight_layers"] - 4
    assert (s["params"], s["macs"]) == (shared["params"], shared["macs"]) == (12_611_602, 2_326_163_456)


def test_receptive_fields(nets):
    rfs = [lt.receptive_field(ddt.main_path(m))[-1] for m in nets.values()]
    assert rfs == [(2071, 32), (615, 32), (427, 32)]
    # ResNet-50 agrees with Lecture 7's helper.
    assert ddt.main_path(nets["ResNet-50"]) == rt.main_path(nets["ResNet-50"])


def test_main_path_receptive_field_against_gradient():
    """A tiny DenseNet with positive weights (every ReLU passes) and average pooling in place
    of the stem's max pool: the input gradient of one output pixel is nonzero exactly on its
    receptive field, so the longest path does run through every dense layer."""
    torch.manual_seed(0)
    model = torchvision.models.DenseNet(growth_rate=2, block_config=(2, 2), num_init_features=4,
                                        bn_size=2, num_classes=3).double().eval()
    model.features.pool0 = nn.AvgPool2d(3, 2, 1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                m.weight.abs_().add_(0.01)
    r = lt.receptive_field(ddt.main_path(model))[-1][0]
    # stem 7/2, pool 3/2, two 3x3 at jump 4, avg pool 2/2, two 3x3 at jump 8
    assert r == 7 + 2 * 2 + 2 * 8 + 4 + 2 * 16 == 63
    x = (torch.rand(1, 3, 128, 128, dtype=D, generator=torch.Generator().manual_seed(0)) + 0.1)
    x.requires_grad_(True)
    y = model.features(x)
    c = y.shape[-1] // 2
    # The last channel is the last dense layer's output: the longest path.
    (g_last,) = torch.autograd.grad(y[0, -1, c, c], x, retain_graph=True)
    assert lt.nonzero_extent(g_last[0].abs().sum(0).numpy()) == (r, r)
    # The first channel is the block's input passed through: it stops after the transition.
    (g_first,) = torch.autograd.grad(y[0, 0, c, c], x)
    r_transition = lt.receptive_field(ddt.main_path(model)[:-4])[-1][0]
    assert lt.nonzero_extent(g_first[0].abs().sum(0).numpy()) == (r_transition, r_transition) == (31, 31)


@pytest.mark.parametrize("name", ["densenet121", "densenet161"])
def test_build_has_torchvisions_parameter_count(name):
    meta = torchvision.models.get_model_weights(name)["IMAGENET1K_V1"].meta
    assert meta["num_params"] == lt.count_params(ddt.build(name))


# ---------------------------------------------------------------------------
# DenseNet
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("layers, c0, bn_size, k", [(6, 64, 4, 32), (3, 5, 2, 7), (1, 16, 1, 4)])
def test_dense_layers_against_torchvision(layers, c0, bn_size, k):
    block = tv_densenet._DenseBlock(layers, c0, bn_size, k, 0.0)
    rows = ddt.dense_layers(block)
    assert [r["in"] for r in rows] == [c0 + i * k for i in range(layers)]
    assert all(r["bottleneck"] == bn_size * k and r["new"] == k for r in rows)
    with torch.no_grad():
        y = block.eval()(torch.zeros(1, c0, 4, 4))
    assert y.shape[1] == rows[-1]["after"] == c0 + layers * k


def test_densenet_layout(nets):
    rows = ddt.densenet_layout(nets["DenseNet-121"])
    assert [(r["module"], r["layers"], r["in"], r["out"]) for r in rows] == [
        ("denseblock1", 6, 64, 256), ("transition1", 1, 256, 128), ("denseblock2", 12, 128, 512),
        ("transition2", 1, 512, 256), ("denseblock3", 24, 256, 1024), ("transition3", 1, 1024, 512),
        ("denseblock4", 16, 512, 1024)]
    assert [r["theta"] for r in rows if r["module"].startswith("transition")] == [0.5] * 3


@pytest.mark.parametrize("name", list(ddt.DENSENETS))
def test_densenet_params_formula(name):
    k, init, blocks = ddt.DENSENETS[name]
    model = ddt.build(name)
    assert ddt.densenet_params(k, blocks, init) == lt.count_params(model)
    assert (model.features.conv0.out_channels, model.features.denseblock1.denselayer1.conv2.out_channels) == (init, k)
    assert [len(getattr(model.features, f"denseblock{i + 1}")) for i in range(4)] == list(blocks)


def test_densenet_params_formula_other_settings():
    model = at.on_meta(lambda: torchvision.models.DenseNet(12, (3, 5, 2), 24, bn_size=2, num_classes=10))
    assert ddt.densenet_params(12, (3, 5, 2), 24, bn_size=2, num_classes=10) == lt.count_params(model)


@pytest.mark.parametrize("layers", [1, 2, 5, 6])
def test_dense_connectivity_is_lower_triangular(layers):
    torch.manual_seed(layers)
    block = tv_densenet._DenseBlock(layers, 6, 2, 3, 0.0)
    conn = ddt.dense_connectivity(block)
    assert conn.shape == (layers, layers + 1) and conn.sum() == layers * (layers + 1) // 2
    assert np.array_equal(conn, np.tril(np.ones((layers, layers + 1), dtype=bool)))
    assert block.training and next(block.parameters()).dtype == torch.float32   # restored


def test_dense_connectivity_sees_a_cut_connection():
    """Zero the weights with which layer 3 reads x_0: the matrix must show the cut."""
    torch.manual_seed(0)
    block = tv_densenet._DenseBlock(4, 6, 2, 3, 0.0)
    with torch.no_grad():
        block.denselayer3.conv1.weight[:, :6].zero_()
    conn = ddt.dense_connectivity(block)
    assert not conn[2, 0] and conn[2, 1] and conn[2, 2]
    assert conn.sum() == 10 - 1


def test_set_memory_efficient():
    model = ddt.build("densenet121")
    layers = [m for m in model.modules() if isinstance(m, tv_densenet._DenseLayer)]
    assert not any(l.memory_efficient for l in layers)
    assert ddt.set_memory_efficient(model, True) is model and all(l.memory_efficient for l in layers)
    ddt.set_memory_efficient(model, False)
    assert not any(l.memory_efficient for l in layers)


# ---------------------------------------------------------------------------
# Memory
# ---------------------------------------------------------------------------


def test_saved_activations_on_a_known_stack():
    """Conv saves its input, BN its input (the conv output), ReLU (not in place) its output."""
    torch.manual_seed(0)
    stack = nn.Sequential(nn.Conv2d(3, 5, 3, padding=1), nn.BatchNorm2d(5), nn.ReLU()).train()
    x = rand(2, 3, 6, 6, dtype=torch.float32)
    assert ddt.saved_activations(stack, x) == 2 * 6 * 6 * (3 + 5 + 5)
    with torch.no_grad():
        assert ddt.saved_activations(stack, x) == 0           # nothing is saved without autograd
    # An in-place ReLU overwrites BN's output and saves it; BN saved its input: still 3 storages.
    stack[2].inplace = True
    assert ddt.saved_activations(stack, x) == 2 * 6 * 6 * (3 + 5 + 5)


@pytest.mark.parametrize("c0, k, layers, bn_size", [(64, 32, 6, 4), (8, 4, 5, 2), (16, 12, 3, 4),
                                                    (10, 6, 1, 1)])
@pytest.mark.parametrize("efficient", [False, True])
def test_dense_block_saved_formula(c0, k, layers, bn_size, efficient):
    torch.manual_seed(0)
    block = tv_densenet._DenseBlock(layers, c0, bn_size, k, 0.0, memory_efficient=efficient).train()
    x = rand(2, c0, 4, 4, dtype=torch.float32).requires_grad_()
    assert ddt.saved_activations(block, x) == 2 * 16 * ddt.dense_block_saved(c0, k, layers, bn_size, efficient)


def test_memory_efficient_gives_the_same_output_and_gradients():
    torch.manual_seed(0)
    block = tv_densenet._DenseBlock(3, 8, 2, 4, 0.0).double().train()
    x = rand(2, 8, 5, 5).requires_grad_()
    results = []
    for on in (False, True):
        ddt.set_memory_efficient(block, on)
        out = block(x)
        grads = torch.autograd.grad(out.square().sum(), [x] + list(block.parameters()))
        results.append((out.detach(), grads))
    torch.testing.assert_close(results[0][0], results[1][0])
    for a, b in zip(results[0][1], results[1][1]):
        torch.testing.assert_close(a, b)


def test_memory_curves():
    curves = ddt.memory_curves(max_layers=5, step=2)
    assert curves["convs"] == [1, 3, 5]
    assert curves["dense block"] == [ddt.dense_block_saved(64, 32, n) for n in (1, 3, 5)]
    assert curves["dense block, memory_efficient"] == [ddt.dense_block_saved(64, 32, n, memory_efficient=True)
                                                       for n in (1, 3, 5)]
    # Bottlenecks on 256 channels: x, then 4 x 64 + 2 x 256 per unit (the next unit reads the output).
    assert curves["residual stage (bottlenecks, 256 channels)"] == [1024 + 768 * (n - 1) for n in (1, 3, 5)]


def test_network_saved_scales_with_the_area():
    torch.manual_seed(0)
    model = ddt.build_cpu("resnet50")
    assert ddt.network_saved(model, size=32) == ddt.network_saved(model, size=64) == 21_274_624
    dn = ddt.build_cpu("densenet121")
    assert ddt.network_saved(dn, size=32) == ddt.network_saved(dn, size=64) == 32_388_608
    assert ddt.network_saved(ddt.set_memory_efficient(dn, True)) == 15_521_632
    assert ddt.network_saved(ddt.build_cpu("dpn68")) == 23_786_560


# ---------------------------------------------------------------------------
# DPN
# ---------------------------------------------------------------------------


def test_dpn_blocks_against_the_forward_pass(nets):
    dpn = nets["DPN-68"]
    rows = ddt.dpn_blocks(dpn)
    shapes = {r["layer"]: r["out_shape"] for r in ddt.block_table(dpn, INPUT)}
    assert [r["out"] for r in rows] == [shapes[r["block"]][0] for r in rows]
    assert [r["type"] for r in rows] == (["proj", "normal", "normal"] + ["down"] + ["normal"] * 3
                                         + ["down"] + ["normal"] * 11 + ["down", "normal", "normal"])
    assert [r["out"] for r in rows if r["block"] in ("conv2_3", "conv3_4", "conv4_12", "conv5_3")] == [
        144, 320, 704, 832]
    assert all(r["groups"] == 32 for r in rows)
    assert [r["stride"] for r in rows if r["type"] != "normal"] == [1, 2, 2, 2]


@pytest.mark.parametrize("name", ["dpn68", "dpn92", "dpn98"])
def test_dpn_block_params_formula(name):
    model = ddt.build(name)
    blocks = [m for m in model.modules() if isinstance(m, timm_dpn.DualPathBlock)]
    for b in blocks:
        assert lt.count_params(b) == ddt.dpn_block_params(
            b.c1x1_a.bn.num_features, b.c1x1_a.conv.out_channels, b.num_1x1_c, b.inc,
            b.c3x3_b.conv.groups, b.has_proj)


@pytest.mark.parametrize("kind, c_in", [("normal", 112), ("proj", 10), ("down", 144)])
def test_dual_path_parts_rebuild_the_block(kind, c_in):
    torch.manual_seed(0)
    block = timm_dpn.DualPathBlock(c_in, 32, 32, 16, inc=8, groups=4, block_type=kind).double().eval()
    assert ddt.block_type(block) == kind
    x = rand(2, c_in, 8, 8)
    with torch.no_grad():
        y = block(x)
        parts = ddt.dual_path_parts(block, x)
    torch.testing.assert_close(y, torch.cat([parts["residual"], parts["dense_old"], parts["dense_new"]], 1))
    assert parts["dense_new"].shape[1] == 8
    if kind == "normal":
        assert torch.equal(parts["shortcut"], x)
        torch.testing.assert_close(y[:, :16], x[:, :16] + parts["branch"][:, :16])
        assert torch.equal(y[:, 16:c_in], x[:, 16:]) and y.shape[1] == c_in + 8
    else:
        assert parts["dense_old"].shape[1] == 2 * 8
        assert y.shape[-1] == (4 if kind == "down" else 8)


def test_timm_dpn68_ends_with_relu_and_a_conv_classifier():
    """The lecture's faithfulness notes: timm 1.0.31 declares an ELU but builds a ReLU."""
    import inspect

    torch.manual_seed(0)
    model = ddt.build_cpu("dpn68").eval()
    assert inspect.signature(timm_dpn.DPN).parameters["fc_act_layer"].default == "elu"
    assert isinstance(model.features.conv5_bn_ac.bn.act, nn.ReLU)
    assert isinstance(model.classifier, nn.Conv2d) and model.classifier.kernel_size == (1, 1)
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        feats = model.forward_features(x)
        logits = F.linear(feats.mean((2, 3)), model.classifier.weight.flatten(1), model.classifier.bias)
        torch.testing.assert_close(model(x), logits)
    assert feats.min() >= 0


# ---------------------------------------------------------------------------
# Figures the notebook does not draw (tests/test_lectures.py checks the ones it draws)
# ---------------------------------------------------------------------------


def test_dense_block_figure_measures_the_connections_itself():
    torch.manual_seed(0)
    draws(ddt.plot_dense_block(tv_densenet._DenseBlock(4, 16, 2, 8, 0.0)))   # conn not given



@pytest.mark.parametrize("name", ["DenseNet-121", "DPN-68"])
def test_describe_is_summary_and_block_table(nets, name):
    s, rows = ddt.describe(nets[name], INPUT)
    assert s == ddt.summary(nets[name], INPUT)
    assert rows == ddt.block_table(nets[name], INPUT)


# ---------------------------------------------------------------------------
# The numbers the lecture quotes, checked here so that the notebook can read as a lecture
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def described(nets):
    """What the notebook's first cell computes: per-network totals, and per-block rows."""
    summary, blocks = {}, {}
    for name in ("DenseNet-121", "DPN-68"):
        summary[name], blocks[name] = ddt.describe(nets[name], INPUT)
    summary["ResNet-50"] = ddt.summary(nets["ResNet-50"], INPUT)
    return summary, blocks


@pytest.fixture(scope="module")
def saved():
    """The activations each network keeps for one 224x224 training image (Section 1.4)."""
    torch.manual_seed(0)
    dn = ddt.build_cpu("densenet121")
    out = {"DenseNet-121": ddt.network_saved(dn),
           "DenseNet-121, memory_efficient": ddt.network_saved(ddt.set_memory_efficient(dn, True)),
           "DPN-68": ddt.network_saved(ddt.build_cpu("dpn68")),
           "ResNet-50": ddt.network_saved(ddt.build_cpu("resnet50"))}
    return out


def test_summaries_have_the_reference_counts(described):
    summary, _ = described
    assert [summary[n]["params"] for n in ("DenseNet-121", "DPN-68", "ResNet-50")] == [
        7_978_856, 12_611_602, 25_557_032]   # torchvision densenet121, timm dpn68, torchvision resnet50


def test_densenet_errors_fall_with_depth_and_with_ten_crops():
    top5 = [v[1][0] for v in ddt.DENSENET_ERRORS.values()]
    assert top5 == sorted(top5, reverse=True)
    assert all(v[0][1] < v[0][0] and v[1][1] < v[1][0] for v in ddt.DENSENET_ERRORS.values())
    assert ddt.TOP5["DenseNet-121"][0] == ddt.DENSENET_ERRORS["DenseNet-121"][1][0]


def test_densenet121_matches_resnet50_with_a_third_of_the_parameters(described):
    summary, _ = described
    assert abs(ddt.DENSENET_ERRORS["DenseNet-121"][1][1] - ddt.TOP5["ResNet-50"][0]) < 0.1
    assert round(summary["ResNet-50"]["params"] / summary["DenseNet-121"]["params"], 1) == 3.2
    tv_top5 = {name: at.top5_error(name) for name in ("densenet121", "densenet161", "resnet50")}
    assert tv_top5 == {"densenet121": 8.028, "densenet161": 6.44, "resnet50": 7.138}


#: each network's whole-model counts, and the output shape of the last block of each stage
BLOCK_TABLES = {
    "DenseNet-121": (7_978_856, 2_834_161_664, {
        "denseblock1": (256, 56, 56), "denseblock2": (512, 28, 28),
        "denseblock3": (1024, 14, 14), "denseblock4": (1024, 7, 7)}),
    "DPN-68": (12_611_602, 2_326_163_456, {
        "conv2_3": (144, 56, 56), "conv3_4": (320, 28, 28), "conv4_12": (704, 14, 14),
        "conv5_3": (832, 7, 7)}),
}


@pytest.mark.parametrize("net", BLOCK_TABLES)
def test_block_table_totals_and_shapes(described, net):
    summary, blocks = described
    params, macs, shapes = BLOCK_TABLES[net]
    assert (summary[net]["params"], summary[net]["macs"]) == (params, macs)  # the rows add up:
    by_name = {r["layer"]: r for r in blocks[net]}                           # test_block_table_adds_up
    assert {layer: by_name[layer]["out_shape"] for layer in shapes} == shapes
    # torchvision's metadata agrees with the count and with the MACs (which it calls GFLOPS).
    meta = torchvision.models.get_model_weights("densenet121")["IMAGENET1K_V1"].meta
    assert meta["num_params"] == 7_978_856
    assert round(summary["DenseNet-121"]["macs"] / 1e9, 3) == meta["_ops"]


def test_densenet121_layout_grows_by_k_and_halves_in_transitions(nets):
    layout = ddt.densenet_layout(nets["DenseNet-121"])
    for r in layout:
        if r["module"].startswith("denseblock"):
            assert r["out"] == r["in"] + r["layers"] * 32
        else:
            assert r["out"] == r["in"] // 2 and r["theta"] == 0.5


def test_densenet121_parameters_sit_late_and_macs_early(nets, described):
    summary, blocks = described
    by_name = {r["layer"]: r for r in blocks["DenseNet-121"]}
    total = summary["DenseNet-121"]
    assert round(by_name["classifier"]["params"] / total["params"], 3) == 0.128
    assert round(by_name["denseblock1"]["macs"] / total["macs"], 2) == 0.37
    assert round(by_name["denseblock3"]["params"] / 1e6, 1) == 2.8
    assert round(by_name["classifier"]["params"] / 1e6, 1) == 1.0
    dn = nets["DenseNet-121"]
    biggest = max((m for m in dn.modules() if isinstance(m, nn.Conv2d)), key=lambda m: m.weight.numel())
    assert biggest is dn.features.transition3.conv and biggest.kernel_size == (1, 1)
    assert biggest.weight.numel() == 1024 * 512


def test_densenet121_has_120_convolutions_and_121_weight_layers(nets, described):
    convs = [m for m in nets["DenseNet-121"].modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 1 + 2 * (6 + 12 + 24 + 16) + 3 == 120
    assert len(convs) + 1 == 121 == described[0]["DenseNet-121"]["weight_layers"]


def test_densenet_family_depths_and_torchvision_counts(nets):
    depths, counts = [], []
    for name, (k, init, blocks) in ddt.DENSENETS.items():
        depths.append(1 + 2 * sum(blocks) + 3 + 1)
        counts.append(torchvision.models.get_model_weights(name)["IMAGENET1K_V1"].meta["num_params"])
        assert ddt.densenet_params(k, blocks, init) == counts[-1]
    assert depths == [121, 169, 201, 161]
    assert counts == [7_978_856, 14_149_480, 20_013_928, 28_681_000]
    k, init, blocks = ddt.DENSENETS["densenet121"]
    assert ddt.densenet_params(k, blocks, init) == lt.count_params(nets["DenseNet-121"])


def test_densenet121_layer_table(nets):
    rows = at.layer_table(nets["DenseNet-121"], INPUT)
    assert len(rows) == 246       # 120 convolutions, 121 BatchNorms, 4 pools, 1 linear layer
    assert sum(r["params"] for r in rows) == 7_978_856
    assert sum(r["macs"] for r in rows) == 2_834_161_664
    conv2_out = [r["out_shape"][0] for r in rows if r["layer"].endswith(".conv2")]
    assert set(conv2_out) == {32} and len(conv2_out) == 58


def test_densenet121_dense_layers_grow_by_k(nets):
    dn = nets["DenseNet-121"]
    layer = dn.features.denseblock1.denselayer1
    assert [type(m).__name__ for m in layer.children()] == [
        "BatchNorm2d", "ReLU", "Conv2d", "BatchNorm2d", "ReLU", "Conv2d"]
    assert layer.conv1.kernel_size == (1, 1) and layer.conv1.out_channels == 4 * 32      # bottleneck 4k
    assert layer.conv2.kernel_size == (3, 3) and layer.conv2.out_channels == 32          # growth rate k
    for i, c0 in enumerate((64, 128, 256, 512)):
        rows = ddt.dense_layers(getattr(dn.features, f"denseblock{i + 1}"))
        assert [r["in"] for r in rows] == [c0 + l * 32 for l in range(len(rows))]     # c0 + (l-1)k
        assert [r["after"] for r in rows] == [c0 + l * 32 for l in range(1, len(rows) + 1)]


def test_dense_block_output_is_its_input_then_each_layers_new_maps():
    torch.manual_seed(0)
    block = tv_densenet._DenseBlock(6, 64, 4, 32, 0.0).eval()
    x = torch.randn(2, 64, 8, 8, generator=torch.Generator().manual_seed(1))
    news = []
    hooks = [l.register_forward_hook(lambda mod, inp, out: news.append(out)) for l in block.values()]
    with torch.no_grad():
        y = block(x)
    for h in hooks:
        h.remove()
    assert y.shape == (2, 64 + 6 * 32, 8, 8)
    assert torch.equal(y[:, :64], x)                                  # the input is passed on as is
    for l, new in enumerate(news):
        assert torch.equal(y[:, 64 + 32 * l: 64 + 32 * (l + 1)], new)   # then each layer's k new maps


def test_lecture_block_connectivity_is_denseblock1s(nets):
    torch.manual_seed(0)
    block = tv_densenet._DenseBlock(6, 64, 4, 32, 0.0).eval()
    conn = ddt.dense_connectivity(block)
    assert np.array_equal(conn, np.tril(np.ones((6, 7), dtype=bool)))   # layer l <- x_0 .. x_{l-1}
    assert ddt.dense_layers(block) == ddt.dense_layers(nets["DenseNet-121"].features.denseblock1)


def test_transition_is_bn_relu_conv1x1_avgpool(nets):
    trans = nets["DenseNet-121"].features.transition1
    assert [type(m).__name__ for m in trans.children()] == ["BatchNorm2d", "ReLU", "Conv2d", "AvgPool2d"]
    assert trans.conv.kernel_size == (1, 1) and trans.conv.bias is None
    assert (trans.pool.kernel_size, trans.pool.stride) == (2, 2)
    assert trans.conv.out_channels / trans.conv.in_channels == 0.5
    assert trans.conv.weight.numel() == 256 * 128 == 32_768
    torch.manual_seed(0)
    small = tv_densenet._Transition(256, 128).eval()
    x = torch.randn(2, 256, 8, 8, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        y = small(x)
        by_hand = F.avg_pool2d(small.conv(F.relu(small.norm(x))), 2)
    assert y.shape == (2, 128, 4, 4)
    torch.testing.assert_close(y, by_hand)


def test_last_dense_layer_of_block3_is_lighter_than_a_resnet_unit(nets):
    last = nets["DenseNet-121"].features.denseblock3.denselayer24
    weights = last.conv1.weight.numel() + last.conv2.weight.numel()
    unit = nets["ResNet-50"].layer3[1]
    assert last.norm1.num_features == 256 + 23 * 32 == 992
    formula = lt.conv_params(992, 128, 1, bias=False) + lt.conv_params(128, 32, 3, bias=False)
    assert weights == formula == 163_840
    assert sum(m.weight.numel() for m in (unit.conv1, unit.conv2, unit.conv3)) == 1_114_112


def test_first_dense_block_memory_against_a_resnet_stage():
    def per_pixel(module, c, size=8, batch=2):
        x = torch.randn(batch, c, size, size, requires_grad=True)
        return ddt.saved_activations(module.train(), x) // (batch * size * size)

    torch.manual_seed(0)
    block = tv_densenet._DenseBlock(6, 64, 4, 32, 0.0)
    plain = per_pixel(block, 64)
    efficient = per_pixel(ddt.set_memory_efficient(block, True), 64)
    assert plain == ddt.dense_block_saved(64, 32, 6) == 2 * 6 * 64 + 6 * 5 * 32 + 8 * 6 * 32 == 3_264
    assert efficient == ddt.dense_block_saved(64, 32, 6, memory_efficient=True) == 1_760
    assert per_pixel(ddt.build_cpu("resnet50").layer1, 64) == 2_624
    assert round(plain * 56 * 56 * 4 / 2**20, 1) == 39.0        # MiB per 56x56 image, float32


def test_memory_curves_at_the_lectures_depths():
    h = 5
    curves = ddt.memory_curves(max_layers=21, step=h)
    for n, a, b, c in zip(curves["convs"], curves["dense block"], curves["dense block, memory_efficient"],
                          curves["residual stage (bottlenecks, 256 channels)"]):
        assert a == ddt.dense_block_saved(64, 32, n)
        assert b == ddt.dense_block_saved(64, 32, n, memory_efficient=True)
        assert c == 1024 + 768 * (n - 1)
    res = curves["residual stage (bottlenecks, 256 channels)"]
    assert np.all(np.diff(res) == 768 * h)                                  # linear: 768 per unit
    assert np.all(np.diff(np.diff(curves["dense block"])) == 2 * 32 * h * h)  # quadratic


def test_densenet121_keeps_more_activations_than_resnet50(described, saved):
    summary, _ = described
    assert saved == {"DenseNet-121": 32_388_608, "DenseNet-121, memory_efficient": 15_521_632,
                     "DPN-68": 23_786_560, "ResNet-50": 21_274_624}
    assert round(saved["DenseNet-121"] / saved["ResNet-50"], 2) == 1.52
    assert round(summary["DenseNet-121"]["macs"] / summary["ResNet-50"]["macs"], 2) == 0.69
    gib = {n: saved[n] * 4 * 256 / 2**30 for n in ("DenseNet-121", "ResNet-50")}   # batch 256, float32
    assert (round(gib["DenseNet-121"]), round(gib["ResNet-50"])) == (31, 20)


def test_memory_efficient_densenet121_same_output_and_off_by_default():
    import inspect

    dn = ddt.build_cpu("densenet121")
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        plain = ddt.set_memory_efficient(dn, False).eval()(x)
        efficient = ddt.set_memory_efficient(dn, True).eval()(x)
    assert torch.equal(plain, efficient)
    assert inspect.signature(torchvision.models.DenseNet).parameters["memory_efficient"].default is False


def test_dpn_readme_errors_fall_with_size_and_dpn68_beats_densenet121():
    errs = [v[2] for v in ddt.DPN_ERRORS.values()]
    assert errs == sorted(errs, reverse=True)
    assert ddt.DPN_ERRORS["DPN-68"][2] == ddt.TOP5["DPN-68"][0]
    assert ddt.DPN_ERRORS["DPN-68"][2] < ddt.DENSENET_ERRORS["DenseNet-121"][1][0]


def test_dpn68_layout_growth_rules(nets):
    layout = ddt.dpn_blocks(nets["DPN-68"])
    for r in layout:
        assert r["out"] == r["residual"] + r["dense_out"] and r["dense_out"] == r["dense_in"] + r["inc"]
        if r["type"] == "normal":
            assert r["out"] == r["in"] + r["inc"]                     # a normal block adds inc channels
        else:
            assert r["dense_in"] == 2 * r["inc"]                     # a projection starts the dense path
    ends = [r["out"] for r in layout if r["block"] in ("conv2_3", "conv3_4", "conv4_12", "conv5_3")]
    assert ends == [64 + 3 * 16 + 2 * 16, 128 + 4 * 32 + 2 * 32, 256 + 12 * 32 + 2 * 32,
                    512 + 3 * 64 + 2 * 64] == [144, 320, 704, 832]


def test_dpn68_is_the_authors_configuration(nets):
    """timm's arguments for dpn68 are those of the authors' symbol_dpn-68.py."""
    dpn = nets["DPN-68"]
    layout = ddt.dpn_blocks(dpn)
    assert dpn.features.conv1_1.conv.out_channels == 10 and dpn.features.conv1_1.conv.kernel_size == (3, 3)
    assert [sum(r["block"].startswith(f"conv{i}_") for r in layout) for i in (2, 3, 4, 5)] == [3, 4, 12, 3]
    assert sorted({(r["residual"], r["inc"]) for r in layout}) == [(64, 16), (128, 32), (256, 32), (512, 64)]
    assert sorted({b.c1x1_a.conv.out_channels for b in dpn.modules()
                   if isinstance(b, timm_dpn.DualPathBlock)}) == [128, 256, 512, 1024]


def test_dpn68_has_68_weight_layers_and_4_projections(nets, described):
    convs = [n for n, m in nets["DPN-68"].named_modules() if isinstance(m, nn.Conv2d)]
    projections = [n for n in convs if ".c1x1_w" in n]
    assert len(projections) == 4
    assert len(convs) - len(projections) == 1 + 3 * 22 + 1 == 68 == described[0]["DPN-68"]["weight_layers"]
    rows = ddt.layer_table(nets["DPN-68"], INPUT)
    assert sum(r["params"] for r in rows) == 12_611_602 and sum(r["macs"] for r in rows) == 2_326_163_456


def test_dual_path_block_conv2_2_adds_passes_and_appends():
    torch.manual_seed(0)
    block = timm_dpn.DualPathBlock(112, 128, 128, 64, inc=16, groups=32, block_type="normal").double().eval()
    x = rand(2, 112, 8, 8, seed=5)
    with torch.no_grad():
        y = block(x)
        parts = ddt.dual_path_parts(block, x)
    c = block.num_1x1_c
    assert y.shape == (2, 112 + 16, 8, 8) and parts["branch"].shape[1] == c + 16
    torch.testing.assert_close(y, torch.cat([parts["residual"], parts["dense_old"], parts["dense_new"]], 1))
    torch.testing.assert_close(y[:, :c], x[:, :c] + parts["branch"][:, :c])      # residual: added
    assert torch.equal(y[:, c:112], x[:, c:])                                    # old dense: passed on
    torch.testing.assert_close(y[:, 112:], parts["branch"][:, c:])              # 16 new channels


def test_dpn68_first_stage_widths():
    torch.manual_seed(0)
    stage = nn.Sequential(timm_dpn.DualPathBlock(10, 128, 128, 64, 16, 32, "proj"),
                          timm_dpn.DualPathBlock(112, 128, 128, 64, 16, 32, "normal"),
                          timm_dpn.DualPathBlock(128, 128, 128, 64, 16, 32, "normal")).eval()
    h = torch.randn(2, 10, 8, 8, generator=torch.Generator().manual_seed(6))
    widths = []
    with torch.no_grad():
        for block in stage:
            h = block(h)
            widths.append((block.num_1x1_c, h.shape[1] - block.num_1x1_c))
    assert widths == [(64, 48), (64, 64), (64, 80)] and h.shape[1] == 144


def test_dpn68_dense_share_per_stage(nets):
    ends = [r for r in ddt.dpn_blocks(nets["DPN-68"])
            if r["block"] in ("conv2_3", "conv3_4", "conv4_12", "conv5_3")]
    assert [round(r["dense_out"] / r["out"], 2) for r in ends] == [0.56, 0.6, 0.64, 0.38]


def test_side_by_side_depths_fields_and_ratios(nets, described, saved):
    summary, _ = described
    rows = {name: {"depth": summary[name]["weight_layers"], "macs": summary[name]["macs"],
                   "params": summary[name]["params"], "saved": saved[name],
                   "RF": lt.receptive_field(ddt.main_path(model))[-1][0]}
            for name, model in nets.items()}
    assert [rows[n]["depth"] for n in rows] == [121, 68, 50]
    assert [rows[n]["RF"] for n in rows] == [2071, 615, 427] and min(r["RF"] for r in rows.values()) > 224
    assert [rows[n]["macs"] for n in rows] == [2_834_161_664, 2_326_163_456, 4_089_184_256]
    d, p, r = rows["DenseNet-121"], rows["DPN-68"], rows["ResNet-50"]
    assert round(p["params"] / d["params"], 1) == 1.6 and round(1 - p["macs"] / d["macs"], 2) == 0.18
    assert round(1 - p["saved"] / d["saved"], 2) == 0.27 and round(p["saved"] / r["saved"], 2) == 1.12
    assert round(1 - p["depth"] / d["depth"], 2) == 0.44


def test_torchvision_densenet_faithfulness(nets):
    """Section 4.1: DenseNet-BC with a 2k stem, conv-BN-ReLU-pool, features ending with norm5
    (the ReLU is a call in forward), negative values before that ReLU, no dropout."""
    import inspect

    dn = nets["DenseNet-121"]
    k161, init161, _ = ddt.DENSENETS["densenet161"]
    assert dn.features.conv0.out_channels == 2 * 32 and init161 == 2 * k161 == 96
    assert [type(m).__name__ for m in list(dn.features.children())[:4]] == [
        "Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d"]
    assert "relu" in inspect.getsource(torchvision.models.DenseNet.forward)
    assert isinstance(list(dn.features.children())[-1], nn.BatchNorm2d)
    assert all(l.drop_rate == 0 for l in dn.modules() if isinstance(l, tv_densenet._DenseLayer))
    torch.manual_seed(0)
    model = ddt.build_cpu("densenet121").eval()
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        feats = model.features(x)
        by_hand = model.classifier(torch.flatten(F.adaptive_avg_pool2d(F.relu(feats), 1), 1))
    torch.testing.assert_close(model(x), by_hand)
    assert (feats < 0).any()                      # norm5's output still has negative values


def test_timm_dpn68_final_activation_is_relu_everywhere_and_eps_is_mxnets():
    torch.manual_seed(0)
    model = ddt.build_cpu("dpn68").eval()
    final = model.features.conv5_bn_ac.bn
    inner = [m.act for n, m in model.named_modules()
             if type(m).__name__ == "BatchNormAct2d" and "conv5_bn_ac" not in n]
    assert inner and all(isinstance(a, nn.ReLU) for a in inner)
    assert not isinstance(final.act, nn.ELU)
    x = torch.randn(2, 832, 2, 2, generator=torch.Generator().manual_seed(8))
    with torch.no_grad():
        y = final(x)
        pre = F.batch_norm(x, final.running_mean, final.running_var, final.weight, final.bias,
                           False, 0.0, final.eps)
    torch.testing.assert_close(y, F.relu(pre))
    assert (pre < 0).any() and y.min() == 0 and not torch.allclose(F.relu(pre), F.elu(pre))
    # The 1x1-convolution classifier, copied into an nn.Linear, gives the same logits.
    linear = nn.Linear(832, 1000)
    with torch.no_grad():
        linear.weight.copy_(model.classifier.weight.view(1000, 832))
        linear.bias.copy_(model.classifier.bias)
        xi = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(9))
        pooled = model.global_pool(model.forward_features(xi)).flatten(1)
        torch.testing.assert_close(model(xi), linear(pooled))
    assert {m.eps for m in model.modules() if isinstance(m, nn.BatchNorm2d)} == {1e-3}


def test_self_check_answers(nets):
    dn = nets["DenseNet-121"]
    assert lt.conv_params(64, 128, 1) == 8_320 and lt.conv_params(64, 128, 1, bias=False) == 8_192
    assert ddt.densenet_params(48, (6, 12, 36, 24), 96) == 28_681_000
    t1 = dn.features.transition1.conv
    assert (t1.in_channels, t1.out_channels) == (256, 128)
    assert sum(isinstance(m, nn.Conv2d) for m in dn.modules()) == 120
    torch.manual_seed(0)
    assert ddt.dense_connectivity(tv_densenet._DenseBlock(6, 64, 4, 32, 0.0)).sum() == 21
    conv2_3 = next(r for r in ddt.dpn_blocks(nets["DPN-68"]) if r["block"] == "conv2_3")
    assert (conv2_3["out"], conv2_3["dense_out"]) == (144, 80)
