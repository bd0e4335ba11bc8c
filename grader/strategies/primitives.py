"""What the other strategy modules draw with: ``st`` (Hypothesis' strategies, memoized),
float arrays, an int or an (h, w) pair, the smallest input a kernel fits, optional keywords."""
from __future__ import annotations

import functools

import numpy as np
from hypothesis import strategies as _st


class _CachedStrategies:
    """``st`` with memoized constructors.

    Composite strategies build small strategies on every draw; Hypothesis
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


#: What a public array's values are made of: Hypothesis shrinks a choice towards its first
#: option, so a failing call is shown in integers wherever the bug shows on integers too;
#: one that needs fractions (code that truncates to int) keeps its quarters.
KINDS = ("small ints", "quarters")
#: The largest magnitude of a public value; shrinking moves the drawn magnitude towards 1.
MAGNITUDE = 10


@st.composite
def arrays(draw, shape, *, precise: bool = False) -> np.ndarray:
    """A float64 array of ``shape``: nonzero integers or (as often) nonzero quarters from
    -m to m, for a drawn magnitude m of at most ``MAGNITUDE``; half the arrays are sparse.

    Quarters are exact in binary, so results print readably, and fractional,
    so code that truncates to int fails.  Negatives matter: max pooling pads
    with -inf, not 0, which only shows with negative inputs; zeros hide it, so
    only a sparse array has them.

    Shrinking moves towards a call a student can check by hand: integers rather
    than quarters (``KINDS``), magnitude 1 rather than 10, a sparse array with
    few nonzeros, then seed 0.  A bug that shows on small integers is shown on
    small integers (a flipped kernel: ``[[0, 0], [0, -1]]``), one that needs
    fractions on quarters just as small (``[[0.75]]``).

    ``precise`` (the hidden examples): full-precision values whose magnitudes
    span four decades around a drawn scale.  Quarters hide a float32
    computation (their small sums are exact in float32) and code that rounds.
    They draw no kind and no magnitude.

    Values come from a NumPy generator seeded by Hypothesis rather than one
    draw per element: element-wise drawing made generation and shrinking ten
    times slower.
    """
    size = int(np.prod(shape))
    if not precise:
        step = 1 if draw(st.sampled_from(KINDS)) == "small ints" else 4
        most = draw(st.integers(1, MAGNITUDE)) * step
    sparse = not draw(st.booleans())
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    if precise:
        scale = 10.0 ** draw(st.integers(-2, 2))
        values = rng.uniform(-1, 1, size) * 10.0 ** rng.uniform(-2, 2, size) * scale
    else:  # -most..-1 and 1..most: zeros (a sparse array's) hide max pooling's padding
        r = rng.integers(0, 2 * most, size)
        values = (r - most + (r >= most)) / step
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


def _options(draw, kw: dict, values) -> dict:
    """Put ``(name, value, default)`` options into ``kw``; defaults only sometimes."""
    for name, value, default in values:
        if value != default or draw(st.booleans()):
            kw[name] = value
    return kw


def per_profile(make, *args, **kwargs) -> dict:
    """A PropertyCheck's ``strategy`` and ``strategies``: ``make(*args, **kwargs)`` draws
    the public examples, ``make(*args, thorough=True, **kwargs)`` the hidden ones
    (full-precision values, half of them at the size of real layers)."""
    return {"strategy": make(*args, **kwargs),
            "strategies": {"thorough": make(*args, thorough=True, **kwargs)}}
