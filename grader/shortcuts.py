"""From-scratch exercises may not call a library's own convolution or pooling.

Two layers, because neither alone is enough:

* a static scan of the answer source finds imports of forbidden libraries and
  calls of forbidden functions, and names the line;
* at run time the forbidden modules cannot be imported in the sandbox, and the
  forbidden functions are replaced by tripwires (``getattr(np, "conv" + "olve")``
  gets past any scan, not past a tripwire).

This module is imported by the sandbox worker, so it uses only the standard
library at import time.
"""
from __future__ import annotations

import ast
import contextlib
import dataclasses
import importlib.abc
import sys


class ShortcutError(RuntimeError):
    """Raised when an answer calls a function the exercise forbids."""


#: The words of every refusal below: an import blocked by ``install``, a tripped call.
NOT_ALLOWED = "is not allowed here"


def is_shortcut(exc: BaseException) -> bool:
    """Whether ``exc`` refuses a forbidden import or call, rather than being the student's bug.

    The import blocker raises a plain ImportError, known by its words.
    """
    return isinstance(exc, ShortcutError) or (isinstance(exc, ImportError) and
                                              NOT_ALLOWED in str(exc))


@dataclasses.dataclass(frozen=True)
class Rules:
    """What an exercise forbids.

    ``modules``: top-level packages that may not be imported at all, except the
    submodules in ``allowed`` (``grader.data`` under a blocked ``grader``).
    ``functions``: dotted names of functions that may not be called.  With
    ``scoped``, only inside the graded function itself: a check trips them
    around its own calls, never process-wide, because the library calls them
    too (``nn.Dropout`` calls ``F.dropout``).
    """
    modules: tuple[str, ...] = ()
    functions: tuple[str, ...] = ()
    why: str = ""
    allowed: tuple[str, ...] = ()
    scoped: bool = False

    def blocks(self, module: str) -> bool:
        """Whether importing the dotted ``module`` is forbidden."""
        if any(module == a or module.startswith(a + ".") for a in self.allowed):
            return False
        return module.split(".")[0] in self.modules

    @property
    def attribute_names(self) -> set[str]:
        return {f.rsplit(".", 1)[1] for f in self.functions}

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "Rules":
        return cls(tuple(data["modules"]), tuple(data["functions"]), data.get("why", ""),
                   tuple(data.get("allowed", ())), data.get("scoped", False))


NONE = Rules()

#: Problem sets that build convolution and pooling from scratch.
FROM_SCRATCH = Rules(
    modules=("torch", "torchvision", "scipy", "tensorflow", "keras", "jax", "cv2", "skimage",
             "numba"),
    functions=(
        "numpy.convolve", "numpy.correlate",
        # what numpy.correlate and numpy.convolve call
        "numpy._core.multiarray.correlate", "numpy._core.multiarray.correlate2",
        # listed for the in-kernel tripwires; their modules are blocked anyway
        "torch.conv2d", "torch.max_pool2d", "torch.avg_pool2d",
        "torch.nn.functional.conv2d", "torch.nn.functional.max_pool2d",
        "torch.nn.functional.avg_pool2d", "torch.nn.functional.unfold",
        "scipy.signal.convolve", "scipy.signal.correlate", "scipy.signal.convolve2d",
        "scipy.signal.correlate2d", "scipy.signal.fftconvolve", "scipy.signal.oaconvolve",
        "scipy.ndimage.convolve", "scipy.ndimage.correlate", "scipy.ndimage.maximum_filter",
        "scipy.ndimage.uniform_filter",
    ),
    why="this exercise asks you to write it yourself with NumPy",
)


#: Problem sets that build models from ``torch.nn`` layers: no ready-made models.
MODELS_BY_HAND = Rules(
    modules=("torchvision", "timm", "grader"),
    why="this exercise asks you to build the model yourself from torch.nn layers",
)


@dataclasses.dataclass
class Violation:
    line: int
    where: str  # the enclosing top-level function, or "<module>"
    what: str

    def __str__(self):
        place = f"in {self.where}()" if self.where != "<module>" else "at top level"
        return f"line {self.line} ({place}): {self.what}"


def scan(source: str, rules: Rules) -> list[Violation]:
    """Forbidden imports and calls in ``source``, with line numbers.

    Unparsable source yields no violations: running it reports the syntax error.
    """
    if not rules.modules and not rules.functions:
        return []
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    found: list[Violation] = []
    attrs = rules.attribute_names

    def visit(node, where):
        for child in ast.iter_child_nodes(node):
            here = where
            if where == "<module>" and isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                          ast.ClassDef)):
                here = child.name
            if isinstance(child, ast.Import):
                for alias in child.names:
                    if rules.blocks(alias.name):
                        found.append(Violation(child.lineno, here, f"imports {alias.name}"))
            elif isinstance(child, ast.ImportFrom) and child.module:
                if rules.blocks(child.module):
                    found.append(Violation(child.lineno, here, f"imports from {child.module}"))
                for alias in child.names:
                    if f"{child.module}.{alias.name}" in rules.functions:
                        found.append(Violation(child.lineno, here,
                                               f"imports {child.module}.{alias.name}"))
            elif isinstance(child, ast.Attribute) and child.attr in attrs:
                found.append(Violation(child.lineno, here, f"uses .{child.attr}"))
            elif isinstance(child, ast.Call) and isinstance(child.func, ast.Name) and \
                    child.func.id == "__import__":
                found.append(Violation(child.lineno, here, "calls __import__"))
            visit(child, here)

    visit(tree, "<module>")
    return found


# --- run time --------------------------------------------------------------------


class _Blocker(importlib.abc.MetaPathFinder):
    def __init__(self, rules: Rules):
        self.rules = rules

    def find_spec(self, fullname, path=None, target=None):
        if self.rules.blocks(fullname):
            raise ImportError(f"importing {fullname} {NOT_ALLOWED}: {self.rules.why}",
                              name=fullname)
        return None


def _tripwire(name: str, rules: Rules):
    def forbidden(*args, **kwargs):
        raise ShortcutError(f"{name} {NOT_ALLOWED}: {rules.why}")
    forbidden.__name__ = name.rsplit(".", 1)[1]
    return forbidden


def _resolve(dotted: str):
    """(owner object, attribute) for an already-imported dotted name, else None."""
    parts = dotted.split(".")
    for i in range(len(parts) - 1, 0, -1):
        mod = sys.modules.get(".".join(parts[:i]))
        if mod is None:
            continue
        obj = mod
        try:
            for p in parts[i:-1]:
                obj = getattr(obj, p)
            getattr(obj, parts[-1])
        except AttributeError:
            return None
        return obj, parts[-1]
    return None


def install(rules: Rules) -> None:
    """Block forbidden imports and trip forbidden calls for the rest of this process.

    A function is tripped under every name a loaded module binds it to
    (``numpy.correlate`` is also ``numpy._core.numeric.correlate``).
    """
    if rules.modules:
        sys.meta_path.insert(0, _Blocker(rules))
    for name in () if rules.scoped else rules.functions:
        found = _resolve(name)
        if not found:
            continue
        original, wire = getattr(*found), _tripwire(name, rules)
        for module in list(sys.modules.values()):
            for attr, value in list(getattr(module, "__dict__", {}).items()):
                if value is original:
                    setattr(module, attr, wire)


@contextlib.contextmanager
def tripwires(rules: Rules, scoped: bool = False):
    """Temporarily trip forbidden calls: for checks inside the student's kernel, and with
    ``scoped`` around one call of a function under ``scoped`` rules."""
    saved = []
    for name in rules.functions if scoped or not rules.scoped else ():
        found = _resolve(name)
        if found:
            saved.append((found[0], found[1], getattr(found[0], found[1])))
            setattr(found[0], found[1], _tripwire(name, rules))
    try:
        yield
    finally:
        for owner, attr, original in reversed(saved):
            setattr(owner, attr, original)


class LineCounter:
    """Counts the lines run in code whose file name passes ``is_student``.

    Used to see whether a function loops over pixels in Python, without
    timing it.  ``lines`` is None when the code under count removed the
    tracer (``sys.settrace(None)``): it cannot be inspected then.
    """

    def __init__(self, is_student):
        self.is_student = is_student
        self.lines: int | None = 0

    def _global(self, frame, event, arg):
        return self._local if self.is_student(frame.f_code.co_filename) else None

    def _local(self, frame, event, arg):
        if event == "line":
            self.lines += 1
        return self._local

    def __enter__(self):
        sys.settrace(self._global)
        return self

    def __exit__(self, *exc):
        still_ours = sys.gettrace() == self._global
        sys.settrace(None)
        if not still_ours:
            self.lines = None
