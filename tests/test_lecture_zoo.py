"""Tests for Lecture 4, "The convolution zoo" (notebooks 4a and 4b): every helper in
``lectures/zoo_tools.py`` against PyTorch, the convolution timing (``lectures/conv_timing.py``
and its command line, ``benchmarks/bench_convolution.py``) on a tiny layer, and the numbers and
claims the two notebooks show without asserting them.
(``tests/test_lectures.py`` executes the two notebooks and checks their figures.)

Run from the repository root:  python -m pytest tests/test_lecture_zoo.py -q
"""

from __future__ import annotations

import copy
import runpy
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import scipy.signal  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from hypothesis import assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from lectures import conv_timing as ct  # noqa: E402
from lectures import lecture_tools as lt  # noqa: E402
from lectures import zoo_tools as zt  # noqa: E402

# Deterministic property tests: the same examples on every run and machine.
PROPERTY = settings(derandomize=True, database=None, deadline=None, max_examples=100)
D = torch.float64


pytestmark = pytest.mark.usefixtures("one_thread")  # see tests/conftest.py


def rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=D)


def flops(fn) -> int:
    with FlopCounterMode(display=False) as counter:
        with torch.no_grad():
            fn()
    return counter.get_total_flops()


@st.composite
def conv_settings(draw, max_i=20):
    """(i, k, s, p) of a direct convolution that PyTorch accepts."""
    k = draw(st.integers(1, 6))
    s = draw(st.integers(1, 4))
    p = draw(st.integers(0, 3))
    i = draw(st.integers(max(1, k - 2 * p), max_i))
    return i, k, s, p


# ---------------------------------------------------------------------------
# Costs
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("c, size", [(64, 56), (32, 6), (8, 10)])
def test_zoo_summary_against_count_params_and_flop_counter(c, size):
    rows = zt.zoo_summary(c=c, k=3, size=size, groups=4, frames=2)
    assert rows[0]["layer"].startswith("standard") and rows[0]["x standard"] == "1.000"
    assert ("grouped, g=32" in [r["layer"] for r in rows]) == (c % 32 == 0)
    for row in rows:
        # The meta device gives shapes and FLOP counts without computing anything.
        module, x = row["module"].to("meta"), torch.zeros(1, *row["input"], device="meta")
        assert row["params"] == lt.count_params(module), row["layer"]
        # PyTorch counts a multiply and an add per MAC.
        assert 2 * row["macs"] == flops(lambda m=module, x=x: m(x)), row["layer"]
        out = module(x)
        # Every layer makes size x size maps (the transposed one from size/2), except the
        # two downsampling ones.
        halves = row["layer"].startswith("stride-2") or "pooling" in row["layer"]
        assert out.shape[-1] == (size // 2 if halves else size), row["layer"]


def test_summary_text():
    rows = zt.zoo_summary(c=32, size=8)
    lines = zt.summary_text(rows).splitlines()
    assert len(lines) == len(rows) + 2 and lines[0].split()[:2] == ["layer", "params"]
    assert lines[2].startswith("standard k x k") and lines[2].endswith(rows[0]["used in"])
    assert "36,864" not in lines[2] and f"{rows[0]['params']:,}" in lines[2]


@settings(derandomize=True, database=None, deadline=None, max_examples=30)
@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4), st.sampled_from([1, 3, 5]),
       st.integers(3, 6))
def test_cost_formulas_property(a, b, m, k, out):
    c_in, c_out, c_mid = 2 * a, 2 * b, m
    x = torch.zeros(1, c_in, out, out)
    pad = k // 2
    cases = [
        (zt.cost_conv(c_in, c_out, k, out), nn.Conv2d(c_in, c_out, k, padding=pad, bias=False)),
        (zt.cost_conv(c_in, c_out, k, out, groups=2),
         nn.Conv2d(c_in, c_out, k, padding=pad, groups=2, bias=False)),
        (zt.cost_bottleneck(c_in, c_mid, c_out, k, out),
         nn.Sequential(nn.Conv2d(c_in, c_mid, 1, bias=False),
                       nn.Conv2d(c_mid, c_out, k, padding=pad, bias=False))),
        (zt.cost_spatially_separable(c_in, c_out, k, out),
         nn.Sequential(nn.Conv2d(c_in, c_out, (k, 1), padding=(pad, 0), bias=False),
                       nn.Conv2d(c_out, c_out, (1, k), padding=(0, pad), bias=False))),
        (zt.cost_depthwise_separable(c_in, c_out, k, out), zt.depthwise_separable(c_in, c_out, k)),
    ]
    for (weights, macs), module in cases:
        assert weights == lt.count_params(module)
        assert 2 * macs == flops(lambda m=module: m(x))
    # Transposed: the same weights, work counted per *input* pixel.
    y = torch.zeros(1, c_in, out, out)
    tconv = nn.ConvTranspose2d(c_in, c_out, k, stride=2, bias=False)
    weights, macs = zt.cost_transposed(c_in, c_out, k, out)
    assert weights == lt.count_params(tconv) and 2 * macs == flops(lambda: tconv(y))
    # 3-D: the 2-D formula with one more kernel axis and one more output axis.
    conv3 = nn.Conv3d(c_in, c_out, k, bias=False)
    v = torch.zeros(1, c_in, k + 1, out + k - 1, out + k - 1)
    weights, macs = zt.cost_conv3d(c_in, c_out, k, conv3(v).shape[2:])
    assert weights == lt.count_params(conv3) and 2 * macs == flops(lambda: conv3(v))


@pytest.mark.parametrize("c_in, c_out, k", [(32, 64, 3), (64, 64, 3), (16, 128, 5), (3, 7, 1)])
def test_depthwise_separable_counts(c_in, c_out, k):
    dws = zt.depthwise_separable(c_in, c_out, k)
    assert lt.count_params(dws) == k * k * c_in + c_in * c_out
    assert lt.count_params(zt.depthwise_separable(c_in, c_out, k, bias=True)) == (
        k * k * c_in + c_in + c_in * c_out + c_out)
    std = nn.Conv2d(c_in, c_out, k, bias=False)
    assert lt.count_params(std) == k * k * c_in * c_out
    dws_macs = zt.cost_depthwise_separable(c_in, c_out, k, 10)[1]
    std_macs = zt.cost_conv(c_in, c_out, k, 10)[1]
    assert dws_macs / std_macs == pytest.approx(zt.dws_mac_ratio(c_out, k), rel=1e-12)
    if (c_in, c_out, k) == (32, 64, 3):  # the lecture's example
        assert lt.count_params(dws) == 288 + 2048 == 2336 and lt.count_params(std) == 18432


def test_depthwise_separable_is_a_constrained_standard_conv():
    dws = zt.depthwise_separable(4, 6, 3).double()
    x = rand(2, 4, 7, 7)
    w = zt.dws_equivalent_kernel(dws[0].weight, dws[1].weight)
    assert w.shape == (6, 4, 3, 3)
    torch.testing.assert_close(dws(x), F.conv2d(x, w, padding=1))
    # The depthwise step alone treats each channel separately.
    for c in range(4):
        torch.testing.assert_close(dws[0](x)[:, c], F.conv2d(x[:, c:c + 1], dws[0].weight[c:c + 1],
                                                             padding=1)[:, 0])


# ---------------------------------------------------------------------------
# 1x1 and 3-D convolutions
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("bias", [True, False])
def test_pointwise_as_linear(bias):
    conv = nn.Conv2d(5, 3, 1, bias=bias).double()
    x = rand(2, 5, 4, 6)
    torch.testing.assert_close(zt.pointwise_as_linear(x, conv), conv(x))
    # The same nn.Linear at every pixel.
    lin = nn.Linear(5, 3, bias=bias).double()
    with torch.no_grad():
        lin.weight.copy_(conv.weight[:, :, 0, 0])
        if bias:
            lin.bias.copy_(conv.bias)
    torch.testing.assert_close(conv(x)[1, :, 2, 3], lin(x[1, :, 2, 3]))
    with pytest.raises(ValueError):
        zt.pointwise_as_linear(x, nn.Conv2d(5, 3, 3))


@PROPERTY
@given(st.lists(st.integers(3, 9), min_size=3, max_size=3), st.integers(1, 3), st.integers(1, 2),
       st.integers(0, 1))
def test_conv3d_output_shape(dhw, k, s, p):
    x = torch.zeros(1, 1, *dhw)
    out = F.conv3d(x, torch.zeros(1, 1, k, k, k), stride=s, padding=p)
    assert zt.conv3d_output_shape(dhw, k, s, p) == tuple(out.shape[2:])


# ---------------------------------------------------------------------------
# Transposed convolution
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("i, k", [(4, 3), (3, 1), (5, 2), (6, 4), (5, 5)])
def test_kernel_matrix_three_ways(i, k):
    kernel = rand(k, k, seed=i * 10 + k)
    x = rand(1, 1, i, i, seed=1)
    C = zt.kernel_matrix(kernel.numpy(), i)
    o = i - k + 1
    assert C.shape == (o * o, i * i)
    # C computes the convolution ...
    np.testing.assert_allclose(C @ x.numpy().ravel(),
                               F.conv2d(x, kernel[None, None]).numpy().ravel())
    # ... and C^T its transpose, which is conv_transpose2d and autograd's vector-Jacobian product.
    y = rand(1, 1, o, o, seed=2)
    by_matrix = zt.transposed_conv_by_matrix(y.numpy(), kernel.numpy(), i)
    np.testing.assert_allclose(by_matrix, F.conv_transpose2d(y, kernel[None, None])[0, 0].numpy())
    by_vjp = zt.transposed_conv_by_vjp(y, kernel[None, None], (1, 1, i, i))
    np.testing.assert_allclose(by_matrix, by_vjp[0, 0].numpy())
    # The Jacobian of conv2d is C.
    jac = torch.autograd.functional.jacobian(lambda t: F.conv2d(t, kernel[None, None]), x)
    np.testing.assert_allclose(jac.reshape(o * o, i * i).numpy(), C)


def test_seed_matrix_layout():
    idx = zt.conv_matrix_index(4, 3)
    assert idx.shape == (4, 16)
    # Column j of C^T starts at the input pixel under the window's corner: 0, 1, 4, 5.
    # ([S4]'s table shifts columns 2 and 3 by one row only, as if the input were 1-D.)
    assert list((idx.T >= 0).argmax(axis=0)) == [0, 1, 4, 5]
    assert [int(v) for v in idx[0]] == [0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, -1, -1, -1, -1]
    assert all((row >= 0).sum() == 9 for row in idx)


@PROPERTY
@given(conv_settings(max_i=12), st.integers(1, 3), st.integers(1, 3))
def test_transposed_conv_by_vjp_is_conv_transpose2d(cfg, c_in, c_out):
    i, k, s, p = cfg
    w = rand(c_out, c_in, k, k, seed=i)
    o = lt.conv_out(i, k, s, p)
    y = rand(2, c_out, o, o, seed=k)
    a = zt.output_padding_for(i, k, s, p)
    expected = F.conv_transpose2d(y, w, stride=s, padding=p, output_padding=a)
    torch.testing.assert_close(zt.transposed_conv_by_vjp(y, w, (2, c_in, i, i), s, p), expected)
    torch.testing.assert_close(zt.input_grad_by_transpose(y, w, (i, i), s, p), expected)


@PROPERTY
@given(conv_settings())
def test_relationship_14_round_trip(cfg):
    i, k, s, p = cfg
    o = lt.conv_out(i, k, s, p)
    a = zt.output_padding_for(i, k, s, p)
    assert 0 <= a < s
    out = F.conv_transpose2d(torch.zeros(1, 1, o, o), torch.zeros(1, 1, k, k), stride=s,
                             padding=p, output_padding=a)
    assert out.shape[-1] == zt.tout_general(o, k, s, p, a) == i


def tconv_len(i_, k, s=1, p=0, a=0) -> int:
    y = torch.zeros(1, 1, i_, i_)
    return F.conv_transpose2d(y, torch.zeros(1, 1, k, k), stride=s, padding=p,
                              output_padding=a).shape[-1]


@PROPERTY
@given(st.integers(1, 12), st.integers(1, 6), st.integers(1, 4), st.integers(0, 5),
       st.integers(0, 3))
def test_relationships_8_to_14(i_, k, s, p, a):
    """Each transposed relationship against conv_transpose2d, where its conditions hold."""
    assume(a < s)
    if tconv_len_ok(i_, k, 1, 0):
        assert zt.tout_no_padding(i_, k) == tconv_len(i_, k)                          # 8
    if tconv_len_ok(i_, k, 1, p):
        assert zt.tout_padded(i_, k, p) == tconv_len(i_, k, 1, p)                     # 9
    if k % 2 == 1:
        assert zt.tout_half(i_, k) == tconv_len(i_, k, 1, k // 2) == i_               # 10
    if i_ >= k:
        assert zt.tout_full(i_, k) == tconv_len(i_, k, 1, k - 1) == i_ - (k - 1)      # 11
    assert zt.tout_strided(i_, k, s) == tconv_len(i_, k, s)                           # 12
    if tconv_len_ok(i_, k, s, p):
        assert zt.tout_padded_strided(i_, k, s, p) == tconv_len(i_, k, s, p)          # 13
    if tconv_len_ok(i_, k, s, p, a):
        assert zt.tout_general(i_, k, s, p, a) == tconv_len(i_, k, s, p, a)          # 14


def tconv_len_ok(i_, k, s, p, a=0) -> bool:
    """PyTorch refuses a transposed convolution whose output would be empty."""
    return s * (i_ - 1) + a + k - 2 * p >= 1


@PROPERTY
@given(conv_settings())
def test_relationships_as_stated_for_the_direct_conv(cfg):
    """Dumoulin & Visin state 8-13 as 'the transpose of a conv with (i, k, s, p)'."""
    i, k, s, p = cfg
    o = lt.conv_out(i, k, s, p)
    if s == 1 and p == 0:
        assert zt.tout_no_padding(o, k) == i
    if s == 1:
        assert zt.tout_padded(o, k, p) == i
    if (i - k) % s == 0 and p == 0:
        assert zt.tout_strided(o, k, s) == i
    if (i + 2 * p - k) % s == 0:
        assert zt.tout_padded_strided(o, k, s, p) == i


@PROPERTY
@given(st.integers(1, 6), st.integers(1, 5), st.integers(1, 4), st.integers(0, 4),
       st.integers(0, 3))
def test_transposed_by_stretching(i_, k, s, p, a):
    assume(a < s and p <= k - 1 and tconv_len_ok(i_, k, s, p, a))
    y, w = rand(i_, i_, seed=i_), rand(k, k, seed=k)
    expected = F.conv_transpose2d(y[None, None], w[None, None], stride=s, padding=p,
                                  output_padding=a)[0, 0].numpy()
    np.testing.assert_allclose(zt.transposed_by_stretching(y.numpy(), w.numpy(), s, p, a), expected,
                               atol=1e-12)


def test_stretch_and_its_limits():
    z = zt.stretch(np.array([[1.0, 2.0], [3.0, 4.0]]), 3)
    assert z.shape == (4, 4) and z[0, 3] == 2 and z[3, 3] == 4 and np.count_nonzero(z) == 4
    with pytest.raises(ValueError):
        zt.transposed_by_stretching(np.ones((2, 2)), np.ones((3, 3)), 1, padding=3)


@pytest.mark.parametrize("stride", [1, 2, 3])
def test_transposed_stamps_add_up_to_conv_transpose2d(stride):
    y, kernel = rand(3, 2, seed=stride), rand(3, 4, seed=9)
    stamps = zt.transposed_stamps(y.numpy(), kernel.numpy(), stride)
    assert stamps.shape[0] == 6
    expected = F.conv_transpose2d(y[None, None], kernel[None, None], stride=stride)[0, 0].numpy()
    np.testing.assert_allclose(stamps.sum(axis=0), expected)


def count_overlaps(n, k, s):
    """Independent count: every (input pixel, kernel tap) pair lands on one output pixel."""
    out = np.zeros((s * (n - 1) + k,) * 2)
    for r in range(n):
        for c in range(n):
            out[r * s:r * s + k, c * s:c * s + k] += 1
    return out


@pytest.mark.parametrize("n, k, s", [(5, 3, 2), (5, 4, 2), (4, 3, 3), (6, 6, 3), (3, 1, 2)])
def test_overlap_counts(n, k, s):
    counts = zt.overlap_counts(n, k, s)
    np.testing.assert_array_equal(counts, count_overlaps(n, k, s))
    interior = counts[k:-k, k:-k]
    if interior.size:
        if k % s == 0:
            assert np.all(interior == (k // s) ** 2)  # even coverage: no checkerboard
        else:
            assert interior.min() < interior.max()    # uneven: the checkerboard


def test_upsample_then_conv_is_even():
    counts = zt.upsample_conv_counts(5, 3, 2)
    assert counts.shape == (10, 10)
    assert np.all(counts[1:-1, 1:-1] == 9)
    up = np.repeat(np.repeat(np.ones((5, 5)), 2, axis=0), 2, axis=1)
    np.testing.assert_array_equal(counts, scipy.signal.correlate2d(up, np.ones((3, 3)), "same"))


# ---------------------------------------------------------------------------
# Dilated convolution
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("k", [1, 2, 3, 5])
@pytest.mark.parametrize("d", [1, 2, 4])
def test_dilate_kernel(k, d):
    w = rand(k, k, seed=k + d)
    x = rand(1, 1, 20, 21)
    big = zt.dilate_kernel(w.numpy(), d)
    assert big.shape == (lt.effective_kernel(k, d),) * 2 == (d * (k - 1) + 1,) * 2
    torch.testing.assert_close(F.conv2d(x, torch.from_numpy(big)[None, None]),
                               F.conv2d(x, w[None, None], dilation=d))


def test_dilated_stack_grows_exponentially():
    stack = [(3, 1, 1), (3, 1, 2), (3, 1, 4)]
    assert [r for r, _ in lt.receptive_field(stack)] == [3, 7, 15]
    for n, r in enumerate([3, 7, 15]):
        grad = lt.receptive_field_by_gradient(stack[:n + 1])
        assert lt.nonzero_extent(grad) == (r, r)
    # Only 3 x 9 weights, against 225 for one 15x15 kernel.
    net = nn.Sequential(*[nn.Conv2d(1, 1, 3, dilation=d, bias=False) for d in (1, 2, 4)])
    assert lt.count_params(net) == 27


# ---------------------------------------------------------------------------
# Spatially separable and flattened convolutions
# ---------------------------------------------------------------------------


def test_sobel_is_separable():
    np.testing.assert_array_equal(np.outer(zt.SOBEL_COL, zt.SOBEL_ROW), zt.SOBEL_X)
    assert np.linalg.matrix_rank(zt.SOBEL_X) == 1
    assert np.linalg.matrix_rank(np.random.default_rng(0).normal(size=(3, 3))) == 3
    gray = zt.load_gray_photo(40)
    vertical, both = zt.two_passes(gray, zt.SOBEL_COL, zt.SOBEL_ROW)
    one = F.conv2d(torch.tensor(gray)[None, None], torch.tensor(zt.SOBEL_X)[None, None])[0, 0]
    assert vertical.shape == (38, gray.shape[1])
    np.testing.assert_allclose(both, one.numpy(), atol=1e-12)
    np.testing.assert_allclose(one.numpy(), scipy.signal.correlate2d(gray, zt.SOBEL_X, "valid"))


def test_load_gray_photo_is_lecture_1s_photo():
    np.testing.assert_array_equal(zt.load_gray_photo(40), lt.to_gray(lt.load_photo(height=40)))


def test_flattened_convolution():
    rng = np.random.default_rng(3)
    a, b, c = rng.normal(size=5), rng.normal(size=3), rng.normal(size=3)
    kern = zt.outer3(a, b, c)
    assert kern.shape == (5, 3, 3)
    for ch in range(5):
        np.testing.assert_allclose(kern[ch], a[ch] * np.outer(b, c))
    x = rand(2, 5, 9, 8)
    t = torch.from_numpy
    one = F.conv2d(x, t(kern)[None])
    # Channel, vertical, horizontal: a 1x1 conv, then a 3x1 and a 1x3 one.
    three = F.conv2d(F.conv2d(F.conv2d(x, t(a).view(1, 5, 1, 1)), t(b).view(1, 1, 3, 1)),
                     t(c).view(1, 1, 1, 3))
    torch.testing.assert_close(one, three)


# ---------------------------------------------------------------------------
# Grouped and shuffled convolutions
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("c_in, c_out, g", [(8, 8, 1), (8, 8, 2), (6, 9, 3), (4, 8, 4), (6, 6, 6)])
def test_group_mask_against_autograd(c_in, c_out, g):
    torch.manual_seed(0)
    conv = nn.Conv2d(c_in, c_out, 3, padding=1, groups=g).double()
    measured = zt.channel_dependence(conv, c_in)
    np.testing.assert_array_equal(measured, zt.group_mask(c_in, c_out, g))
    assert measured.sum() == c_out * c_in // g  # one block of (c_out/g) x (c_in/g) per group
    assert lt.conv_params(c_in, c_out, 3, groups=g) == lt.count_params(conv)


def test_channel_dependence_leaves_the_thread_count_alone():
    before = torch.get_num_threads()
    dep = zt.channel_dependence(nn.Conv2d(4, 2, 1, bias=False).double(), 4)
    assert dep.shape == (2, 4) and dep.all() and torch.get_num_threads() == before
    with pytest.raises(RuntimeError), lt.one_thread():
        assert torch.get_num_threads() == 1
        raise RuntimeError("restored even after an error")
    assert torch.get_num_threads() == before


def test_group_mask_rejects_bad_groups():
    with pytest.raises(ValueError):
        zt.group_mask(6, 8, 4)


@pytest.mark.parametrize("c, g", [(6, 2), (6, 3), (9, 3), (12, 4), (8, 8)])
def test_shuffle_permutation(c, g):
    x = torch.arange(c, dtype=D).view(1, c, 1, 1).expand(2, c, 3, 3).contiguous()
    perm = zt.shuffle_permutation(c, g)
    torch.testing.assert_close(nn.ChannelShuffle(g)(x), x[:, perm])
    # reshape (N, g, C/g, H, W) -> transpose(1, 2) -> reshape: the same thing.
    n, _, h, w = x.shape
    torch.testing.assert_close(x.view(n, g, c // g, h, w).transpose(1, 2).reshape(n, c, h, w),
                               x[:, perm])
    mask = zt.permutation_mask(perm)
    np.testing.assert_array_equal(mask.sum(0), 1)
    np.testing.assert_array_equal(mask.sum(1), 1)
    np.testing.assert_array_equal(mask @ np.arange(c), perm)


@pytest.mark.parametrize("c, g", [(9, 3), (8, 2), (12, 3), (6, 3)])
def test_shuffle_lets_information_cross_groups(c, g):
    for shuffle in (False, True):
        measured = zt.channel_dependence(zt.grouped_stack(c, g, shuffle), c)
        np.testing.assert_array_equal(measured, zt.compose_masks(zt.stack_masks(c, g, shuffle)))
        if not shuffle:
            # Output group j still depends on input group j only.
            np.testing.assert_array_equal(measured, zt.group_mask(c, c, g))
        elif c // g >= g:
            assert measured.all()  # every output sees every input channel
    assert len(zt.grouped_stack(c, g, True)) == 3


# ---------------------------------------------------------------------------
# Local response normalisation
# ---------------------------------------------------------------------------


@settings(derandomize=True, database=None, deadline=None, max_examples=60)
@given(st.integers(0, 8), st.integers(1, 12), st.floats(0.5, 3), st.floats(1e-4, 1.0),
       st.floats(0.1, 1.5), st.integers(0, 2 ** 16))
def test_seed_lrn_formula_equals_torch(r, n, k, alpha, beta, seed):
    a = np.random.default_rng(seed).uniform(0, 3, size=n)
    args = zt.lrn_torch_args(k, alpha, beta, r)
    if r % 2 == 0:
        assert args["size"] == r + 1 and args["alpha"] == pytest.approx(alpha * (r + 1))
    else:
        assert args["size"] == r  # r/2 not an integer: [S3]'s window has width r
    got = F.local_response_norm(torch.tensor(a).view(1, n, 1, 1), **args).view(-1).numpy()
    np.testing.assert_allclose(zt.lrn_seed(a, k, alpha, beta, r), got, rtol=1e-12)
    # Also for (N, C, L) and (N, C, H, W) inputs: the same formula along the channel axis.
    x = torch.tensor(np.random.default_rng(seed + 1).uniform(0, 3, size=(2, n, 3)))
    ours = np.stack([[zt.lrn_seed(x[b, :, j].numpy(), k, alpha, beta, r) for j in range(3)]
                     for b in range(2)]).transpose(0, 2, 1)
    np.testing.assert_allclose(F.local_response_norm(x, **args).numpy(), ours, rtol=1e-12)


@pytest.mark.parametrize("size", range(1, 8))
def test_torch_lrn_window(size):
    n = 9
    measured = zt.lrn_window_matrix(n, size)
    for i in range(n):
        lo, hi = zt.torch_lrn_window(i, size, n)
        assert list(np.flatnonzero(measured[i])) == list(range(lo, hi + 1))
    if size % 2 == 0:  # one more channel behind than ahead
        assert zt.torch_lrn_window(4, size, n) == (4 - size // 2, 4 + size // 2 - 1)


def test_alexnet_lrn_in_pytorch():
    p = zt.ALEXNET_LRN
    args = zt.lrn_torch_args(p["k"], p["alpha"], p["beta"], r=p["n"] - 1)
    assert args == {"size": 5, "alpha": pytest.approx(5e-4), "beta": 0.75, "k": 2.0}
    a = np.random.default_rng(0).uniform(0, 50, size=8)
    paper = zt.lrn_seed(a, p["k"], p["alpha"], p["beta"], r=4)
    x = torch.tensor(a).view(1, 8, 1, 1)
    np.testing.assert_allclose(nn.LocalResponseNorm(**args)(x).view(-1).numpy(), paper)
    # Copying the paper's alpha into PyTorch is a different (weaker) normalisation.
    naive = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0)(x).view(-1).numpy()
    assert np.all(naive > paper)


# ---------------------------------------------------------------------------
# Pooling, backward pass, im2col
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("k", [1, 2, 3])
def test_avg_pool_is_a_strided_conv(k):
    x = rand(2, 3, 10, 11)
    torch.testing.assert_close(zt.avg_pool_as_conv(x, k), F.avg_pool2d(x, k))


@PROPERTY
@given(conv_settings(max_i=12), st.integers(1, 3), st.integers(1, 3))
def test_input_gradient_is_a_transposed_conv(cfg, c_in, c_out):
    i, k, s, p = cfg
    x = rand(2, c_in, i, i + 1, seed=i).requires_grad_(True)
    w = rand(c_out, c_in, k, k, seed=k)
    out = F.conv2d(x, w, stride=s, padding=p)
    dout = rand(*out.shape, seed=s)
    (grad,) = torch.autograd.grad(out, x, grad_outputs=dout)
    torch.testing.assert_close(zt.input_grad_by_transpose(dout, w, (i, i + 1), s, p), grad)


def test_unfold_layout_and_conv_by_unfold():
    c, k = 2, 3
    x = torch.arange(2 * c * 5 * 6, dtype=D).view(2, c, 5, 6)
    cols = F.unfold(x, k)
    assert cols.shape == (2, c * k * k, 3 * 4)
    labels = zt.unfold_row_labels(c, k)
    assert len(labels) == c * k * k and labels[0] == "c0 (0,0)" and labels[k * k] == "c1 (0,0)"
    # Column j is the patch at (j // 4, j % 4), read channel, row, column.
    for col in range(12):
        r0, c0 = divmod(col, 4)
        torch.testing.assert_close(cols[1, :, col], x[1, :, r0:r0 + k, c0:c0 + k].reshape(-1))
    w = rand(4, c, k, k)
    torch.testing.assert_close(zt.conv_by_unfold(x, w), F.conv2d(x, w))


# ---------------------------------------------------------------------------
# The convolution timing and the benchmark script
# ---------------------------------------------------------------------------


def test_measure_times_every_implementation():
    results = ct.measure(channels=4, size=8, repeat=1)
    assert tuple(results) == ct.KEYS == ("naive", "fast", "torch f64", "torch f32")
    assert all(t > 0 for t in results.values())


def test_timed_implementations_equal_torch():
    rng = np.random.default_rng(0)
    x, w = rng.normal(size=(2, 3, 7, 6)), rng.normal(size=(5, 3, 3, 3))
    fast, label = ct.load_fast()
    assert label.startswith("fast")
    for p in (0, 1):
        expected = F.conv2d(torch.from_numpy(x), torch.from_numpy(w), padding=p).numpy()
        np.testing.assert_allclose(ct.naive_conv2d(x, w, p), expected, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(ct.im2col_conv2d(x, w, p), expected, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(ct.with_padding(fast)(x, w, p), expected, rtol=1e-10,
                                   atol=1e-12)


def test_timing_refuses_a_wrong_implementation():
    x, w = np.ones((1, 2, 5, 5)), np.ones((2, 2, 3, 3))
    ct.verify(ct.naive_conv2d, x, w, 1, "naive")
    with pytest.raises(AssertionError):
        ct.verify(lambda x, w, p: ct.naive_conv2d(x, w, p) + 1e-6, x, w, 1, "off by 1e-6")
    with pytest.raises(AssertionError):
        ct.verify(lambda x, w, p: ct.naive_conv2d(x, w, 0), x, w, 1, "ignores padding")


def test_benchmark_script_prints_a_table(capsys):
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_convolution.py"
    runpy.run_path(str(script))["main"](["--channels", "2", "--size", "6", "--repeat", "1"])
    out = capsys.readouterr().out
    assert "device:" in out and "x torch f64" in out and "naive" in out


# ---------------------------------------------------------------------------
# The numbers and claims lectures 4a and 4b show, checked here so that they read as lectures
# (each test names the section; properties that a test above already covers are not repeated)
# ---------------------------------------------------------------------------

C, SIZE = 64, 56                                    # the reference layer: 3x3, 64 -> 64, 56x56
STD_PARAMS, STD_MACS = zt.cost_conv(C, C, 3, SIZE)


def macs(module, input_shape) -> int:
    """What PyTorch's FLOP counter says for one image, as the notebooks count it (meta device)."""
    module = copy.deepcopy(module).to("meta")
    return flops(lambda: module(torch.zeros(1, *input_shape, device="meta"))) // 2


def test_reference_layer_cost():
    standard = nn.Conv2d(C, C, 3, padding=1, bias=False)
    assert STD_PARAMS == lt.count_params(standard) == 36_864
    assert STD_MACS == macs(standard, (C, SIZE, SIZE)) == 56 * 56 * 64 * 64 * 9


def test_4a_1_the_1x1_conv_is_one_linear_layer_at_every_pixel():
    conv = nn.Conv2d(64, 32, kernel_size=1).double()
    lin = nn.Linear(64, 32).double()
    with torch.no_grad():
        lin.weight.copy_(conv.weight[:, :, 0, 0])
        lin.bias.copy_(conv.bias)
    x = rand(2, 64, 7, 9)
    y = conv(x)
    for n, r, c in [(0, 0, 0), (1, 3, 5), (1, 6, 8)]:
        torch.testing.assert_close(y[n, :, r, c], lin(x[n, :, r, c]))
    torch.testing.assert_close(y, zt.pointwise_as_linear(x, conv))


def test_4a_1_1_bottleneck_costs():
    direct = nn.Conv2d(256, 256, 3, padding=1, bias=False)
    bottleneck = nn.Sequential(nn.Conv2d(256, 64, 1, bias=False),
                               nn.Conv2d(64, 256, 3, padding=1, bias=False))
    for (w, m), module in [(zt.cost_conv(256, 256, 3, 28), direct),
                           (zt.cost_bottleneck(256, 64, 256, 3, 28), bottleneck)]:
        assert w == lt.count_params(module) and m == macs(module, (256, 28, 28))
    assert [zt.cost_conv(256, 256, 3, 28)[0], zt.cost_bottleneck(256, 64, 256, 3, 28)[0]] == [
        589_824, 163_840]


def test_4a_2_3d_conv_shape_and_cost():
    x, w3 = rand(1, 1, 5, 7, 7), rand(4, 1, 3, 3, 3, seed=1)
    assert F.conv3d(x, w3).shape[2:] == zt.conv3d_output_shape((5, 7, 7), 3) == (3, 5, 5)
    frames = 8
    layer = nn.Conv3d(C, C, 3, padding=1, bias=False)
    out_shape = zt.conv3d_output_shape((frames, SIZE, SIZE), 3, p=1)
    w3d, m3d = zt.cost_conv3d(C, C, 3, out_shape)
    assert w3d == lt.count_params(layer) == 3 * STD_PARAMS
    assert m3d == macs(layer, (C, frames, SIZE, SIZE)) == frames * 3 * STD_MACS


def test_4a_3_2_and_3_3_the_seed_kernel_matrix_and_three_transposes():
    kernel = lt.SEED_KERNEL
    cmat = zt.kernel_matrix(kernel, 4)
    x = np.arange(16.0).reshape(4, 4)
    by_torch = F.conv2d(torch.tensor(x)[None, None], torch.tensor(kernel)[None, None])[0, 0].numpy()
    np.testing.assert_allclose((cmat @ x.ravel()).reshape(2, 2), by_torch)
    y = np.array([[1.0, -2.0], [0.5, 3.0]])
    w_t, y_t = torch.tensor(kernel)[None, None], torch.tensor(y)[None, None]
    a = zt.transposed_conv_by_matrix(y, kernel, 4)
    np.testing.assert_allclose(a, F.conv_transpose2d(y_t, w_t)[0, 0].numpy())
    np.testing.assert_allclose(a, zt.transposed_conv_by_vjp(y_t, w_t, (1, 1, 4, 4))[0, 0].numpy())


def test_4a_3_3_transposed_is_not_the_inverse():
    kernel = torch.tensor(lt.SEED_KERNEL)[None, None]
    x = torch.arange(16.0, dtype=D).view(1, 1, 4, 4)
    back = F.conv_transpose2d(F.conv2d(x, kernel), kernel)
    assert back.shape == x.shape and not torch.allclose(back, x)
    cmat = zt.kernel_matrix(lt.SEED_KERNEL, 4)
    assert np.linalg.matrix_rank(cmat.T @ cmat) == 4           # a 16x16 matrix of rank 4: not I


def test_4a_3_4_and_3_5_stamps_and_stretching_on_the_lectures_example():
    y, kernel = np.array([[1.0, -2.0], [0.5, 3.0]]), lt.SEED_KERNEL
    y_t, w_t = torch.tensor(y)[None, None], torch.tensor(kernel)[None, None]
    np.testing.assert_allclose(zt.transposed_stamps(y, kernel, stride=2).sum(axis=0),
                               F.conv_transpose2d(y_t, w_t, stride=2)[0, 0].numpy())
    for s, p, a in [(1, 0, 0), (2, 0, 0), (2, 1, 1), (3, 1, 2)]:
        expected = F.conv_transpose2d(y_t, w_t, stride=s, padding=p, output_padding=a)[0, 0].numpy()
        np.testing.assert_allclose(zt.transposed_by_stretching(y, kernel, s, p, a), expected)


def test_4a_3_6_the_output_padding_table_and_the_special_cases():
    for i, k, s, p in [(4, 3, 1, 0), (5, 3, 1, 1), (5, 3, 1, 2), (5, 3, 2, 0), (7, 3, 2, 1),
                       (8, 3, 2, 1), (6, 4, 2, 1), (56, 3, 2, 1)]:
        o = lt.conv_out(i, k, s, p)
        a = zt.output_padding_for(i, k, s, p)
        assert tconv_len(o, k, s, p, a) == zt.tout_general(o, k, s, p, a) == i
    assert zt.tout_no_padding(2, 3) == 4                       # 8:  4x4 -> 2x2 and back
    assert zt.tout_padded(5, 3, 2) == 5 - 2 and zt.tout_half(5, 3) == 5 and zt.tout_full(7, 3) == 5
    assert zt.tout_strided(2, 3, 2) == 5                       # 12: 5 - 3 is divisible by 2
    assert zt.tout_padded_strided(4, 3, 2, 1) == 7             # 13: the 7 of 7 and 8; a = 1 gives 8


def test_4a_3_7_checkerboard_counts():
    assert set(np.unique(zt.overlap_counts(5, 3, 2)[3:-3, 3:-3])) == {1, 2, 4}
    assert np.all(zt.overlap_counts(5, 4, 2)[4:-4, 4:-4] == 4)
    assert np.all(zt.upsample_conv_counts(5, 3, 2)[1:-1, 1:-1] == 9)


def test_4a_3_7_transposed_layer_cost():
    tconv = nn.ConvTranspose2d(C, C, 3, stride=2, padding=1, output_padding=1, bias=False)
    w, m = zt.cost_transposed(C, C, 3, SIZE // 2)
    assert tconv(torch.zeros(1, C, 28, 28)).shape[-1] == SIZE
    assert w == lt.count_params(tconv) == STD_PARAMS
    assert m == macs(tconv, (C, SIZE // 2, SIZE // 2)) == STD_MACS // 4


def test_4a_4_receptive_fields_grow_exponentially_with_doubling_dilations():
    for L in range(1, 8):
        assert lt.receptive_field([(3, 1, 2 ** l) for l in range(L)])[-1][0] == 2 ** (L + 1) - 1
        assert lt.receptive_field([(3,)] * L)[-1][0] == 2 * L + 1


def test_4a_4_dilated_layer_keeps_the_size_and_the_cost():
    dilated = nn.Conv2d(C, C, 3, padding=2, dilation=2, bias=False)
    assert dilated(torch.zeros(1, C, SIZE, SIZE)).shape[-1] == SIZE
    assert lt.count_params(dilated) == STD_PARAMS and macs(dilated, (C, SIZE, SIZE)) == STD_MACS


def test_4a_5_kernel_ranks_and_two_passes_on_the_photo():
    assert np.linalg.matrix_rank(np.outer([1, 2, 1], [1, 2, 1]) / 16) == 1     # the Gaussian blur
    gray = zt.load_gray_photo(height=96)
    _, both = zt.two_passes(gray, zt.SOBEL_COL, zt.SOBEL_ROW)
    one = F.conv2d(torch.tensor(gray)[None, None], torch.tensor(zt.SOBEL_X)[None, None])[0, 0]
    np.testing.assert_allclose(both, one.numpy(), atol=1e-12)


def test_4a_5_factorised_layer_cost():
    factorised = nn.Sequential(nn.Conv2d(C, C, (3, 1), padding=(1, 0), bias=False),
                               nn.Conv2d(C, C, (1, 3), padding=(0, 1), bias=False))
    w, m = zt.cost_spatially_separable(C, C, 3, SIZE)
    assert w == lt.count_params(factorised) and m == macs(factorised, (C, SIZE, SIZE))


def test_4b_6_depthwise_separable_mac_ratio_counted_by_pytorch():
    dws, std = zt.depthwise_separable(32, 64, 3), nn.Conv2d(32, 64, 3, padding=1, bias=False)
    ratio = macs(dws, (32, 28, 28)) / macs(std, (32, 28, 28))
    assert abs(ratio - zt.dws_mac_ratio(64, 3)) < 1e-12


def test_4b_7_grouped_conv_costs_and_equals_separate_convs():
    g = 4
    grouped = nn.Conv2d(C, C, 3, padding=1, groups=g, bias=False)
    assert lt.count_params(grouped) == STD_PARAMS // g and macs(grouped, (C, SIZE, SIZE)) == STD_MACS // g
    x, w = rand(1, C, 8, 8), grouped.weight.detach().double()
    pieces = [F.conv2d(xg, wg, padding=1) for xg, wg in zip(x.chunk(g, dim=1), w.chunk(g, dim=0))]
    torch.testing.assert_close(F.conv2d(x, w, padding=1, groups=g), torch.cat(pieces, dim=1))
    conv8 = nn.Conv2d(8, 8, 3, padding=1, groups=4).double()
    np.testing.assert_array_equal(zt.channel_dependence(conv8, 8), zt.group_mask(8, 8, 4))


def test_4b_7_alexnet_and_resnext_grouped_layers():
    alexnet_conv2 = nn.Conv2d(96, 256, 5, groups=2, bias=False)
    resnext_conv = nn.Conv2d(128, 128, 3, groups=32, bias=False)
    assert lt.count_params(alexnet_conv2) == lt.conv_params(96, 256, 5, bias=False, groups=2) == 256 * 48 * 25
    assert lt.count_params(resnext_conv) == 4_608 and lt.conv_params(128, 128, 3, bias=False) == 147_456


def test_4b_8_shuffle_order_and_cost():
    x = torch.arange(9, dtype=D).view(1, 9, 1, 1)
    shuffled = x.view(1, 3, 3, 1, 1).transpose(1, 2).reshape(1, 9, 1, 1)
    assert shuffled.view(-1).long().tolist() == zt.shuffle_permutation(9, 3).tolist() == [
        0, 3, 6, 1, 4, 7, 2, 5, 8]
    shuffle = nn.ChannelShuffle(4)
    assert lt.count_params(shuffle) == 0 and macs(shuffle, (C, SIZE, SIZE)) == 0


def test_4b_9_pytorch_lrn_window_of_size_4_measured():
    m4 = zt.lrn_window_matrix(10, 4)
    assert [list(np.flatnonzero(row)) for row in m4[:3]] == [[0, 1], [0, 1, 2], [0, 1, 2, 3]]


def test_4b_10_pooling_and_strided_conv():
    maps = rand(1, C, SIZE, SIZE)
    torch.testing.assert_close(F.adaptive_avg_pool2d(maps, 1).flatten(1), maps.mean(dim=(2, 3)))
    assert lt.count_params(nn.MaxPool2d(2)) == 0
    stride2 = nn.Conv2d(C, C, 3, stride=2, padding=1, bias=False)
    assert lt.count_params(stride2) == STD_PARAMS and macs(stride2, (C, SIZE, SIZE)) == STD_MACS // 4


def test_4b_11_weight_gradient_is_a_conv_with_batch_and_channels_swapped():
    x = rand(2, 3, 8, 8, seed=1).requires_grad_(True)
    w = rand(4, 3, 3, 3, seed=2).requires_grad_(True)
    out = F.conv2d(x, w)
    dout = rand(*out.shape, seed=3)
    (dw,) = torch.autograd.grad(out, w, grad_outputs=dout)
    torch.testing.assert_close(dw, F.conv2d(x.transpose(0, 1), dout.transpose(0, 1)).transpose(0, 1))
