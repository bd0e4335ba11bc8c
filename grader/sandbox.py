"""The grading side of the sandbox: a fresh, isolated Python process per notebook.

The student's answer cells run in that process and nowhere else, behind the
operating-system boundary of ``grader.isolation``.  The grading process sends
inputs, receives plain data back (see ``_wire``), and compares there, so
monkeypatching ``numpy.testing``, ``grader`` or ``AssertionError`` inside the
answers changes nothing.

Time is charged as CPU time plus the time the worker sleeps, never the time it
waits for a busy CPU, so a submission gets the same score on an idle and on a
loaded machine.  A call over its limit is killed, and so is a worker whose
processes together use more than ``memory_mb``: each costs one check, never the
whole notebook.  A notebook that uses up its ``budget_s`` fails its remaining
checks at once.
"""
from __future__ import annotations

import dataclasses
import itertools
import json
import os
import secrets
import selectors
import subprocess
import time

from . import _wire, isolation
from .shortcuts import Rules

#: The folder that holds the ``grader`` package, which the worker imports.
PACKAGE_ROOT = isolation.PACKAGE_ROOT
#: a reply longer than this is not the grader's protocol (the parent must stay small)
MAX_REPLY_BYTES = 256 * 1024 * 1024
#: how often a pending call's time and memory are looked at
TICK_S = 0.2
#: wall-clock backstop: a call may take this many times its limit on a loaded machine
WALL_FACTOR = 4.0
#: processes the student's code may have running at once
MAX_PROCESSES = 64


class SandboxError(Exception):
    """The sandbox could not answer: a timeout or a crashed process."""


class SandboxTimeout(SandboxError):
    pass


class BudgetExhausted(SandboxTimeout):
    """The notebook used up its total grading time: every later call fails at once."""


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
        return cls(str(d["type"]), str(d["message"]), str(d["traceback"]),
                   bool(d.get("not_implemented", False)), bool(d.get("shortcut", False)))


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


def _child_env(pythonpath: str, home: str) -> dict:
    """The worker's whole environment, built from scratch: no inherited PYTHON* variable.

    The worker runs without ``-I`` or ``-E``, which would ignore the PYTHON* variables set
    here: a fixed string hash (set iteration order), no bytecode written, UTF-8 output, and
    (``PYTHONSAFEPATH``, Python 3.11+) not even the working directory on ``sys.path``.
    """
    keep = {k: os.environ[k] for k in ("PATH", "LANG", "LC_ALL", "SYSTEMROOT") if k in os.environ}
    keep.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
                MPLBACKEND="Agg", PYTHONHASHSEED="0", PYTHONDONTWRITEBYTECODE="1",
                PYTHONIOENCODING="utf-8", PYTHONSAFEPATH="1", PYTHONPATH=pythonpath, HOME=home,
                # glibc keeps what the worker frees for its next model: by default it hands
                # every block over 32 MB back to the kernel (VGG's weights, its gradients)
                # and faults it in again, page by page, for the next probe
                MALLOC_MMAP_MAX_="0", MALLOC_TRIM_THRESHOLD_=str(2**40))
    return keep


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (field 3, the state, first)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].decode().split()
    except (OSError, IndexError):
        return None


_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _cpu_seconds(fields: list[str]) -> float:
    """utime + stime + the CPU time of reaped children (cutime + cstime)."""
    return sum(int(f) for f in fields[11:15]) / _TICKS


class _Meter:
    """What the worker's process tree costs: charged seconds (CPU time plus time asleep,
    never time spent waiting for a busy CPU), resident memory and process count."""

    #: without /proc (macOS), time is charged by the wall clock, and memory is not watched
    measurable = os.path.isdir("/proc")

    def __init__(self, proc: subprocess.Popen, info: dict):
        self.proc = proc
        self.namespace = f"pid:[{info['pid-namespace']}]" if info else None
        self.worker = self._find_worker(info.get("child-pid")) if info else proc.pid

    def _tree(self) -> list[int]:
        """The processes of the sandbox: its PID namespace, or the worker's group."""
        pids = []
        for entry in os.listdir("/proc") if self.measurable else ():
            if not entry.isdigit():
                continue
            try:
                if self.namespace:
                    if os.readlink(f"/proc/{entry}/ns/pid") == self.namespace:
                        pids.append(int(entry))
                elif os.getpgid(int(entry)) == self.proc.pid:
                    pids.append(int(entry))
            except OSError:
                continue
        return pids

    def _find_worker(self, init: int) -> int:
        """The Python worker, the child of bwrap's init inside the namespace."""
        for _ in range(200):
            for pid in self._tree():
                fields = _stat(pid)
                if fields and int(fields[1]) == init:
                    return pid
            time.sleep(0.005)
        return init

    def cpu(self) -> float:
        fields = _stat(self.worker)
        return _cpu_seconds(fields) if fields else 0.0

    def asleep(self) -> bool:
        """Sleeping, stopped or waiting on I/O: time the student's code chose to spend."""
        fields = _stat(self.worker)
        return bool(fields) and fields[0] in "SDTt"

    def usage(self) -> tuple[int, int]:
        """(resident bytes, processes) of the whole tree."""
        rss, count = 0, 0
        for pid in self._tree():
            try:
                with open(f"/proc/{pid}/statm") as fh:
                    rss += int(fh.read().split()[1]) * _PAGE
                count += 1
            except (OSError, IndexError, ValueError):
                continue
        return rss, count


class Sandbox:
    """Runs answer cells in an isolated child process and calls functions defined there.

    ``call_timeout`` and ``cell_timeout`` are charged seconds per call and per answer
    cell; ``budget_s`` is the whole notebook's.  ``hide`` names site-packages paths the
    sandbox must not show (problem set 9's test digits).  Without the OS sandbox,
    ``require_isolation`` raises ``IsolationUnavailable`` (see ``grader.isolation``).
    """

    def __init__(self, cells: list[tuple[str, str]], rules: Rules = Rules(), *,
                 call_timeout: float = 10.0, cell_timeout: float = 30.0, memory_mb: int = 4096,
                 budget_s: float = 600.0, scratch_mb: int = 256, hide: tuple[str, ...] = (),
                 require_isolation: bool = False):
        self.cells = cells
        self.rules = rules
        self.call_timeout = call_timeout
        self.cell_timeout = cell_timeout
        self.memory_mb = memory_mb
        self.budget_s = budget_s
        self.charged = 0.0
        self.cell_errors: dict[str, StudentError] = {}
        self.hung_cells: list[str] = []
        self.proc: subprocess.Popen | None = None
        self.isolation = isolation.choose(scratch_mb, require=require_isolation)
        # the forbidden libraries, and what else the problem set keeps from the student
        self._hidden = isolation.hidden_entries(tuple(rules.modules)) | frozenset(hide)
        self._meter: _Meter | None = None
        self._buf = b""
        self._token, self._ids, self._request_id = secrets.token_hex(8), itertools.count(), ""

    # --- process management ---------------------------------------------------

    def _spawn(self) -> None:
        iso = self.isolation
        capture = os.path.join(iso.scratch, ".output")
        read_info, write_info = os.pipe() if iso.namespaced else (None, None)
        argv = ["-m", "grader._worker", capture, str(self.memory_mb)]
        try:
            self.proc = subprocess.Popen(
                iso.command(argv, self._hidden, write_info),
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                cwd=None if iso.namespaced else iso.scratch, start_new_session=True,
                env=_child_env(iso.pythonpath(), iso.scratch),
                pass_fds=(write_info,) if write_info is not None else ())
        finally:
            if write_info is not None:
                os.close(write_info)
        info = self._read_info(read_info) if read_info is not None else {}
        self._meter = _Meter(self.proc, info)
        self._buf = b""
        self._send({"op": "load", "cells": [{"name": n, "source": s} for n, s in self.cells],
                    "rules": self.rules.to_json(), "skip": self.hung_cells})
        while True:
            try:
                msg = self._receive(self.cell_timeout)
            except SandboxTimeout as err:
                hung = self._current_cell
                self.kill()
                if isinstance(err, BudgetExhausted):
                    raise
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
                self._current_cell = str(msg.get("cell"))
            elif event == "cell_done" and msg.get("error"):
                self.cell_errors[str(msg.get("cell"))] = StudentError.from_json(msg["error"])
            elif event == "loaded":
                return

    @staticmethod
    def _read_info(fd: int) -> dict:
        """bwrap's namespace ids, written before it runs the worker."""
        with os.fdopen(fd, "rb") as fh:
            data = fh.read()
        try:
            return json.loads(data)
        except ValueError:
            return {}

    def ensure_started(self) -> None:
        if self.charged > self.budget_s:
            raise self._exhausted()
        if self.proc is None or self.proc.poll() is not None:
            self._current_cell = "?"
            self._spawn()

    def kill(self) -> None:
        """Kill bwrap, and with it the PID namespace: nothing the student started survives."""
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

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- protocol ---------------------------------------------------------------

    def _send(self, msg: dict) -> None:
        # Each request has an id the worker repeats in its replies, unknown to the student's
        # code in advance: a line it forges on the protocol pipe is told apart and refused.
        self._request_id = f"{self._token}-{next(self._ids)}"
        msg["id"] = self._request_id
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

    def _exhausted(self) -> BudgetExhausted:
        return BudgetExhausted(f"this notebook used up its grading time ({self.budget_s:g} s "
                               "in all); the checks left were not run")

    def _stop(self, why: str) -> SandboxCrashed:
        self.kill()
        return SandboxCrashed(why)

    def _receive(self, limit: float) -> dict:
        """The next protocol line, charging the time it took.  ``limit`` is in charged
        seconds; the wall clock only backs it up (a stopped or starved worker)."""
        meter = self._meter
        start, cpu0, slept = time.monotonic(), meter.cpu(), 0.0
        last_tick = start
        fd = self.proc.stdout.fileno()

        def charged() -> float:
            if not meter.measurable:
                return time.monotonic() - start
            return meter.cpu() - cpu0 + slept

        try:
            with selectors.DefaultSelector() as sel:
                sel.register(fd, selectors.EVENT_READ)
                while b"\n" not in self._buf:
                    if sel.select(TICK_S):
                        chunk = os.read(fd, 1 << 20)
                        if not chunk:
                            raise self._crashed()
                        self._buf += chunk
                        if len(self._buf) > MAX_REPLY_BYTES:
                            raise self._stop("your code produced more output than the grader "
                                             f"reads ({MAX_REPLY_BYTES >> 20} MB)")
                        continue
                    now = time.monotonic()
                    if meter.asleep():
                        slept += now - last_tick
                    last_tick = now
                    self._watch(meter)
                    if charged() > limit or now - start > WALL_FACTOR * limit:
                        raise SandboxTimeout(f"no answer within {limit:g} s")
                    if self.charged + charged() > self.budget_s:
                        self.kill()
                        raise self._exhausted()
        finally:
            self.charged += charged() if self.proc is not None else time.monotonic() - start
        line, self._buf = self._buf.split(b"\n", 1)
        try:
            msg = json.loads(line)
        except ValueError:
            msg = None
        if not isinstance(msg, dict) or msg.get("id") != self._request_id:
            raise self._stop("the process running your code wrote something that is not the "
                             "grader's protocol")
        return msg

    def _watch(self, meter: _Meter) -> None:
        """Kill the sandbox when its processes together use too much memory, or are too many."""
        rss, count = meter.usage()
        if rss > self.memory_mb * 1024 * 1024:
            raise self._stop(f"your code used more than {self.memory_mb} MB of memory "
                             "(all its processes together)")
        if count > MAX_PROCESSES:
            raise self._stop(f"your code started more than {MAX_PROCESSES} processes")

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

    def _outcome(self, reply: dict) -> Outcome:
        try:
            if reply.get("missing"):
                return Outcome(missing=True, output=str(reply.get("output", "")))
            if not reply["ok"]:
                return Outcome(error=StudentError.from_json(reply["error"]),
                               output=str(reply.get("output", "")))
            value = _wire.decode(reply.get("result", reply.get("value")))
            after = [_wire.decode(a) for a in reply["args_after"]] \
                if reply.get("args_after") is not None else None
            lines = reply.get("lines")
            return Outcome(value=value, args_after=after, output=str(reply.get("output", "")),
                           lines=lines if isinstance(lines, int) else None)
        except Exception:  # noqa: BLE001 - a forged reply is the student's doing
            raise self._stop("the process running your code sent a reply the grader could not "
                             "read") from None
