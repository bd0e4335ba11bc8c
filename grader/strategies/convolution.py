"""Arguments for the NumPy functions of problem sets 1 and 2: convolution and pooling,
output sizes and parameter counts, the convolution zoo and the backward pass."""
from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as _st

from .primitives import _min_size, _options, arrays, as_pair, int_or_pair, st


#: Half the hidden examples have the size of a real layer (``_layer_shape``), within this
#: many multiply-adds: a third of a second for seven nested Python loops, the slowest
#: correct answer, so that some thirty of them fit a check's budget many times over.
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
    them at the size of a real layer.  The public ones, small and in quarters,
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


def _conv_padding(draw, most: int, s, pairs: bool, string_padding: bool):
    """Padding up to ``most``: an int, an (h, w) pair, 'valid', or 'same' (stride 1 only)."""
    choices = [int_or_pair(0, most, pair=pairs)]
    if string_padding:
        choices.append(st.just("valid"))
    if string_padding and as_pair(s) == (1, 1):  # PyTorch refuses 'same' with stride > 1
        choices.append(st.just("same"))
    return draw(st.one_of(*choices))


def _at_most(most: int, allowance: float) -> int:
    """An upper bound for a draw: ``most``, or less where the allowance is smaller, but 1."""
    return max(1, min(most, int(allowance)))


@st.composite
def _layer_shape(draw, *, stride: bool, padding: bool, dilation: bool, groups: bool,
                 pairs: bool, string_padding: bool):
    """``(n, groups, c_in, c_out, (kh, kw), (stride, padding, dilation), (h, w))`` of a
    real layer, built to cost at most ``LAYER_MACS`` multiply-adds.

    The budget is split at random between batch, channels, kernel and output
    pixels, so that any of them, or several at once, grows as large as real
    layers get while the others stay small.  Padding is at most half the
    (dilated) kernel, as in real layers: the output is then never larger than
    the input, and the image's share bounds it.
    """
    shares = [draw(st.integers(0, 4)) for _ in range(4)]
    batch, channels, kernel, pixels = (LAYER_MACS ** (x / (sum(shares) or 1)) for x in shares)
    n = draw(st.integers(1, _at_most(LAYER_BATCH, batch)))
    # A convolution costs c_out * (c_in / groups) multiply-adds per tap and pixel.
    g = draw(st.integers(1, _at_most(LAYER_GROUPS, channels))) if groups else 1
    cpg = draw(st.integers(1, _at_most(LAYER_CHANNELS // g, channels / g)))
    opg = draw(st.integers(1, _at_most(LAYER_CHANNELS // g, channels / (g * cpg))))
    kh = draw(st.integers(1, _at_most(LAYER_KERNEL, kernel if pairs else kernel ** 0.5)))
    kw_ = draw(st.integers(1, _at_most(LAYER_KERNEL, kernel / kh))) if pairs else kh
    s = draw(int_or_pair(1, 3, pair=pairs)) if stride else 1
    d = draw(int_or_pair(1, 3, pair=pairs)) if dilation else 1
    effs = [di * (ki - 1) + 1 for ki, di in zip((kh, kw_), as_pair(d))]
    p = _conv_padding(draw, (min(effs) - 1) // 2, s, pairs, string_padding) if padding else 0
    # Per axis (kernel, stride, padding); 'same' keeps the input's size, like (1, 1, 0).
    if p == "same":
        geometry = [(1, 1, 0)] * 2
    else:
        geometry = zip(effs, as_pair(s), as_pair(0 if p == "valid" else p))
    outs, sides = [], []
    for eff, si, pi in geometry:
        most = (LAYER_IMAGE - eff + 2 * pi) // si + 1  # the output side of the largest image
        out = draw(st.integers(1, _at_most(most, pixels / math.prod(outs))))
        first = eff - 2 * pi + (out - 1) * si  # the smallest input side with this output
        sides.append(first + draw(st.integers(0, min(si - 1, LAYER_IMAGE - first))))
        outs.append(out)
    return n, g, g * cpg, g * opg, (kh, kw_), (s, p, d), tuple(sides)


@st.composite
def pool2d_args(draw, kind: str, *, stride: bool = True, padding: bool = False,
                dilation: bool = False, ceil_mode: bool = False, count_include_pad: bool = False,
                max_extent: int = 6):
    """Arguments for ``max_pool2d`` (``kind='max'``) or ``avg_pool2d`` (``kind='avg'``).

    PyTorch's own constraints hold: padding is at most half the kernel, and the
    padded input is at least one (dilated) window, so the output is never empty.
    ``stride=None`` (or left out) means "stride = kernel_size", as in PyTorch.
    """
    kw: dict = {}
    k = draw(int_or_pair(1, 4))
    kh, kw_ = as_pair(k)
    if stride:
        s = draw(st.one_of(st.none(), int_or_pair(1, 3)))
    else:
        s = None
    d = draw(int_or_pair(1, 2)) if (dilation and kind == "max") else 1
    p = draw(st.tuples(st.integers(0, kh // 2), st.integers(0, kw_ // 2))) if padding else (0, 0)
    if padding and p[0] == p[1] and draw(st.booleans()):
        p = p[0]
    ph, pw = as_pair(p)
    dh, dw = as_pair(d)
    eff_h, eff_w = dh * (kh - 1) + 1, dw * (kw_ - 1) + 1
    h = draw(st.integers(_min_size(eff_h, ph), eff_h + max_extent))
    w = draw(st.integers(_min_size(eff_w, pw), eff_w + max_extent))
    n = draw(st.integers(1, 2))
    c = draw(st.integers(1, 3))
    x = draw(arrays((n, c, h, w)))
    if s is not None:
        kw["stride"] = s
    elif draw(st.booleans()):
        kw["stride"] = None
    if p != 0 and p != (0, 0):
        kw["padding"] = p
    if d != 1:
        kw["dilation"] = d
    if ceil_mode:
        kw["ceil_mode"] = draw(st.booleans())
    if count_include_pad:
        kw["count_include_pad"] = draw(st.booleans())
    return (x, k), kw


@st.composite
def conv2d_single_args(draw, *, thorough: bool = False):
    """``(image, kernel)``; ``thorough`` as for ``conv2d_args``: full precision, and half
    the examples up to a ``LAYER_KERNEL`` kernel on a ``LAYER_IMAGE`` image."""
    if thorough and draw(st.booleans()):
        kh, kw = draw(st.integers(1, LAYER_KERNEL)), draw(st.integers(1, LAYER_KERNEL))
        h, w = draw(st.integers(kh, LAYER_IMAGE)), draw(st.integers(kw, LAYER_IMAGE))
    else:
        kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
        h, w = draw(st.integers(kh, kh + 6)), draw(st.integers(kw, kw + 6))
    return (draw(arrays((h, w), precise=thorough)), draw(arrays((kh, kw), precise=thorough))), {}


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
                          max_extent: int = 4):
    """Arguments for ``conv_transpose2d(x, weight, bias, stride, padding, output_padding,
    groups, dilation)``; ``weight`` is (C_in, C_out / groups, kH, kW).

    ``output_padding`` comes with ``stride`` (it must stay below the stride or
    the dilation); ``padding`` never makes the output empty.
    """
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
        full = (ni - 1) * si + di * (ki - 1) + op_[-1] + 1  # the output length without padding
        p_.append(draw(st.integers(0, min(3, (full - 1) // 2))) if padding else 0)
    p = p_[0] if p_[0] == p_[1] and draw(st.booleans()) else tuple(p_)
    op = op_[0] if op_[0] == op_[1] and draw(st.booleans()) else tuple(op_)
    kw: dict = {}
    if draw(st.booleans()) if bias is None else bias:
        kw["bias"] = draw(arrays((cout,)))
    _options(draw, kw, (("stride", s, 1), ("padding", p, (0, 0)), ("output_padding", op, (0, 0)),
                        ("groups", g, 1), ("dilation", d, 1)))
    kh, kw_ = as_pair(k)
    return (draw(arrays((n, cin, h, w))), draw(arrays((cin, cout // g, kh, kw_)))), kw


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
def conv_matrix_args(draw, *, stride: bool = False, padding: bool = False):
    """``(weight, input_hw)`` and options for ``conv_matrix``: one 2-D kernel on an (h, w) input."""
    kh, kw_ = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    s = draw(int_or_pair(1, 3)) if stride else 1
    p = draw(int_or_pair(0, 2)) if padding else 0
    ph, pw = as_pair(p)
    h = draw(st.integers(max(1, kh - 2 * ph), kh + 4))
    w = draw(st.integers(max(1, kw_ - 2 * pw), kw_ + 4))
    kw = _options(draw, {}, (("stride", s, 1), ("padding", p, 0)))
    return (draw(arrays((kh, kw_))), (h, w)), kw


def _int_or_triple(lo, hi):
    single = st.integers(lo, hi)
    return st.one_of(single, st.tuples(single, single, single))


def _triple(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v, v)


@st.composite
def conv3d_args(draw, *, options: bool = False, bias: bool | None = None):
    """Arguments for ``conv3d(x, weight, bias, stride, padding, dilation)``, NCDHW and OIDHW."""
    cin, cout = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    k = _triple(draw(_int_or_triple(1, 3)))
    s = draw(_int_or_triple(1, 2)) if options else 1
    p = draw(_int_or_triple(0, 1)) if options else 0
    d = draw(_int_or_triple(1, 2)) if options else 1
    size = [draw(st.integers(max(1, di * (ki - 1) + 1 - 2 * pi), di * (ki - 1) + 3))
            for ki, pi, di in zip(k, _triple(p), _triple(d))]
    x = draw(arrays((draw(st.integers(1, 2)), cin, *size)))
    kw: dict = {}
    if draw(st.booleans()) if bias is None else bias:
        kw["bias"] = draw(arrays((cout,)))
    _options(draw, kw, (("stride", s, 1), ("padding", p, 0), ("dilation", d, 1)))
    return (x, draw(arrays((cout, cin, *k)))), kw


def _nonzero_vector(draw, n):
    v = draw(arrays((n,)))
    if not v.any():
        v[draw(st.integers(0, n - 1))] = draw(st.sampled_from([-2.0, 1.0, 0.5]))
    return v


@st.composite
def separable_kernels(draw):
    """A kernel of rank exactly 1: an outer product of two nonzero vectors."""
    kh, kw = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    return (np.outer(_nonzero_vector(draw, kh), _nonzero_vector(draw, kw)),), {}


@st.composite
def inseparable_kernels(draw):
    """A kernel of rank 2 or more, clearly so: often a sum of just two outer products,
    which a "rank <= 2" test wrongly accepts."""
    kh, kw = draw(st.integers(2, 5)), draw(st.integers(2, 5))
    if draw(st.booleans()):
        k = sum(np.outer(_nonzero_vector(draw, kh), _nonzero_vector(draw, kw)) for _ in range(2))
    else:
        k = draw(arrays((kh, kw)))
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
def separable_conv2d_args(draw):
    """``(image, column, row)``: a 2-D image and the two 1-D factors of a kernel."""
    kh, kw = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    image = draw(arrays((draw(st.integers(kh, kh + 6)), draw(st.integers(kw, kw + 6)))))
    return (image, draw(arrays((kh,))), draw(arrays((kw,)))), {}


@st.composite
def depthwise_separable_args(draw, *, options: bool = False):
    """Arguments for ``depthwise_separable_conv2d``; with ``options``: biases, stride,
    padding, dilation and a depth multiplier (C_in * m depthwise filters)."""
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
    x = draw(arrays((draw(st.integers(1, 2)), cin, h, w)))
    args = (x, draw(arrays((cin * m, 1, kh, kw_))), draw(arrays((cout, cin * m, 1, 1))))
    kw: dict = {}
    if options:
        for name, size in (("depthwise_bias", cin * m), ("pointwise_bias", cout)):
            if draw(st.booleans()):
                kw[name] = draw(arrays((size,)))
        _options(draw, kw, (("stride", s, 1), ("padding", p, 0), ("dilation", d, 1)))
    return args, kw


@st.composite
def channel_shuffle_args(draw):
    g = draw(st.integers(1, 4))
    c = g * draw(st.integers(1, 4))
    x = draw(arrays((draw(st.integers(1, 2)), c, draw(st.integers(1, 3)), draw(st.integers(1, 3)))))
    return (x, g), {}


@st.composite
def local_response_norm_args(draw):
    """NCHW inputs and LRN settings around AlexNet's (size 5, alpha 1e-4, beta 0.75, k 2)."""
    x = draw(arrays((draw(st.integers(1, 2)), draw(st.integers(1, 7)),
                     draw(st.integers(1, 3)), draw(st.integers(1, 3)))))
    kw = {}
    for name, choices, default in (("alpha", [1e-4, 0.01, 0.5, 1.0, 2.0], 1e-4),
                                   ("beta", [0.5, 0.75, 1.0, 1.5], 0.75),
                                   ("k", [1.0, 2.0, 0.5], 1.0)):
        v = draw(st.sampled_from(choices))
        if v != default or draw(st.booleans()):
            kw[name] = v
    return (x, draw(st.integers(1, 6))), kw


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
def im2col_args(draw):
    """``(x, kernel_size)`` with stride, padding and dilation for ``im2col`` (F.unfold)."""
    k = draw(int_or_pair(1, 3))
    s, p, d = draw(int_or_pair(1, 3)), draw(int_or_pair(0, 2)), draw(int_or_pair(1, 2))
    (kh, kw_), (ph, pw), (dh, dw) = as_pair(k), as_pair(p), as_pair(d)
    eh, ew = dh * (kh - 1) + 1, dw * (kw_ - 1) + 1
    h = draw(st.integers(_min_size(eh, ph), eh + 5))
    w = draw(st.integers(_min_size(ew, pw), ew + 5))
    x = draw(arrays((draw(st.integers(1, 2)), draw(st.integers(1, 3)), h, w)))
    kw = _options(draw, {}, (("stride", s, 1), ("padding", p, 0), ("dilation", d, 1)))
    return (x, k), kw


def _without_groups(case):
    (args, kwargs) = case
    return args, {k: v for k, v in kwargs.items() if k != "groups"}


def conv2d_fast_args(*, thorough: bool = False) -> _st.SearchStrategy:
    """``conv2d`` arguments without groups (and without string padding) for ``conv2d_fast``."""
    return conv2d_args(stride=True, padding=True, dilation=True, string_padding=False,
                       thorough=thorough).map(_without_groups)
