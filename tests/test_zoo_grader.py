"""Problem set 2's grader pieces: references pin PyTorch's conventions, strategies
make only valid calls, and the new comparisons and the loop inspection can fail."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings

from grader import references as R
from grader import strategies as S
from grader.checks import PROFILES
from grader.comparisons import CheckFailed, compare_arrays, compare_factors
from grader.problems import ps02_convolution_zoo as ps02
from grader.target import LocalTarget

FAST = settings(max_examples=100, derandomize=True, database=None, deadline=None)


# --- references -------------------------------------------------------------------


def test_conv_matrix_is_the_seed_matrix_and_its_transpose_is_the_transposed_conv():
    C = R.conv_matrix(ps02.SEED_KERNEL, (4, 4))
    assert C.shape == (4, 16)
    # [S4]'s C^T: row 0 is (w00, 0, 0, 0), row 5 is (w11, w10, w01, w00), rows 14-15 are 0.
    w = ps02.SEED_KERNEL
    np.testing.assert_array_equal(C.T[0], [w[0, 0], 0, 0, 0])
    np.testing.assert_array_equal(C.T[5], [w[1, 1], w[1, 0], w[0, 1], w[0, 0]])
    np.testing.assert_array_equal(C.T[15], [0, 0, 0, w[2, 2]])
    y = np.arange(4.0)
    np.testing.assert_allclose((C.T @ y).reshape(4, 4),
                               R.conv_transpose2d(y.reshape(1, 1, 2, 2), w[None, None])[0, 0])


@pytest.mark.parametrize("layers,expected", [
    (ps02.DILATED_STACK, (15, 1)),             # [S4]'s 3x3, 7x7, 15x15
    ([(3, 1, 1)] * 3, (7, 1)),                 # VGG: three 3x3 see a 7x7
    ([(7, 2, 1), (3, 2, 1)], (11, 4)),         # a ResNet stem: conv 7/2, pool 3/2
    ([(1, 1, 1)], (1, 1)),
])
def test_receptive_field_by_gradient_matches_the_formula(layers, expected):
    assert R.receptive_field(layers) == expected


@FAST
@given(S.layer_lists())
def test_receptive_field_brute_force_agrees_with_the_recurrence(case):
    (layers,), _ = case
    r, j = 1, 1
    for k, s, d in layers:
        r, j = r + (k - 1) * d * j, j * s
    assert R.receptive_field(layers) == (r, j)


def test_lrn_mapping_from_the_seed_formula():
    # Seed (AlexNet) formula with depth radius r: PyTorch with size = r + 1, alpha * (r + 1).
    x = np.random.default_rng(0).normal(size=(1, 7, 2, 2))
    r, alpha, beta, k = 4, 1e-2, 0.75, 2.0
    seed = np.empty_like(x)
    for i in range(7):
        lo, hi = max(0, i - r // 2), min(6, i + r // 2)
        seed[:, i] = x[:, i] * (k + alpha * (x[:, lo:hi + 1] ** 2).sum(1)) ** -beta
    np.testing.assert_allclose(R.local_response_norm(x, r + 1, alpha * (r + 1), beta, k), seed)


def test_separate_kernel_reference_accepts_rank_one_and_refuses_rank_two():
    assert R.separate_kernel(ps02.SOBEL_X) is not None
    with pytest.raises(ValueError):
        R.separate_kernel(np.eye(3))


def test_conv2d_backward_dx_is_a_transposed_convolution():
    rng = np.random.default_rng(1)
    x, w = rng.normal(size=(1, 2, 7, 7)), rng.normal(size=(3, 2, 3, 3))
    dout = rng.normal(size=R.conv2d(x, w, stride=2, padding=1).shape)
    dx, dw, db = R.conv2d_backward(dout, x, w, stride=2, padding=1)
    np.testing.assert_allclose(dx, R.conv_transpose2d(dout, w, stride=2, padding=1))
    np.testing.assert_allclose(db, dout.sum((0, 2, 3)))
    assert dw.shape == w.shape


def test_quiz_numbers():
    assert R.depthwise_separable_param_count(32, 64, 3) == 2336
    assert R.conv2d_param_count(32, 64, 3, bias=False) == 18432


# --- strategies ------------------------------------------------------------------


@FAST
@given(S.conv_transpose2d_args(stride=True, padding=True, dilation=True, groups=True))
def test_conv_transpose2d_args_are_valid(case):
    (x, w), kw = case
    assert R.conv_transpose2d(x, w, **kw).size > 0


@FAST
@given(S.conv_transpose_output_size_args(valid=False))
def test_invalid_transpose_sizes_are_refused_by_pytorch(case):
    (n, k), kw = case
    with pytest.raises(ValueError):
        R.conv_transpose_output_size(n, k, **kw)


@FAST
@given(S.conv3d_args(options=True))
def test_conv3d_args_are_valid(case):
    (x, w), kw = case
    assert R.conv3d(x, w, **kw).size > 0


@FAST
@given(S.separable_kernels())
def test_separable_kernels_have_rank_one(case):
    (k,), _ = case
    assert np.linalg.matrix_rank(k) == 1


@FAST
@given(S.inseparable_kernels())
def test_inseparable_kernels_are_plainly_rank_two_or_more(case):
    (k,), _ = case
    s = np.linalg.svd(k, compute_uv=False)
    assert s[1] > 1e-3 * s[0]


@FAST
@given(S.depthwise_separable_args(options=True))
def test_depthwise_args_are_valid(case):
    args, kw = case
    assert R.depthwise_separable_conv2d(*args, **kw).size > 0


@FAST
@given(S.conv2d_backward_args(stride=True, padding=True, dilation=True, groups=True))
def test_backward_args_have_matching_dout(case):
    (dout, x, w), kw = case
    assert dout.shape == R.conv2d(x, w, **kw).shape


@FAST
@given(S.conv2d_fast_args())
def test_conv2d_fast_args_have_no_groups_or_strings(case):
    _, kw = case
    assert "groups" not in kw and not isinstance(kw.get("padding"), str)


# --- comparisons and inspection ----------------------------------------------------


def test_compare_factors_accepts_any_scaling_and_rejects_wrong_products():
    k = np.outer([1.0, 2.0, 1.0], [-1.0, 0.0, 1.0])
    compare_factors(k, (np.array([2.0, 4.0, 2.0]), np.array([-0.5, 0.0, 0.5])), context="")
    with pytest.raises(CheckFailed, match="is not the kernel"):
        compare_factors(k, (np.array([1.0, 2.0, 1.0]), np.array([1.0, 0.0, -1.0])), context="")
    with pytest.raises(CheckFailed, match="tuple"):
        compare_factors(k, [np.ones(3), np.ones(3)], context="")


def test_compare_arrays_names_the_wrong_output():
    good = (np.zeros(2), np.ones(2))
    compare_arrays(good, (np.zeros(2), np.ones(2)), context="", names=("dx", "dweight"))
    with pytest.raises(CheckFailed, match="`dweight` is wrong"):
        compare_arrays(good, (np.zeros(2), np.zeros(2)), context="", names=("dx", "dweight"))


def _im2col_vectorized(x, kernel_size, stride=1, padding=0, dilation=1):
    return F.unfold(torch.as_tensor(x), kernel_size).numpy()


def _im2col_pixel_loop(x, kernel_size, stride=1, padding=0, dilation=1):
    n, c, h, w = x.shape
    k = kernel_size
    cols = []
    for i in range(h - k + 1):
        for j in range(w - k + 1):
            cols.append(x[:, :, i:i + k, j:j + k].reshape(n, -1))
    return np.stack(cols, axis=2)


def _im2col_untraceable(x, kernel_size, stride=1, padding=0, dilation=1):
    import sys
    sys.settrace(None)
    return _im2col_pixel_loop(x, kernel_size)


@pytest.mark.parametrize("fn,passes,message", [
    (_im2col_vectorized, True, ""),
    (_im2col_pixel_loop, False, "loops over pixels in Python"),
    (_im2col_untraceable, False, "switched off the line counter"),
])
def test_no_pixel_loops_check_inspects_line_counts(fn, passes, message):
    check = ps02.PROBLEM_SET["im2col_no_pixel_loops"]
    result = check.run(LocalTarget({"im2col": fn}), PROFILES["quick"])
    assert result.passed is passes, result.message
    assert message in result.message
    if not passes and "loops" in message:
        assert "does not time them" in result.message
