"""The OS sandbox itself (grader.isolation, grader.sandbox): what student code can reach."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import grader
from grader import isolation
from grader.sandbox import BudgetExhausted, Sandbox, SandboxCrashed, SandboxTimeout
from grader.shortcuts import FROM_SCRATCH, Rules

ROOT = Path(grader.__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
    isolation._bwrap_problem() is not None and not isolation.require_isolation(),
    reason=f"no OS sandbox here: {isolation._bwrap_problem()}")

PROBES = '''
import os, signal, socket, subprocess, sys, time

def listdir(path):
    try:
        return sorted(os.listdir(path))
    except OSError as err:
        return f"error: {err.strerror}"

def exists(path):
    return os.path.exists(path)

def write(path, size=1):
    try:
        with open(path, "wb") as fh:
            fh.write(b"x" * size)
        return "written"
    except OSError as err:
        return f"error: {err.strerror}"

def connect(host, port):
    try:
        socket.create_connection((host, port), timeout=2).close()
        return "connected"
    except OSError as err:
        return f"error: {err.strerror or err}"

def pids():
    return sorted(int(p) for p in os.listdir("/proc") if p.isdigit())

def kill_parent():
    try:
        os.kill(os.getppid(), signal.SIGKILL)
        return os.getppid()
    except OSError as err:
        return f"error: {err.strerror}"

def detach(path):
    # a grandchild in its own session, which would outlive a plain process group
    subprocess.Popen([sys.executable, "-S", "-c",
                      f"import time; time.sleep(3); open({path!r}, 'w').write('alive')"],
                     start_new_session=True)
    return "started"

def hold(mb, children):
    procs = [subprocess.Popen([sys.executable, "-S", "-c",
                               f"b = bytearray({mb} * 2**20); b[::4096] = b'x' * len(b[::4096]);"
                               "import time; time.sleep(60)"]) for _ in range(children)]
    time.sleep(30)

def fork_many(n):
    for _ in range(n):
        subprocess.Popen([sys.executable, "-S", "-c", "import time; time.sleep(60)"])
    time.sleep(30)

def burn(seconds):
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass
    return "done"

def nap(seconds):
    time.sleep(seconds)
    return "rested"

def stop_myself():
    os.kill(os.getpid(), signal.SIGSTOP)
'''


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox([("probes", PROBES)], FROM_SCRATCH, call_timeout=5.0, memory_mb=1024,
                 scratch_mb=16) as sb:
        assert sb.isolation.name == "bubblewrap"
        yield sb


def call(sb, fn, *args):
    out = sb.call(fn, list(args), {})
    assert out.error is None, out.error
    return out.value


def test_the_course_folder_and_the_grader_process_are_out_of_sight(sandbox):
    for path in [ROOT / "solutions", ROOT / "nbgrader_config.py", ROOT / ".venv" / "bin",
                 Path(sys.executable), Path("/etc/passwd"), Path("/work")]:
        assert not call(sandbox, "exists", str(path)), path
    assert call(sandbox, "listdir", "/sandbox/lib") == ["grader"]
    # only the sandbox's own processes: bwrap's init (1) and the worker (2)
    assert call(sandbox, "pids") == [1, 2]


def test_no_network(sandbox):
    assert call(sandbox, "connect", "127.0.0.1", 22).startswith("error")
    assert call(sandbox, "listdir", "/sys/class/net") != ["eth0", "lo"]


def test_only_the_scratch_is_writable_and_it_is_small(sandbox):
    for path in ["/sandbox/lib/grader/_worker.py", "/sandbox/site0/numpy/__init__.py",
                 "/usr/x", "/x"]:
        assert call(sandbox, "write", path).startswith("error"), path
    assert call(sandbox, "write", "/tmp/notes.txt") == "written"
    assert "No space left" in call(sandbox, "write", "/tmp/big", 32 * 2**20)


def test_forbidden_libraries_are_absent_not_just_blocked(sandbox):
    site = "/sandbox/site0"
    assert call(sandbox, "listdir", f"{site}/torch") == []
    assert call(sandbox, "listdir", f"{site}/scipy") == []
    assert call(sandbox, "listdir", f"{site}/numpy") != []


def test_the_grading_process_cannot_be_signalled(sandbox):
    # its parent is the sandbox's own init: killing it ends the sandbox, nothing else
    try:
        call(sandbox, "kill_parent")
    except SandboxCrashed:
        pass
    assert call(sandbox, "exists", "/tmp") is True  # a fresh sandbox answers


def test_nothing_outlives_the_sandbox(tmp_path):
    marker = "/tmp/alive"
    with Sandbox([("probes", PROBES)], FROM_SCRATCH) as sb:
        assert call(sb, "detach", marker) == "started"
        sb.kill()
        assert call(sb, "exists", marker) is False
        time.sleep(3.5)
        assert call(sb, "exists", marker) is False  # a new sandbox, a new scratch
    host = subprocess.run(["pgrep", "-f", "/tmp/alive"], capture_output=True)
    assert host.returncode == 1, host.stdout


def test_memory_is_limited_for_all_processes_together():
    with Sandbox([("probes", PROBES)], FROM_SCRATCH, call_timeout=20.0, memory_mb=600) as sb:
        # three children of 300 MB: each under the limit, together over it
        with pytest.raises(SandboxCrashed, match="600 MB"):
            sb.call("hold", [300, 3], {})


def test_processes_are_limited():
    with Sandbox([("probes", PROBES)], FROM_SCRATCH, call_timeout=20.0) as sb:
        with pytest.raises(SandboxCrashed, match="processes"):
            sb.call("fork_many", [80], {})


def test_time_is_charged_for_cpu_and_sleep_and_stopping_does_not_stall(sandbox):
    assert call(sandbox, "burn", 0.5) == "done"
    with pytest.raises(SandboxTimeout):
        sandbox.call("nap", [8], {})
    start = time.monotonic()
    with pytest.raises(SandboxTimeout):
        sandbox.call("stop_myself", [], {})
    assert time.monotonic() - start < 8


def test_a_notebook_has_a_total_budget():
    with Sandbox([("probes", PROBES)], FROM_SCRATCH, call_timeout=2.0, budget_s=3.0) as sb:
        assert call(sb, "nap", 1.5) == "rested"
        with pytest.raises(SandboxTimeout):
            sb.call("nap", [1.9], {})  # within its own limit, past the budget
        start = time.monotonic()
        with pytest.raises(BudgetExhausted, match="grading time"):
            sb.call("nap", [0.1], {})
        assert time.monotonic() - start < 0.5


def test_a_loaded_machine_charges_the_same():
    """CPU time a busy machine takes away is not charged: every core shared with two hogs.

    Each hog has a session of its own, as the sandbox does, so that the scheduler's
    per-session groups (autogroup) share a core between them and not by session."""
    hogs = [subprocess.Popen([sys.executable, "-c", "print(flush=True)\nwhile True: pass"],
                             stdout=subprocess.PIPE, start_new_session=True)
            for _ in range(2 * os.cpu_count())]
    try:
        for hog in hogs:
            hog.stdout.readline()  # burning
        with Sandbox([("probes", PROBES)], FROM_SCRATCH, call_timeout=1.5) as sb:
            sb.ensure_started()
            start = time.monotonic()
            assert call(sb, "burn", 1.0) == "done"
            assert time.monotonic() - start > 1.5  # over the limit by the wall clock
    finally:
        for hog in hogs:
            hog.kill()


def test_required_isolation_refuses_to_grade_without_it(monkeypatch):
    monkeypatch.setattr(isolation, "_bwrap_problem", lambda: "bubblewrap is not installed")
    monkeypatch.setenv(isolation.REQUIRE_ENV, "1")
    with pytest.raises(isolation.IsolationUnavailable, match="not installed"):
        isolation.choose()
    monkeypatch.setenv(isolation.REQUIRE_ENV, "0")
    with pytest.warns(RuntimeWarning, match="UNISOLATED"):
        assert isolation.choose().name == "none"


def test_pth_files_do_not_run_in_the_sandbox():
    cell = "import sys\ndef flags():\n    return sys.flags.no_site\n"
    with Sandbox([("c", cell)], Rules()) as sb:
        assert call(sb, "flags") == 1
