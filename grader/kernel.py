"""Checks run from a notebook cell, inside the student's own kernel.

This is feedback while working, not the grade: code in the kernel can patch
anything.  The grade comes from ``grader.runner``, which runs the same checks
against a sandbox.  During ``nbgrader autograde`` the grade cells therefore
only print a note, and the nbgrader plugin writes the real result.
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
import traceback

from . import _wire
from .sandbox import Outcome, SandboxTimeout, StudentError
from .shortcuts import LineCounter, Rules, ShortcutError, scan, tripwires

#: Set by the nbgrader plugin while it grades out of process.
OUTSIDE_KERNEL_MARKER = "CNN_COURSE_GRADED_OUTSIDE_KERNEL"
GRADER_DIR = os.path.dirname(os.path.abspath(__file__))


_LIBRARIES = tuple({sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib",
                                                       "platlib")} | {GRADER_DIR})


def _is_notebook_code(filename: str) -> bool:
    """Code typed in the notebook (or a student's own module), not a library's."""
    return not filename.startswith(_LIBRARIES) and not filename.startswith("<frozen")


def _roundtrip(value):
    """The value as the grader sees it from the sandbox (so both judge alike)."""
    return _wire.decode(_wire.encode(value))


def _error(exc: BaseException) -> StudentError:
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not f.filename.startswith(GRADER_DIR)]
    tb = "Traceback (your code):\n" + "".join(traceback.format_list(frames)) + \
        "".join(traceback.format_exception_only(type(exc), exc))
    return StudentError(type(exc).__name__, str(exc), tb,
                        not_implemented=isinstance(exc, NotImplementedError),
                        shortcut=isinstance(exc, ShortcutError))


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

    def shortcut_violations(self, name: str) -> list:
        try:
            source = textwrap.dedent(inspect.getsource(self.namespace[name]))
        except (TypeError, OSError, KeyError):
            return []
        return scan(source, self.rules)


def check_in_kernel(problem_set, check_id: str, profile: str, namespace: dict) -> None:
    """Run one check against the notebook's namespace; ``problem_set`` is a zero-arg callable."""
    __tracebackhide__ = True  # noqa: F841 - IPython and pytest hide this frame
    if os.environ.get("NBGRADER_EXECUTION") == "autograde" and \
            os.environ.get(OUTSIDE_KERNEL_MARKER) == "1":
        print(f"{check_id}: graded outside this kernel; the grader replaces this output.")
        return
    from .checks import PROFILES, CheckFailed
    ps = problem_set()
    result = ps[check_id].run(LocalTarget(namespace, ps.rules), PROFILES[profile])
    if not result.passed:
        raise CheckFailed(result.message)
    print(result.message)
