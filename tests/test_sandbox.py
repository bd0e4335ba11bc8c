"""The sandbox: answers run in a fresh process and only plain data comes back."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import grader
from grader import _wire
from grader.sandbox import Sandbox, SandboxCrashed, SandboxTimeout
from grader.shortcuts import FROM_SCRATCH, Rules, scan

CELLS = [
    ("setup", "import numpy as np"),
    ("a", "import sys\ndef double(x):\n    print('to stdout')\n"
          "    print('to stderr', file=sys.stderr)\n    return x * 2\n"),
    ("b", "raise NotImplementedError()"),
    ("c", "def hang():\n    while True:\n        pass\n"),
    ("d", "import os\ndef die():\n    os._exit(3)\n"),
    ("e", "def scale_in_place(x):\n    x *= 3\n    return x\n"),
    ("f", "class Yes:\n    def __eq__(self, other):\n        return True\n"
          "def liar():\n    return Yes()\n"),
    ("g", "def shortcut(x):\n    return np.convolve(x, x)\n"),
    ("h", "import torch\n"),
    ("i", "def hog():\n    return bytearray(8 * 1024**3)\n"),
]


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(CELLS, FROM_SCRATCH, call_timeout=2.0, memory_mb=2048) as sb:
        yield sb


def test_calls_return_data_and_capture_output(sandbox):
    out = sandbox.call("double", [np.arange(3.0)], {})
    np.testing.assert_array_equal(out.value, [0.0, 2.0, 4.0])
    assert "to stdout" in out.output and "to stderr" in out.output


def test_cell_errors_are_recorded_and_later_cells_still_run(sandbox):
    sandbox.ensure_started()
    assert sandbox.cell_errors["b"].not_implemented
    assert "not allowed" in sandbox.cell_errors["h"].message  # torch is blocked
    assert sandbox.lookup("hang").value is not None


def test_hang_times_out_and_the_sandbox_restarts(sandbox):
    with pytest.raises(SandboxTimeout):
        sandbox.call("hang", [], {})
    assert sandbox.call("double", [1.0], {}).value == 2.0


def test_exit_and_memory_hog_crash_only_their_call(sandbox):
    with pytest.raises(SandboxCrashed, match="code 3"):
        sandbox.call("die", [], {})
    out = sandbox.call("hog", [], {})
    assert out.error is not None and out.error.type == "MemoryError"
    assert sandbox.call("double", [2.0], {}).value == 4.0


def test_in_place_changes_are_visible(sandbox):
    out = sandbox.call("scale_in_place", [np.ones(2)], {})
    np.testing.assert_array_equal(out.args_after[0], [3.0, 3.0])


def test_objects_with_clever_eq_do_not_come_back(sandbox):
    out = sandbox.call("liar", [], {})
    assert isinstance(out.value, _wire.Opaque) and out.value.type_name.endswith("Yes")


def test_forbidden_call_is_tripped_at_run_time(sandbox):
    out = sandbox.call("shortcut", [np.ones(3)], {})
    assert out.error.shortcut and "numpy.convolve" in out.error.message


def test_missing_function(sandbox):
    assert sandbox.call("nope", [], {}).missing


# --- the sandbox's interpreter: what its environment says takes effect ----------------------

FACTS = [("facts", "import sys\n"
                   "def hash_of(text):\n    return hash(text)\n"
                   "def set_order(words):\n    return list(set(words))\n"
                   "def path():\n    return list(sys.path)\n"
                   "def user_site_off():\n    return bool(sys.flags.no_user_site)\n"
                   "def grader_files():\n    import grader, os\n"
                   "    return sorted(os.listdir(os.path.dirname(grader.__file__)))\n")]
WORDS = [f"word{i}" for i in range(20)]


def test_string_hashing_is_fixed_in_every_sandbox():
    """PYTHONHASHSEED=0 holds: a set of strings iterates alike from run to run."""
    seen = []
    for _ in range(2):
        with Sandbox(FACTS, Rules()) as sb:
            seen.append([sb.call("hash_of", ["abc"], {}).value,
                         sb.call("set_order", [WORDS], {}).value])
    script = f"import json; print(json.dumps([hash('abc'), list(set({WORDS!r}))]))"
    seed_0 = subprocess.run([sys.executable, "-c", script], env={"PYTHONHASHSEED": "0"},
                            capture_output=True, text=True, check=True).stdout
    assert seen[0] == seen[1] == json.loads(seed_0)


def test_freed_memory_stays_with_the_worker_for_the_next_model():
    """glibc's settings hold: 256 MB freed stays resident, where by default glibc would
    unmap it, and the next model of that size would fault every page in again."""
    cells = [("rss", "import numpy as np\n"
                     "def resident_mb():\n"
                     "    with open('/proc/self/status') as fh:\n"
                     "        return next(int(l.split()[1]) // 1024 for l in fh\n"
                     "                    if l.startswith('VmRSS'))\n"
                     "def allocate_and_free():\n"
                     "    a = np.ones(32 * 2**20)\n"
                     "    del a\n")]
    if not os.path.exists("/proc/self/status"):
        pytest.skip("no /proc here")
    with Sandbox(cells, Rules()) as sb:
        before = sb.call("resident_mb", [], {}).value
        sb.call("allocate_and_free", [], {})
        assert sb.call("resident_mb", [], {}).value - before >= 200


def test_the_grader_folder_and_the_user_site_are_off_the_path():
    grader_dir = Path(grader.__file__).resolve().parent
    with Sandbox(FACTS, Rules()) as sb:
        path = sb.call("path", [], {}).value
        assert sb.call("user_site_off", [], {}).value
    assert all(Path(p or ".").resolve() != grader_dir for p in path), path


def test_no_bytecode_is_written_into_the_package(tmp_path):
    """A sandbox started from a copy of the package leaves no __pycache__ in it."""
    source = Path(grader.__file__).resolve().parent
    shutil.copytree(source, tmp_path / "grader", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "grader" / "the_copy.txt").write_text("")
    script = ("import sys; sys.path.insert(0, sys.argv[1]); from grader.sandbox import Sandbox\n"
              "from grader.shortcuts import Rules\n"
              "with Sandbox([('facts', sys.argv[2])], Rules()) as sb:\n"
              "    print(sb.call('grader_files', [], {}).value)\n")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}  # this process writes none either
    out = subprocess.run([sys.executable, "-c", script, str(tmp_path), FACTS[0][1]], env=env,
                         capture_output=True, text=True, check=True).stdout
    assert "the_copy.txt" in out and "__pycache__" not in out  # the copy, not this tree
    assert not list((tmp_path / "grader").rglob("*.pyc"))


@pytest.mark.parametrize("value", [
    3, 2**80, -1.5, float("inf"), None, True, "text", (1, 2), [1, (2.0, None)], {"k": 3},
    np.arange(6.0).reshape(2, 3), np.int64(7), np.float32(0.5), np.zeros((0, 3)),
])
def test_wire_roundtrip(value):
    back = _wire.decode(_wire.encode(value))
    if isinstance(value, np.ndarray):
        assert back.dtype == value.dtype and np.array_equal(back, value)
    else:
        assert back == value and type(back) is type(value)


def test_wire_refuses_object_arrays_and_subclasses():
    class Sub(np.ndarray):
        pass
    assert isinstance(_wire.decode(_wire.encode(np.array([None]))), _wire.Opaque)
    assert isinstance(_wire.decode(_wire.encode(np.zeros(2).view(Sub))), _wire.Opaque)


def test_static_scan_names_lines_and_functions():
    src = ("import numpy as np\nfrom scipy import signal\n\ndef f(x):\n"
           "    return np.convolve(x, x)\n\ndef g(x):\n    import torch\n    return x\n")
    found = {(v.line, v.where) for v in scan(src, FROM_SCRATCH)}
    assert found == {(2, "<module>"), (5, "f"), (8, "g")}
    assert scan(src, Rules()) == []
