"""Misconceptions: the known mistakes students make, one catalog per problem set.

Each entry (``grader.misconceptions.<ps>.MISCONCEPTIONS``) is a wrong reference:
what an answer that makes this mistake computes, in the grading process.  When a
check fails, the check runs the entries that apply to it on the inputs the
student's code already ran on (nothing new reaches the sandbox) and compares
them with the student's outputs, with the check's own comparison.  If exactly
one entry agrees with every output, the failure message ends with
:meth:`Misconception.explain`; if none or several do, it says nothing more.  A
wrong diagnosis is worse than none, and a diagnosis never changes a score.

The kind of an entry is the kind of evidence its checks keep:

* :class:`WrongFunction`: array functions (``PropertyCheck``): the outputs;
* :class:`WrongAnswers`: quiz values (``ValueCheck``);
* :class:`WrongModel`: ``nn.Module`` classes (``grader.module_checks``): outputs,
  parameter tables and output shapes of the reference with the mistake made;
* :class:`WrongFacts`: probes (``ProbeCheck``): the facts a probe recorded.

The proof catalogs in ``tests/catalog/`` link their mutants to these entries by
id (``DIAGNOSED``), and ``tests/test_misconceptions.py`` proves each entry names
its mutants and no other submission.
"""
from __future__ import annotations

import dataclasses
import importlib
import inspect
import types
from typing import Callable, Iterable


@dataclasses.dataclass(frozen=True)
class Misconception:
    id: str
    #: what the mistake is, in a few words ("kernel flipped: a true convolution")
    name: str
    #: the ids of the checks whose failures it can explain
    checks: tuple[str, ...]
    #: a sentence or two: why it is wrong, and the lecture section to reread
    hint: str

    def explain(self) -> str:
        return f"This looks like: {self.name}. {self.hint}"


@dataclasses.dataclass(frozen=True)
class WrongFunction(Misconception):
    """The student's function name -> what the mistaken function returns for the same
    ``(*args, **kwargs)``."""
    functions: dict = dataclasses.field(default_factory=dict)


def calling(reference: Callable, **changes) -> Callable:
    """``reference`` as the mistaken code calls it: the arguments named in ``changes`` replaced
    by a value, or by what a function of all the bound arguments (a dict) returns."""
    signature = inspect.signature(reference)

    def wrong(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        given = dict(bound.arguments)
        for name, change in changes.items():
            bound.arguments[name] = change(given) if callable(change) else change
        return reference(*bound.args, **bound.kwargs)
    return wrong


@dataclasses.dataclass(frozen=True)
class WrongAnswers(Misconception):
    """Quiz answers: name -> zero-argument callable giving the mistaken value."""
    answers: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class WrongModel(Misconception):
    """``mistake(module)``: the reference module, built, with the mistake made in it (in
    place, or a new module); the identity where the mistake has nothing to change."""
    mistake: Callable = None

    def build(self, reference: Callable) -> Callable:
        """A builder of the mistaken model, one per reference (the references' caches key
        on builders)."""
        key = (self.id, reference)
        if key not in _BUILDS:
            _BUILDS[key] = lambda: self.mistake(reference())
        return _BUILDS[key]


_BUILDS: dict = {}


@dataclasses.dataclass(frozen=True)
class WrongFacts(Misconception):
    """``fits(case, got)``: whether a probe's report is exactly what the mistake gives."""
    fits: Callable = None


def load(ps_id: str) -> tuple[Misconception, ...]:
    """The problem set's catalog, empty where it has none."""
    try:
        module = importlib.import_module(f"{__name__}.{ps_id}")
    except ModuleNotFoundError as err:
        if err.name != f"{__name__}.{ps_id}":
            raise
        return ()
    return tuple(module.MISCONCEPTIONS)


def diagnose(candidates: Iterable[Misconception],
             agrees: Callable[[Misconception], bool]) -> Misconception | None:
    """The one candidate that ``agrees`` with everything observed, or None (none or
    several do).  A wrong reference that fails to run on an input does not agree."""
    found = None
    for candidate in candidates:
        try:
            ok = agrees(candidate)
        except Exception:  # noqa: BLE001 - a mistake that cannot take this input
            ok = False
        if ok:
            if found is not None:
                return None
            found = candidate
    return found


class Observations:
    """What a check saw the student's code do, for a diagnosis: a few correct outputs
    (a mistake must reproduce them too) and the latest wrong ones (the smallest, after
    shrinking).  Bounded, since hidden examples can be large."""

    KEEP = 6

    def __init__(self):
        self.right: list = []
        self.wrong: list = []

    def add(self, item, correct: bool) -> None:
        if correct:
            if len(self.right) < self.KEEP:
                self.right.append(item)
        else:
            self.wrong = (self.wrong + [item])[-self.KEEP:]

    def __iter__(self):
        return iter(self.right + self.wrong)

    def __bool__(self) -> bool:
        """Only a wrong output can be diagnosed."""
        return bool(self.wrong)


# --- mistakes in models: the reference, built, changed the way the mistaken code differs ---------
#
# Each returns a ``WrongModel.mistake``: it changes every matching submodule of the model it
# is given, and nothing where there is none (a network without the block concerned).  The
# model may be on meta: new modules are created under the caller's default device.


def _inside(module, within):
    """The submodules of ``module`` (itself included) that are, or are inside, a ``within``."""
    if within is None:
        return list(module.modules())
    found = {id(m): m for outer in module.modules() if isinstance(outer, within)
             for m in outer.modules()}
    return list(found.values())


def setting(kind, within=None, **values) -> Callable:
    """Set attributes (``eps``, ``ceil_mode``, ...) of every ``kind`` module (inside a
    ``within`` module, if given); a callable value is called with the module, and what it
    returns is set."""
    def mistake(module):
        for m in _inside(module, within):
            if isinstance(m, kind):
                for name, value in values.items():
                    setattr(m, name, value(m) if callable(value) else value)
        return module
    return mistake


def swapped(kind, make: Callable, within=None) -> Callable:
    """Replace every ``kind`` module (inside a ``within`` module, if given) by ``make(old)``."""
    def replace(module, inside):
        inside = inside or within is None or isinstance(module, within)
        if inside and isinstance(module, kind):
            return make(module)
        for name, child in list(module.named_children()):
            new = replace(child, inside)
            if new is not child:
                setattr(module, name, new)
        return module
    return lambda module: replace(module, False)


def patched(kind, forward: Callable) -> Callable:
    """Give every ``kind`` module the mistaken ``forward(self, x)``."""
    def mistake(module):
        for m in module.modules():
            if isinstance(m, kind):
                m.forward = types.MethodType(forward, m)
        return module
    return mistake


def reordered(first, second) -> Callable:
    """In every ``nn.Sequential``, a ``first`` module followed by a ``second`` swapped."""
    def mistake(module):
        import torch.nn as nn
        for seq in [m for m in module.modules() if isinstance(m, nn.Sequential)]:
            layers = list(seq)
            for i in range(len(layers) - 1):
                if isinstance(layers[i], first) and isinstance(layers[i + 1], second):
                    layers[i], layers[i + 1] = layers[i + 1], layers[i]
            for name, layer in zip(list(seq._modules), layers):
                seq._modules[name] = layer
        return module
    return mistake
