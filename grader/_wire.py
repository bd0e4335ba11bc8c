"""How values cross the boundary between the grading process and the sandbox.

JSON, never pickle: unpickling what student code produced would run student
code in the grading process.  Arrays travel as ``.npy`` bytes read back with
``allow_pickle=False``.  Anything that is not plain data (an object with a
clever ``__eq__``, an ndarray subclass, an object array) is described, not
sent, so the grader can reject it by type.  An exception the student's code
raises travels as plain data too (``encode_error``), and the kernel's feedback
builds the same record, so that both show the same answer the same way.

This module is imported by the sandbox worker too, so it uses only the
standard library, NumPy and ``grader.shortcuts``.
"""
from __future__ import annotations

import base64
import io
import math
import os
import traceback

import numpy as np

from .shortcuts import is_shortcut

_PLAIN_NUMPY_KINDS = "biufc"


def _describe(obj) -> dict:
    t = type(obj)
    try:
        text = repr(obj)
    except BaseException:  # a hostile __repr__ must not break the protocol
        text = "<repr failed>"
    return {"__object__": f"{t.__module__}.{t.__qualname__}", "repr": text[:300]}


#: an int over this many bits is no answer of the course, and Python will not write it in
#: decimal (``sys.get_int_max_str_digits``: 4300 digits): it is described, not sent
_MAX_INT_BITS = 8192


def _too_large(value: int) -> dict:
    return {"__object__": "int", "repr": f"an int of {value.bit_length()} bits, too large to "
                                         "grade (not an int within range)"}


def encode(obj, _depth: int = 0):
    if _depth > 20:
        return _describe(obj)
    t = type(obj)
    if obj is None or t is bool or t is str:
        return obj
    if t is int:
        if obj.bit_length() > _MAX_INT_BITS:
            return _too_large(obj)
        return {"__int__": str(obj)}  # exact
    if t is float:
        if math.isfinite(obj):
            return obj
        return {"__float__": repr(obj)}
    if t is np.ndarray:
        if obj.dtype.kind not in _PLAIN_NUMPY_KINDS:
            return {"__object__": f"numpy.ndarray of dtype {obj.dtype}", "repr": ""}
        buf = io.BytesIO()
        np.save(buf, obj if obj.flags.c_contiguous else obj.copy(order="C"), allow_pickle=False)
        return {"__ndarray__": base64.b64encode(buf.getvalue()).decode("ascii")}
    if isinstance(obj, np.generic) and t.__module__ == "numpy" and obj.dtype.kind in _PLAIN_NUMPY_KINDS:
        return {"__npscalar__": encode(np.asarray(obj), _depth + 1)}
    if t is tuple:
        return {"__tuple__": [encode(v, _depth + 1) for v in obj]}
    if t is list:
        return {"__list__": [encode(v, _depth + 1) for v in obj]}
    if t is dict and all(type(k) is str for k in obj):
        return {"__dict__": {k: encode(v, _depth + 1) for k, v in obj.items()}}
    return _describe(obj)


def _decode_int(text: str):
    # the sandbox's code may have lifted its own digit limit: never trust the length
    if len(text) > _MAX_INT_BITS // 3:
        return Opaque("int", f"an int of {len(text)} digits, too large to grade "
                             "(not an int within range)")
    return int(text)


class Opaque:
    """Stands in for a value the sandbox would not send (see ``_describe``)."""

    def __init__(self, type_name: str, text: str):
        self.type_name, self.text = type_name, text

    def __repr__(self):
        return f"<{self.type_name} object: {self.text}>"


def decode(obj):
    if not isinstance(obj, dict):
        return obj
    if "__int__" in obj:
        return _decode_int(obj["__int__"])
    if "__float__" in obj:
        return float(obj["__float__"])
    if "__ndarray__" in obj:
        raw = base64.b64decode(obj["__ndarray__"])
        return np.load(io.BytesIO(raw), allow_pickle=False)
    if "__npscalar__" in obj:
        return decode(obj["__npscalar__"])[()]
    if "__tuple__" in obj:
        return tuple(decode(v) for v in obj["__tuple__"])
    if "__list__" in obj:
        return [decode(v) for v in obj["__list__"]]
    if "__dict__" in obj:
        return {k: decode(v) for k, v in obj["__dict__"].items()}
    if "__object__" in obj:
        return Opaque(obj["__object__"], obj.get("repr", ""))
    raise ValueError(f"cannot decode {sorted(obj)}")


# --- what the student's code raised ------------------------------------------------

#: The file name under which the sandbox compiles an answer cell: ``<answer cell NAME>``.
CELL_PREFIX = "<answer cell "
_GRADER_DIR = os.path.dirname(os.path.abspath(__file__))
#: characters kept of a message and of a traceback
_MESSAGE_CHARS, _TRACEBACK_CHARS = 2000, 4000


def in_answer_cell(filename: str) -> bool:
    return filename.startswith(CELL_PREFIX)


def _student_traceback(exc: BaseException, is_student) -> str:
    """The traceback restricted to the student's frames (plus the frame that raised)."""
    te = traceback.TracebackException.from_exception(exc)
    frames = list(te.stack)
    keep = [f for f in frames if is_student(f.filename)]
    if frames and frames[-1] not in keep and not frames[-1].filename.startswith(_GRADER_DIR):
        keep.append(frames[-1])  # where it failed inside a library, e.g. NumPy
    lines = ["Traceback (your code):\n"]
    for f in keep:
        where = (f'cell "{f.filename[len(CELL_PREFIX):-1]}"' if in_answer_cell(f.filename)
                 else f'File "{f.filename}"')
        lines.append(f"  {where}, line {f.lineno}, in {f.name}\n")
        if f.line:
            lines.append(f"    {f.line.strip()}\n")
    lines.extend(te.format_exception_only())
    return "".join(lines)[-_TRACEBACK_CHARS:]


def encode_error(exc: BaseException, is_student=in_answer_cell) -> dict:
    """``exc`` as a ``grader.sandbox.StudentError`` record; ``is_student(filename)`` says
    which frames of the traceback are the student's code."""
    return {
        "type": type(exc).__name__,
        "message": str(exc)[:_MESSAGE_CHARS],
        "traceback": _student_traceback(exc, is_student),
        "not_implemented": isinstance(exc, NotImplementedError),
        "shortcut": is_shortcut(exc),
    }
