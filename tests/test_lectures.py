"""Tests for lectures 1-3: every formula in ``lectures/lecture_tools.py`` against
PyTorch; and every lecture notebook executed from top to bottom, once per test run, by one
test that also checks, on the notebook's outputs, that each figure function of the lecture
(:data:`FIGURES`) is drawn. The figures are tested there rather than drawn again by the
lectures' own tests (``test_lecture_*.py``), which draw only what no notebook does.
Executing the notebooks takes minutes: that test is marked ``slow``.

Run from the repository root:  python -m pytest tests/test_lectures.py -q
"""

from __future__ import annotations

import base64
import io
import math
import time
from fractions import Fraction
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import nbformat  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import scipy.signal  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from lectures import lecture_tools as lt  # noqa: E402

LECTURES = Path(lt.__file__).resolve().parent
NOTEBOOKS = sorted(LECTURES.glob("*.ipynb"))
# Deterministic property tests: the same examples on every run and machine.
PROPERTY = settings(derandomize=True, database=None, deadline=None, max_examples=200)


def conv_len(i, k, s=1, p=0, d=1) -> int:
    """Output width that PyTorch's conv2d produces on an i x i input."""
    x = torch.zeros(1, 1, i, i)
    return F.conv2d(x, torch.zeros(1, 1, k, k), stride=s, padding=p, dilation=d).shape[-1]


@st.composite
def conv_settings(draw, max_i=24):
    """(i, k, s, p, d) that PyTorch accepts: the padded input holds the kernel's span."""
    k = draw(st.integers(1, 7))
    d = draw(st.integers(1, 3))
    s = draw(st.integers(1, 4))
    p = draw(st.integers(0, 4))
    span = d * (k - 1) + 1
    i = draw(st.integers(max(1, span - 2 * p), max(max_i, span)))
    return i, k, s, p, d


# ---------------------------------------------------------------------------
# Lecture 1: what a convolution computes
# ---------------------------------------------------------------------------


def test_seed_example_matches_torch_and_scipy():
    x = torch.tensor(lt.SEED_INPUT)[None, None]
    w = torch.tensor(lt.SEED_KERNEL)[None, None]
    np.testing.assert_array_equal(F.conv2d(x, w)[0, 0].numpy(), lt.SEED_OUTPUT)
    np.testing.assert_array_equal(
        scipy.signal.correlate2d(lt.SEED_INPUT, lt.SEED_KERNEL, mode="valid"), lt.SEED_OUTPUT)
    # Mathematical convolution is correlation with the kernel flipped in both axes.
    np.testing.assert_array_equal(
        scipy.signal.convolve2d(lt.SEED_INPUT, lt.SEED_KERNEL[::-1, ::-1], mode="valid"),
        lt.SEED_OUTPUT)
    assert not np.array_equal(
        scipy.signal.convolve2d(lt.SEED_INPUT, lt.SEED_KERNEL, mode="valid"), lt.SEED_OUTPUT)


def test_one_dimensional_flip_against_torch():
    rng = np.random.default_rng(0)
    x, w = rng.normal(size=20), rng.normal(size=5)
    torch_out = F.conv1d(torch.tensor(x)[None, None], torch.tensor(w)[None, None])[0, 0].numpy()
    np.testing.assert_allclose(torch_out, np.correlate(x, w, mode="valid"))
    np.testing.assert_allclose(torch_out, np.convolve(x, w[::-1], mode="valid"))


def test_linearity_and_shift_equivariance():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(2, 1, 1, 12, 12, generator=g, dtype=torch.float64)
    w = torch.randn(1, 1, 3, 3, generator=g, dtype=torch.float64)
    a, b = 2.5, -0.7
    torch.testing.assert_close(F.conv2d(a * x + b * y, w), a * F.conv2d(x, w) + b * F.conv2d(y, w))
    # Shifting the input shifts the output by the same amount (away from the border).
    shifted = torch.roll(x, shifts=(2, 3), dims=(-2, -1))
    torch.testing.assert_close(F.conv2d(shifted, w)[..., 2:, 3:], F.conv2d(x, w)[..., :-2, :-3])


def test_multichannel_is_sum_over_channels_and_depth_is_filter_count():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 7, 7))
    w = rng.normal(size=(6, 3, 3, 3))
    out = F.conv2d(torch.tensor(x)[None], torch.tensor(w))[0].numpy()
    assert out.shape == (6, 5, 5)  # [S2]: 7x7 input, six 3x3 filters -> 5x5x6
    by_channel = sum(scipy.signal.correlate2d(x[c], w[0, c], mode="valid") for c in range(3))
    np.testing.assert_allclose(out[0], by_channel)


def test_relu_and_softmax_formulas():
    z = torch.linspace(-3, 3, 13, dtype=torch.float64)
    torch.testing.assert_close(F.relu(z), torch.clamp(z, min=0))  # ReLU(z) = max(0, z)
    logits = torch.randn(4, 10, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    manual = logits.exp() / logits.exp().sum(dim=1, keepdim=True)  # p_c = e^z_c / sum e^z
    torch.testing.assert_close(F.softmax(logits, dim=1), manual)


def test_stride_two_keeps_the_corners_of_stride_one():
    x = torch.tensor(lt.SEED_INPUT)[None, None]
    w = torch.tensor(lt.SEED_KERNEL)[None, None]
    torch.testing.assert_close(F.conv2d(x, w, stride=2), F.conv2d(x, w)[..., ::2, ::2])


def test_edge_filters_are_the_seed_filters():
    f = lt.edge_filters()
    assert f.shape == (4, 4, 4)
    np.testing.assert_array_equal(f[0], [[-1, -1, 1, 1]] * 4)
    np.testing.assert_array_equal(f[1], -f[0])
    np.testing.assert_array_equal(f[2], f[0].T)
    np.testing.assert_array_equal(f[3], -f[2])


def test_photo_and_activation_maps():
    rgb = lt.load_photo(height=64)
    assert rgb.shape == (64, 96, 3) and 0 <= rgb.min() and rgb.max() <= 1
    gray = lt.to_gray(rgb)
    maps = lt.activation_maps(gray, lt.edge_filters())
    assert maps.shape == (4, 61, 93) and maps.min() >= 0
    # A filter and its negative never fire at the same pixel (ReLU keeps one sign).
    assert np.all((maps[0] > 0) & (maps[1] > 0) == 0)


def test_learned_filter_recovers_the_edge_filter():
    gray = lt.to_gray(lt.load_photo())[32:96, 40:104]  # the pagoda: edges of every kind
    true = lt.edge_filters()[0]
    target = lt.activation_maps(gray, true[None])[0]
    learned, losses = lt.learn_filter(gray, target, steps=300)
    assert losses[-1] < 1e-2 * losses[0]
    np.testing.assert_allclose(learned, true, atol=0.25)


def panel(fig, title_start: str):
    """The one axes of ``fig`` whose title starts with ``title_start``."""
    axes = [ax for ax in fig.axes if ax.get_title().startswith(title_start)]
    assert len(axes) == 1, [ax.get_title() for ax in fig.axes]
    return axes[0]


def grid_numbers(ax, shape) -> np.ndarray:
    """The numbers that ``figures.grid`` wrote into an h x w panel (NaN where none): what a
    reader of the figure sees, to compare with what PyTorch computes."""
    out = np.full(shape, np.nan)
    for t in ax.texts:
        x, y = t.get_position()
        inside = 0 <= y < shape[0] and 0 <= x < shape[1]
        if inside and float(x).is_integer() and float(y).is_integer():
            out[int(y), int(x)] = float(t.get_text())
    return out


def test_rgb_conv_step_is_conv2d_with_bias():
    x, w, b = lt.RGB_INPUT, lt.RGB_FILTER, lt.RGB_BIAS
    expected = F.conv2d(torch.tensor(x)[None], torch.tensor(w)[None],
                        torch.tensor([b], dtype=torch.float64))[0, 0].numpy()
    assert x.shape == (3, 5, 5) and w.shape == (3, 3, 3)
    for row in range(3):
        for col in range(3):
            step = lt.rgb_conv_step(x, w, b, row, col)
            np.testing.assert_array_equal(step["map"], expected)
            # Each channel's sum is that channel's own single-channel cross-correlation.
            by_channel = [scipy.signal.correlate2d(x[c], w[c], mode="valid")[row, col]
                          for c in range(3)]
            np.testing.assert_array_equal(step["channel_sums"], by_channel)
            assert step["value"] == sum(by_channel) + b == expected[row, col]
    # The figure's example: (4) + (1) + (-2) + bias 1 = 4, and the map it shows is PyTorch's.
    step = lt.rgb_conv_step(x, w, b, 0, 1)
    assert step["channel_sums"].tolist() == [4, 1, -2] and step["value"] == 4
    fig = lt.plot_rgb_conv()
    out = panel(fig, "ONE activation map")
    assert "(4) + (1) + (-2) + bias 1 = 4" in out.get_title()
    np.testing.assert_array_equal(grid_numbers(out, expected.shape), expected)
    for c in range(3):
        shown = grid_numbers(panel(fig, f"input channel {c}"), x[c].shape)
        np.testing.assert_array_equal(shown, x[c])


def test_pooling_example_against_torch():
    x = lt.POOL_INPUT
    ex = lt.pooling_example(x, k=2, s=2, p=1)
    t = torch.tensor(x)[None, None]
    np.testing.assert_array_equal(ex["max"], F.max_pool2d(t, 2, 2, 1)[0, 0].numpy())
    np.testing.assert_array_equal(ex["avg"], F.avg_pool2d(t, 2, 2, 1)[0, 0].numpy())
    np.testing.assert_array_equal(
        ex["avg_no_pad"], F.avg_pool2d(t, 2, 2, 1, count_include_pad=False)[0, 0].numpy())
    np.testing.assert_array_equal(ex["max"], [[-1, 3, -4], [4, 1, 6], [-3, 7, -8]])
    np.testing.assert_array_equal(ex["max_zero_pad"], [[0, 3, 0], [4, 1, 6], [0, 7, 0]])
    np.testing.assert_array_equal(ex["avg"], [[-0.25, 1.25, -1], [1, -1.25, 1.75],
                                              [-0.75, 2.25, -2]])
    np.testing.assert_array_equal(ex["avg_no_pad"], [[-1, 2.5, -4], [2, -1.25, 3.5],
                                                     [-3, 4.5, -8]])
    # The windows the figure frames, read off the padded inputs it draws, give those outputs:
    # the max over a -inf-padded window, the mean over a 0-padded one, the mean of the real
    # cells for count_include_pad=False.
    assert len(ex["windows"]) == ex["max"].size == lt.pool_out(4, 2, 2, 1) ** 2
    real = np.isfinite(ex["max_padded"])
    for i, (r0, c0) in enumerate(ex["windows"]):
        win = np.s_[r0:r0 + 2, c0:c0 + 2]
        assert ex["max_padded"][win].max() == ex["max"].flat[i]
        assert ex["zero_padded"][win].mean() == ex["avg"].flat[i]
        assert ex["max_padded"][win][real[win]].mean() == ex["avg_no_pad"].flat[i]
    fig = lt.plot_pooling()
    for title, key in (("max_pool2d", "max"), ("max after 0-padding", "max_zero_pad"),
                       ("avg_pool2d", "avg"), ("count_include_pad=False", "avg_no_pad")):
        np.testing.assert_array_equal(grid_numbers(panel(fig, title), (3, 3)), ex[key])


def test_pm1_example_gives_the_numbers_of_s5():
    image, kernel = lt.PM1_IMAGE, lt.PM1_FILTER
    assert set(np.unique(image)) == {0, 1} and set(np.unique(kernel)) == {-1, 1}
    pre = lt.pre_activation(image, kernel)
    np.testing.assert_array_equal(pre, scipy.signal.correlate2d(image, kernel, mode="valid"))
    # [S5]: 0 at the first window, -2 at the next, ReLU makes both 0; the maximum 3 (the
    # number of +1 weights: 1 under each +1, 0 under each -1) twice, one below the other.
    assert pre[0, 0] == 0 and pre[0, 1] == -2
    assert pre.max() == 3 == (kernel == 1).sum()
    assert np.argwhere(pre == 3).tolist() == [[1, 1], [2, 2]]
    np.testing.assert_array_equal(np.maximum(pre, 0), lt.activation_maps(image, kernel[None])[0])
    fig = lt.plot_pm1_example()
    np.testing.assert_array_equal(grid_numbers(panel(fig, "sums, bias 0"), pre.shape), pre)
    np.testing.assert_array_equal(grid_numbers(panel(fig, "after ReLU"), pre.shape),
                                  np.maximum(pre, 0))


# ---------------------------------------------------------------------------
# Lecture 2: output size, padding, receptive fields
# ---------------------------------------------------------------------------


@PROPERTY
@given(conv_settings())
def test_general_formula_and_relationship_15(cfg):
    i, k, s, p, d = cfg
    expected = conv_len(i, k, s, p, d)
    assert lt.conv_out(i, k, s, p, d) == expected
    assert lt.out_dilated(i, k, s, p, d) == expected
    assert len(lt.kernel_positions(i, k, s, p, d)) == expected


@PROPERTY
@given(conv_settings())
def test_relationships_1_to_6(cfg):
    i, k, s, p, _ = cfg
    if i + 2 * p >= k:
        assert lt.out_padded_strided(i, k, s, p) == conv_len(i, k, s, p)
        assert lt.out_padded(i, k, p) == conv_len(i, k, 1, p)
    if i >= k:
        assert lt.out_no_padding(i, k) == conv_len(i, k)
        assert lt.out_strided(i, k, s) == conv_len(i, k, s)
    if k % 2 == 1:
        assert lt.out_half(i, k) == conv_len(i, k, 1, lt.half_padding(k)) == i
    assert lt.out_full(i, k) == conv_len(i, k, 1, lt.full_padding(k)) == i + k - 1


def test_half_padding_rejects_even_kernels():
    with pytest.raises(ValueError):
        lt.half_padding(4)


@st.composite
def pool_settings(draw):
    k = draw(st.integers(1, 5))
    s = draw(st.integers(1, 4))
    p = draw(st.integers(0, k // 2))  # PyTorch: padding at most half the window
    i = draw(st.integers(max(1, k - 2 * p), 20))
    return i, k, s, p


@PROPERTY
@given(pool_settings(), st.booleans(), st.integers(1, 3))
def test_pooling_output_size_relationship_7(cfg, ceil_mode, d):
    i, k, s, p = cfg
    x = torch.zeros(1, 1, i, i)
    avg = F.avg_pool2d(x, k, s, p, ceil_mode=ceil_mode).shape[-1]
    assert lt.pool_out(i, k, s, p, ceil_mode=ceil_mode) == avg
    if p == 0 and not ceil_mode:
        assert lt.out_pool(i, k, s) == avg
    if i + 2 * p >= d * (k - 1) + 1 and p <= (d * (k - 1) + 1) // 2:
        mx = F.max_pool2d(x, k, s, p, dilation=d, ceil_mode=ceil_mode).shape[-1]
        assert lt.pool_out(i, k, s, p, d, ceil_mode) == mx
    assert lt.pool_out(i, k, None, p) == F.avg_pool2d(x, k, padding=p).shape[-1]


@PROPERTY
@given(conv_settings(max_i=16))
def test_ignored_pixels_get_no_gradient(cfg):
    i, k, s, p, d = cfg
    x = torch.zeros(1, 1, i, i, dtype=torch.float64, requires_grad=True)
    w = torch.ones(1, 1, k, k, dtype=torch.float64)
    F.conv2d(x, w, stride=s, padding=p, dilation=d).sum().backward()
    untouched = np.flatnonzero(x.grad[0, 0].sum(0).numpy() == 0)
    assert list(untouched) == lt.ignored_pixels(i, k, s, p, d)


def test_seed_invalid_setting_and_torch_floor():
    assert lt.seed_out(7, 3, 1) == 5
    assert lt.seed_out(7, 3, 2) == 3
    assert lt.seed_out(7, 3, 3).denominator != 1  # 7/3: [S2] calls it invalid
    assert lt.conv_out(7, 3, 3) == conv_len(7, 3, 3) == 2
    assert lt.ignored_pixels(7, 3, 3) == [6]
    assert lt.seed_out(7, 3, 1, p=1) == 7 == conv_len(7, 3, 1, 1)


@PROPERTY
@given(st.integers(1, 30), st.integers(1, 7), st.integers(1, 4), st.integers(0, 4))
def test_seed_formula_is_torch_formula_when_integer(n, f, s, p):
    if n + 2 * p < f:
        return
    exact = lt.seed_out(n, f, s, p)
    assert math.floor(exact) == conv_len(n, f, s, p)


@pytest.mark.parametrize("n", range(3, 20))
@pytest.mark.parametrize("f", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("s", [1, 2, 3])
def test_seed_keep_size_padding(n, f, s):
    p = lt.seed_keep_size_padding(n, f, s)
    if s == 1:
        assert p == Fraction(f - 1, 2)  # no N in it
    if p.denominator == 1:
        assert conv_len(n, f, s, int(p)) == n
    elif s == 1:
        # Even kernel: no symmetric integer padding keeps the size.
        assert conv_len(n, f, s, math.floor(p)) == n - 1
        assert conv_len(n, f, s, math.ceil(p)) == n + 1
    else:
        # Stride > 1: rounding the padding up works, because PyTorch floors.
        assert conv_len(n, f, s, math.ceil(p)) == n


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("k", range(1, 8))
@pytest.mark.parametrize("d", [1, 2, 3])
def test_torch_same_padding_puts_extra_pixel_after(k, d):
    g = torch.Generator().manual_seed(k * 10 + d)
    x = torch.randn(1, 1, 11, 13, generator=g, dtype=torch.float64)
    w = torch.randn(1, 1, k, k, generator=g, dtype=torch.float64)
    before, after = lt.torch_same_padding(k, d)
    assert after - before in (0, 1)
    explicit = F.conv2d(F.pad(x, (before, after, before, after)), w, dilation=d)
    torch.testing.assert_close(F.conv2d(x, w, padding="same", dilation=d), explicit)
    if k % 2 == 1 and d == 1:
        assert (before, after) == (lt.half_padding(k),) * 2
    with pytest.raises(RuntimeError):
        F.conv2d(x, w, padding="same", stride=2)


@pytest.mark.parametrize("i", range(5, 14))
@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("s", [1, 2, 3])
def test_tf_same_padding_gives_ceil(i, k, s):
    before, after = lt.tf_same_padding(i, k, s)
    x = F.pad(torch.zeros(1, 1, i, i), (before, after, before, after))
    assert F.conv2d(x, torch.zeros(1, 1, k, k), stride=s).shape[-1] == math.ceil(i / s)
    if s == 1:
        assert (before, after) == lt.torch_same_padding(k)


STACKS = [
    [(3,)],
    [(3,), (3,)],
    [(3,), (3,), (3,)],
    [(7,)],
    [(5, 2), (3,)],
    [(3, 1, 2), (3, 1, 4)],
    [(3,), ("pool", 2), (3,), ("pool", 2)],
    [(3, 2), (3, 2), (3,)],
    [(1,), (4, 3), (2, 1, 3)],
]


@pytest.mark.parametrize("stack", STACKS, ids=str)
def test_receptive_field_calculator_against_gradients(stack):
    r = lt.receptive_field(stack)[-1][0]
    grad = lt.receptive_field_by_gradient(stack)
    assert lt.nonzero_extent(grad) == (r, r)
    # Double check the brute force with PyTorch modules and max pooling off.
    layers = []
    for layer in stack:
        kind, k, s, d = lt.as_layer(layer)
        layers.append(nn.AvgPool2d(k, s) if kind == "pool" else nn.Conv2d(1, 1, k, s, dilation=d))
    net = nn.Sequential(*layers).double()
    with torch.no_grad():
        for m in net:
            if isinstance(m, nn.Conv2d):
                m.weight.fill_(1.0)
    x = torch.zeros(1, 1, 2 * r + 1, 2 * r + 1, dtype=torch.float64, requires_grad=True)
    y = net(x)
    y[0, 0, y.shape[-2] // 2, y.shape[-1] // 2].backward()
    assert lt.nonzero_extent(x.grad[0, 0].numpy()) == (r, r)


def test_vgg_argument():
    assert lt.receptive_field([(3,)] * 3)[-1] == (7, 1)
    assert lt.receptive_field([(3,)] * 2)[-1] == (5, 1)
    three = nn.Sequential(*[nn.Conv2d(1, 1, 3, bias=False) for _ in range(3)])
    assert lt.count_params(three) == 3 * lt.conv_params(1, 1, 3, bias=False) == 27
    assert lt.count_params(nn.Conv2d(1, 1, 7, bias=False)) == lt.conv_params(1, 1, 7, False) == 49


def test_effective_kernel():
    for k in range(1, 6):
        for d in range(1, 5):
            w = torch.zeros(1, 1, k, k)
            # An input exactly one span wide gives one output.
            span = lt.effective_kernel(k, d)
            assert F.conv2d(torch.zeros(1, 1, span, span), w, dilation=d).shape[-1] == 1


def test_border_mean():
    m = np.ones((10, 10))
    m[2:-2, 2:-2] = 0
    assert lt.border_mean(m, 2) == (1.0, 0.0)


# ---------------------------------------------------------------------------
# Lecture 3: parameters and cost
# ---------------------------------------------------------------------------


@PROPERTY
@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4), st.integers(1, 5),
       st.integers(1, 5), st.booleans())
def test_conv_params_with_groups(g, in_per, out_per, kh, kw, bias):
    conv = nn.Conv2d(g * in_per, g * out_per, (kh, kw), groups=g, bias=bias)
    assert lt.conv_params(g * in_per, g * out_per, (kh, kw), bias, g) == lt.count_params(conv)
    if kh == kw:
        assert lt.conv_params(g * in_per, g * out_per, kh, bias, g) == lt.count_params(conv)


@PROPERTY
@given(st.integers(1, 300), st.integers(1, 300), st.booleans())
def test_linear_params(i, o, bias):
    assert lt.linear_params(i, o, bias) == lt.count_params(nn.Linear(i, o, bias=bias))


@pytest.mark.parametrize("c", [1, 16, 64])
def test_batchnorm_params(c):
    bn = nn.BatchNorm2d(c)
    counts = lt.batchnorm_params(c)
    assert counts["learnable"] == lt.count_params(bn)
    buffers = dict(bn.named_buffers())
    assert counts["running"] == buffers["running_mean"].numel() + buffers["running_var"].numel()
    assert counts["counter"] == buffers["num_batches_tracked"].numel()
    assert sum(counts.values()) == len(bn.state_dict()["weight"]) * 4 + 1 == sum(
        t.numel() for t in bn.state_dict().values())


def test_batchnorm_formula_in_training_mode():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 3, 5, 5, generator=g, dtype=torch.float64)
    bn = nn.BatchNorm2d(3).double().train()
    with torch.no_grad():
        bn.weight.copy_(torch.tensor([0.5, 2.0, -1.0]))
        bn.bias.copy_(torch.tensor([0.1, 0.0, 3.0]))
    mu = x.mean(dim=(0, 2, 3), keepdim=True)
    var = x.var(dim=(0, 2, 3), unbiased=False, keepdim=True)
    manual = bn.weight.view(1, 3, 1, 1) * (x - mu) / torch.sqrt(var + bn.eps) + bn.bias.view(1, 3, 1, 1)
    torch.testing.assert_close(bn(x), manual)


def test_vgg_cost_is_constant_when_channels_double_and_maps_halve():
    costs = {lt.conv_macs(c, c, 3, n, n) for n, c in [(224, 64), (112, 128), (56, 256), (28, 512)]}
    assert len(costs) == 1
    C = 64
    assert 3 * lt.conv_params(C, C, 3, bias=False) == 27 * C * C
    assert lt.count_params(nn.Conv2d(C, C, 7, bias=False)) == 49 * C * C


def test_mnist_net():
    net = lt.MnistNet()
    assert lt.count_params(net) == 6930
    rows = lt.layer_table(net, (1, 28, 28))
    assert [r["params"] for r in rows] == [r["torch_params"] for r in rows]
    assert [r["out_shape"] for r in rows] == [(10, 26, 26), (10, 13, 13), (20, 11, 11),
                                              (20, 5, 5), (10,)]
    assert 20 * 5 * 5 == 500 == net.fc.in_features
    assert [lt.conv_params(1, 10, 3), lt.conv_params(10, 20, 3), lt.linear_params(500, 10)] == [
        100, 1820, 5010]
    # Sizes by the formula: 28 -conv3-> 26 -pool2-> 13 -conv3-> 11 -pool2-> 5.
    n = lt.pool_out(lt.conv_out(lt.pool_out(lt.conv_out(28, 3), 2), 3), 2)
    assert n == 5
    assert net(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


def test_cifar_net():
    net = lt.CifarNet()
    assert lt.count_params(net) == 62006
    rows = lt.layer_table(net, (3, 32, 32))
    assert sum(r["params"] for r in rows) == 62006
    assert lt.pool_out(lt.conv_out(lt.pool_out(lt.conv_out(32, 5), 2), 5), 2) == 5


@pytest.mark.parametrize("net, shape", [(lt.MnistNet, (1, 28, 28)), (lt.CifarNet, (3, 32, 32))])
def test_cost_shares_against_torch(net, shape):
    model = net()
    rows = lt.layer_table(model, shape)
    shares = lt.cost_shares(rows)
    # One bar per layer with weights, in PyTorch's order, and its share of PyTorch's count.
    weighted = [(name, m) for name, m in model.named_modules()
                if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert [r["layer"] for r in shares] == [name for name, _ in weighted]
    total = lt.count_params(model)
    for r, (_, m) in zip(shares, weighted):
        assert r["params"] * total / 100 == pytest.approx(lt.count_params(m))
    assert sum(r["params"] for r in shares) == pytest.approx(100)
    assert sum(r["macs"] for r in shares) == pytest.approx(100)
    # The bars drawn are those shares: parameters first (the left bar of each pair), then MACs.
    ax = lt.plot_cost_shares({"net": rows}).axes[0]
    heights = [bar.get_height() for bar in ax.patches]
    assert heights == [r["params"] for r in shares] + [r["macs"] for r in shares]
    assert f"{total:,} parameters" in ax.get_title()


def test_seed_quizzes():
    assert lt.count_params(nn.Conv2d(64, 128, 1)) == lt.conv_params(64, 128, 1) == 8320
    assert nn.Conv2d(64, 128, 1)(torch.zeros(1, 64, 9, 9)).shape[1] == 128
    assert lt.conv_params(10, 6, 5, bias=False) == nn.Conv2d(10, 6, 5).weight.numel() == 1500
    assert lt.conv_params(10, 6, 5) == lt.count_params(nn.Conv2d(10, 6, 5)) == 1506
    assert lt.conv_params(3, 64, 3) == lt.count_params(nn.Conv2d(3, 64, 3)) == 1792
    x = torch.zeros(1, 3, 32, 32)
    assert nn.Conv2d(3, 64, 3)(x).shape[1:] == (64, 30, 30)
    assert nn.Conv2d(3, 64, 3, padding=1)(x).shape[1:] == (64, 32, 32)
    assert lt.conv_out(32, 3) == 30 and lt.conv_out(32, 3, p=1) == 32


def flops(fn) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


@PROPERTY
@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 4),
       st.integers(1, 3), st.integers(6, 12))
def test_conv_macs_against_flop_counter(g, in_per, out_per, k, s, n):
    x = torch.zeros(1, g * in_per, n, n)
    w = torch.zeros(g * out_per, in_per, k, k)
    o = lt.conv_out(n, k, s)
    macs = lt.conv_macs(g * in_per, g * out_per, k, o, o, groups=g)
    # PyTorch counts one multiply and one add per MAC.
    assert 2 * macs == flops(lambda: F.conv2d(x, w, stride=s, groups=g))


def test_linear_and_network_macs_against_flop_counter():
    assert 2 * lt.linear_macs(500, 10) == flops(lambda: F.linear(torch.zeros(1, 500),
                                                                 torch.zeros(10, 500)))
    for net, shape in ((lt.MnistNet(), (1, 28, 28)), (lt.CifarNet(), (3, 32, 32))):
        rows = lt.layer_table(net, shape)
        with torch.no_grad():
            assert 2 * sum(r["macs"] for r in rows) == flops(lambda: net(torch.zeros(1, *shape)))


def test_dense_params_for_image():
    for side in (4, 8, 16):
        layer = nn.Linear(3 * side * side, 1000)
        assert lt.dense_params_for_image(side) == lt.count_params(layer)
    assert lt.dense_params_for_image(1000) == 3_000_001_000


def test_threads_restore_the_setting():
    before = torch.get_num_threads()
    with lt.threads(2):
        assert torch.get_num_threads() == 2
        with lt.one_thread():
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
    assert torch.get_num_threads() == before


def test_format_table():
    text = lt.format_table([{"layer": "fc", "params": 5010}])
    assert "5,010" in text and text.splitlines()[0].startswith("layer")


# ---------------------------------------------------------------------------
# Figures: the notebooks draw them (FIGURES below); the tests draw the rest
# ---------------------------------------------------------------------------


def draws(fig) -> None:
    """``fig`` renders to a PNG of more than 1 kB: for a figure that no lecture notebook draws
    (another argument, another branch); the notebooks' figures are checked on their outputs."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=40)
    assert buf.tell() > 1000


# ---------------------------------------------------------------------------
# Notebooks
# ---------------------------------------------------------------------------

# Problem sets 1 and 2 ask students to write these; the lectures must not hand them out.
EXERCISE_DEFS = ["def conv2d(", "def max_pool2d(", "def avg_pool2d(", "def flatten_size(",
                 "def conv2d_param_count(", "def linear_param_count(",
                 # problem set 2
                 "def conv_transpose2d(", "def conv_transpose_output_size(", "def conv_matrix(",
                 "def conv3d(", "def separate_kernel(", "def separable_conv2d(",
                 "def depthwise_separable_conv2d(", "def channel_shuffle(",
                 "def local_response_norm(", "def conv2d_backward(", "def im2col(",
                 "def conv2d_fast(",
                 # problem sets 3-5: the models students build
                 "class LeNet5(", "class SparseConv2d(", "class AlexNet(", "class AlexNet2012(",
                 "def make_layers(", "class VGG(", "class BasicConv2d(", "class Inception(",
                 "class GoogLeNet(", "class BasicBlock(", "class Bottleneck(", "class ResNet(",
                 "class ResNeXt50_32x4d(",
                 # problem sets 6-8
                 "class DenseLayer(", "class DenseBlock(", "class Transition(",
                 "class DenseNet(", "class DualPathBlock(", "class DPN68(", "class SEBlock(",
                 "class SEBottleneck(", "class SEResNet50(", "class InceptionA(",
                 "class ReductionA(", "class InceptionB(", "class ReductionB(",
                 "class InceptionC(", "class InceptionV4(", "class SeparableConv2d(",
                 "class Xception(", "class MobileNetV1(", "class InvertedResidual(",
                 "class MobileNetV2(", "class ShuffleV2Block(", "class ShuffleNetV2(",
                 # problem set 9
                 "def dropout(", "def train_one_epoch(", "def evaluate(", "def freeze_features(",
                 "def replace_head(", "def train_digits("]

# Each lecture points to the problem set that practises it.
PROBLEM_SET = {
    "01_convolution.ipynb": "problem set 1",
    "02_output_size_and_padding.ipynb": "problem set 1",
    "03_parameter_counting.ipynb": "problem set 1",
    "04a_convolution_zoo.ipynb": "problem set 2",
    "04b_convolution_zoo.ipynb": "problem set 2",
    "05_lenet_alexnet.ipynb": "problem set 3",
    "06_vgg_googlenet.ipynb": "problem set 4",
    "07_resnet_resnext.ipynb": "problem set 5",
    "08_densenet_dpn.ipynb": "problem set 6",
    "09_inception_v4_senet.ipynb": "problem set 7",
    "10_xception_mobilenet_shufflenet.ipynb": "problem set 8",
    "11_training_and_transfer.ipynb": "problem set 9",
    "12_cifar10.ipynb": "no problem set",
}


def test_every_lecture_is_listed():
    assert sorted(PROBLEM_SET) == [p.name for p in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stored_clean(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
            assert not any(d in cell.source for d in EXERCISE_DEFS), cell.source[:80]
    text = "\n".join(c.source for c in nb.cells)
    assert "What you will learn" in text and PROBLEM_SET[path.name] in text.lower()
    assert "합성곱" in text  # the Korean-English glossary


@pytest.mark.parametrize("module", sorted(p.name for p in LECTURES.glob("*.py")))
def test_lecture_helpers_give_no_exercise_away(module):
    source = (LECTURES / module).read_text(encoding="utf-8")
    assert not [d for d in EXERCISE_DEFS if d in source]


#: The figure functions each notebook calls (its lecture's, and those it borrows): every cell
#: that calls one must show the figure. So no figure function can rot unnoticed.
FIGURES = {
    "01_convolution.ipynb": ["lt.plot_conv_step", "lt.plot_correlation_vs_convolution",
                             "lt.plot_pm1_example", "lt.plot_channels", "lt.plot_rgb_conv",
                             "lt.plot_filters_and_maps", "lt.plot_learned_filter",
                             "lt.plot_pooling", "lt.plot_cnn_pipeline"],
    "02_output_size_and_padding.ipynb": ["lt.plot_conv_arithmetic", "lt.plot_border_effect",
                                         "lt.plot_receptive_fields"],
    "03_parameter_counting.ipynb": ["lt.plot_cost_shares", "lt.plot_param_explosion",
                                    "lt.plot_layer_costs"],
    "04a_convolution_zoo.ipynb": [
        "zt.plot_costs", "zt.plot_pointwise", "zt.plot_2d_vs_3d", "zt.plot_transposed_matrix",
        "zt.plot_transposed_stamps", "zt.plot_checkerboard", "zt.plot_dilation_grids",
        "zt.plot_separable", "zt.plot_singular_values", "zt.plot_flattened"],
    "04b_convolution_zoo.ipynb": [
        "zt.plot_depthwise_separable", "zt.plot_group_masks", "zt.plot_shuffle", "zt.plot_lrn",
        "zt.plot_downsampling", "zt.plot_transposed_stamps", "zt.plot_im2col",
        "zt.plot_benchmark", "zt.plot_costs"],
    "05_lenet_alexnet.ipynb": [
        "lat.plot_c3_table", "lat.plot_activations", "lat.plot_gradient_depth",
        "lat.plot_overlapping_pooling", "lat.plot_dropout", "lat.plot_two_gpus",
        "lat.plot_comparison", "lat.plot_ilsvrc", "lat.plot_losses", "lt.plot_cnn_pipeline",
        "tt.plot_history", "zt.plot_lrn"],
    "06_vgg_googlenet.ipynb": [
        "vgt.plot_stacked_3x3", "vgt.plot_where_costs_live", "vgt.plot_inception",
        "vgt.plot_depth_growth", "vgt.plot_comparison", "fg.plot_losses",
        "lt.plot_receptive_fields"],
    "07_resnet_resnext.ipynb": [
        "rt.plot_residual_units", "rt.plot_gradient_flow", "rt.plot_cardinality",
        "rt.plot_comparison", "rt.plot_stage_costs", "fg.plot_losses", "lt.plot_cnn_pipeline"],
    "08_densenet_dpn.ipynb": [
        "ddt.plot_dense_block", "ddt.plot_channel_growth", "ddt.plot_dual_path_block",
        "ddt.plot_memory_growth", "ddt.plot_comparison"],
    "09_inception_v4_senet.ipynb": [
        "ist.plot_blocks", "ist.plot_factorised", "ist.plot_se_block", "ist.plot_se_placements",
        "ist.plot_residual_scaling", "ist.plot_comparison", "rt.plot_stage_costs",
        "lt.plot_cnn_pipeline"],
    "10_xception_mobilenet_shufflenet.ipynb": [
        "eft.plot_separable_conv", "eft.plot_towers", "eft.plot_xception_flows",
        "eft.plot_inverted_residual", "eft.plot_relu_manifold", "eft.plot_channel_shuffle",
        "eft.plot_guidelines", "eft.plot_multipliers", "eft.plot_cost_accuracy"],
    "11_training_and_transfer.ipynb": ["tt.plot_history", "tt.plot_modes", "tt.plot_comparison",
                                       "tt.plot_transfer"],
    "12_cifar10.ipynb": ["ct.plot_samples", "ct.plot_confusion", "ct.plot_runs",
                         "ct.plot_augmentations"],
}


def assert_draws(nb: nbformat.NotebookNode, *calls: str) -> None:
    """Each of ``calls`` (``"lt.plot_conv_step"``) is made in some code cell of the executed
    notebook ``nb``, and every cell that makes it shows a PNG of more than 1 kB: the figure,
    drawn without an error (the cell's last expression)."""
    for call in calls:
        cells = [c for c in nb.cells if c.cell_type == "code" and f"{call}(" in c.source]
        assert cells, f"no cell calls {call}"
        for cell in cells:
            pngs = [base64.b64decode(o["data"]["image/png"]) for o in cell.outputs
                    if "image/png" in o.get("data", {})]
            assert pngs and len(pngs[-1]) > 1000, f"{call}: no figure in {cell.source[:80]!r}"


def test_every_notebook_lists_its_figures():
    assert sorted(FIGURES) == [p.name for p in NOTEBOOKS]
    for name, calls in FIGURES.items():
        source = "\n".join(c.source for c in nbformat.read(LECTURES / name, as_version=4).cells)
        assert [c for c in calls if f"{c}(" not in source] == []


# The one execution of each notebook per test run: everything that needs its outputs is here.
@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_executes(path, monkeypatch):
    from nbclient import NotebookClient

    from book.course_book import cache_executed

    monkeypatch.setenv("MPLBACKEND", "Agg")  # the kernel inherits it: no window opens
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(LECTURES)}})
    start = time.perf_counter()
    client.execute()  # raises CellExecutionError on the first failing cell
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert not errors
    assert_draws(nb, *FIGURES[path.name])
    # the HTML book shows this execution (tests/test_book.py builds it afterwards)
    cache_executed(nb, path, time.perf_counter() - start)
