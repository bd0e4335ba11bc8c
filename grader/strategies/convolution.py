"""Arguments for the NumPy functions of problem sets 1 and 2: convolution and pooling,
output sizes and parameter counts, the convolution zoo and the backward pass."""
from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as _st

from .primitives import _min_size, _options, arrays, as_pair, int_or_pair, st


#: Half the hidden examples have the size of a real layer, within this many multiply-adds
#: (or, for functions that only move values, elements): a third of a second for seven nested
#: Python loops, the slowest correct answer, so that some thirty of them fit a check's budget
#: many times over.  ``_allowances`` splits it between batch, channels, kernel and pixels;
#: ``_layer_kernel`` and ``_layer_sides`` draw a kernel and an image within their shares, and
#: ``_layer_shape`` puts them together for the convolutions.
LAYER_MACS = 2 ** 20
#: How large real layers get, as far as LAYER_MACS allows: batch, channels, groups, kernel, image.
LAYER_BATCH, LAYER_CHANNELS, LAYER_GROUPS, LAYER_KERNEL, LAYER_IMAGE = 8, 64, 32, 7, 64


@st.composite
def conv2d_args(draw, *, stride: bool = False, padding: bool = False, dilation: bool = False,
                groups: bool = False, bias: bool | None = None, pairs: bool = True,
                string_padding: bool = True, thorough: bool = False):
    """Arguments for ``conv2d(x, weight, bias, stride, padding, dilation, groups)``.

    The flags switch features on; switched-off features are left at PyTorch's
    defaults (and usually omitted).  ``bias=None`` lets Hypothesis choose.

    ``thorough`` draws the hidden examples: full-precision values, and half of
    them at the size of a real layer.  The public ones, small and in integers or quarters,
    pass code that computes in float32, rounds its inputs, or goes wrong only
    beyond a batch of 2, 6 channels, a 4x4 kernel or a 20x20 image.
    """
    kw: dict = {}
    if thorough and draw(st.booleans()):
        n, g, cin, cout, (kh, kw_), (s, p, d), (h, w) = draw(_layer_shape(
            stride=stride, padding=padding, dilation=dilation, groups=groups, pairs=pairs,
            string_padding=string_padding))
    else:
        g = draw(st.integers(1, 3)) if groups else 1
        cin = g * draw(st.integers(1, 2 if groups else 3))
        cout = g * draw(st.integers(1, 2 if groups else 3))
        kh, kw_ = as_pair(draw(int_or_pair(1, 4, pair=pairs)))
        s = draw(int_or_pair(1, 3, pair=pairs)) if stride else 1
        d = draw(int_or_pair(1, 3, pair=pairs)) if dilation else 1
        p = _conv_padding(draw, 3, s, pairs, string_padding) if padding else 0
        ph, pw = (0, 0) if p in ("valid", "same") else as_pair(p)
        dh, dw = as_pair(d)
        eff_h, eff_w = dh * (kh - 1) + 1, dw * (kw_ - 1) + 1
        if p == "same":
            min_h = min_w = 1
        else:
            min_h, min_w = _min_size(eff_h, ph), _min_size(eff_w, pw)
        h = draw(st.integers(min_h, max(min_h, eff_h + 5)))
        w = draw(st.integers(min_w, max(min_w, eff_w + 5)))
        n = draw(st.integers(1, 2))
    x = draw(arrays((n, cin, h, w), precise=thorough))
    weight = draw(arrays((cout, cin // g, kh, kw_), precise=thorough))
    use_bias = draw(st.booleans()) if bias is None else bias
    if use_bias:
        kw["bias"] = draw(arrays((cout,), precise=thorough))
    for name, value, default in (("stride", s, 1), ("padding", p, 0), ("dilation", d, 1),
                                 ("groups", g, 1)):
        if value != default or draw(st.booleans()):
            kw[name] = value
    return (x, weight), kw


def _conv_padding(draw, most: int, s, pairs: bool, string_padding: bool, dims: int = 2):
    """Padding up to ``most``: an int, an (h, w) pair (a triple for ``dims=3``), 'valid',
    or 'same' (stride 1 only)."""
    choices = [_int_or_tuple(0, most, dims, pairs)]
    if string_padding:
        choices.append(st.just("valid"))
    if string_padding and set(_as_tuple(s, dims)) == {1}:  # PyTorch: no 'same' with stride > 1
        choices.append(st.just("same"))
    return draw(st.one_of(*choices))


def _int_or_tuple(lo: int, hi: int, dims: int = 2, pairs: bool = True) -> _st.SearchStrategy:
    """An int, or (when ``pairs``) one per spatial axis: ``int_or_pair`` for two axes."""
    if dims == 2:
        return int_or_pair(lo, hi, pair=pairs)
    single = st.integers(lo, hi)
    return st.one_of(single, st.tuples(*[single] * dims)) if pairs else single


def _as_tuple(v, dims: int = 2) -> tuple:
    """One value per spatial axis: ``as_pair`` for two axes."""
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * dims


def _at_most(most: int, allowance: float) -> int:
    """An upper bound for a draw: ``most``, or less where the allowance is smaller, but 1."""
    return max(1, min(most, int(allowance)))


def _allowances(draw, parts: int = 4, budget: float = LAYER_MACS) -> list[float]:
    """``budget`` split at random into ``parts`` allowances whose product is the budget
    (batch, channels, kernel and output pixels, say), so that any of them, or several at
    once, grows as large as real layers get while the others stay small."""
    shares = [draw(st.integers(0, 4)) for _ in range(parts)]
    return [budget ** (x / (sum(shares) or 1)) for x in shares]


def _layer_kernel(draw, allowance: float, *, dims: int = 2, pairs: bool = True) -> tuple:
    """A kernel of ``dims`` sides, each up to ``LAYER_KERNEL``, of at most ``allowance``
    taps; all sides equal unless ``pairs``."""
    if not pairs:
        return (draw(st.integers(1, _at_most(LAYER_KERNEL, allowance ** (1 / dims)))),) * dims
    sides: list[int] = []
    for _ in range(dims):
        sides.append(draw(st.integers(1, _at_most(LAYER_KERNEL, allowance / math.prod(sides)))))
    return tuple(sides)


def _layer_sides(draw, pixels: float, geometry, *, ceil: bool = False) -> tuple:
    """Input sides, each up to ``LAYER_IMAGE``, whose output has at most ``pixels`` pixels.

    ``geometry`` gives each axis's (dilated kernel, stride, padding), with padding at
    most half the kernel as in real layers: the output is then never larger than the
    input, and the image's share bounds it.  ``ceil``: the output size rounds up (pooling's
    ``ceil_mode``).  ``(1, 1, 0)`` for every axis: just an image of at most ``pixels``.
    """
    outs, sides = [], []
    for eff, si, pi in geometry:
        most = (LAYER_IMAGE - eff + 2 * pi) // si + 1  # the output side of the largest image
        out = draw(st.integers(1, _at_most(most, pixels / math.prod(outs))))
        first = eff - 2 * pi + (out - 1) * si  # the smallest input side with this output
        if ceil:  # ... and the largest when the output size rounds up; down to stride - 1 less
            sides.append(first - draw(st.integers(0, min(si - 1, (out - 1) * si))))
        else:
            sides.append(first + draw(st.integers(0, min(si - 1, LAYER_IMAGE - first))))
        outs.append(out)
    return tuple(sides)


@st.composite
def _layer_shape(draw, *, stride: bool, padding: bool, dilation: bool, groups: bool,
                 pairs: bool, string_padding: bool, dims: int = 2, out_channels: bool = True):
    """``(n, groups, c_in, c_out, kernel, (stride, padding, dilation), sides)`` of a real
    convolution over ``dims`` spatial axes, built to cost at most ``LAYER_MACS``
    multiply-adds (``_allowances``).  Padding is at most half the (dilated) kernel, as in
    real layers.  Without ``out_channels``, ``c_out`` is 1 (im2col: one value per tap).
    """
    batch, channels, kernel, pixels = _allowances(draw)
    n = draw(st.integers(1, _at_most(LAYER_BATCH, batch)))
    # A convolution costs c_out * (c_in / groups) multiply-adds per tap and pixel.
    g = draw(st.integers(1, _at_most(LAYER_GROUPS, channels))) if groups else 1
    cpg = draw(st.integers(1, _at_most(LAYER_CHANNELS // g, channels / g)))
    opg = draw(st.integers(1, _at_most(LAYER_CHANNELS // g, channels / (g * cpg)))) \
        if out_channels else 1
    k = _layer_kernel(draw, kernel, dims=dims, pairs=pairs)
    s = draw(_int_or_tuple(1, 3, dims, pairs)) if stride else 1
    d = draw(_int_or_tuple(1, 3, dims, pairs)) if dilation else 1
    effs = [di * (ki - 1) + 1 for ki, di in zip(k, _as_tuple(d, dims))]
    p = _conv_padding(draw, (min(effs) - 1) // 2, s, pairs, string_padding, dims) \
        if padding else 0
    # Per axis (kernel, stride, padding); 'same' keeps the input's size, like (1, 1, 0).
    if p == "same":
        geometry = [(1, 1, 0)] * dims
    else:
        geometry = zip(effs, _as_tuple(s, dims), _as_tuple(0 if p == "valid" else p, dims))
    return n, g, g * cpg, g * opg, k, (s, p, d), _layer_sides(draw, pixels, geometry)


@st.composite
def pool2d_args(draw, kind: str, *, stride: bool = True, padding: bool = False,
                dilation: bool = False, ceil_mode: bool = False, count_include_pad: bool = False,
                max_extent: int = 6, thorough: bool = False):
    """Arguments for ``max_pool2d`` (``kind='max'``) or ``avg_pool2d`` (``kind='avg'``).

    PyTorch's own constraints hold: padding is at most half the kernel, and the
    padded input is at least one (dilated) window, so the output is never empty.
    ``stride=None`` (or left out) means "stride = kernel_size", as in PyTorch.
    ``thorough`` as for ``conv2d_args``: full precision, half of them real layers
    (``_pool_layer``).
    """
    kw: dict = {}
    ceil = None
    if thorough and draw(st.booleans()):
        n, c, k, s, p, d, (h, w), ceil = draw(_pool_layer(kind, stride=stride, padding=padding,
                                                          dilation=dilation, ceil_mode=ceil_mode))
    else:
        k = draw(int_or_pair(1, 4))
        kh, kw_ = as_pair(k)
        if stride:
            s = draw(st.one_of(st.none(), int_or_pair(1, 3)))
        else:
            s = None
        d = draw(int_or_pair(1, 2)) if (dilation and kind == "max") else 1
        p = draw(st.tuples(st.integers(0, kh // 2), st.integers(0, kw_ // 2))) if padding \
            else (0, 0)
        if padding and p[0] == p[1] and draw(st.booleans()):
            p = p[0]
        ph, pw = as_pair(p)
        dh, dw = as_pair(d)
        eff_h, eff_w = dh * (kh - 1) + 1, dw * (kw_ - 1) + 1
        h = draw(st.integers(_min_size(eff_h, ph), eff_h + max_extent))
        w = draw(st.integers(_min_size(eff_w, pw), eff_w + max_extent))
        n = draw(st.integers(1, 2))
        c = draw(st.integers(1, 3))
    x = draw(arrays((n, c, h, w), precise=thorough))
    if s is not None:
        kw["stride"] = s
    elif draw(st.booleans()):
        kw["stride"] = None
    if p != 0 and p != (0, 0):
        kw["padding"] = p
    if d != 1:
        kw["dilation"] = d
    if ceil_mode:
        kw["ceil_mode"] = draw(st.booleans()) if ceil is None else ceil
    if count_include_pad:
        kw["count_include_pad"] = draw(st.booleans())
    return (x, k), kw


@st.composite
def _pool_layer(draw, kind: str, *, stride: bool, padding: bool, dilation: bool,
                ceil_mode: bool):
    """``(n, c, kernel_size, stride, padding, dilation, (h, w), ceil_mode)`` of a real
    pooling layer, within ``LAYER_MACS`` comparisons or additions: a convolution with one
    filter per channel.  Padding is at most half the kernel, and leaves the first tap of
    every window in the input; ``ceil_mode`` is drawn before the image, whose output size
    it sets."""
    batch, channels, kernel, pixels = _allowances(draw)
    n = draw(st.integers(1, _at_most(LAYER_BATCH, batch)))
    c = draw(st.integers(1, _at_most(LAYER_CHANNELS, channels)))
    kh, kw_ = _layer_kernel(draw, kernel)
    k = kh if kh == kw_ and draw(st.booleans()) else (kh, kw_)
    s = draw(st.one_of(st.none(), int_or_pair(1, 3))) if stride else None
    d = draw(int_or_pair(1, 2)) if (dilation and kind == "max") else 1
    effs = [di * (ki - 1) + 1 for ki, di in zip((kh, kw_), as_pair(d))]
    p = (0, 0)
    if padding:
        p = tuple(draw(st.integers(0, min(ki // 2, (e - 1) // 2)))
                  for ki, e in zip((kh, kw_), effs))
        if p[0] == p[1] and draw(st.booleans()):
            p = p[0]
    ceil = draw(st.booleans()) if ceil_mode else False
    geometry = zip(effs, as_pair(k if s is None else s), as_pair(p))
    return n, c, k, s, p, d, _layer_sides(draw, pixels, geometry, ceil=ceil), ceil


@st.composite
def conv2d_single_args(draw, *, thorough: bool = False):
    """``(image, kernel)``; ``thorough`` as for ``conv2d_args``: full precision, and half
    the examples up to a ``LAYER_KERNEL`` kernel on a ``LAYER_IMAGE`` image."""
    (h, w), (kh, kw) = _image_and_kernel(draw, 4, thorough)
    return (draw(arrays((h, w), precise=thorough)), draw(arrays((kh, kw), precise=thorough))), {}


def _image_and_kernel(draw, most: int, thorough: bool) -> tuple:
    """``((h, w), (kh, kw))`` of one image and one kernel: kernels of up to ``most`` with up
    to 6 more pixels, or (``thorough``, half the time) up to ``LAYER_KERNEL`` on an image
    up to ``LAYER_IMAGE``: ``LAYER_KERNEL ** 2 * LAYER_IMAGE ** 2`` is within ``LAYER_MACS``."""
    if thorough and draw(st.booleans()):
        kh, kw = draw(st.integers(1, LAYER_KERNEL)), draw(st.integers(1, LAYER_KERNEL))
        h, w = draw(st.integers(kh, LAYER_IMAGE)), draw(st.integers(kw, LAYER_IMAGE))
    else:
        kh, kw = draw(st.integers(1, most)), draw(st.integers(1, most))
        h, w = draw(st.integers(kh, kh + 6)), draw(st.integers(kw, kw + 6))
    return (h, w), (kh, kw)


@st.composite
def output_size_args(draw, *, valid: bool = True):
    """``(n, kernel_size, stride, padding, dilation)`` for ``conv_output_size``.

    With ``valid=False`` the setting is impossible: the dilated kernel is larger
    than the padded input, the stride is below 1, or the padding is negative.
    """
    k = draw(st.integers(1, 7))
    d = draw(st.integers(1, 4))
    s = draw(st.integers(1, 5))
    p = draw(st.integers(0, 4))
    eff = d * (k - 1) + 1
    if valid:
        n = draw(st.integers(max(1, eff - 2 * p), eff + 40))
        return _size_call(draw, n, k, s, p, d)
    why = draw(st.sampled_from(["too_small", "stride", "padding"]))
    if why == "too_small":
        if eff - 2 * p - 1 < 1:
            p = 0
            k = max(k, 2)
            eff = d * (k - 1) + 1
        n = draw(st.integers(1, eff - 2 * p - 1))
    elif why == "stride":
        n = eff + draw(st.integers(0, 10))
        s = draw(st.integers(-2, 0))
    else:
        n = eff + draw(st.integers(0, 10))
        p = draw(st.integers(-3, -1))
    return (n, k), {"stride": s, "padding": p, "dilation": d}


def _size_call(draw, n, k, s, p, d):
    kw = {}
    for name, value, default in (("stride", s, 1), ("padding", p, 0), ("dilation", d, 1)):
        if value != default or draw(st.booleans()):
            kw[name] = value
    return (n, k), kw


@st.composite
def pool_output_size_args(draw):
    """``(n, kernel_size)`` and options for ``pool_output_size``, within PyTorch's limits."""
    k = draw(st.integers(1, 6))
    d = draw(st.integers(1, 3))
    p = draw(st.integers(0, k // 2))
    eff = d * (k - 1) + 1
    n = draw(st.integers(max(1, eff - 2 * p), eff + 30))
    kw = {}
    s = draw(st.one_of(st.none(), st.integers(1, 4)))
    for name, value, default in (("stride", s, None), ("padding", p, 0), ("dilation", d, 1)):
        if value != default or draw(st.booleans()):
            kw[name] = value
    kw["ceil_mode"] = draw(st.booleans())
    return (n, k), kw


@st.composite
def same_padding_args(draw):
    k = draw(st.integers(1, 9))
    kw = {}
    d = draw(st.integers(1, 4))
    if d != 1 or draw(st.booleans()):
        kw["dilation"] = d
    return (k,), kw


@st.composite
def conv2d_param_count_args(draw):
    g = draw(st.integers(1, 4))
    cin, cout = g * draw(st.integers(1, 16)), g * draw(st.integers(1, 16))
    k = draw(int_or_pair(1, 7))
    kw = {}
    b = draw(st.booleans())
    if not b or draw(st.booleans()):
        kw["bias"] = b
    if g != 1 or draw(st.booleans()):
        kw["groups"] = g
    return (cin, cout, k), kw


@st.composite
def linear_param_count_args(draw):
    kw = {}
    b = draw(st.booleans())
    if not b or draw(st.booleans()):
        kw["bias"] = b
    return (draw(st.integers(1, 5000)), draw(st.integers(1, 1000))), kw


@st.composite
def layer_stacks(draw, max_layers: int = 5):
    """``(in_shape, layers)`` for ``flatten_size``: random conv/pool stacks that fit."""
    c = draw(st.integers(1, 4))
    h, w = draw(st.integers(8, 64)), draw(st.integers(8, 64))
    in_shape = (c, h, w)
    layers = []
    for _ in range(draw(st.integers(1, max_layers))):
        kind = draw(st.sampled_from(["conv2d", "conv2d", "max_pool2d", "avg_pool2d"]))
        k = draw(int_or_pair(1, 5))
        kh, kw_ = as_pair(k)
        spec: dict = {"type": kind, "kernel_size": k}
        if kind == "conv2d":
            spec["out_channels"] = draw(st.integers(1, 32))
            for name, lo, hi in (("stride", 1, 3), ("dilation", 1, 2)):
                v = draw(st.integers(lo, hi))
                if v != 1:
                    spec[name] = v
            pad = draw(st.integers(0, 2))
            dh, dw = as_pair(spec.get("dilation", 1))
            eff = (dh * (kh - 1) + 1, dw * (kw_ - 1) + 1)
        else:
            s = draw(st.one_of(st.none(), st.integers(1, 3)))
            if s is not None:
                spec["stride"] = s
            pad = draw(st.integers(0, min(kh, kw_) // 2))
            if kind == "max_pool2d" and draw(st.booleans()):
                spec["ceil_mode"] = True
            eff = (kh, kw_)
        if pad:
            spec["padding"] = pad
        if h + 2 * pad < eff[0] or w + 2 * pad < eff[1]:
            break  # this layer would not fit: stop the stack here
        layers.append(spec)
        h, w = _spatial_after(in_shape, layers)  # sizes from PyTorch, not from a formula
    if not layers:
        layers.append({"type": "conv2d", "out_channels": 4, "kernel_size": 1})
    return (in_shape, layers), {}


def _spatial_after(in_shape, layers) -> tuple[int, int]:
    import torch
    from ..references import build_stack
    c, h, w = in_shape
    out = build_stack(c, layers)(torch.empty(1, c, h, w, device="meta"))
    return int(out.shape[2]), int(out.shape[3])


@st.composite
def conv_transpose2d_args(draw, *, stride: bool = False, padding: bool = False,
                          dilation: bool = False, groups: bool = False, bias: bool | None = None,
                          max_extent: int = 4, thorough: bool = False):
    """Arguments for ``conv_transpose2d(x, weight, bias, stride, padding, output_padding,
    groups, dilation)``; ``weight`` is (C_in, C_out / groups, kH, kW).

    ``output_padding`` comes with ``stride`` (it must stay below the stride or
    the dilation); ``padding`` never makes the output empty.  ``thorough`` as for
    ``conv2d_args``; its real layers are those of ``_transposed_layer``.
    """
    if thorough and draw(st.booleans()):
        g, (n, cin, h, w), (cout, k), (s, p, op, d) = draw(_transposed_layer(
            stride=stride, padding=padding, dilation=dilation, groups=groups))
    else:
        g = draw(st.integers(1, 3)) if groups else 1
        cin, cout = g * draw(st.integers(1, 2)), g * draw(st.integers(1, 2))
        k = draw(int_or_pair(1, 4))
        s = draw(int_or_pair(1, 3)) if stride else 1
        d = draw(int_or_pair(1, 3)) if dilation else 1
        n = draw(st.integers(1, 2))
        h, w = draw(st.integers(1, max_extent)), draw(st.integers(1, max_extent))
        op_, p_ = [], []
        for ki, si, di, ni in zip(as_pair(k), as_pair(s), as_pair(d), (h, w)):
            op_.append(draw(st.integers(0, max(si, di) - 1)) if stride else 0)
            full = (ni - 1) * si + di * (ki - 1) + op_[-1] + 1  # the output length unpadded
            p_.append(draw(st.integers(0, min(3, (full - 1) // 2))) if padding else 0)
        p = p_[0] if p_[0] == p_[1] and draw(st.booleans()) else tuple(p_)
        op = op_[0] if op_[0] == op_[1] and draw(st.booleans()) else tuple(op_)
    kw: dict = {}
    if draw(st.booleans()) if bias is None else bias:
        kw["bias"] = draw(arrays((cout,), precise=thorough))
    _options(draw, kw, (("stride", s, 1), ("padding", p, (0, 0)), ("output_padding", op, (0, 0)),
                        ("groups", g, 1), ("dilation", d, 1)))
    kh, kw_ = as_pair(k)
    return (draw(arrays((n, cin, h, w), precise=thorough)),
            draw(arrays((cin, cout // g, kh, kw_), precise=thorough))), kw


@st.composite
def _transposed_layer(draw, *, stride: bool, padding: bool, dilation: bool, groups: bool):
    """``(groups, (n, c_in, h, w), (c_out, kernel), (stride, padding, output_padding,
    dilation))`` of a real transposed convolution: the adjoint of a real convolution
    (``_layer_shape``) from its output back to its input, at the same cost.
    ``output_padding`` restores the input rows the convolution's stride left over."""
    n, g, c_out, c_in, (kh, kw_), (s, p, d), sides = draw(_layer_shape(
        stride=stride, padding=padding, dilation=dilation, groups=groups, pairs=True,
        string_padding=False))
    hw, op_ = [], []
    for ki, si, pi, di, side in zip((kh, kw_), as_pair(s), as_pair(p), as_pair(d), sides):
        eff = di * (ki - 1) + 1
        hw.append((side + 2 * pi - eff) // si + 1)  # the convolution's output side
        op_.append(side - ((hw[-1] - 1) * si - 2 * pi + eff))  # below the stride
    op = op_[0] if op_[0] == op_[1] and draw(st.booleans()) else tuple(op_)
    k = kh if kh == kw_ and draw(st.booleans()) else (kh, kw_)
    return g, (n, c_in, *hw), (c_out, k), (s, p, op, d)


@st.composite
def conv_transpose_output_size_args(draw, *, valid: bool = True):
    """``(n, kernel_size)`` and options; invalid ones break PyTorch's rules."""
    k, s, d = draw(st.integers(1, 7)), draw(st.integers(1, 5)), draw(st.integers(1, 4))
    n = draw(st.integers(1, 30))
    op = draw(st.integers(0, max(s, d) - 1))
    full = (n - 1) * s + d * (k - 1) + op + 1
    if valid:
        p = draw(st.integers(0, (full - 1) // 2))
    elif draw(st.booleans()):
        op = draw(st.integers(max(s, d), max(s, d) + 3))  # output_padding too large
        p = 0
    else:
        p = draw(st.integers((full + 1) // 2, (full + 1) // 2 + 3))  # padding eats the output
    kw = _options(draw, {}, (("stride", s, 1), ("padding", p, 0), ("output_padding", op, 0),
                             ("dilation", d, 1)))
    if not valid:
        kw.update(stride=s, padding=p, output_padding=op, dilation=d)
    return (n, k), kw


@st.composite
def conv_matrix_args(draw, *, stride: bool = False, padding: bool = False,
                     thorough: bool = False):
    """``(weight, input_hw)`` and options for ``conv_matrix``: one 2-D kernel on an (h, w)
    input.  ``thorough``: full precision, and half of them real kernels on an input of up
    to ``LAYER_MACS ** 0.5`` pixels, padded by at most half the kernel, so that C has at
    most ``LAYER_MACS`` entries."""
    if thorough and draw(st.booleans()):
        h, w = _layer_sides(draw, LAYER_MACS ** 0.5, [(1, 1, 0)] * 2)
        kh = draw(st.integers(1, min(LAYER_KERNEL, h)))
        kw_ = draw(st.integers(1, min(LAYER_KERNEL, w)))
        s = draw(int_or_pair(1, 3)) if stride else 1
        p = 0
        if padding:
            p = (draw(st.integers(0, (kh - 1) // 2)), draw(st.integers(0, (kw_ - 1) // 2)))
            p = p[0] if p[0] == p[1] and draw(st.booleans()) else p
    else:
        kh, kw_ = draw(st.integers(1, 3)), draw(st.integers(1, 3))
        s = draw(int_or_pair(1, 3)) if stride else 1
        p = draw(int_or_pair(0, 2)) if padding else 0
        ph, pw = as_pair(p)
        h = draw(st.integers(max(1, kh - 2 * ph), kh + 4))
        w = draw(st.integers(max(1, kw_ - 2 * pw), kw_ + 4))
    kw = _options(draw, {}, (("stride", s, 1), ("padding", p, 0)))
    return (draw(arrays((kh, kw_), precise=thorough)), (h, w)), kw


def _int_or_triple(lo, hi):
    return _int_or_tuple(lo, hi, 3)


def _triple(v):
    return _as_tuple(v, 3)


@st.composite
def conv3d_args(draw, *, options: bool = False, bias: bool | None = None,
                thorough: bool = False):
    """Arguments for ``conv3d(x, weight, bias, stride, padding, dilation)``, NCDHW and OIDHW.
    ``thorough`` as for ``conv2d_args``: half of them real layers (``_layer_shape`` over
    three axes)."""
    if thorough and draw(st.booleans()):
        n, _, cin, cout, k, (s, p, d), size = draw(_layer_shape(
            stride=options, padding=options, dilation=options, groups=False, pairs=True,
            string_padding=False, dims=3))
    else:
        cin, cout = draw(st.integers(1, 2)), draw(st.integers(1, 2))
        k = _triple(draw(_int_or_triple(1, 3)))
        s = draw(_int_or_triple(1, 2)) if options else 1
        p = draw(_int_or_triple(0, 1)) if options else 0
        d = draw(_int_or_triple(1, 2)) if options else 1
        size = [draw(st.integers(max(1, di * (ki - 1) + 1 - 2 * pi), di * (ki - 1) + 3))
                for ki, pi, di in zip(k, _triple(p), _triple(d))]
        n = draw(st.integers(1, 2))
    x = draw(arrays((n, cin, *size), precise=thorough))
    kw: dict = {}
    if draw(st.booleans()) if bias is None else bias:
        kw["bias"] = draw(arrays((cout,), precise=thorough))
    _options(draw, kw, (("stride", s, 1), ("padding", p, 0), ("dilation", d, 1)))
    return (x, draw(arrays((cout, cin, *k), precise=thorough))), kw


def _nonzero_vector(draw, n, precise: bool = False):
    v = draw(arrays((n,), precise=precise))
    if not v.any():  # one entry; no multiple of 1/4 when ``precise``
        v[draw(st.integers(0, n - 1))] = draw(st.sampled_from(
            [-2 / 3, 1 / 7, 0.3] if precise else [-2.0, 1.0, 0.5]))
    return v


@st.composite
def separable_kernels(draw, *, thorough: bool = False):
    """A kernel of rank exactly 1: an outer product of two nonzero vectors.
    ``thorough``: full precision, and half of them up to ``LAYER_KERNEL``."""
    most = LAYER_KERNEL if thorough and draw(st.booleans()) else 5
    kh, kw = draw(st.integers(1, most)), draw(st.integers(1, most))
    return (np.outer(_nonzero_vector(draw, kh, thorough),
                     _nonzero_vector(draw, kw, thorough)),), {}


@st.composite
def inseparable_kernels(draw, *, thorough: bool = False):
    """A kernel of rank 2 or more, clearly so: often a sum of just two outer products,
    which a "rank <= 2" test wrongly accepts.  ``thorough`` as for ``separable_kernels``."""
    most = LAYER_KERNEL if thorough and draw(st.booleans()) else 5
    kh, kw = draw(st.integers(2, most)), draw(st.integers(2, most))
    if draw(st.booleans()):
        k = sum(np.outer(_nonzero_vector(draw, kh, thorough), _nonzero_vector(draw, kw, thorough))
                for _ in range(2))
    else:
        k = draw(arrays((kh, kw), precise=thorough))
    if not _plainly_rank_2(k):
        k = k.copy()
        k[0, 0] += max(1.0, np.abs(k).max())
        if not _plainly_rank_2(k):
            k = np.eye(kh, kw)
    return (k,), {}


def _plainly_rank_2(k) -> bool:
    s = np.linalg.svd(k, compute_uv=False)
    return bool(s[1] > 1e-3 * s[0])


@st.composite
def separable_conv2d_args(draw, *, thorough: bool = False):
    """``(image, column, row)``: a 2-D image and the two 1-D factors of a kernel.
    ``thorough`` as for ``conv2d_single_args``."""
    (h, w), (kh, kw) = _image_and_kernel(draw, 5, thorough)
    return (draw(arrays((h, w), precise=thorough)), draw(arrays((kh,), precise=thorough)),
            draw(arrays((kw,), precise=thorough))), {}


@st.composite
def depthwise_separable_args(draw, *, options: bool = False, thorough: bool = False):
    """Arguments for ``depthwise_separable_conv2d``; with ``options``: biases, stride,
    padding, dilation and a depth multiplier (C_in * m depthwise filters).
    ``thorough`` as for ``conv2d_args``; real layers from ``_depthwise_layer``."""
    if thorough and draw(st.booleans()):
        n, cin, m, cout, (kh, kw_), (s, p, d), (h, w) = draw(_depthwise_layer(options))
    else:
        cin, cout = draw(st.integers(1, 3)), draw(st.integers(1, 3))
        m = draw(st.integers(1, 2)) if options else 1
        kh, kw_ = as_pair(draw(int_or_pair(1, 3)))
        s = draw(int_or_pair(1, 2)) if options else 1
        p = draw(int_or_pair(0, 2)) if options else 0
        d = draw(int_or_pair(1, 2)) if options else 1
        (ph, pw), (dh, dw) = as_pair(p), as_pair(d)
        eh, ew = dh * (kh - 1) + 1, dw * (kw_ - 1) + 1
        h = draw(st.integers(_min_size(eh, ph), eh + 4))
        w = draw(st.integers(_min_size(ew, pw), ew + 4))
        n = draw(st.integers(1, 2))
    x = draw(arrays((n, cin, h, w), precise=thorough))
    args = (x, draw(arrays((cin * m, 1, kh, kw_), precise=thorough)),
            draw(arrays((cout, cin * m, 1, 1), precise=thorough)))
    kw: dict = {}
    if options:
        for name, size in (("depthwise_bias", cin * m), ("pointwise_bias", cout)):
            if draw(st.booleans()):
                kw[name] = draw(arrays((size,), precise=thorough))
        _options(draw, kw, (("stride", s, 1), ("padding", p, 0), ("dilation", d, 1)))
    return args, kw


@st.composite
def _depthwise_layer(draw, options: bool):
    """``(n, c_in, multiplier, c_out, (kh, kw), (stride, padding, dilation), (h, w))`` of
    a real depthwise separable layer.  It costs c_in * m * (kh * kw + c_out) multiply-adds
    per pixel, at most twice the product of its factors: hence half of ``LAYER_MACS``."""
    batch, channels, kernel, pixels = _allowances(draw, budget=LAYER_MACS / 2)
    n = draw(st.integers(1, _at_most(LAYER_BATCH, batch)))
    cin = draw(st.integers(1, _at_most(LAYER_CHANNELS, channels)))
    m = draw(st.integers(1, _at_most(2, channels / cin))) if options else 1
    cout = draw(st.integers(1, _at_most(LAYER_CHANNELS, channels / (cin * m))))
    k = _layer_kernel(draw, kernel)
    s = draw(int_or_pair(1, 2)) if options else 1
    d = draw(int_or_pair(1, 2)) if options else 1
    effs = [di * (ki - 1) + 1 for ki, di in zip(k, as_pair(d))]
    p = _conv_padding(draw, (min(effs) - 1) // 2, s, True, False) if options else 0
    sides = _layer_sides(draw, pixels, zip(effs, as_pair(s), as_pair(p)))
    return n, cin, m, cout, k, (s, p, d), sides


@st.composite
def channel_shuffle_args(draw, *, thorough: bool = False):
    """``(x, groups)``.  ``thorough``: full precision, and half of them real layers of at
    most ``LAYER_MACS`` elements."""
    if thorough and draw(st.booleans()):
        batch, channels, pixels = _allowances(draw, parts=3)
        n = draw(st.integers(1, _at_most(LAYER_BATCH, batch)))
        g = draw(st.integers(1, _at_most(LAYER_GROUPS, channels)))
        c = g * draw(st.integers(1, _at_most(LAYER_CHANNELS // g, channels / g)))
        h, w = _layer_sides(draw, pixels, [(1, 1, 0)] * 2)
    else:
        g = draw(st.integers(1, 4))
        c = g * draw(st.integers(1, 4))
        n = draw(st.integers(1, 2))
        h, w = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    return (draw(arrays((n, c, h, w), precise=thorough)), g), {}


@st.composite
def local_response_norm_args(draw, *, thorough: bool = False):
    """NCHW inputs and LRN settings around AlexNet's (size 5, alpha 1e-4, beta 0.75, k 2).
    ``thorough``: full precision, and half of them real layers: at most ``LAYER_MACS``
    squares summed (batch, channels, window size and pixels share it)."""
    size = None
    if thorough and draw(st.booleans()):
        batch, channels, window, pixels = _allowances(draw)
        n = draw(st.integers(1, _at_most(LAYER_BATCH, batch)))
        c = draw(st.integers(1, _at_most(LAYER_CHANNELS, channels)))
        size = draw(st.integers(1, _at_most(LAYER_KERNEL, window)))
        h, w = _layer_sides(draw, pixels, [(1, 1, 0)] * 2)
        x = draw(arrays((n, c, h, w), precise=thorough))
    else:
        x = draw(arrays((draw(st.integers(1, 2)), draw(st.integers(1, 7)),
                         draw(st.integers(1, 3)), draw(st.integers(1, 3))), precise=thorough))
    kw = {}
    for name, choices, default in (("alpha", [1e-4, 0.01, 0.5, 1.0, 2.0], 1e-4),
                                   ("beta", [0.5, 0.75, 1.0, 1.5], 0.75),
                                   ("k", [1.0, 2.0, 0.5], 1.0)):
        v = draw(st.sampled_from(choices))
        if v != default or draw(st.booleans()):
            kw[name] = v
    return (x, draw(st.integers(1, 6)) if size is None else size), kw


@st.composite
def layer_lists(draw, max_layers: int = 5):
    """``[(kernel, stride, dilation), ...]`` for ``receptive_field``."""
    layers = draw(st.lists(st.tuples(st.integers(1, 5), st.integers(1, 3), st.integers(1, 3)),
                           min_size=1, max_size=max_layers))
    return (layers,), {}


@st.composite
def conv2d_backward_args(draw, *, thorough: bool = False, **features):
    """``(dout, x, weight)`` and conv options for ``conv2d_backward``; ``dout`` has the
    shape of the convolution's output.  Padding is numeric (no 'same' or 'valid').
    ``thorough`` as for ``conv2d_args``."""
    (x, weight), kw = draw(conv2d_args(bias=False, string_padding=False, thorough=thorough,
                                       **features))
    out_shape = _conv_out_shape(x.shape, weight.shape, kw)
    return (draw(arrays(out_shape, precise=thorough)), x, weight), kw


def _conv_out_shape(x_shape, w_shape, kw) -> tuple[int, ...]:
    import torch
    import torch.nn.functional as F
    # A tiny real convolution: the meta device's shape checks are ten times slower.
    out = F.conv2d(torch.zeros(x_shape), torch.zeros(w_shape), **kw)
    return tuple(out.shape)


@st.composite
def im2col_args(draw, *, thorough: bool = False):
    """``(x, kernel_size)`` with stride, padding and dilation for ``im2col`` (F.unfold).
    ``thorough`` as for ``conv2d_args``: half of them the windows of a real layer, at most
    ``LAYER_MACS`` values (``_layer_shape`` with one output channel)."""
    if thorough and draw(st.booleans()):
        n, _, c, _, (kh, kw_), (s, p, d), (h, w) = draw(_layer_shape(
            stride=True, padding=True, dilation=True, groups=False, pairs=True,
            string_padding=False, out_channels=False))
        k = kh if kh == kw_ and draw(st.booleans()) else (kh, kw_)
    else:
        k = draw(int_or_pair(1, 3))
        s, p, d = draw(int_or_pair(1, 3)), draw(int_or_pair(0, 2)), draw(int_or_pair(1, 2))
        (kh, kw_), (ph, pw), (dh, dw) = as_pair(k), as_pair(p), as_pair(d)
        eh, ew = dh * (kh - 1) + 1, dw * (kw_ - 1) + 1
        h = draw(st.integers(_min_size(eh, ph), eh + 5))
        w = draw(st.integers(_min_size(ew, pw), ew + 5))
        n, c = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    x = draw(arrays((n, c, h, w), precise=thorough))
    kw = _options(draw, {}, (("stride", s, 1), ("padding", p, 0), ("dilation", d, 1)))
    return (x, k), kw


def _without_groups(case):
    (args, kwargs) = case
    return args, {k: v for k, v in kwargs.items() if k != "groups"}


def conv2d_fast_args(*, thorough: bool = False) -> _st.SearchStrategy:
    """``conv2d`` arguments without groups (and without string padding) for ``conv2d_fast``."""
    return conv2d_args(stride=True, padding=True, dilation=True, string_padding=False,
                       thorough=thorough).map(_without_groups)
