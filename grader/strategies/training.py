"""Cases for the probe checks of problem set 9: dropout, training loops, transfer learning."""
from __future__ import annotations

from hypothesis import strategies as _st

from ..cases import DropoutCase, HeadCase, LoaderCase
from .primitives import st


#: big enough that a fraction of p is measured to within about 1%
DROPOUT_SHAPES = [(64, 512), (16, 32, 8, 8), (40_000,), (10, 3, 32, 32)]


@_st.composite
def dropout_cases(draw) -> DropoutCase:
    p = draw(st.one_of(st.sampled_from([0.1, 0.2, 0.25, 0.5, 0.75, 0.9]),
                       st.integers(5, 95).map(lambda v: v / 100)))
    return DropoutCase(draw(st.sampled_from(DROPOUT_SHAPES)), p, True,
                       draw(st.sampled_from(["float64", "float32"])), draw(st.integers(0, 999)))


@_st.composite
def loader_cases(draw, kind: str) -> LoaderCase:
    """Batches of at least 2 samples (BatchNorm refuses one in training), often with a
    smaller last batch, which is where per-batch averages go wrong."""
    b = draw(st.integers(2, 12))
    q = draw(st.integers(1, 4))
    r = draw(st.sampled_from([0] + list(range(2, b))))
    return LoaderCase(kind, q * b + r, b, draw(st.integers(2, 8)), draw(st.integers(2, 10)),
                      draw(st.integers(2, 6)), draw(st.integers(0, 999)))


@_st.composite
def head_cases(draw, *, freeze: bool, replace: bool) -> HeadCase:
    return HeadCase(draw(st.sampled_from(["fc", "classifier", "classifier_seq", "head_fc"])),
                    draw(st.integers(2, 12)), draw(st.integers(2, 10)), draw(st.integers(0, 999)),
                    freeze, replace, draw(st.integers(2, 12)))
