"""Strategies generate only what PyTorch accepts, and cover what they claim to."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings

from grader import references as R
from grader import strategies as S

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
