"""The grading side of the sandbox: a fresh Python process per notebook.

The student's answer cells run in that process and nowhere else.  The grading
process sends inputs, receives plain data back (see ``_wire``), and compares
there, so monkeypatching ``numpy.testing``, ``grader`` or ``AssertionError``
inside the answers changes nothing.  A call that hangs is killed after
``call_timeout`` seconds and a process that dies is restarted: each costs one
check, never the whole notebook.
"""
from __future__ import annotations

import dataclasses
import json
import os
import selectors
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import _wire
from .shortcuts import Rules

#: The folder that holds the ``grader`` package, which the worker imports.
PACKAGE_ROOT = Path(__file__).resolve().parent.parent


class SandboxError(Exception):
    """The sandbox could not answer: a timeout or a crashed process."""


class SandboxTimeout(SandboxError):
    pass


class SandboxCrashed(SandboxError):
    pass


@dataclasses.dataclass
class StudentError:
    type: str
    message: str
    traceback: str
    not_implemented: bool = False
    shortcut: bool = False

    @classmethod
    def from_json(cls, d: dict) -> "StudentError":
        return cls(d["type"], d["message"], d["traceback"], d.get("not_implemented", False),
                   d.get("shortcut", False))


@dataclasses.dataclass
class Outcome:
    """What one call of a student function produced."""
    value: object = None
    args_after: list | None = None
    error: StudentError | None = None
    missing: bool = False
    output: str = ""
    #: lines of student code run by the call (``count_lines=True``); None if tracing was undone
    lines: int | None = None


def _child_env() -> dict:
    """The worker's whole environment, built from scratch: no inherited PYTHON* variable.

    The worker runs without ``-I`` or ``-E``, which would ignore the PYTHON* variables set
    here: a fixed string hash (set iteration order), no bytecode written into the package,
    UTF-8 output, and (``PYTHONSAFEPATH``, Python 3.11+) not even the empty working
    directory on ``sys.path``.
    """
    keep = {k: os.environ[k] for k in ("PATH", "LANG", "LC_ALL", "SYSTEMROOT") if k in os.environ}
    keep.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
                MPLBACKEND="Agg", PYTHONHASHSEED="0", PYTHONDONTWRITEBYTECODE="1",
                PYTHONIOENCODING="utf-8", PYTHONSAFEPATH="1", PYTHONPATH=str(PACKAGE_ROOT),
                HOME=tempfile.gettempdir())
    return keep


class Sandbox:
    """Runs answer cells in a child process and calls functions defined there."""

    def __init__(self, cells: list[tuple[str, str]], rules: Rules = Rules(), *,
                 call_timeout: float = 10.0, cell_timeout: float = 30.0, memory_mb: int = 4096):
        self.cells = cells
        self.rules = rules
        self.call_timeout = call_timeout
        self.cell_timeout = cell_timeout
        self.memory_mb = memory_mb
        self.cell_errors: dict[str, StudentError] = {}
        self.hung_cells: list[str] = []
        self.proc: subprocess.Popen | None = None
        self._buf = b""
        self._tmp = tempfile.TemporaryDirectory(prefix="grader-sandbox-")

    # --- process management ---------------------------------------------------

    def _spawn(self) -> None:
        capture = os.path.join(self._tmp.name, "output.txt")
        self.proc = subprocess.Popen(
            # -s: no user site-packages; -m: the worker's own folder (grader/) stays off sys.path
            [sys.executable, "-s", "-m", "grader._worker", capture, str(self.memory_mb)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            cwd=self._tmp.name, env=_child_env(), start_new_session=True)
        self._buf = b""
        self._send({"op": "load", "cells": [{"name": n, "source": s} for n, s in self.cells],
                    "rules": self.rules.to_json(), "skip": self.hung_cells})
        while True:
            try:
                msg = self._receive(self.cell_timeout)
            except SandboxTimeout:
                hung = self._current_cell
                self.kill()
                self.hung_cells.append(hung)
                self.cell_errors[hung] = StudentError(
                    "TimeoutError", f"this cell did not finish within {self.cell_timeout:g} s",
                    f"Your answer cell \"{hung}\" did not finish within {self.cell_timeout:g} s "
                    "(an infinite loop at top level?). It was skipped.\n")
                return self._spawn()
            except SandboxCrashed as err:
                hung = self._current_cell
                self.hung_cells.append(hung)
                self.cell_errors[hung] = StudentError("SandboxCrashed", str(err), str(err))
                return self._spawn()
            event = msg.get("event")
            if event == "cell_start":
                self._current_cell = msg["cell"]
            elif event == "cell_done" and msg.get("error"):
                self.cell_errors[msg["cell"]] = StudentError.from_json(msg["error"])
            elif event == "loaded":
                return

    def ensure_started(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            self._current_cell = "?"
            self._spawn()

    def kill(self) -> None:
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, 9)
            except (ProcessLookupError, PermissionError):
                pass
            self.proc.wait()
            for stream in (self.proc.stdin, self.proc.stdout):
                try:
                    stream.close()
                except OSError:
                    pass
        self.proc = None

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                self._send({"op": "exit"})
                self.proc.wait(timeout=2)
            except (OSError, subprocess.TimeoutExpired, SandboxError):
                pass
        self.kill()
        self._tmp.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- protocol ---------------------------------------------------------------

    def _send(self, msg: dict) -> None:
        try:
            self.proc.stdin.write((json.dumps(msg) + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as err:
            raise self._crashed() from err

    def _crashed(self) -> SandboxCrashed:
        code = self.proc.wait() if self.proc else None
        self.proc = None
        hint = " (out of memory?)" if code in (-9, 137) else ""
        return SandboxCrashed(f"the process running your code exited with code {code}{hint}")

    def _receive(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while b"\n" not in self._buf:
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    raise SandboxTimeout(f"no answer within {timeout:g} s")
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    raise self._crashed()
                self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return json.loads(line)

    def _request(self, msg: dict, timeout: float) -> dict:
        self.ensure_started()
        self._send(msg)
        try:
            return self._receive(timeout)
        except SandboxTimeout:
            self.kill()
            raise

    # --- the interface used by checks -------------------------------------------

    def call(self, fn: str, args, kwargs, count_lines: bool = False) -> Outcome:
        reply = self._request({"op": "call", "fn": fn,
                               "args": [_wire.encode(a) for a in args],
                               "kwargs": {k: _wire.encode(v) for k, v in kwargs.items()},
                               "count_lines": count_lines},
                              self.call_timeout)
        return self._outcome(reply)

    def probe(self, name: str, spec: dict, timeout: float | None = None) -> Outcome:
        """Run ``grader.probes.<name>`` on the student's namespace (see that module)."""
        reply = self._request({"op": "probe", "probe": name,
                               "spec": {k: _wire.encode(v) for k, v in spec.items()}},
                              timeout or self.call_timeout)
        return self._outcome(reply)

    def lookup(self, name: str) -> Outcome:
        return self._outcome(self._request({"op": "lookup", "name": name}, self.call_timeout))

    @staticmethod
    def _outcome(reply: dict) -> Outcome:
        if reply.get("missing"):
            return Outcome(missing=True, output=reply.get("output", ""))
        if not reply["ok"]:
            return Outcome(error=StudentError.from_json(reply["error"]),
                           output=reply.get("output", ""))
        value = _wire.decode(reply.get("result", reply.get("value")))
        after = [_wire.decode(a) for a in reply["args_after"]] if "args_after" in reply else None
        return Outcome(value=value, args_after=after, output=reply.get("output", ""),
                       lines=reply.get("lines"))
