"""Strategies generate only what PyTorch accepts, and cover what they claim to."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import find, given, settings

from grader import references as R
from grader import strategies as S
from grader.strategies.convolution import (LAYER_BATCH, LAYER_CHANNELS, LAYER_IMAGE,
                                           LAYER_KERNEL, LAYER_MACS)
from grader.strategies.primitives import MAGNITUDE

FAST = settings(max_examples=150, derandomize=True, database=None, deadline=None)


@FAST
@given(S.conv2d_args(stride=True, padding=True, dilation=True, groups=True))
def test_conv2d_args_are_valid(case):
    (x, w), kw = case
    g = kw.get("groups", 1)
    assert x.shape[1] % g == 0 and w.shape[0] % g == 0 and w.shape[1] == x.shape[1] // g
    if kw.get("padding") == "same":
        assert S.as_pair(kw.get("stride", 1)) == (1, 1)
    out = R.conv2d(x, w, **kw)  # PyTorch accepts it
    assert out.size > 0


@FAST
@given(S.pool2d_args("max", padding=True, dilation=True, ceil_mode=True))
def test_max_pool_args_are_valid(case):
    (x, k), kw = case
    kh, kw_ = S.as_pair(k)
    ph, pw = S.as_pair(kw.get("padding", 0))
    assert ph <= kh // 2 and pw <= kw_ // 2
    assert R.max_pool2d(x, k, **kw).size > 0


@FAST
@given(S.pool2d_args("avg", padding=True, ceil_mode=True, count_include_pad=True))
def test_avg_pool_args_are_valid(case):
    (x, k), kw = case
    assert R.avg_pool2d(x, k, **kw).size > 0


@FAST
@given(S.layer_stacks())
def test_layer_stacks_fit(case):
    (shape, layers), _ = case
    assert R.flatten_size(shape, layers) > 0


def test_values_include_negatives_fractions_and_non_square_shapes():
    seen = {"neg": False, "frac": False, "nonsquare": False, "pair": False}

    @FAST
    @given(S.conv2d_args(stride=True))
    def collect(case):
        (x, w), kw = case
        seen["neg"] |= bool((x < 0).any())
        seen["frac"] |= bool((x != np.round(x)).any())
        seen["nonsquare"] |= x.shape[2] != x.shape[3] or w.shape[2] != w.shape[3]
        seen["pair"] |= isinstance(kw.get("stride"), tuple)

    collect()
    assert all(seen.values()), seen


# --- the hidden examples: full precision, some at the size of real layers --------------

ALL_OPTIONS = dict(stride=True, padding=True, dilation=True, groups=True)


def _macs(x, w, kw) -> int:
    """The multiply-adds of the convolution: what seven nested loops spend."""
    return R.conv2d(x, w, **kw).size * int(np.prod(w.shape[1:]))


@pytest.mark.parametrize("features", [{}, dict(padding=True), ALL_OPTIONS],
                         ids=["plain", "padding", "all"])
def test_thorough_conv2d_args_are_valid_and_within_budget(features):
    @FAST
    @given(S.conv2d_args(thorough=True, **features))
    def check(case):
        (x, w), kw = case
        assert _macs(x, w, kw) <= LAYER_MACS  # PyTorch accepts it, and loops stay fast
        n, c_in, h, wd = x.shape
        assert n <= LAYER_BATCH and max(c_in, w.shape[0]) <= LAYER_CHANNELS
        assert max(w.shape[2:]) <= LAYER_KERNEL and max(h, wd) <= LAYER_IMAGE

    check()


@FAST
@given(S.conv2d_backward_args(thorough=True, **ALL_OPTIONS))
def test_thorough_conv2d_backward_args_are_valid(case):
    (dout, x, w), kw = case
    dx, dw, _ = R.conv2d_backward(dout, x, w, **kw)
    assert dx.shape == x.shape and dw.shape == w.shape


@FAST
@given(S.conv2d_fast_args(thorough=True))
def test_thorough_conv2d_fast_args_are_valid(case):
    (x, w), kw = case
    assert "groups" not in kw and R.conv2d_fast(x, w, **kw).size > 0


@FAST
@given(S.conv2d_single_args(thorough=True))
def test_thorough_conv2d_single_args_are_valid(case):
    (image, kernel), _ = case
    assert R.conv2d_single(image, kernel).size > 0
    assert max(kernel.shape) <= LAYER_KERNEL and max(image.shape) <= LAYER_IMAGE


def _beyond_public_sizes(x, w) -> dict:
    """What the public examples never reach (batch 2, 6 channels, 4x4 kernels, 20x20 images)."""
    return {"batch": x.shape[0] > 2, "channels": max(x.shape[1], w.shape[0]) > 6,
            "kernel": max(w.shape[2:]) > 4, "image": max(x.shape[2:]) > 20}


@pytest.mark.parametrize("features", [dict(bias=True), ALL_OPTIONS], ids=["bias", "all"])
def test_thorough_values_are_full_precision_and_some_shapes_are_real_layers(features):
    seen = {"large": 0, "quarters only": 0, "scales": set(), "reached": set()}

    @FAST
    @given(S.conv2d_args(thorough=True, **features))
    def collect(case):
        (x, w), kw = case
        for a in (x, w, kw.get("bias", np.zeros(1))):
            seen["quarters only"] += bool((a * 4 == np.round(a * 4)).all() and a.any())
        nonzero = np.abs(x[x != 0])
        if nonzero.size:
            seen["scales"].add(int(np.floor(np.log10(nonzero.max()))))
        beyond = _beyond_public_sizes(x, w)
        seen["large"] += any(beyond.values())
        seen["reached"] |= {name for name, hit in beyond.items() if hit}

    collect()
    assert seen["quarters only"] == 0  # a float32 or rounding conv2d gets them wrong
    assert len(seen["scales"]) >= 4, seen["scales"]  # magnitudes over several decades
    assert seen["reached"] == {"batch", "channels", "kernel", "image"}, seen["reached"]
    # Some, not all: loop-based answers must stay fast.
    assert 10 <= seen["large"] <= 0.8 * FAST.max_examples, seen["large"]


def test_public_examples_stay_small_and_in_quarters():
    @FAST
    @given(S.conv2d_args(**ALL_OPTIONS))
    def check(case):
        (x, w), kw = case
        assert not any(_beyond_public_sizes(x, w).values())
        for a in (x, w, kw.get("bias", np.zeros(1))):
            assert (a * 4 == np.round(a * 4)).all() and np.abs(a).max() <= 10

    check()


# --- shrinking: counterexamples a student can check by hand ------------------------------

SHRINK = settings(max_examples=200, derandomize=True, database=None, deadline=None)


def _counterexample(strategy, wrong, reference):
    """The call on which ``wrong`` and ``reference`` differ, as Hypothesis shrinks it, and
    every array in it."""
    def differs(case):
        (args, kw) = case
        return not np.allclose(wrong(*args, **kw), reference(*args, **kw))
    (args, kw) = find(strategy, differs, settings=SHRINK)
    return [a for a in (*args, *kw.values()) if isinstance(a, np.ndarray)]


def _flipped(kernel):
    return kernel[..., ::-1, ::-1].copy()


@pytest.mark.parametrize("strategy, wrong, reference", [
    (S.conv2d_args(), lambda x, w, **kw: R.conv2d(x, _flipped(w), **kw), R.conv2d),
    (S.conv2d_single_args(), lambda image, k: R.conv2d_single(image, _flipped(k)),
     R.conv2d_single),
], ids=["conv2d", "conv2d_single"])
def test_a_flipped_kernel_is_shown_on_small_integers(strategy, wrong, reference):
    # A true convolution instead of PyTorch's cross-correlation: wrong on any input, so the
    # shrunk one is made of small integers, not quarters up to 10.
    for a in _counterexample(strategy, wrong, reference):
        assert (a == np.round(a)).all() and np.abs(a).max() <= 3, a


def test_a_bug_that_needs_fractions_is_shown_on_quarters():
    # Inputs truncated to int: right on integers, so the shrunk call keeps a fraction.
    shown = _counterexample(S.conv2d_args(), lambda x, w, **kw: R.conv2d(np.trunc(x), w, **kw),
                            R.conv2d)
    assert any((a != np.round(a)).any() for a in shown), shown
    assert all((a * 4 == np.round(a * 4)).all() and np.abs(a).max() <= 3 for a in shown), shown


def test_public_values_are_integers_half_the_time_and_quarters_otherwise():
    kinds = {"integers": 0, "with fractions": 0}

    @FAST
    @given(S.arrays((3, 4)))
    def collect(a):
        assert (a * 4 == np.round(a * 4)).all() and np.abs(a).max() <= MAGNITUDE
        kinds["integers" if (a == np.round(a)).all() else "with fractions"] += 1

    collect()
    # integers: every integer array, and quarters that happen to be whole (sparse ones)
    assert 0.3 * FAST.max_examples <= kinds["with fractions"] <= 0.6 * FAST.max_examples, kinds
