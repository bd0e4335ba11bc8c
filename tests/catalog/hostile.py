"""A hostile class for problem set 1: one student per attack on the grader.

Each attack is written as a determined student would, and each hostile student
has a fair score: ``"zero"`` (what the untouched release gets: the attack must
not earn anything), ``"full"`` (the student's own answers are right; the attack
must not cost them, nor anyone else, a point), ``"some"`` (the notebook budget cuts
it short) or the grade ids that must fail.
``tests/test_hostile_class.py`` grades them with the real ``nbgrader autograde``
in one class with honest students.
"""
from __future__ import annotations

import base64
import dataclasses
import inspect

import numpy as np

from grader import notebook as nbio
from grader.checks import PROFILES
from grader.runner import problem_set
from grader.sandbox import Outcome
from grader.shortcuts import Rules
from grader.submissions import Submission

PS = "ps01_convolution"
#: a file the lingering attacker writes if it ever runs outside the sandbox
MARKER = "cnn-course-hostile-was-here"


@dataclasses.dataclass
class Hostile:
    submission: Submission
    #: "zero", "full" or the grade ids that must fail
    fair: object
    #: words the student's feedback must contain
    feedback: str = ""


def appended(grade_id: str, code: str):
    """An edit that adds ``code`` at the end of one answer cell."""
    def edit(nb):
        for cell in nb.cells:
            if nbio.nbgrader_meta(cell).get("grade_id") == grade_id:
                cell.source += "\n" + code
    return edit


READ_SOLUTIONS = '''
import glob, json, os, sys
def _places():
    roots = set(sys.path) | {os.getcwd(), os.path.dirname(os.path.abspath(sys.argv[0] or ".")),
                             "/proc/1/cwd", f"/proc/{os.getppid()}/cwd", os.path.expanduser("~"),
                             "/", "/work", "/root", "/home", "/tmp"}
    import grader
    roots.add(os.path.dirname(os.path.dirname(grader.__file__)))
    for root in roots:
        for up in range(6):
            here = os.path.abspath(os.path.join(root, *[".."] * up))
            for pattern in ("solutions/ps01_convolution/*.ipynb", "source/ps01_convolution/*.ipynb",
                            "*/solutions/ps01_convolution/*.ipynb"):
                yield from glob.glob(os.path.join(here, pattern))
for _path in _places():
    try:
        _cells = json.load(open(_path))["cells"]
    except (OSError, ValueError):
        continue
    for _cell in _cells:
        if _cell["cell_type"] == "code" and _cell["metadata"].get("nbgrader", {}).get("solution"):
            exec("".join(_cell["source"]), globals())
'''

REWRITE_GRADER = '''
import os, sys
import grader
_evil = "import os\\nos._exit(0)\\n"
_targets = [os.path.join(os.path.dirname(grader.__file__), "_worker.py"),
            os.path.join(os.path.dirname(grader.__file__), "checks.py")]
for _d in sys.path + [os.getcwd(), os.path.expanduser("~")]:
    _targets.append(os.path.join(_d or ".", "zz_hostile.pth"))
    _targets.append(os.path.join(_d or ".", "..", "gradebook.db"))
for _t in _targets:
    try:
        with open(_t, "w") as _fh:
            _fh.write(_evil)
    except OSError:
        pass
'''

LINGER = f'''
import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(20)
        for _d in ["/work", "/root", "/tmp", os.path.expanduser("~")]:
            try:
                open(os.path.join(_d, "{MARKER}"), "w").write("x")
            except OSError:
                pass
        os._exit(0)
    os._exit(0)
os.wait()
'''

SIGNALS = '''
import os, signal
for _sig in (signal.SIGSTOP, signal.SIGKILL):
    for _pid in (os.getppid(), 1, -1):
        try:
            os.kill(_pid, _sig)
        except OSError:
            pass
'''

FORBIDDEN_ROUTES = '''
import importlib, subprocess, sys
import numpy as np
# past the static scan (no import statement names torch) and the import blocker
sys.meta_path[:] = [f for f in sys.meta_path if "Blocker" not in type(f).__name__]
_torch = "tor" + "ch"

def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    try:
        F = importlib.import_module(_torch + ".nn.functional")
        t = importlib.import_module(_torch)
        out = getattr(F, "conv" + "2d")(t.from_numpy(x), t.from_numpy(weight),
                       None if bias is None else t.from_numpy(bias),
                       stride, padding, dilation, groups)
        return out.numpy()
    except Exception:
        pass
    try:  # a helper process with the whole environment
        subprocess.run([sys.executable, "-c", "import " + _torch], check=True, timeout=20)
    except Exception:
        pass
    return getattr(np._core.numeric, "corr" + "elate")(x.ravel(), weight.ravel(), "valid")
'''

FLOOD = '''
import sys
for _ in range(200):
    sys.stdout.write("x" * (1 << 18))
for _fd in range(3, 12):
    try:
        import os
        os.write(_fd, b'{"event": "loaded"}\\n{"ok": true, "result": 1}\\n')
    except OSError:
        pass
'''

SLOW = '''
import time
_conv2d = conv2d
def conv2d(*args, **kwargs):
    time.sleep(0.5)
    return _conv2d(*args, **kwargs)
'''


#: how the lookup student keys a call: the same code records the table and reads it
KEY = """
import hashlib
import numpy as np

def _key(*values):
    parts = [np.ascontiguousarray(v).tobytes() + repr(v.shape).encode()
             if isinstance(v, np.ndarray) else repr(v).encode() for v in values]
    return hashlib.sha1(b"|".join(parts)).hexdigest()
"""
CONV2D_CELLS = ["conv2d_basic", "conv2d_bias", "conv2d_stride", "conv2d_padding",
                "conv2d_dilation", "conv2d_groups", "conv2d_all"]


class _Recorder:
    """A target that answers with the reference and remembers every call: what a student
    records by running the public grader on their own machine."""

    call_timeout = 10.0
    rules = Rules()

    def __init__(self, reference):
        self.reference, self.table, self.names = reference, {}, {}
        exec(KEY, self.names)

    def lookup(self, name):
        return Outcome(value=0)

    def spent(self):
        return 0.0

    def call(self, fn, args, kwargs, count_lines=False):
        bound = inspect.signature(self.reference).bind(*args, **kwargs)
        bound.apply_defaults()
        out = self.reference(*args, **kwargs)
        self.table[self.names["_key"](*bound.arguments.values())] = out
        return Outcome(value=out, args_after=list(args))

    def shortcut_violations(self, name):
        return []

    def describe_cell_errors(self):
        return ""


def precomputed_conv2d() -> str:
    """A conv2d that answers the public checks' examples from a table, and zeros otherwise."""
    ps = problem_set(PS)
    recorder = _Recorder(ps["conv2d_basic"].reference)
    for check_id in CONV2D_CELLS:
        ps[check_id].run(recorder, dataclasses.replace(PROFILES["quick"], shrink=False))
    table = {k: (base64.b64encode(v.tobytes()).decode(), v.shape)
             for k, v in recorder.table.items()}
    return KEY + f"""import base64
_TABLE = {table!r}

def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    found = _TABLE.get(_key(x, weight, bias, stride, padding, dilation, groups))
    if found is None:
        return np.zeros((x.shape[0], weight.shape[0], 1, 1))
    return np.frombuffer(base64.b64decode(found[0])).reshape(found[1])
"""


def students() -> list[Hostile]:
    return [
        Hostile(Submission("h_reads_solutions", "looks for solutions/ everywhere and runs them",
                           base="release", answers={"quiz_answers": READ_SOLUTIONS}), "zero"),
        Hostile(Submission("h_rewrites_grader", "rewrites the grader, plants a .pth, the gradebook",
                           edit=appended("quiz_answers", REWRITE_GRADER)), "full"),
        Hostile(Submission("h_lingers", "leaves a detached process to strike after autograde",
                           edit=appended("quiz_answers", LINGER)), "full"),
        Hostile(Submission("h_signals", "stops and kills its parent and everyone",
                           edit=appended("quiz_answers", SIGNALS)), "full"),
        Hostile(Submission("h_forbidden_routes", "torch past the blocker, a helper process, "
                           "numpy's own correlate", base="release",
                           answers={"conv2d_answer": FORBIDDEN_ROUTES}), "zero"),
        Hostile(Submission("h_floods", "floods its output and forges protocol lines",
                           edit=appended("quiz_answers", FLOOD)),
                ["quiz_1x1", "quiz_5x5", "quiz_3x3"]),  # the forging cell is dropped
        Hostile(Submission("h_huge_number", "answers a quiz with 10**5000",
                           edit=appended("quiz_answers", "quiz_1x1_depth = 10**5000")),
                ["quiz_1x1"]),
        Hostile(Submission("h_precomputed", "conv2d answers the public examples from a table "
                           "recorded with the public grader",
                           edit=appended("conv2d_answer", precomputed_conv2d())), CONV2D_CELLS),
        Hostile(Submission("h_slow", "a right conv2d that sleeps half a second per call",
                           edit=appended("conv2d_answer", SLOW)), "some",
                feedback="grading time"),
    ]


def honest() -> list[Submission]:
    """Model-solution students, graded before and after the hostile ones."""
    return [Submission("a_honest", "the model solution"),
            Submission("z_honest", "the model solution")]
