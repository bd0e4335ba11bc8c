"""Targets: what a check may ask of the student's code, and the two places it lives.

A check never touches the student's objects.  It asks a ``Target`` to look a
name up, call a function or run a probe, and gets plain data back (an
``Outcome``).  ``RemoteTarget`` asks the sandbox that holds the answer cells:
that is the grade, and ``pytest exercises/``.  ``LocalTarget`` asks the
student's own kernel: feedback while working.  Both report a student's
exception through ``_wire.encode_error`` and count the same shortcuts, so the
same answer gets the same message in both.
"""
from __future__ import annotations

import contextlib
import copy
import inspect
import io
import os
import signal
import sysconfig
import textwrap
import threading
from typing import Protocol, runtime_checkable

from . import _wire
from .sandbox import Outcome, Sandbox, SandboxTimeout, StudentError
from .shortcuts import LineCounter, Rules, Violation, scan, tripwires


@runtime_checkable
class Target(Protocol):
    """The operations checks use.  ``call`` and ``probe`` raise ``SandboxTimeout`` when
    the student's code does not return in time (``SandboxCrashed`` when it kills its
    process)."""

    #: what the problem set forbids
    rules: Rules
    #: seconds one call or probe may take
    call_timeout: float

    def lookup(self, name: str) -> Outcome:
        """The value bound to ``name``, or ``missing``."""

    def call(self, fn: str, args, kwargs, count_lines: bool = False) -> Outcome:
        """``fn(*args, **kwargs)``; with ``count_lines``, also the lines of student code run."""

    def probe(self, name: str, spec: dict, timeout: float | None = None) -> Outcome:
        """``grader.probes.PROBES[name]`` run on the student's namespace with ``spec``."""

    def shortcut_violations(self, name: str) -> list[Violation]:
        """Forbidden imports and calls that the source of ``name`` makes."""

    def describe_cell_errors(self) -> str:
        """Why answer cells failed to run, or ""."""

    def spent(self) -> float:
        """Seconds charged so far (CPU time and sleep) to code run in another process; 0
        where it runs in this one, whose own CPU time counts it."""


# --- the grade: a sandbox holding the answer cells --------------------------------------


class RemoteTarget:
    """The interface checks use, backed by a sandbox holding the answer cells."""

    def __init__(self, cells: list[tuple[str, str]], rules: Rules, **sandbox_options):
        self.rules = rules
        self.sandbox = Sandbox(cells, rules, **sandbox_options)
        self.call_timeout = self.sandbox.call_timeout
        #: function or probe -> its timeout: later checks that need it fail at once
        self._timed_out: dict[str, SandboxTimeout] = {}
        self._violations = {}
        for cell, source in cells:
            for v in scan(source, rules):
                v.what = f'{v.what} (answer cell "{cell}")'
                self._violations.setdefault(v.where, []).append(v)

    def spent(self) -> float:
        return self.sandbox.charged

    def call(self, fn, args, kwargs, count_lines: bool = False) -> Outcome:
        return self._unless_timed_out(fn, self.sandbox.call, fn, args, kwargs,
                                      count_lines=count_lines)

    def probe(self, name, spec, timeout=None) -> Outcome:
        return self._unless_timed_out(f"probe {name}", self.sandbox.probe, name, spec, timeout)

    def _unless_timed_out(self, key: str, run, *args, **kwargs) -> Outcome:
        """A function that timed out once is not waited for again: each check that calls
        it fails at once, with the same message."""
        if key in self._timed_out:
            raise self._timed_out[key]
        try:
            return run(*args, **kwargs)
        except SandboxTimeout as err:
            self._timed_out[key] = err
            raise

    def lookup(self, name) -> Outcome:
        return self.sandbox.lookup(name)

    def shortcut_violations(self, name) -> list[Violation]:
        return self._violations.get(name, [])

    def describe_cell_errors(self) -> str:
        self.sandbox.ensure_started()
        errs = self.sandbox.cell_errors
        if not errs:
            return ""
        parts = []
        for cell, err in errs.items():
            if err.not_implemented:
                parts.append(f'Answer cell "{cell}" still raises NotImplementedError '
                             "(not implemented yet).")
            else:
                parts.append(f'Answer cell "{cell}" raised {err.type} when it ran:\n'
                             f"{err.traceback}")
        return "\n".join(parts)

    def close(self):
        self.sandbox.close()


# --- feedback: the student's own kernel ------------------------------------------------------


_LIBRARIES = tuple({sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib",
                                                       "platlib")}
                   | {os.path.dirname(os.path.abspath(__file__))})


def _is_notebook_code(filename: str) -> bool:
    """Code typed in the notebook (or a student's own module), not a library's."""
    return not filename.startswith(_LIBRARIES) and not filename.startswith("<frozen")


def _roundtrip(value):
    """The value as the grader sees it from the sandbox (so both judge alike)."""
    return _wire.decode(_wire.encode(value))


def _error(exc: BaseException) -> StudentError:
    """The exception as the grader sees it from the sandbox."""
    return StudentError.from_json(_wire.encode_error(exc, _is_notebook_code))


@contextlib.contextmanager
def _time_limit(seconds: float):
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return

    def on_alarm(signum, frame):
        raise SandboxTimeout(f"no answer within {seconds:g} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


class LocalTarget:
    """Calls functions that live in a namespace of this process (the notebook's)."""

    call_timeout = 30.0

    def __init__(self, namespace: dict, rules: Rules | None = None):
        self.namespace = namespace
        self.rules = rules or Rules()

    def spent(self) -> float:
        return 0.0

    def lookup(self, name: str) -> Outcome:
        if name not in self.namespace:
            return Outcome(missing=True)
        return Outcome(value=_roundtrip(self.namespace[name]))

    def call(self, fn: str, args, kwargs, count_lines: bool = False) -> Outcome:
        if fn not in self.namespace:
            return Outcome(missing=True)
        args = copy.deepcopy(list(args))
        kwargs = copy.deepcopy(dict(kwargs))
        sink = io.StringIO()
        counter = LineCounter(_is_notebook_code) if count_lines else contextlib.nullcontext()
        try:
            with tripwires(self.rules), contextlib.redirect_stdout(sink), \
                    contextlib.redirect_stderr(sink), _time_limit(self.call_timeout), counter:
                result = self.namespace[fn](*args, **kwargs)
            return Outcome(value=_roundtrip(result), args_after=[_roundtrip(a) for a in args],
                           output=sink.getvalue(),
                           lines=counter.lines if count_lines else None)
        except SandboxTimeout:
            raise
        except Exception as exc:  # noqa: BLE001 - the student's exception is the outcome
            return Outcome(error=_error(exc), output=sink.getvalue())

    def probe(self, name: str, spec: dict, timeout: float | None = None) -> Outcome:
        from . import probes
        sink = io.StringIO()
        try:
            with tripwires(self.rules), contextlib.redirect_stdout(sink), \
                    contextlib.redirect_stderr(sink), _time_limit(timeout or self.call_timeout):
                result = probes.PROBES[name](self.namespace, **copy.deepcopy(spec))
            return Outcome(value=_roundtrip(result), output=sink.getvalue())
        except SandboxTimeout:
            raise
        except Exception as exc:  # noqa: BLE001
            return Outcome(error=_error(exc), output=sink.getvalue())

    def describe_cell_errors(self) -> str:
        return ""

    def shortcut_violations(self, name: str) -> list[Violation]:
        try:
            source = textwrap.dedent(inspect.getsource(self.namespace[name]))
        except (TypeError, OSError, KeyError):
            return []
        return scan(source, self.rules)
