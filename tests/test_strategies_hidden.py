"""The hidden examples of every array-valued function of problem sets 1 and 2, beyond
conv2d (tests/test_strategies.py): valid, full precision, half of them at the size of
real layers, within the multiply-add budget that keeps loop-based answers fast."""
from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np
import pytest
from hypothesis import given, settings

from grader import references as R
from grader import strategies as S
from grader.strategies.convolution import LAYER_MACS

FAST = settings(max_examples=150, derandomize=True, database=None, deadline=None)


def _pool_cost(args, kw, out):
    (x, k) = args
    return out.size * int(np.prod(S.as_pair(k)))


def _transpose_cost(args, kw, out):
    x, w = args  # every input pixel stamps a (C_out / groups, kH, kW) block
    return x.size * int(np.prod(w.shape[1:]))


def _conv3d_cost(args, kw, out):
    return out.size * int(np.prod(args[1].shape[1:]))


def _depthwise_cost(args, kw, out):
    x, dw, pw = args  # depthwise taps, then the 1x1 step, per output pixel
    n, c_out, oh, ow = out.shape
    return n * oh * ow * dw.shape[0] * (dw.shape[2] * dw.shape[3] + c_out)


def _conv_matrix_cost(args, kw, out):
    return out.size  # C's entries: more than its kH * kW taps per output pixel


def _lrn_cost(args, kw, out):
    return out.size * args[1]


def _elements(args, kw, out):
    return out.size


def _batch_channels_image(x, *, channels=None, kernel=None) -> dict:
    return {"batch": x.shape[0], "channels": x.shape[1] if channels is None else channels,
            "image": max(x.shape[2:]), **({} if kernel is None else {"kernel": kernel})}


def _pool_dims(args, kw):
    return _batch_channels_image(args[0], kernel=max(S.as_pair(args[1])))


def _transpose_dims(args, kw):
    x, w = args
    return _batch_channels_image(x, channels=max(x.shape[1], w.shape[1] * kw.get("groups", 1)),
                                 kernel=max(w.shape[2:]))


def _conv3d_dims(args, kw):
    x, w = args
    return _batch_channels_image(x, channels=max(x.shape[1], w.shape[0]), kernel=max(w.shape[2:]))


def _depthwise_dims(args, kw):
    x, dw, pw = args
    return _batch_channels_image(x, channels=max(dw.shape[0], pw.shape[0]),
                                 kernel=max(dw.shape[2:]))


def _im2col_dims(args, kw):
    return _batch_channels_image(args[0], kernel=max(S.as_pair(args[1])))


def _shuffle_dims(args, kw):
    return _batch_channels_image(args[0])


def _lrn_dims(args, kw):
    return _batch_channels_image(args[0], kernel=args[1])


def _conv_matrix_dims(args, kw):
    weight, hw = args
    return {"kernel": max(weight.shape), "image": max(hw)}


def _separable_dims(args, kw):
    image, column, row = args
    return {"kernel": max(len(column), len(row)), "image": max(image.shape)}


def _kernel_dims(args, kw):
    return {"kernel": max(args[0].shape)}


@dataclasses.dataclass
class Case:
    """A strategy's function: its reference, what a loop-based answer costs, its sizes,
    and the largest of each that the public examples draw."""
    strategy: Callable
    features: dict
    reference: Callable
    cost: Callable
    dims: Callable
    public_most: dict
    valid: Callable = lambda out: True
    #: how many of the 150 examples must reach beyond the public sizes, at least
    min_large: int = 10

    def public(self):
        return self.strategy(**self.features)

    def hidden(self):
        return self.strategy(thorough=True, **self.features)


def _finite(out):
    return bool(np.isfinite(out).all())  # max pooling: a window of padding only is skipped


_BCI = lambda b, c, i, k=None: {"batch": b, "channels": c, "image": i,  # noqa: E731
                                **({} if k is None else {"kernel": k})}
POOL_MAX = dict(padding=True, dilation=True, ceil_mode=True)
POOL_AVG = dict(padding=True, ceil_mode=True, count_include_pad=True)
ALL = dict(stride=True, padding=True, dilation=True, groups=True)

CASES = {
    "max_pool2d": Case(lambda **f: S.pool2d_args("max", **f), POOL_MAX, R.max_pool2d,
                       _pool_cost, _pool_dims, _BCI(2, 3, 13, 4), _finite),
    "max_pool2d_basic": Case(lambda **f: S.pool2d_args("max", **f), {}, R.max_pool2d,
                             _pool_cost, _pool_dims, _BCI(2, 3, 10, 4)),
    "avg_pool2d": Case(lambda **f: S.pool2d_args("avg", **f), POOL_AVG, R.avg_pool2d,
                       _pool_cost, _pool_dims, _BCI(2, 3, 10, 4)),
    "conv_transpose2d": Case(S.conv_transpose2d_args, ALL, R.conv_transpose2d,
                             _transpose_cost, _transpose_dims, _BCI(2, 6, 4, 4)),
    "conv_transpose2d_basic": Case(S.conv_transpose2d_args, {}, R.conv_transpose2d,
                                   _transpose_cost, _transpose_dims, _BCI(2, 2, 4, 4)),
    "conv3d": Case(S.conv3d_args, dict(options=True), R.conv3d, _conv3d_cost, _conv3d_dims,
                   _BCI(2, 2, 7, 3)),
    "conv3d_basic": Case(S.conv3d_args, {}, R.conv3d, _conv3d_cost, _conv3d_dims,
                         _BCI(2, 2, 5, 3)),
    "depthwise_separable": Case(S.depthwise_separable_args, dict(options=True),
                                R.depthwise_separable_conv2d, _depthwise_cost, _depthwise_dims,
                                _BCI(2, 6, 9, 3)),
    "im2col": Case(S.im2col_args, {}, R.im2col, _elements, _im2col_dims, _BCI(2, 3, 10, 3)),
    "channel_shuffle": Case(S.channel_shuffle_args, {}, R.channel_shuffle, _elements,
                            _shuffle_dims, _BCI(2, 16, 3)),
    "local_response_norm": Case(S.local_response_norm_args, {}, R.local_response_norm, _lrn_cost,
                                _lrn_dims, _BCI(2, 7, 3, 6)),
    "conv_matrix": Case(S.conv_matrix_args, dict(stride=True, padding=True), R.conv_matrix,
                        _conv_matrix_cost, _conv_matrix_dims, {"kernel": 3, "image": 7}),
    "separable_conv2d": Case(S.separable_conv2d_args, {}, R.separable_conv2d, _elements,
                             _separable_dims, {"kernel": 5, "image": 11}),
    "separate_kernel": Case(S.separable_kernels, {}, R.separate_kernel, lambda *a: 0,
                            _kernel_dims, {"kernel": 5}, min_large=5),  # 6x6 and 7x7 only
}


def _quarters(a) -> bool:
    return bool((a * 4 == np.round(a * 4)).all())


def _arrays(args, kw):
    return [a for a in (*args, *kw.values()) if isinstance(a, np.ndarray) and a.any()]


@pytest.mark.parametrize("name", sorted(CASES))
def test_hidden_examples_are_valid_precise_within_budget_and_some_are_real_layers(name):
    case = CASES[name]
    seen = {"large": 0, "quarters only": 0, "examples": 0, "reached": set()}

    @FAST
    @given(case.hidden())
    def collect(drawn):
        args, kw = drawn
        out = case.reference(*args, **kw)  # PyTorch accepts it
        out = out[0] if isinstance(out, tuple) else out
        assert out.size > 0
        assert case.cost(args, kw, out) <= LAYER_MACS  # loop-based answers stay fast
        if not case.valid(out):
            return
        seen["examples"] += 1
        seen["quarters only"] += any(_quarters(a) for a in _arrays(args, kw))
        beyond = {d for d, v in case.dims(args, kw).items() if v > case.public_most[d]}
        seen["large"] += bool(beyond)
        seen["reached"] |= beyond

    collect()
    assert seen["quarters only"] <= 0.05 * seen["examples"], seen  # a float32 answer fails
    assert seen["reached"] == set(case.public_most), seen["reached"]
    # Some, not all: loop-based answers must stay fast.
    assert case.min_large <= seen["large"] <= 0.8 * seen["examples"], seen


@pytest.mark.parametrize("name", sorted(CASES))
def test_public_examples_stay_small_and_in_quarters(name):
    case = CASES[name]

    @FAST
    @given(case.public())
    def check(drawn):
        args, kw = drawn
        for d, v in case.dims(args, kw).items():
            assert v <= case.public_most[d], (d, v)
        assert all(_quarters(a) for a in _arrays(args, kw)
                   if name != "separate_kernel")  # outer products of quarters: sixteenths

    check()


@FAST
@given(S.inseparable_kernels(thorough=True))
def test_hidden_inseparable_kernels_are_plainly_of_rank_2(case):
    (k,), _ = case
    s = np.linalg.svd(k, compute_uv=False)
    assert s[1] > 1e-3 * s[0] and max(k.shape) <= 7


@FAST
@given(S.pool2d_args("max", padding=True, dilation=True, ceil_mode=True, thorough=True))
def test_hidden_pool_padding_stays_within_pytorchs_limits(case):
    (x, k), kw = case
    (kh, kw_), (ph, pw) = S.as_pair(k), S.as_pair(kw.get("padding", 0))
    assert ph <= kh // 2 and pw <= kw_ // 2
