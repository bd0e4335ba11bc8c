"""Tests for Lecture 5, "LeNet-5 and AlexNet": every helper in
``lectures/lenet_alexnet_tools.py`` against PyTorch, torchvision and the course's
``grader.models``; every number the notebook prints or quotes (the section of the lecture is
named in each test's docstring or heading); and the figures that the notebook does not draw
(``tests/test_lectures.py`` executes the notebook and checks its figures).

Run from the repository root:  python -m pytest tests/test_lecture_lenet_alexnet.py -q
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import torchvision  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from grader import models as gm  # noqa: E402
from lectures import arch_tools as at  # noqa: E402
from lectures import lecture_tools as lt  # noqa: E402
from lectures import lenet_alexnet_tools as lat  # noqa: E402
from lectures import zoo_tools as zt  # noqa: E402
from tests.test_lectures import draws  # noqa: E402

PROPERTY = settings(derandomize=True, database=None, deadline=None, max_examples=60)
D = torch.float64


pytestmark = pytest.mark.usefixtures("one_thread")  # see tests/conftest.py


def rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=D)


@pytest.fixture(scope="module")
def alexnets():
    tv = at.on_meta(lambda: torchvision.models.alexnet(weights=None))
    return tv, at.on_meta(gm.AlexNetPaper)


@pytest.fixture(scope="module")
def alexnet_rows(alexnets):
    """Section 2.2's per-layer tables and summaries: torchvision on 224, the paper on 227."""
    tv, paper = alexnets
    return {"tv": (at.layer_table(tv, (3, 224, 224)), at.summary(tv, (3, 224, 224))),
            "paper": (at.layer_table(paper, (3, 227, 227)), at.summary(paper, (3, 227, 227)))}


# ---------------------------------------------------------------------------
# Describing architectures
# ---------------------------------------------------------------------------


def test_merge_rows_and_totals():
    net = gm.LeNet5Paper()
    raw = at.layer_table(net, (1, 32, 32), types=(nn.Conv2d, nn.Linear, gm.Subsampling))
    merged = lat.merge_rows(raw, "c3", "SparseConv2d")
    assert [r["layer"] for r in merged] == ["c1", "s2", "c3", "s4", "c5", "f6"]
    c3 = merged[2]
    assert c3["type"] == "SparseConv2d" and c3["out_shape"] == (16, 10, 10)
    assert c3["params"] == lt.count_params(net.c3) == 1_516
    # Each C3 map of m inputs does m * 25 MACs at each of its 100 positions.
    assert c3["macs"] == sum(len(t) * 25 * 100 for t in gm.C3_TABLE) == 150_000
    assert lat.totals(merged) == lat.totals(raw)
    assert lat.totals(merged)["params"] == lt.count_params(net) == 60_000
    assert lat.merge_rows(raw, "nothing") == raw
    assert lat.merge_rows(raw, "c3")[2]["type"] == "16 x Conv2d"


def test_conv_settings_and_count_modules(alexnets):
    tv, paper = alexnets
    convs = [m for m in tv.modules() if isinstance(m, nn.Conv2d)]
    rows = lat.conv_settings(tv)
    assert [(r["in"], r["out"], r["k"], r["s"], r["p"], r["groups"]) for r in rows] == [
        (m.in_channels, m.out_channels, m.kernel_size[0], m.stride[0], m.padding[0], m.groups)
        for m in convs]
    assert [r["out"] for r in rows] == [64, 192, 384, 256, 256]
    assert [r["out"] for r in lat.conv_settings(paper)] == list(lat.ALEXNET_PAPER["channels"])
    assert [r["groups"] for r in lat.conv_settings(paper)] == [1, 2, 1, 2, 2]
    assert lat.count_modules(paper, nn.LocalResponseNorm) == 2
    assert lat.count_modules(tv, nn.LocalResponseNorm) == 0
    assert lat.count_modules(tv, nn.Dropout) == 2


def test_ungrouped(alexnets):
    _, paper = alexnets
    dense = lat.ungrouped(paper)
    assert all(r["groups"] == 1 for r in lat.conv_settings(dense))
    assert [r["groups"] for r in lat.conv_settings(paper)] == [1, 2, 1, 2, 2]  # a copy
    expected = lt.count_params(paper) + sum(
        lt.conv_params(r["in"], r["out"], r["k"]) - lt.conv_params(r["in"], r["out"], r["k"],
                                                                     groups=r["groups"])
        for r in lat.conv_settings(paper))
    assert lt.count_params(dense) == expected == 62_378_344
    # A real forward pass on the small variant: same output shape, twice the grouped weights.
    small = gm.alexnet_small().eval()
    dense_small = lat.ungrouped(small).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert dense_small(x).shape == small(x).shape == (2, 10)
    conv = nn.Conv2d(4, 6, 3, groups=2, bias=False)
    assert lt.count_params(lat.ungrouped(nn.Sequential(conv))) == 2 * lt.count_params(conv)


@st.composite
def tables(draw):
    n_in = draw(st.integers(1, 6))
    n_out = draw(st.integers(1, 6))
    return n_in, [tuple(sorted(draw(st.sets(st.integers(0, n_in - 1), min_size=1))))
                  for _ in range(n_out)]


@PROPERTY
@given(tables(), st.sampled_from([1, 3, 5]))
def test_sparse_tables_against_grader_sparse_conv(spec, k):
    n_in, table = spec
    layer = gm.SparseConv2d(table, k).double()
    assert lat.sparse_conv_params(table, k) == lt.count_params(layer)
    assert lat.sparse_conv_params(table, k, bias=False) == sum(
        m.weight.numel() for m in layer.maps)
    # The connection matrix is what autograd measures (rows: inputs, columns: outputs).
    measured = zt.channel_dependence(layer, n_in, size=k + 1)
    assert (measured.T == lat.connection_matrix(table, n_in)).all()


def test_c3_numbers():
    """Section 1.4: 1,516 parameters sparse against 2,416 dense; 60 of 96 map pairs."""
    sparse = lat.sparse_conv_params(gm.C3_TABLE, 5)
    per_map = [len(t) * 5 * 5 + 1 for t in gm.C3_TABLE]
    assert sparse == sum(per_map) == 6 * 76 + 9 * 101 + 151 == 1_516
    assert lt.count_params(gm.LeNet5Paper().c3) == sparse
    assert lt.conv_params(6, 16, 5) == lat.sparse_conv_params([range(6)] * 16, 5) == 2_416
    assert lt.conv_params(6, 16, 5) == 16 * (6 * 25 + 1) == lt.count_params(nn.Conv2d(6, 16, 5))
    mat = lat.connection_matrix(gm.C3_TABLE, 6)
    assert mat.shape == (6, 16) and mat.sum() == 60
    assert list(mat.sum(axis=0)) == [3] * 6 + [4] * 9 + [6]


def test_lenet_connections_match_the_paper():
    conn = lat.lenet_connections(gm.LeNet5Paper())
    assert conn == lat.LENET_PAPER["connections"]
    # Connections = MACs + one bias per output unit, for the layers with weights.
    rows = lat.merge_rows(at.layer_table(gm.LeNet5Paper(), (1, 32, 32)), "c3")
    units = {"C1": 6 * 28 * 28, "C3": 16 * 10 * 10, "C5": 120, "F6": 84}
    macs = {r["layer"].upper(): r["macs"] for r in rows}
    for name, n in units.items():
        assert conn[name] == macs[name] + n
    # Section 1.2: a map's parameters at every position; 4 inputs and a bias per S2 unit.
    assert conn["C1"] == 28 * 28 * 156 and conn["S2"] == 14 * 14 * 6 * (4 + 1)
    assert conn["C3"] == 150_000 + 16 * 10 * 10 == 151_600


def test_rf_layers_and_receptive_fields(alexnets):
    tv, paper = alexnets
    assert lat.rf_layers(gm.LeNet5()) == [(5, 1, 1), ("pool", 2, 2), (5, 1, 1), ("pool", 2, 2)]
    assert lat.rf_layers(tv) == lat.rf_layers(paper) == [
        (11, 4, 1), ("pool", 3, 2), (5, 1, 1), ("pool", 3, 2), (3, 1, 1), (3, 1, 1), (3, 1, 1),
        ("pool", 3, 2)]
    assert lt.receptive_field(lat.rf_layers(tv))[6] == (163, 16)
    # Brute force on the real LeNet5 stack (ones as weights, average pooling).
    feats = nn.Sequential(nn.Conv2d(1, 1, 5), nn.AvgPool2d(2), nn.Conv2d(1, 1, 5),
                          nn.AvgPool2d(2)).double()
    with torch.no_grad():
        for m in feats:
            if isinstance(m, nn.Conv2d):
                m.weight.fill_(1.0)
    x = torch.zeros(1, 1, 40, 40, dtype=D, requires_grad=True)
    y = feats[:3](x)
    y[0, 0, y.shape[-2] // 2, y.shape[-1] // 2].backward()
    r = lt.receptive_field(lat.rf_layers(gm.LeNet5()))[2][0]
    assert lt.nonzero_extent(x.grad[0, 0].numpy()) == (r, r) == (14, 14)
    dilated = nn.Sequential(nn.Conv2d(1, 1, 3, stride=2, dilation=2), nn.MaxPool2d((2, 2), (2, 2)))
    assert lat.rf_layers(dilated) == [(3, 2, 2), ("pool", 2, 2)]


@PROPERTY
@given(st.integers(1, 8), st.integers(2, 12), st.integers(1, 12), st.integers(0, 10_000))
def test_topk_error_against_a_loop(n, classes, k, seed):
    k = min(k, classes)
    logits = rand(n, classes, seed=seed)
    labels = torch.randint(0, classes, (n,), generator=torch.Generator().manual_seed(seed))
    misses = 0
    for row, label in zip(logits.tolist(), labels.tolist()):
        best = sorted(range(classes), key=lambda c: -row[c])[:k]
        misses += label not in best
    assert lat.topk_error(logits, labels, k) == pytest.approx(misses / n)
    if k == classes:
        assert lat.topk_error(logits, labels, k) == 0


# ---------------------------------------------------------------------------
# AlexNet's ingredients
# ---------------------------------------------------------------------------


@PROPERTY
@given(st.integers(1, 12), st.sampled_from([1, 3, 5, 7]), st.floats(1e-5, 1e-2),
       st.floats(0.1, 1.0), st.floats(0.5, 3.0), st.integers(0, 1000))
def test_lrn_paper_is_torch_with_alpha_times_size(channels, n, alpha, beta, k, seed):
    a = rand(2, channels, 3, 2, seed=seed).abs() * 30
    ours = lat.lrn_paper(a, k=k, n=n, alpha=alpha, beta=beta)
    theirs = F.local_response_norm(a, n, alpha=alpha * n, beta=beta, k=k)
    torch.testing.assert_close(ours, theirs)
    # Pixel by pixel it is Lecture 4's literal NumPy version of [S3]'s formula.
    pixel = a[1, :, 2, 1].numpy()
    np.testing.assert_allclose(ours[1, :, 2, 1].numpy(), zt.lrn_seed(pixel, k, alpha, beta, n))


def test_lrn_paper_alexnet_setting_and_even_n():
    a = rand(1, 96, 2, 2).abs() * 50
    L = lat.ALEXNET_PAPER["lrn"]
    layer = gm.AlexNetPaper().features[2]
    assert isinstance(layer, nn.LocalResponseNorm)
    # Section 2.3: the course's 2012 AlexNet and Lecture 4's translation use alpha = 5e-4.
    assert (layer.size, layer.alpha, layer.beta, layer.k) == (5, 5e-4, 0.75, 2.0)
    assert zt.lrn_torch_args(k=2.0, alpha=1e-4, beta=0.75, r=5) == {
        "size": 5, "alpha": 5e-4, "beta": 0.75, "k": 2.0}
    torch.testing.assert_close(layer(a), lat.lrn_paper(a, **L))
    wrong = nn.LocalResponseNorm(5, alpha=L["alpha"], beta=L["beta"], k=L["k"])
    assert (wrong(a) - lat.lrn_paper(a, **L)).abs().max() > 0.1
    with pytest.raises(ValueError):
        lat.lrn_paper(a, n=4)


@PROPERTY
@given(st.integers(1, 12), st.integers(1, 4), st.integers(1, 4))
def test_pool_coverage_against_autograd(size, k, s):
    if k > size:
        return
    x = torch.ones(1, 1, size, size, dtype=D, requires_grad=True)
    # Each window adds 1/k^2 to the gradient of each of its pixels.
    F.avg_pool2d(x, k, s).sum().backward()
    expected = np.rint(x.grad[0, 0].numpy() * k * k).astype(int)
    np.testing.assert_array_equal(lat.pool_coverage(size, k, s), expected)
    assert lat.pool_coverage(size, k, s).sum() == lt.pool_out(size, k, s) ** 2 * k * k


def test_pool_coverage_alexnet():
    """Section 2.3: 2x2 and 3x3 windows of stride 2 both take 55 to 27; only 3x3 overlap,
    and 2x2 windows never read the last row."""
    assert lt.pool_out(55, 3, 2) == lt.pool_out(55, 2, 2) == 27
    assert F.max_pool2d(torch.zeros(1, 1, 55, 55), 3, 2).shape[-1] == 27
    assert lat.pool_coverage(55, 2, 2).max() == 1 and lat.pool_coverage(55, 3, 2).max() == 4
    assert lat.pool_coverage(55, 3, 2).min() == 1 and lat.pool_coverage(55, 2, 2).min() == 0


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_outputs(p):
    out = lat.dropout_outputs(p, units=500, passes=20, seed=1)
    assert out.shape == (20, 500)
    assert np.isin(out, [0.0, 1 / (1 - p)]).all()
    assert abs((out == 0).mean() - p) < 0.03
    np.testing.assert_array_equal(out, lat.dropout_outputs(p, units=500, passes=20, seed=1))
    # The same draws as nn.Dropout itself after the same seed.
    torch.manual_seed(1)
    drop = nn.Dropout(p).train()
    first = drop(torch.ones(500, dtype=D)).numpy()
    np.testing.assert_array_equal(out[0], first)


def test_scaled_tanh_is_lenet_papers():
    """Section 4.3: f(+-1) = +-1, centred on zero, unlike the logistic sigmoid."""
    t = torch.linspace(-4, 4, 17)
    torch.testing.assert_close(lat.scaled_tanh(t), gm.LeNet5Paper().act(t))
    t = torch.linspace(-3, 3, 13, dtype=D)
    torch.testing.assert_close(gm.LeNet5Paper().act(t.float()).double(), lat.scaled_tanh(t),
                               rtol=1e-6, atol=1e-6)
    one = torch.tensor(1.0, dtype=D)
    assert abs(lat.scaled_tanh(one).item() - 1.0) < 1e-4
    assert abs(lat.scaled_tanh(-one).item() + 1.0) < 1e-4
    assert torch.sigmoid(torch.tensor(0.0)) == 0.5


def test_activation_curves_against_formulas():
    x = np.linspace(-5, 5, 101)
    curves = lat.activation_curves(x)
    s = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(curves["sigmoid"][0], s)
    np.testing.assert_allclose(curves["sigmoid"][1], s * (1 - s))
    np.testing.assert_allclose(curves["tanh"][1], 1 - np.tanh(x) ** 2)
    A, S = 1.7159, 2 / 3
    np.testing.assert_allclose(curves["1.7159 tanh(2x/3)"][1], A * S * (1 - np.tanh(S * x) ** 2))
    np.testing.assert_allclose(curves["ReLU"][0], np.maximum(x, 0))
    np.testing.assert_allclose(curves["ReLU"][1], (x > 0).astype(float))


def test_first_layer_gradients():
    sig = lat.first_layer_gradients(nn.Sigmoid, depth=10)
    relu = lat.first_layer_gradients(nn.ReLU, depth=10)
    assert sig.shape == relu.shape == (10,)
    assert sig[-1] / sig[0] > 1e6 and relu[-1] / relu[0] < 1e4
    # Deterministic: the same seed gives the same numbers.
    np.testing.assert_array_equal(sig, lat.first_layer_gradients(nn.Sigmoid, depth=10))
    # Monotone for the sigmoid: each layer further from the loss gets less.
    assert (np.diff(sig) > 0).all()


def test_swap_activation():
    net = gm.LeNet5()
    relu_net = lat.swap_activation(net, nn.Sigmoid, nn.ReLU)
    assert lat.count_modules(relu_net, nn.Sigmoid) == 0
    assert lat.count_modules(relu_net, nn.ReLU) == lat.count_modules(net, nn.Sigmoid) == 4
    assert lat.count_modules(net, nn.ReLU) == 0                          # the original is untouched
    x = torch.randn(2, 1, 32, 32)
    with torch.no_grad():
        # Same weights: with the sigmoids restored by hand the outputs agree.
        expected = net.classifier(net.features(x))
        assert torch.equal(lat.swap_activation(relu_net, nn.ReLU, nn.Sigmoid)(x), expected)


# ---------------------------------------------------------------------------
# Facts
# ---------------------------------------------------------------------------


def test_paper_facts_are_consistent():
    P, A, S = lat.LENET_PAPER, lat.ALEXNET_PAPER, lat.SEED
    assert sum(P["params"].values()) == P["trainable_params"] == lt.count_params(gm.LeNet5Paper())
    assert (A["resized"] - A["crop"]) ** 2 * 2 == A["augmentation_factor"]
    assert round(100 - S["lenet_error_pct"], 2) == S["lenet_accuracy_pct"]
    errors = {team: e for _, team, e in lat.ILSVRC_TOP5}
    assert round(errors["XRCE"] - errors["AlexNet"], 1) == S["alexnet_gain_pct"]
    assert errors["VGG (2nd)"] == S["vgg_top5_pct"]
    assert P["rbf_prototype"][0] * P["rbf_prototype"][1] == gm.LeNet5Paper().f6.out_features


# ---------------------------------------------------------------------------
# The notebook's numbers, Part 1: LeNet-5
# ---------------------------------------------------------------------------


def test_lenet_facts_of_s4_and_the_paper():
    """Section 1.1: [S4]'s 0.95% error, 99.05% accuracy, 5 layers; the paper's 32x32 input
    and 7 layers."""
    P, S = lat.LENET_PAPER, lat.SEED
    assert S["lenet_error_pct"] == P["mnist_test_error_pct"] == 0.95
    assert round(100 - S["lenet_error_pct"], 2) == S["lenet_accuracy_pct"] == 99.05
    assert 28 + 2 * 2 == P["input"] == 32
    s4_stack = "Conv-Pool-Conv-Pool-Conv-FC-FC".split("-")
    assert sum(s != "Pool" for s in s4_stack) == S["lenet_layers"] == 5
    assert len(s4_stack) == P["layers_not_counting_input"] == 7


def test_lenet5_table_by_the_formulas():
    """Section 1.2: 61,706 parameters and 416,520 MACs, row by row the formulas of Lecture 3;
    78% of the parameters in the first linear layer, 86% of the MACs in the convolutions."""
    lenet = gm.LeNet5()
    rows = at.layer_table(lenet, (1, 32, 32))
    summary = at.summary(lenet, (1, 32, 32))
    assert summary["params"] == lt.count_params(lenet) == lat.totals(rows)["params"] == 61_706
    assert summary["macs"] == lat.totals(rows)["macs"] == 416_520
    assert summary["weight_layers"] == 5
    assert [r["params"] for r in rows if r["params"]] == [
        lt.conv_params(1, 6, 5), lt.conv_params(6, 16, 5), lt.linear_params(400, 120),
        lt.linear_params(120, 84), lt.linear_params(84, 10)] == [156, 2_416, 48_120, 10_164, 850]
    assert rows[0]["macs"] == lt.conv_macs(1, 6, 5, 28, 28) == 117_600
    assert rows[2]["macs"] == lt.conv_macs(6, 16, 5, 10, 10) == 240_000
    assert round(48_120 / 61_706, 2) == 0.78
    assert round((117_600 + 240_000) / 416_520, 2) == 0.86


def test_lenet5_paper_table():
    """Section 1.2: the paper's network has its 60,000 trainable parameters, layer by layer,
    325,680 MACs, and RBF prototypes that are a buffer, never trained."""
    net = gm.LeNet5Paper()
    rows = at.layer_table(net, (1, 32, 32),
                          types=(nn.Conv2d, nn.Linear, gm.Subsampling, type(net.output)))
    rows = lat.merge_rows(rows, "c3", "SparseConv2d")
    total = lat.totals(rows)
    trainable = sum(p.numel() for p in net.parameters() if p.requires_grad)
    assert trainable == total["params"] == lat.LENET_PAPER["trainable_params"] == 60_000
    assert {r["layer"].upper(): r["params"] for r in rows if r["params"]} == \
        lat.LENET_PAPER["params"]
    assert total["macs"] == 325_680
    assert net.output.prototypes.shape == (10, 84)
    assert "output.prototypes" in dict(net.named_buffers())
    assert not any("prototypes" in n for n, _ in net.named_parameters())


def test_lenet_feature_map_sizes():
    """Section 1.3: 32 -> 28 -> 14 -> 10 -> 5 -> 1 by the formulas and by hooks."""
    sizes = [32]
    for layer in ["conv5", "pool2", "conv5", "pool2", "conv5"]:
        n = sizes[-1]
        sizes.append(lt.conv_out(n, 5) if layer == "conv5" else lt.pool_out(n, 2))
    assert sizes == [32, 28, 14, 10, 5, 1]
    names = ["c1", "s2", "c3", "s4", "c5"]
    shapes = at.output_shapes(gm.LeNet5Paper(), (1, 32, 32), names)
    assert [shapes[n][-1] for n in names] == sizes[1:]


def test_c5_is_a_linear_layer():
    """Section 1.3: C5 with the weights of Linear(400, 120), reshaped, computes the same."""
    fc = gm.LeNet5().classifier[1]
    c5 = nn.Conv2d(16, 120, kernel_size=5)
    with torch.no_grad():
        c5.weight.copy_(fc.weight.view(120, 16, 5, 5))
        c5.bias.copy_(fc.bias)
        s4_maps = torch.randn(2, 16, 5, 5, generator=torch.Generator().manual_seed(0))
        assert c5(s4_maps).shape == (2, 120, 1, 1)
        torch.testing.assert_close(c5(s4_maps).flatten(1), fc(s4_maps.flatten(1)))
    assert lt.count_params(c5) == lt.count_params(fc) == 48_120


def test_subsampling_is_scaled_average_pooling():
    """Section 1.3: with coefficient 1/4 and no bias, S2 is average pooling; with 1, [S4]'s
    "coefficient x block sum"; 12 and 32 parameters against none."""
    sub = gm.Subsampling(6)
    x = torch.randn(2, 6, 28, 28, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        sub.weight.fill_(0.25)
        torch.testing.assert_close(sub(x), F.avg_pool2d(x, 2))
        sub.weight.fill_(1.0)
        torch.testing.assert_close(sub(x), 4 * F.avg_pool2d(x, 2))
    assert [lt.count_params(gm.Subsampling(c)) for c in (6, 16)] == [12, 32]
    assert lt.count_params(nn.AvgPool2d(2)) == 0


def test_sigmoid_lenet_barely_trains_on_a_batch():
    """Section 1.5: 30 Adam steps on 64 digits; the sigmoid LeNet5's loss goes down but stays
    above 2, tanh and ReLU fit the batch."""
    x, y = at.digits_batch(n=64, pad=2)
    assert x.shape == (64, 1, 32, 32) and set(y.tolist()) == set(range(10))
    curves = {act: np.array(at.train_steps(
        lambda: lat.swap_activation(gm.LeNet5(), nn.Sigmoid, act), x, y, steps=30, lr=3e-3))
        for act in (nn.Sigmoid, nn.Tanh, nn.ReLU)}
    sig = curves[nn.Sigmoid]
    assert sig[-1] < sig[0] and sig[-5:].mean() < sig[:5].mean()
    assert sig[-1] > 2.0
    assert curves[nn.Tanh][-1] < 0.5 and curves[nn.ReLU][-1] < 0.5


# ---------------------------------------------------------------------------
# The notebook's numbers, Part 2: ILSVRC and AlexNet
# ---------------------------------------------------------------------------


def test_ilsvrc_and_alexnet_facts():
    """Section 2.1: [S4]'s ILSVRC facts; 16.4% top-5, 9.4 points (36%) better than 2011,
    10.9 points ahead of the 2012 runner-up; 2,048 times the data by augmentation."""
    A, S = lat.ALEXNET_PAPER, lat.SEED
    assert (S["ilsvrc_start"], S["ilsvrc_classes"], S["ilsvrc_images"]) == (2010, 1000, 1_200_000)
    ilsvrc = {(year, team): err for year, team, err in lat.ILSVRC_TOP5}
    assert round(S["alexnet_top5_pct"], 1) == A["top5_test_pct"]["5 CNNs"] == \
        ilsvrc[2012, "AlexNet"] == 16.4
    assert round(ilsvrc[2011, "XRCE"] - ilsvrc[2012, "AlexNet"], 1) == S["alexnet_gain_pct"] == 9.4
    assert round(1 - ilsvrc[2012, "AlexNet"] / ilsvrc[2011, "XRCE"], 2) == 0.36
    best = A["top5_test_pct"]["7 CNNs (2 pre-trained on Fall 2011)"]
    assert round(A["runner_up_top5_pct"] - best, 1) == 10.9
    assert (A["resized"] - A["crop"]) ** 2 * 2 == A["augmentation_factor"] == 2048


def test_alexnet_tables(alexnets, alexnet_rows):
    """Section 2.2: torchvision's 61,100,840 parameters and 714,188,480 MACs, the paper's
    60,965,224 and 724,406,816; 8 layers with weights; Conv-ReLU-Norm-Pool in the paper."""
    (rows_tv, sum_tv), (rows_ap, sum_ap) = alexnet_rows["tv"], alexnet_rows["paper"]
    assert sum_tv["params"] == lat.totals(rows_tv)["params"] == 61_100_840
    assert sum_tv["macs"] == lat.totals(rows_tv)["macs"] == 714_188_480
    assert sum_tv["weight_layers"] == lat.SEED["alexnet_layers"] == 8
    assert sum_ap["params"] == lat.totals(rows_ap)["params"] == 60_965_224
    assert sum_ap["macs"] == lat.totals(rows_ap)["macs"] == 724_406_816
    assert sum_ap["weight_layers"] == 8
    assert [type(m).__name__ for m in alexnets[1].features[:4]] == [
        "Conv2d", "ReLU", "LocalResponseNorm", "MaxPool2d"]


def test_alexnet_cost_shares(alexnet_rows):
    """Section 2.2: FC layers hold 96% of torchvision's parameters (62% in Linear(9216, 4096)
    alone), the convolutions do 92% of its MACs."""
    rows, summary = alexnet_rows["tv"]

    def share(kind, key):
        return sum(r[key] for r in rows if r["type"] == kind) / sum(r[key] for r in rows)

    assert round(share("Linear", "params"), 2) == 0.96
    assert rows[-3]["layer"] == "classifier.1" and rows[-3]["params"] == lt.linear_params(9216, 4096)
    assert round(rows[-3]["params"] / summary["params"], 2) == 0.62
    assert round(share("Conv2d", "macs"), 2) == 0.92


def test_activation_derivatives_at_0_and_5():
    """Section 2.3: the sigmoid's derivative is at most 1/4, tanh's 1, ReLU's 0 or 1; at x = 5
    sigmoid and tanh have saturated; 0.25^10 < 1e-6."""
    xs = np.linspace(-6, 6, 1201)
    curves = lat.activation_curves(xs)
    d_sig, d_tanh, d_relu = (curves[n][1] for n in ("sigmoid", "tanh", "ReLU"))
    assert np.isclose(d_sig.max(), 0.25) and np.isclose(d_tanh.max(), 1.0)
    assert np.allclose(d_relu[xs > 0], 1.0) and np.allclose(d_relu[xs < 0], 0.0)
    at5 = lat.activation_curves(np.array([5.0]))
    assert at5["sigmoid"][1][0] < 0.01 and at5["tanh"][1][0] < 0.001 and at5["ReLU"][1][0] == 1.0
    assert 0.25 ** 10 < 1e-6


def test_dropout_train_eval_and_the_papers_convention(alexnets):
    """Section 2.3: p = 0.5 drops half the units and doubles the others, eval mode is the
    identity, the paper's unscaled-then-halved convention has the same expectation; both
    AlexNets use p = 0.5 twice."""
    p = lat.ALEXNET_PAPER["dropout"]
    drop = nn.Dropout(p)
    x = torch.ones(100_000, dtype=D)
    torch.manual_seed(0)
    y = drop.train()(x)
    kept = (y != 0).double().mean().item()
    assert set(y.unique().tolist()) == {0.0, 1 / (1 - p)} == {0.0, 2.0}
    assert abs(kept - (1 - p)) < 0.01 and abs(y.mean().item() - 1.0) < 0.02
    assert torch.equal(drop.eval()(x), x)
    assert abs((y * (1 - p)).mean().item() - kept) < 1e-12
    for model in alexnets:
        assert [m.p for m in model.classifier if isinstance(m, nn.Dropout)] == [0.5, 0.5]


def test_lrn_gain_on_small_activations():
    """Section 2.3: with k = 2 small activations are multiplied by 2^-0.75 = 0.595."""
    small = torch.full((1, 5, 1, 1), 0.01, dtype=D)
    assert torch.allclose(lat.lrn_paper(small) / small, torch.tensor(2.0 ** -0.75, dtype=D))
    assert round(2 ** -0.75, 3) == 0.595


def test_grouped_convolutions_of_alexnet(alexnets, alexnet_rows):
    """Section 2.3: conv2, 4 and 5 use groups=2, half the weights and MACs; 1,413,120 more
    parameters with every grouped convolution made dense."""
    _, paper = alexnets
    assert [s["groups"] for s in lat.conv_settings(paper)] == [1, 2, 1, 2, 2]
    conv2 = nn.Conv2d(96, 256, 5, padding=2, groups=2, device="meta")
    conv2_dense = nn.Conv2d(96, 256, 5, padding=2, device="meta")
    assert conv2.weight.shape == (256, 48, 5, 5)
    assert conv2.weight.numel() * 2 == conv2_dense.weight.numel() == 614_400
    assert lt.count_params(conv2) == lt.conv_params(96, 256, 5, groups=2) == 307_456
    rows_ap, sum_ap = alexnet_rows["paper"]
    macs_g = lt.conv_macs(96, 256, 5, 27, 27, groups=2)
    assert 2 * macs_g == lt.conv_macs(96, 256, 5, 27, 27)
    assert macs_g == rows_ap[3]["macs"] == 223_948_800
    extra = lt.count_params(lat.ungrouped(paper)) - sum_ap["params"]
    assert extra == 307_200 + 663_552 + 442_368 == 1_413_120


# ---------------------------------------------------------------------------
# The notebook's numbers, Parts 3 and 4: side by side, faithfulness
# ---------------------------------------------------------------------------


def test_receptive_fields_side_by_side(alexnets):
    """Part 3: LeNet5's C3 sees 14 pixels (C5 all 32), AlexNet's conv5 163 and pool5 195, the
    same for both AlexNets; LeNet's by back-propagation too."""
    tv, paper = alexnets
    lenet = gm.LeNet5()
    rf_lenet = lt.receptive_field(lat.rf_layers(lenet))
    assert [r for r, _ in rf_lenet] == [5, 6, 14, 16]
    assert lt.receptive_field(lat.rf_layers(lenet) + [(5,)])[-1] == (32, 4)
    rf_tv = lt.receptive_field(lat.rf_layers(tv))
    assert rf_tv == lt.receptive_field(lat.rf_layers(paper))
    assert rf_tv[6] == (163, 16) and rf_tv[-1] == (195, 32)
    assert lt.nonzero_extent(lt.receptive_field_by_gradient(lat.rf_layers(lenet)[:3])) == (14, 14)


def test_alexnet_against_lenet_ratios(alexnet_rows):
    """Part 3: AlexNet has 990 times LeNet-5's parameters, 1,715 times its MACs and 147 times
    its input values."""
    sum_tv = alexnet_rows["tv"][1]
    sum_lenet = at.summary(gm.LeNet5(), (1, 32, 32))
    assert round(sum_tv["params"] / sum_lenet["params"]) == 990
    assert round(sum_tv["macs"] / sum_lenet["macs"]) == 1715
    assert 3 * 224 * 224 // (32 * 32) == 147


def test_torchvision_alexnet_against_the_paper(alexnets, alexnet_rows):
    """Section 4.1: channels, kernels, groups, LRN, adaptive pooling, the FC layers, the
    dropout placement and the 135,616 parameters between the two."""
    tv, paper = alexnets
    A = lat.ALEXNET_PAPER
    tv_set, ap_set = lat.conv_settings(tv), lat.conv_settings(paper)
    assert [s["out"] for s in tv_set] == [64, 192, 384, 256, 256]
    assert [s["out"] for s in ap_set] == list(A["channels"]) == [96, 256, 384, 384, 256]
    assert [s["k"] for s in tv_set] == [s["k"] for s in ap_set] == list(A["kernels"])
    assert [s["groups"] for s in tv_set] == [1] * 5
    assert lat.count_modules(tv, nn.LocalResponseNorm) == 0
    assert lat.count_modules(paper, nn.LocalResponseNorm) == 2
    assert isinstance(tv.avgpool, nn.AdaptiveAvgPool2d) and tv.avgpool.output_size == (6, 6)
    assert [m.out_features for m in tv.classifier if isinstance(m, nn.Linear)] == list(A["fc"])
    # torchvision drops what goes into fc6 and fc7: the 9,216 pooled features and fc6's output.
    tv_order = [type(m).__name__ for m in tv.classifier]
    paper_order = ["Linear", "ReLU", "Dropout", "Linear", "ReLU", "Dropout", "Linear"]
    assert tv_order == ["Dropout", "Linear", "ReLU", "Dropout", "Linear", "ReLU", "Linear"]
    assert tv_order.count("Dropout") == paper_order.count("Dropout") == 2
    assert tv.classifier[1].in_features == 256 * 6 * 6 == 9_216
    assert alexnet_rows["tv"][1]["params"] - alexnet_rows["paper"][1]["params"] == 135_616


def test_224_vs_227(alexnets):
    """Section 4.2: 54.25 on 224 without padding, 55 on 227; with padding 2 PyTorch floors
    55.25 to 55 and the windows read 2 + 224 + 1 = 227 columns; the paper's network refuses
    224x224."""
    tv, paper = alexnets
    assert lt.seed_out(224, 11, 4) == 54.25 and lt.seed_out(227, 11, 4) == 55
    assert lt.conv_out(224, 11, 4, p=2) == 55 and lt.seed_out(224, 11, 4, p=2) == 55.25
    windows = lt.kernel_positions(224, 11, 4, p=2)
    assert len(windows) == 55 and windows[-1][-1] == 226      # padded columns 0 to 226 are read
    assert 2 + 224 + 1 == 227
    assert lt.ignored_pixels(224, 11, 4, p=2) == lt.ignored_pixels(227, 11, 4) == []
    assert at.output_shapes(tv, (3, 224, 224), ["features.0"])["features.0"] == (64, 55, 55)
    assert at.output_shapes(paper, (3, 227, 227), ["features.0"])["features.0"] == (96, 55, 55)
    with pytest.raises(RuntimeError):
        paper(torch.zeros(1, 3, 224, 224, device="meta"))


def test_paper_neuron_counts(alexnet_rows):
    """Section 4.2: the paper's neurons per layer match the computed shapes except the first,
    96 x 55 x 55 = 290,400."""
    paper_neurons = [253_440, 186_624, 64_896, 64_896, 43_264, 4096, 4096, 1000]
    rows = [r for r in alexnet_rows["paper"][0] if r["type"] in ("Conv2d", "Linear")]
    computed = [int(np.prod(r["out_shape"])) for r in rows]
    assert computed[1:] == paper_neurons[1:]
    assert computed[0] == 96 * 55 * 55 == 290_400 != paper_neurons[0]


def test_rbf_output_and_the_parameter_difference():
    """Section 4.3: the RBF layer returns minus the squared distances to +-1 prototypes of
    7 x 12 = 84 values; 61,706 - 60,000 = 900 + 850 - 44."""
    net = gm.LeNet5Paper()
    h = torch.randn(3, 84, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(net.output(h), -torch.cdist(h, net.output.prototypes) ** 2,
                               rtol=1e-4, atol=1e-2)
    assert lat.LENET_PAPER["rbf_prototype"][0] * lat.LENET_PAPER["rbf_prototype"][1] == 84
    assert set(net.output.prototypes.unique().tolist()) == {-1.0, 1.0}
    diff = lt.count_params(gm.LeNet5()) - lat.LENET_PAPER["trainable_params"]
    assert diff == (2_416 - 1_516) + lt.linear_params(84, 10) - (12 + 32) == 1_706


def test_alexnet_small():
    """Section 4.4: a working network with 6 weight layers, 2 LRN layers and groups 1, 2, 1, 2."""
    small = gm.alexnet_small().eval()
    with torch.no_grad():
        assert small(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert at.summary(small, (3, 32, 32))["weight_layers"] == 6
    assert lat.count_modules(small, nn.LocalResponseNorm) == 2
    assert [s["groups"] for s in lat.conv_settings(small)] == [1, 2, 1, 2]


# ---------------------------------------------------------------------------
# Figures the notebook does not draw (tests/test_lectures.py checks the ones it draws)
# ---------------------------------------------------------------------------


def test_figures_the_notebook_does_not_draw():
    draws(lat.plot_two_gpus(4))                                   # no AlexNet to lay out
    draws(lat.plot_comparison({"a": {"x": 10}}, ["x"], log=False))
