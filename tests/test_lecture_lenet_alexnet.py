"""Tests for Lecture 5, "LeNet-5 and AlexNet": every helper in
``lectures/lenet_alexnet_tools.py`` against PyTorch, torchvision and the course's
``grader.models``, and the figures that the notebook does not draw (``tests/test_lectures.py``
executes the notebook and checks its figures).

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
    assert lat.sparse_conv_params(gm.C3_TABLE, 5) == 1_516
    assert lt.conv_params(6, 16, 5) == lat.sparse_conv_params([range(6)] * 16, 5) == 2_416
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
    assert lat.pool_coverage(55, 2, 2).max() == 1 and lat.pool_coverage(55, 3, 2).max() == 4
    assert lat.pool_coverage(55, 3, 2).min() == 1


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
    t = torch.linspace(-4, 4, 17)
    torch.testing.assert_close(lat.scaled_tanh(t), gm.LeNet5Paper().act(t))
    assert abs(lat.scaled_tanh(torch.tensor(1.0, dtype=D)).item() - 1.0) < 1e-4


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
# Figures the notebook does not draw (tests/test_lectures.py checks the ones it draws)
# ---------------------------------------------------------------------------


def test_figures_the_notebook_does_not_draw():
    draws(lat.plot_two_gpus(4))                                   # no AlexNet to lay out
    draws(lat.plot_comparison({"a": {"x": 10}}, ["x"], log=False))
