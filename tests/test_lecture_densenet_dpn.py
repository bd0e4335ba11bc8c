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
