"""The sandbox: answers run in a fresh process and only plain data comes back."""
from __future__ import annotations

import numpy as np
import pytest

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
