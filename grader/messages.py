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
    """``a``'s shape and dtype, then its values (all of them, up to ``FULL_PRINT_LIMIT``).

    Every entry takes the same width, so columns line up across the whole array.
    Integral floats print as integers (``-4``, not ``-4.``), which is what they are.
    An array of more than two axes prints as its 2-D slices, one after another, each
    labelled with its index (``[0, 1, :, :]``): NumPy's nested brackets and blank
    lines start every slice at another column.
    """
    head = f"array of shape {tuple(a.shape)}, dtype {a.dtype}"
    if a.size <= FULL_PRINT_LIMIT:
        body = _values(a)
    else:
        flat = a.ravel()
        body = (f"(too large to print; first entries {np.array2string(flat[:8], precision=4)}, "
                f"min {flat.min():.4g}, max {flat.max():.4g})")
    body = "\n".join((indent + line).rstrip() for line in body.splitlines())
    return f"{head}:\n{body}"


_PRINT = dict(precision=4, suppress_small=True, max_line_width=100,
              threshold=FULL_PRINT_LIMIT + 1)


def _values(a: np.ndarray) -> str:
    shown = _as_integers(a)
    entry = _entry_format(shown)
    if entry is None:  # entries of uneven widths (strings, objects): NumPy's own layout
        return np.array2string(shown, **_PRINT)
    print_options = dict(_PRINT, formatter={"all": entry})
    if shown.ndim <= 2:
        return np.array2string(shown, **print_options)
    slices, widths = [], [len(str(n - 1)) for n in shown.shape[:-2]]
    for index in np.ndindex(*shown.shape[:-2]):
        label = "[" + ", ".join([str(i).rjust(w) for i, w in zip(index, widths)]
                                + [":", ":"]) + "] = "
        grid = np.array2string(shown[index], prefix=label, **print_options)
        slices.append(label + grid)
    return "\n".join(slices)


def _as_integers(a: np.ndarray) -> np.ndarray:
    """``a`` as int64 when every entry is a float that is a (not too large) integer."""
    if a.dtype.kind != "f" or a.size == 0:
        return a
    with np.errstate(invalid="ignore"):
        integral = np.isfinite(a).all() and (a == np.round(a)).all() and \
            np.abs(a).max() < 1e15
    return a.astype(np.int64) if integral else a


def _entry_format(a: np.ndarray):
    """One entry's text, padded to the width NumPy gives every entry of ``a``; None when
    NumPy pads unevenly."""
    if a.size == 0 or a.dtype.kind not in "biuf":
        return None
    flat = a.ravel()
    text = np.array2string(flat, **dict(_PRINT, max_line_width=2**31))[1:-1]
    width, rest = divmod(len(text) + 1, flat.size)  # entries and the spaces between them
    if rest or width < 2 or "\n" in text:
        return None
    entries = [text[i * width:(i + 1) * width - 1] for i in range(flat.size)]
    by_value = {}
    for v, t in zip(flat.tolist(), entries):
        by_value.setdefault(_key(v), t)
    return lambda v: by_value[_key(v)]


def _key(v):
    v = v.item() if hasattr(v, "item") else v
    return repr(v)


def call_heading(shrunk: bool) -> str:
    """The line above a failing call: "smallest" only for one that Hypothesis found and
    shrank, not for a fixed example or one reported as found (shrinking off)."""
    return "Smallest failing call found:" if shrunk else "A failing call:"


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
