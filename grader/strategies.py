"""Hypothesis strategies for valid configurations, in the form PyTorch accepts.

Every strategy builds valid shapes directly instead of filtering with
``assume``, so the reference never raises and no example is wasted.  Sizes are
kept small: loop-based student code must stay fast, and small counterexamples
are the readable ones.

Each argument strategy returns ``(args, kwargs)``: a keyword is left out when
its value is drawn as "use the default", so the defaults are tested too.
"""
from __future__ import annotations

import functools

import numpy as np
from hypothesis import strategies as _st


class _CachedStrategies:
    """``st`` with memoized constructors.

    Composite strategies below build small strategies on every draw; Hypothesis
    validates each new strategy object, which made generation several times
    slower than the checks themselves.  Strategies are immutable, so reuse them.
    """

    def __getattr__(self, name):
        ctor = getattr(_st, name)
        if name in ("composite",):
            return ctor
        cached = functools.lru_cache(maxsize=None)(ctor)

        def make(*args, **kwargs):
            try:
                return cached(*args, **kwargs)
            except TypeError:  # unhashable arguments
                return ctor(*args, **kwargs)
        setattr(self, name, make)
        return make


st = _CachedStrategies()

@st.composite
def arrays(draw, shape) -> np.ndarray:
    """A float64 array of ``shape`` with values in quarters from -10 to 10.

    Quarters are exact in binary, so results print readably, and fractional,
    so code that truncates to int fails.  Negatives matter: max pooling pads
    with -inf, not 0, which only shows with negative inputs.

    Values come from a NumPy generator seeded by Hypothesis rather than one
    draw per element: element-wise drawing made generation and shrinking ten
    times slower.  Shrinking still simplifies: towards a sparse array with few
    nonzeros, then towards seed 0.
    """
    size = int(np.prod(shape))
    sparse = not draw(st.booleans())
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    values = rng.integers(-40, 41, size) / 4
    if sparse:
        nonzero = draw(st.integers(0, size))
        keep = np.zeros(size, dtype=bool)
        keep[rng.permutation(size)[:nonzero]] = True
        values[~keep] = 0.0
    return values.reshape(shape)


@functools.lru_cache(maxsize=None)
def int_or_pair(lo: int, hi: int, *, pair: bool = True) -> _st.SearchStrategy:
    """An int, or (when ``pair``) an (h, w) tuple, as PyTorch accepts both."""
    single = st.integers(lo, hi)
    if not pair:
        return single
    return st.one_of(single, st.tuples(single, single))


def as_pair(v) -> tuple[int, int]:
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def _min_size(eff_kernel: int, pad: int) -> int:
    return max(1, eff_kernel - 2 * pad)


@st.composite
def conv2d_args(draw, *, stride: bool = False, padding: bool = False, dilation: bool = False,
                groups: bool = False, bias: bool | None = None, pairs: bool = True,
                string_padding: bool = True, max_batch: int = 2, max_extent: int = 5):
    """Arguments for ``conv2d(x, weight, bias, stride, padding, dilation, groups)``.

    The flags switch features on; switched-off features are left at PyTorch's
    defaults (and usually omitted).  ``bias=None`` lets Hypothesis choose.
    """
    kw: dict = {}
    g = draw(st.integers(1, 3)) if groups else 1
    cin = g * draw(st.integers(1, 2 if groups else 3))
    cout = g * draw(st.integers(1, 2 if groups else 3))
    kh, kw_ = as_pair(draw(int_or_pair(1, 4, pair=pairs)))
    s = draw(int_or_pair(1, 3, pair=pairs)) if stride else 1
    d = draw(int_or_pair(1, 3, pair=pairs)) if dilation else 1
    if padding:
        choices = [int_or_pair(0, 3, pair=pairs)]
        if string_padding:
            choices.append(st.just("valid"))
        if string_padding and as_pair(s) == (1, 1):  # PyTorch refuses 'same' with stride > 1
            choices.append(st.just("same"))
        p = draw(st.one_of(*choices))
    else:
        p = 0
    ph, pw = (0, 0) if p in ("valid", "same") else as_pair(p)
    dh, dw = as_pair(d)
    eff_h, eff_w = dh * (kh - 1) + 1, dw * (kw_ - 1) + 1
    if p == "same":
        ph = pw = 0
        min_h = min_w = 1
    else:
        min_h, min_w = _min_size(eff_h, ph), _min_size(eff_w, pw)
    h = draw(st.integers(min_h, max(min_h, eff_h + max_extent)))
    w = draw(st.integers(min_w, max(min_w, eff_w + max_extent)))
    n = draw(st.integers(1, max_batch))
    x = draw(arrays((n, cin, h, w)))
    weight = draw(arrays((cout, cin // g, kh, kw_)))
    use_bias = draw(st.booleans()) if bias is None else bias
    if use_bias:
        kw["bias"] = draw(arrays((cout,)))
    for name, value, default in (("stride", s, 1), ("padding", p, 0), ("dilation", d, 1),
                                 ("groups", g, 1)):
        if value != default or draw(st.booleans()):
            kw[name] = value
    return (x, weight), kw


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
def conv2d_single_args(draw, max_extent: int = 6):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    h = draw(st.integers(kh, kh + max_extent))
    w = draw(st.integers(kw, kw + max_extent))
    return (draw(arrays((h, w))), draw(arrays((kh, kw)))), {}


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
    from .references import build_stack
    c, h, w = in_shape
    out = build_stack(c, layers)(torch.empty(1, c, h, w, device="meta"))
    return int(out.shape[2]), int(out.shape[3])


# --- problem set 2: the convolution zoo -----------------------------------------


def _options(draw, kw: dict, values) -> dict:
    """Put ``(name, value, default)`` options into ``kw``; defaults only sometimes."""
    for name, value, default in values:
        if value != default or draw(st.booleans()):
            kw[name] = value
    return kw


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
def conv2d_backward_args(draw, **features):
    """``(dout, x, weight)`` and conv options for ``conv2d_backward``; ``dout`` has the
    shape of the convolution's output.  Padding is numeric (no 'same' or 'valid')."""
    (x, weight), kw = draw(conv2d_args(bias=False, string_padding=False, **features))
    out_shape = _conv_out_shape(x.shape, weight.shape, kw)
    return (draw(arrays(out_shape)), x, weight), kw


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


def conv2d_fast_args() -> _st.SearchStrategy:
    """``conv2d`` arguments without groups (and without string padding) for ``conv2d_fast``."""
    return conv2d_args(stride=True, padding=True, dilation=True,
                       string_padding=False).map(_without_groups)


# --- problem sets 3-5: models -----------------------------------------------------------
#
# Model strategies draw ``grader.references.ModuleCase``: a constructor call of
# the student's class, an input shape, and the reference to compare with.


def _case(cls, args, kwargs, input_shape, reference, reference_name):
    from .references import ModuleCase
    return ModuleCase(cls, tuple(args), tuple(sorted(kwargs.items())), tuple(input_shape),
                      reference, reference_name)


@st.composite
def residual_block_cases(draw, cls: str, reference, *, bottleneck: bool = False,
                         grouped: bool = False, identity: bool | None = None,
                         training: bool = False):
    """A ``BasicBlock``/``Bottleneck`` call as torchvision's ``_make_layer`` makes them.

    A projection shortcut (strided 1x1 convolution + BatchNorm) comes exactly
    when the stride or the channel count changes, as in the paper's option B.
    ``identity=True`` draws only blocks whose shortcut is the identity.
    ``training=True`` draws inputs that BatchNorm accepts in training mode.
    """
    from .probes import downsample
    expansion = 4 if bottleneck else 1
    kwargs = {}
    if grouped:
        # torchvision's width is int(planes * base_width / 64) * groups: keep it whole.
        planes = draw(st.sampled_from([2, 4, 8]))
        per_group = draw(st.integers(1, 3))
        kwargs = {"groups": draw(st.sampled_from([2, 4])), "base_width": 64 * per_group // planes}
    else:
        planes = draw(st.integers(1, 6))
    if identity:
        stride, inplanes = 1, planes * expansion
    else:
        stride = draw(st.sampled_from([1, 2]))
        inplanes = draw(st.sampled_from([planes * expansion, draw(st.integers(1, 12))]))
        if identity is False and stride == 1 and inplanes == planes * expansion:
            stride = 2
    args = [inplanes, planes]
    if stride != 1:
        kwargs["stride"] = stride
    if stride != 1 or inplanes != planes * expansion:
        kwargs["downsample"] = downsample(inplanes, planes * expansion, stride)
    n = draw(st.integers(2, 3) if training else st.integers(1, 2))
    h, w = draw(st.integers(4 if training else 2, 7)), draw(st.integers(4 if training else 2, 7))
    return _case(cls, args, kwargs, (n, inplanes, h, w), bound(reference, args, kwargs),
                 f"torchvision.models.resnet.{reference.__name__}")


_BOUND: dict = {}


def bound(reference, args=(), kwargs=None):
    """``reference(*args, **kwargs)`` as a zero-argument builder, one object per call.

    The same object for the same call, so the references' caches hit.
    Arguments are plain data (``grader.probes`` specs are resolved).
    """
    kwargs = kwargs or {}
    key = repr((reference, args, sorted(kwargs.items())))
    if key not in _BOUND:
        def build():
            from .probes import _resolve
            return reference(*[_resolve({}, a) for a in args],
                             **{k: _resolve({}, v) for k, v in kwargs.items()})
        _BOUND[key] = build
    return _BOUND[key]


@st.composite
def network_input_cases(draw, cls: str, args, kwargs, reference, reference_name, *,
                        sizes=(16, 256), channels: int = 3, classes: bool = True):
    """A whole network on a generated batch size and resolution (for shape checks)."""
    kwargs = dict(kwargs)
    if classes and draw(st.booleans()):
        kwargs["num_classes"] = draw(st.integers(1, 20))
    n = draw(st.integers(1, 4))
    h = draw(st.integers(*sizes))
    w = draw(st.one_of(st.just(h), st.integers(*sizes)))
    ref_kwargs = {"num_classes": kwargs["num_classes"]} if "num_classes" in kwargs else {}
    return _case(cls, args, kwargs, (n, channels, h, w), bound(reference, (), ref_kwargs),
                 reference_name)


@st.composite
def sparse_tables(draw, max_in: int = 6, max_out: int = 6) -> tuple:
    """A connection table: for each output map, the sorted input maps it reads (LeNet's C3)."""
    c_in = draw(st.integers(1, max_in))
    rows = draw(st.lists(st.sets(st.integers(0, c_in - 1), min_size=1), min_size=1,
                         max_size=max_out))
    return c_in, [sorted(r) for r in rows]


@st.composite
def sparse_conv_cases(draw, reference):
    c_in, table = draw(sparse_tables())
    k = draw(st.integers(1, 3))
    n, h, w = draw(st.integers(1, 2)), draw(st.integers(k, k + 4)), draw(st.integers(k, k + 4))
    return _case("SparseConv2d", [table, k], {}, (n, c_in, h, w),
                 bound(reference, ([tuple(r) for r in table], k)), "grader.models.SparseConv2d")


@st.composite
def vgg_feature_cases(draw, reference, batch_norm: bool | None = None):
    """``make_layers(cfg, batch_norm)`` for a short random VGG configuration."""
    cfg = draw(st.lists(st.one_of(st.integers(1, 8), st.just("M")), min_size=1, max_size=6))
    bn = draw(st.booleans()) if batch_norm is None else batch_norm
    pools = cfg.count("M")
    size = 2 ** pools
    n, h, w = draw(st.integers(1, 2)), draw(st.integers(size, size + 3)), \
        draw(st.integers(size, size + 3))
    kwargs = {"batch_norm": True} if bn else {}
    return _case("make_layers", [cfg], kwargs, (n, 3, h, w), bound(reference, (cfg,), kwargs),
                 "torchvision.models.vgg.make_layers")


@st.composite
def basic_conv_cases(draw, reference):
    """GoogLeNet's ``BasicConv2d(in, out, kernel_size=..., stride=..., padding=...)``."""
    c_in, c_out = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    k = draw(st.integers(1, 5))
    kwargs = {"kernel_size": k}
    if draw(st.booleans()):
        kwargs["stride"] = draw(st.integers(1, 3))
    if draw(st.booleans()):
        kwargs["padding"] = draw(st.integers(0, k // 2))
    n = draw(st.integers(1, 2))
    h, w = draw(st.integers(k, k + 5)), draw(st.integers(k, k + 5))
    return _case("BasicConv2d", [c_in, c_out], kwargs, (n, c_in, h, w),
                 bound(reference, (c_in, c_out), kwargs),
                 "torchvision.models.googlenet.BasicConv2d")


@st.composite
def inception_cases(draw, reference):
    """``Inception(in, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj)``, small widths."""
    chans = [draw(st.integers(1, 6)) for _ in range(7)]
    n, h, w = draw(st.integers(1, 2)), draw(st.integers(1, 6)), draw(st.integers(1, 6))
    return _case("Inception", chans, {}, (n, chans[0], h, w), bound(reference, tuple(chans)),
                 "torchvision.models.googlenet.Inception")


# --- problem set 6: DenseNet and DPN --------------------------------------------------------


def _small_input(draw, channels: int, lo: int = 1, hi: int = 7) -> tuple:
    return (draw(st.integers(1, 2)), channels, draw(st.integers(lo, hi)),
            draw(st.integers(lo, hi)))


@st.composite
def dense_layer_cases(draw, reference):
    """``DenseLayer(num_input_features, growth_rate, bn_size)`` (torchvision's ``_DenseLayer``)."""
    c, k, bn_size = draw(st.integers(1, 8)), draw(st.integers(1, 5)), draw(st.integers(1, 4))
    return _case("DenseLayer", [c, k, bn_size], {}, _small_input(draw, c),
                 bound(reference, (c, k, bn_size, 0.0)),
                 "torchvision.models.densenet._DenseLayer")


@st.composite
def dense_block_cases(draw, reference):
    """``DenseBlock(num_layers, num_input_features, bn_size, growth_rate)``."""
    layers, c = draw(st.integers(1, 4)), draw(st.integers(1, 6))
    bn_size, k = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    return _case("DenseBlock", [layers, c, bn_size, k], {}, _small_input(draw, c),
                 bound(reference, (layers, c, bn_size, k, 0.0)),
                 "torchvision.models.densenet._DenseBlock")


@st.composite
def transition_cases(draw, reference):
    """``Transition(num_input_features, num_output_features)``: even and odd sizes."""
    c_in, c_out = draw(st.integers(1, 8)), draw(st.integers(1, 8))
    return _case("Transition", [c_in, c_out], {}, _small_input(draw, c_in, 2, 7),
                 bound(reference, (c_in, c_out)), "torchvision.models.densenet._Transition")


@st.composite
def dual_path_cases(draw, reference, block_type: str | None = None):
    """``DualPathBlock(in_chs, num_1x1_a, num_3x3_b, num_1x1_c, inc, groups, block_type)``.

    A ``normal`` block reads the residual part (the first ``num_1x1_c``
    channels) and the dense part (the rest) of its input; ``proj`` and
    ``down`` blocks first project their input to both.
    """
    kind = block_type or draw(st.sampled_from(["normal", "proj", "down"]))
    groups = draw(st.sampled_from([1, 2, 4]))
    a, b = groups * draw(st.integers(1, 3)), groups * draw(st.integers(1, 3))
    c, inc = draw(st.integers(1, 6)), draw(st.integers(1, 4))
    in_chs = c + draw(st.integers(0, 6)) if kind == "normal" else draw(st.integers(1, 10))
    args = [in_chs, a, b, c, inc, groups]
    kwargs = {} if kind == "normal" and draw(st.booleans()) else {"block_type": kind}
    return _case("DualPathBlock", args, kwargs, _small_input(draw, in_chs, 2, 7),
                 bound(reference, tuple(args), {"block_type": kind}),
                 "timm.models.dpn.DualPathBlock")


# --- problem set 7: Inception-v4 and SENet ---------------------------------------------------


@st.composite
def se_block_cases(draw, reference):
    """``SEBlock(channels, reduction)``, with at least one channel in the bottleneck."""
    reduction = draw(st.sampled_from([1, 2, 4, 16]))
    channels = reduction * draw(st.integers(1, 3)) + draw(st.integers(0, reduction - 1))
    return _case("SEBlock", [channels], {"reduction": reduction}, _small_input(draw, channels),
                 bound(reference, (channels, reduction)), "timm.models.senet.SEModule")


@st.composite
def se_bottleneck_cases(draw, reference, *, identity: bool | None = None):
    """``SEBottleneck(inplanes, planes, stride, downsample, reduction)`` as SENet stacks them.

    ``reference(inplanes, planes, stride, downsample, reduction)`` builds timm's block.
    """
    case = draw(residual_block_cases("SEBottleneck", reference, bottleneck=True,
                                     identity=identity))
    reduction = draw(st.sampled_from([1, 2, 4]))  # planes * 4 >= 4 channels: one survives
    kwargs = {**dict(case.kwargs), "reduction": reduction}
    return _case("SEBottleneck", case.args, kwargs, case.input_shape,
                 bound(reference, case.args, kwargs), "timm.models.senet.SEResNetBottleneck")


@st.composite
def fixed_block_cases(draw, cls: str, reference, reference_name: str, channels: int,
                      min_size: int = 1):
    """A block whose widths are fixed by the paper (Inception-v4's), on a generated input."""
    sizes = st.integers(min_size, min_size + 4)
    shape = draw(st.tuples(st.integers(1, 2), st.just(channels), sizes, sizes))
    return _case(cls, [], {}, shape, reference, reference_name)


# --- problem set 8: Xception, MobileNet, ShuffleNet ---


@st.composite
def separable_conv_cases(draw, reference):
    """``SeparableConv2d(in_channels, out_channels, kernel_size, stride, padding, dilation)``,
    timm's Xception layer; a keyword left out takes timm's default (1, 1, 0, 1)."""
    c_in, c_out = draw(st.integers(1, 8)), draw(st.integers(1, 8))
    k, s = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    p, d = draw(st.integers(0, 2)), draw(st.integers(1, 2))
    kwargs = _options(draw, {}, (("kernel_size", k, 1), ("stride", s, 1), ("padding", p, 0),
                                 ("dilation", d, 1)))
    lo = _min_size(d * (k - 1) + 1, p)
    return _case("SeparableConv2d", [c_in, c_out], kwargs, _small_input(draw, c_in, lo, lo + 5),
                 bound(reference, (c_in, c_out), kwargs), "timm.models.xception.SeparableConv2d")


@st.composite
def xception_block_cases(draw, reference):
    """``XceptionBlock(in_channels, out_channels, reps, strides, start_with_relu, grow_first)``
    (timm's ``Block``); half the draws keep the width, so that strides=1 gives an identity
    shortcut."""
    c_in = draw(st.integers(1, 6))
    c_out = draw(st.sampled_from([c_in, draw(st.integers(1, 6))]))
    reps = draw(st.integers(1, 3))
    kwargs = _options(draw, {}, (("strides", draw(st.sampled_from([1, 2])), 1),
                                 ("start_with_relu", draw(st.booleans()), True),
                                 ("grow_first", draw(st.booleans()), True)))
    return _case("XceptionBlock", [c_in, c_out, reps], kwargs, _small_input(draw, c_in),
                 bound(reference, (c_in, c_out, reps), kwargs), "timm.models.xception.Block")


@st.composite
def inverted_residual_cases(draw, reference, *, wide: bool = False):
    """``InvertedResidual(inp, oup, stride, expand_ratio)`` (torchvision's MobileNetV2 block).

    Half the draws have a residual connection (stride 1, ``inp == oup``).  ``wide=True``
    draws at least 4 input and output channels and 3x3 maps: enough output values for a
    property to see their signs.
    """
    lo = 4 if wide else 1
    inp = draw(st.integers(lo, 8))
    t = draw(st.sampled_from([2, 3, 6] if wide else [1, 2, 3, 6]))
    if draw(st.booleans()):
        stride, oup = 1, inp
    else:
        stride, oup = draw(st.sampled_from([1, 2])), draw(st.integers(lo, 8))
    args = [inp, oup, stride, t]
    return _case("InvertedResidual", args, {}, _small_input(draw, inp, 3 if wide else 1, 7),
                 bound(reference, tuple(args)), "torchvision.models.mobilenetv2.InvertedResidual")


@st.composite
def shuffle_block_cases(draw, reference, *, stride: int | None = None):
    """``ShuffleV2Block(inp, oup, stride)`` (torchvision's ShuffleNet v2 unit).

    ``oup`` is even (two branches of ``oup // 2``); with stride 1 the input has ``oup``
    channels, split in two halves.
    """
    s = stride or draw(st.sampled_from([1, 2]))
    oup = 2 * draw(st.integers(1, 6))
    inp = oup if s == 1 else draw(st.integers(1, 8))
    return _case("ShuffleV2Block", [inp, oup, s], {}, _small_input(draw, inp),
                 bound(reference, (inp, oup, s)),
                 "torchvision.models.shufflenetv2.InvertedResidual")


# --- problem set 9: training loops and transfer learning ---------------------------------------
#
# A case says what a probe (grader.probes) builds in the sandbox: ``spec()`` is its
# arguments as plain data, and the judge in the problem set rebuilds the same here.

import dataclasses  # noqa: E402


def _generator(*key: int) -> np.random.Generator:
    return np.random.default_rng(list(key))


@dataclasses.dataclass(frozen=True)
class DropoutCase:
    """``dropout(x, p, training)`` on ``x`` of ``shape`` with values in [0.5, 1.5].

    Positive values, so that the mean of the output shows any missing rescaling.
    """
    shape: tuple
    p: float
    training: bool = True
    dtype: str = "float64"
    seed: int = 0
    raises: str | None = None

    def x(self) -> np.ndarray:
        g = _generator(self.seed, *self.shape)
        return g.uniform(0.5, 1.5, size=self.shape).astype(self.dtype)

    def spec(self) -> dict:
        return {"fn": "dropout", "x": self.x(), "p": self.p, "training": self.training,
                "seed": self.seed}

    def __str__(self) -> str:
        return (f"dropout(x, p={self.p!r}, training={self.training}) with x of shape "
                f"{self.shape} ({self.dtype}, values in [0.5, 1.5])")


#: big enough that a fraction of p is measured to within about 1%
DROPOUT_SHAPES = [(64, 512), (16, 32, 8, 8), (40_000,), (10, 3, 32, 32)]


@_st.composite
def dropout_cases(draw) -> DropoutCase:
    p = draw(st.one_of(st.sampled_from([0.1, 0.2, 0.25, 0.5, 0.75, 0.9]),
                       st.integers(5, 95).map(lambda v: v / 100)))
    return DropoutCase(draw(st.sampled_from(DROPOUT_SHAPES)), p, True,
                       draw(st.sampled_from(["float64", "float32"])), draw(st.integers(0, 999)))


@dataclasses.dataclass(frozen=True)
class LoaderCase:
    """A batch-size-``batch_size`` DataLoader over ``n`` random samples, and a spy network
    (``grader.probes.spy_net``) with ``d`` inputs, ``h`` hidden units and ``k`` classes."""
    kind: str  # "train" or "evaluate"
    n: int
    batch_size: int
    d: int = 6
    h: int = 8
    k: int = 4
    seed: int = 0
    lr: float = 0.1
    raises = None

    def net(self) -> dict:
        return {"d": self.d, "h": self.h, "k": self.k, "seed": self.seed}

    def data(self) -> tuple[np.ndarray, np.ndarray]:
        g = _generator(self.seed, self.n, self.d)
        return g.standard_normal((self.n, self.d)), g.integers(0, self.k, self.n)

    def spec(self) -> dict:
        x, y = self.data()
        spec = {"net": self.net(), "x": x, "y": y, "batch_size": self.batch_size}
        if self.kind == "train":
            return {"fn": "train_one_epoch", **spec, "lr": self.lr}
        return {"fn": "evaluate", **spec}

    def batches(self) -> list[int]:
        return [min(self.batch_size, self.n - i) for i in range(0, self.n, self.batch_size)]

    def __str__(self) -> str:
        model = f"a network with BatchNorm ({self.d} inputs, {self.k} classes)"
        sizes = self.batches()
        shown = ", ".join(map(str, sizes[:6])) + (", ..." if len(sizes) > 6 else "")
        call = ("train_one_epoch(model, loader, optimizer, loss_fn, 'cpu') with SGD "
                f"(lr={self.lr}, momentum=0.9) and cross-entropy" if self.kind == "train"
                else "evaluate(model, loader, 'cpu')")
        return f"{call}, on {model} and a loader of {self.n} samples in batches of {shown}"


@_st.composite
def loader_cases(draw, kind: str) -> LoaderCase:
    """Batches of at least 2 samples (BatchNorm refuses one in training), often with a
    smaller last batch, which is where per-batch averages go wrong."""
    b = draw(st.integers(2, 12))
    q = draw(st.integers(1, 4))
    r = draw(st.sampled_from([0] + list(range(2, b))))
    return LoaderCase(kind, q * b + r, b, draw(st.integers(2, 8)), draw(st.integers(2, 10)),
                      draw(st.integers(2, 6)), draw(st.integers(0, 999)))


@dataclasses.dataclass(frozen=True)
class HeadCase:
    """A classifier laid out like one model family (``grader.probes.head_net``), and what
    is done to it: ``freeze_features(model)``, ``replace_head(model, num_classes)``, or both."""
    layout: str
    width: int = 8
    classes: int = 10
    seed: int = 0
    freeze: bool = True
    replace: bool = False
    num_classes: int = 3
    raises = None

    LAYOUTS = {"fc": "model.fc (ResNet)", "classifier": "model.classifier (DenseNet)",
               "classifier_seq": "model.classifier[-1] (AlexNet, VGG)",
               "head_fc": "model.head.fc (timm)", "resnet18": "torchvision resnet18",
               "mobilenet_v2": "torchvision mobilenet_v2"}

    def net(self) -> dict:
        return {"layout": self.layout, "width": self.width, "classes": self.classes,
                "seed": self.seed}

    def spec(self) -> dict:
        return {"net": self.net(), "freeze": "freeze_features" if self.freeze else None,
                "replace": "replace_head" if self.replace else None,
                "num_classes": self.num_classes}

    def __str__(self) -> str:
        calls = (["freeze_features(model)"] if self.freeze else []) + \
            ([f"replace_head(model, {self.num_classes})"] if self.replace else [])
        what = self.LAYOUTS[self.layout]
        if self.layout in ("resnet18", "mobilenet_v2"):
            return f"{' then '.join(calls)} on {what}(num_classes={self.classes})"
        return (f"{' then '.join(calls)} on a small CNN with {self.classes} classes whose head "
                f"is {what}, width {self.width}")


@_st.composite
def head_cases(draw, *, freeze: bool, replace: bool) -> HeadCase:
    return HeadCase(draw(st.sampled_from(["fc", "classifier", "classifier_seq", "head_fc"])),
                    draw(st.integers(2, 12)), draw(st.integers(2, 10)), draw(st.integers(0, 999)),
                    freeze, replace, draw(st.integers(2, 12)))


@dataclasses.dataclass(frozen=True)
class OutcomeCase:
    """``train_digits(train_loader, epochs, 'cpu')`` on the digits' train split."""
    epochs: int
    seed: int = 0
    batch_size: int = 32
    raises = None

    def spec(self) -> dict:
        return {"fn": "train_digits", "epochs": self.epochs, "seed": self.seed,
                "batch_size": self.batch_size}

    def __str__(self) -> str:
        return (f"train_digits(train_loader, epochs={self.epochs}, device='cpu') with seed "
                f"{self.seed}, batches of {self.batch_size}, on the 1,197 training digits")
