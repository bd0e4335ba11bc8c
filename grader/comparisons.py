"""Comparisons: the student's result against the reference's, with a readable failure.

Each takes ``(expected, actual, *, context)`` and raises ``CheckFailed`` with a
message that names what is wrong and ends with ``context`` (the call that gave
it).  A ``PropertyCheck`` takes one of them as its ``compare``.
"""
from __future__ import annotations

import numpy as np

from . import messages as msg
from ._wire import Opaque


class CheckFailed(AssertionError):
    """A check failed; the message says why in plain words."""


RTOL = 1e-9  # float64 throughout; FFT- or im2col-based answers stay far inside this


def compare_array(expected: np.ndarray, actual, *, context: str) -> None:
    if isinstance(actual, Opaque) or type(actual) is not np.ndarray:
        raise CheckFailed(f"It must return a numpy.ndarray, but returned {msg.type_name(actual)}"
                          f" ({actual!r:.200}).\n{context}")
    if actual.dtype != expected.dtype:
        raise CheckFailed(f"It returned an array of dtype {actual.dtype}; PyTorch returns "
                          f"{expected.dtype} for {expected.dtype} inputs.\n{context}")
    if actual.shape != expected.shape:
        raise CheckFailed(f"Your output has shape {actual.shape}; PyTorch gives "
                          f"{expected.shape}.\n{context}")
    scale = max(1.0, float(np.abs(expected).max(initial=0.0)))
    close = np.isclose(actual, expected, rtol=RTOL, atol=RTOL * scale, equal_nan=False)
    if not close.all():
        raise CheckFailed(
            f"Your values differ from PyTorch's.\n{context}\nExpected (PyTorch): "
            f"{msg.show_array(expected)}\nYours: {msg.show_array(actual)}\n"
            + msg.first_difference(expected, actual, close))


def is_int(v) -> bool:
    """An int or a NumPy integer, but not a bool."""
    return (type(v) is int) or (isinstance(v, np.integer) and not isinstance(v, np.bool_))


def compare_exact(expected, actual, *, context: str) -> None:
    """Integers and tuples of integers, with their types."""
    if isinstance(expected, tuple):
        if type(actual) is not tuple or len(actual) != len(expected) or \
                not all(is_int(a) for a in actual):
            raise CheckFailed(f"It must return a tuple of {len(expected)} ints, but returned "
                              f"{actual!r:.200} ({msg.type_name(actual)}).\n{context}")
    elif not is_int(actual):
        raise CheckFailed(f"It must return an int, but returned {actual!r:.200} "
                          f"({msg.type_name(actual)}).\n{context}")
    if tuple(int(a) for a in np.atleast_1d(actual)) != tuple(np.atleast_1d(expected).tolist()):
        raise CheckFailed(f"Expected {expected!r}, got {actual!r}.\n{context}")


def compare_arrays(expected: tuple, actual, *, context: str, names=()) -> None:
    """A tuple of arrays (``(dx, dweight, dbias)``), each compared like one array."""
    names = tuple(names) or tuple(f"output {i}" for i in range(len(expected)))
    if type(actual) is not tuple or len(actual) != len(expected):
        raise CheckFailed(f"It must return a tuple of {len(expected)} arrays "
                          f"({', '.join(names)}), but returned {msg.type_name(actual)} "
                          f"({actual!r:.200}).\n{context}")
    for name, e, a in zip(names, expected, actual):
        try:
            compare_array(e, a, context=context)
        except CheckFailed as failure:
            raise CheckFailed(f"`{name}` is wrong. {failure}") from None


def compare_factors(kernel: np.ndarray, actual, *, context: str) -> None:
    """``(column, row)`` whose outer product is ``kernel`` (the factors are not unique)."""
    if type(actual) is not tuple or len(actual) != 2 or \
            not all(type(v) is np.ndarray for v in actual):
        raise CheckFailed(f"It must return a tuple (column, row) of two numpy arrays, but "
                          f"returned {actual!r:.200} ({msg.type_name(actual)}).\n{context}")
    column, row = actual
    if column.shape != kernel.shape[:1] or row.shape != kernel.shape[1:]:
        raise CheckFailed(f"For a {kernel.shape[0]}x{kernel.shape[1]} kernel, column must have "
                          f"shape ({kernel.shape[0]},) and row shape ({kernel.shape[1]},); yours "
                          f"have {column.shape} and {row.shape}.\n{context}")
    product = np.outer(column, row)
    scale = max(1.0, float(np.abs(kernel).max(initial=0.0)))
    close = np.isclose(product, kernel, rtol=1e-7, atol=1e-7 * scale)
    if not close.all():
        raise CheckFailed(f"np.outer(column, row) is not the kernel.\n{context}\nKernel: "
                          f"{msg.show_array(kernel)}\nnp.outer(column, row): "
                          f"{msg.show_array(product)}\n" + msg.first_difference(kernel, product,
                                                                                 close))
