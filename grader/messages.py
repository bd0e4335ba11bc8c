"""Failure messages in plain words.

A message names the property that failed, shows the (shrunk) call with small
arrays printed in full, the expected and actual results, and the first index
where they differ.
"""
from __future__ import annotations

import inspect

import numpy as np

FULL_PRINT_LIMIT = 200  # arrays up to this many entries are printed in full


def show_array(a: np.ndarray, indent: str = "    ") -> str:
    head = f"array of shape {tuple(a.shape)}, dtype {a.dtype}"
    if a.size <= FULL_PRINT_LIMIT:
        body = np.array2string(a, precision=4, suppress_small=True, max_line_width=100,
                               threshold=FULL_PRINT_LIMIT + 1)
    else:
        flat = a.ravel()
        body = (f"(too large to print; first entries {np.array2string(flat[:8], precision=4)}, "
                f"min {flat.min():.4g}, max {flat.max():.4g})")
    body = "\n".join(indent + line for line in body.splitlines())
    return f"{head}:\n{body}"


def bind(func, args, kwargs) -> list[tuple[str, object]]:
    """(name, value) pairs of a call, using the reference's signature for names."""
    try:
        bound = inspect.signature(func).bind_partial(*args, **kwargs)
        return list(bound.arguments.items())
    except (TypeError, ValueError):
        return [(f"arg{i}", a) for i, a in enumerate(args)] + list(kwargs.items())


def show_call(name: str, signature_of, args, kwargs) -> str:
    pairs = bind(signature_of, args, kwargs)
    n_pos = len(args)
    inline, below = [], []
    for i, (k, v) in enumerate(pairs):
        if isinstance(v, np.ndarray):
            token = k
            below.append(f"  {k} = {show_array(v)}")
        else:
            token = repr(v)
        inline.append(token if i < n_pos else f"{k}={token}")
    text = f"{name}({', '.join(inline)})"
    if below:
        text += "\nwhere\n" + "\n".join(below)
    return text


def first_difference(expected: np.ndarray, actual: np.ndarray, close: np.ndarray) -> str:
    bad = np.argwhere(~close)
    idx = tuple(int(i) for i in bad[0])
    where = idx if len(idx) != 1 else idx[0]
    return (f"First difference at index {where}: expected {expected[idx].item()!r}, "
            f"got {actual[idx].item()!r} "
            f"({len(bad)} of {close.size} entries differ).")


def type_name(v) -> str:
    t = type(v)
    if t.__module__ == "grader._wire":  # an Opaque stand-in
        return v.type_name
    return t.__name__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"
