"""Forged probes for problem set 5: a student who answers the grader's probes without a model.

For ``nn.Module`` problem sets a check sends a probe (``grader.probes``) into the sandbox,
and the student's code runs in that same process: it can replace the probes.  The
grader's answer (``grader/module_checks.py``) is that a forger must fail every
``SameFunctionCheck`` and earn no more elsewhere than a class written just to have the
graded properties.  Two students put that to the test, both starting from the untouched
release (the quiz stays unanswered):

* ``forger``: one answer cell defines the classes the stubs leave undefined, empty, and
  replaces the probes in ``grader.probes.PROBES`` (which the worker looks up at each
  request): the reference's parameter table (hard-coded for the networks, as a student
  would after running torchvision at home; by arithmetic for the blocks, whose arguments
  are drawn), output shapes by arithmetic, ``relu(x)`` for a zeroed BatchNorm, a gradient
  for every parameter, and for the function the best it can do: the public checks'
  reports recorded with torchvision (their seeds are public; the data fills the stubs
  that define nothing, as no cell may exceed 200 kB), zeros for anything else.
* ``degenerate``: honest-looking classes with zero parameters of the reference's shapes
  (from the same tables), whose forward only has the graded properties: the right output
  shape, ``relu(x)`` when the last BatchNorm is zeroed, a gradient for every parameter.

``tests/test_hostile_models.py`` grades both and compares.
"""
from __future__ import annotations

import base64
import copy
import dataclasses
import functools
import json

import numpy as np

from grader import probes, references
from grader.checks import PROFILES
from grader.module_checks import SameFunctionCheck
from grader.runner import problem_set
from grader.sandbox import Outcome
from grader.shortcuts import Rules
from grader.submissions import Submission

PS = "ps05_resnet_resnext"
#: the networks' names in torchvision, as a student looks them up from ``ResNet``'s arguments
NAMES = {("BasicBlock", (2, 2, 2, 2)): "resnet18", ("BasicBlock", (3, 4, 6, 3)): "resnet34",
         ("Bottleneck", (3, 4, 6, 3)): "resnet50"}


@functools.lru_cache(maxsize=None)
def network_tables() -> dict[str, list]:
    """``[[name, shape], ...]`` of each network's parameters, for the parameter-count checks'
    cases (1000 classes): what a student prints from torchvision and pastes in."""
    tables = {}
    for check in problem_set(PS).checks.values():
        for case in getattr(check, "examples", ()):
            name = case.reference_name.rsplit(".", 1)[-1]
            if name not in tables and not case.kwargs:
                params = references.model_structure(case.reference)["params"]
                tables[name] = [[n, shape] for n, shape, _, _ in params]
    return tables


def tables_code() -> str:
    """The hard-coded tables and the arithmetic for the blocks, shared by both students."""
    return f"""
import math

#: torchvision's parameters, [name, shape], for 1000 classes (printed from torchvision)
NETS = {network_tables()!r}
NAMES = {NAMES!r}


def net_params(name, num_classes):
    table = [[n, list(s)] for n, s in NETS[name]]
    table[-2][1][0] = table[-1][1][0] = num_classes  # fc.weight, fc.bias
    return table


def block_params(bottleneck, inplanes, planes, groups=1, base_width=64):
    \"\"\"torchvision's BasicBlock or Bottleneck parameters, the shortcut's aside.\"\"\"
    if not bottleneck:
        return [["conv1.weight", [planes, inplanes, 3, 3]], ["bn1.weight", [planes]],
                ["bn1.bias", [planes]], ["conv2.weight", [planes, planes, 3, 3]],
                ["bn2.weight", [planes]], ["bn2.bias", [planes]]]
    width = int(planes * base_width / 64) * groups
    return [["conv1.weight", [width, inplanes, 1, 1]], ["bn1.weight", [width]],
            ["bn1.bias", [width]], ["conv2.weight", [width, width // groups, 3, 3]],
            ["bn2.weight", [width]], ["bn2.bias", [width]],
            ["conv3.weight", [planes * 4, width, 1, 1]], ["bn3.weight", [planes * 4]],
            ["bn3.bias", [planes * 4]]]
"""


# --- the forger ------------------------------------------------------------------------------

#: how the forger files a function probe: its constructor call, seed and input
KEY = """
import hashlib, json

def _key(ctor, seed, x):
    text = json.dumps(ctor, sort_keys=True) + f"|{seed}|{x.shape}|"
    return hashlib.sha1(text.encode() + x.tobytes()).hexdigest()
"""

FORGED_PROBES = '''
import base64, sys
import numpy as np


class ResNet(nn.Module):  # never built: the probes below answer for it
    pass


class ResNeXt50_32x4d(ResNet):
    pass


def _decode(value):
    """The recorded reports: arrays travel as base64."""
    if isinstance(value, dict) and "__array__" in value:
        return np.frombuffer(base64.b64decode(value["__array__"])).reshape(value["shape"])
    if isinstance(value, dict):
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


RECORDED = _decode(json.loads(RECORDED_JSON))


def _params(ctor):
    """torchvision's parameters for a constructor call, as the probes describe it."""
    cls, args, kwargs = ctor["cls"], ctor["args"], ctor["kwargs"]
    classes = kwargs.get("num_classes", 1000)
    if cls == "ResNeXt50_32x4d":
        return net_params("resnext50_32x4d", classes)
    if cls == "ResNet":
        return net_params(NAMES[(args[0]["__student__"], tuple(args[1]))], classes)
    table = block_params(cls == "Bottleneck", *args, kwargs.get("groups", 1),
                         kwargs.get("base_width", 64))
    if "downsample" in kwargs:
        cin, cout, _ = kwargs["downsample"]["__downsample__"]
        table += [["downsample.0.weight", [cout, cin, 1, 1]], ["downsample.1.weight", [cout]],
                  ["downsample.1.bias", [cout]]]
    return table


def _out_shape(ctor, shape):
    kwargs = ctor["kwargs"]
    if ctor["cls"] in ("ResNet", "ResNeXt50_32x4d"):
        return (shape[0], kwargs.get("num_classes", 1000))
    stride, planes = kwargs.get("stride", 1), ctor["args"][1]
    channels = planes * (4 if ctor["cls"] == "Bottleneck" else 1)
    return (shape[0], channels, (shape[2] - 1) // stride + 1, (shape[3] - 1) // stride + 1)


def structure(ns, ctor):
    return {"params": [[n, s, math.prod(s), True] for n, s in _params(ctor)], "layers": []}


def output_shapes(ns, ctor, input_shapes):
    return [list(_out_shape(ctor, s)) for s in input_shapes]


def zero_last_norm(ns, ctor, x):
    return {"out": np.maximum(x, 0.0)}


def gradients(ns, ctor, x):
    return {"out": np.zeros(_out_shape(ctor, x.shape)),
            "grads": [[n, True, 1.0] for n, _ in _params(ctor)]}


def function(ns, ctor, spec, seed, x, train):
    """The public checks' reports, recorded at home; zeros where the seed is new."""
    recorded = RECORDED.get(_key(ctor, seed, x))
    if recorded is not None:
        return recorded
    y = np.zeros(_out_shape(ctor, x.shape))
    return {"out": y, "layers": [],
            "train": {"out": y, "entries": [["grad", [1.0, 0.0]] for _ in spec]}}


# past the static scan (no import statement names grader) and the import blocker
sys.modules["grader.probes"].PROBES.update(
    structure=structure, output_shapes=output_shapes, zero_last_norm=zero_last_norm,
    gradients=gradients, function=function)
'''


class _Recorder:
    """A target whose probes run on torchvision's own classes: what a student with
    torchvision records by running the public checks at home."""

    call_timeout = 60.0
    rules = Rules()

    def __init__(self):
        import torchvision
        from torchvision.models import resnet as tv

        self.ns = {"BasicBlock": tv.BasicBlock, "Bottleneck": tv.Bottleneck, "ResNet": tv.ResNet,
                   "ResNeXt50_32x4d": functools.partial(torchvision.models.resnext50_32x4d,
                                                        weights=None)}
        self.keys: dict = {}
        exec(KEY, self.keys)
        self.table: dict = {}

    def lookup(self, name):
        return Outcome(value=0)

    def spent(self):
        return 0.0

    def probe(self, name, spec, timeout=None):
        out = probes.PROBES[name](self.ns, **copy.deepcopy(spec))
        self.table[self.keys["_key"](spec["ctor"], spec["seed"], spec["x"])] = out
        return Outcome(value=out)

    def shortcut_violations(self, name):
        return []

    def describe_cell_errors(self):
        return ""


def _jsonable(value):
    if isinstance(value, np.ndarray):
        data = np.ascontiguousarray(value, dtype=np.float64).tobytes()
        return {"__array__": base64.b64encode(data).decode(), "shape": list(value.shape)}
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def recorded_functions() -> dict:
    """The function probe's report for every case of the public function checks."""
    recorder = _Recorder()
    quick = dataclasses.replace(PROFILES["quick"], shrink=False)
    for check in problem_set(PS).checks.values():
        if isinstance(check, SameFunctionCheck):
            result = check.run(recorder, quick)
            assert result.passed, result.message  # torchvision computes torchvision
    return recorder.table


#: the stubs that define nothing (``ResNet``'s raises in its class body): the forger's cells,
#: the recorded reports spread over them (the grader runs cells of at most 200 kB)
FORGER_CELLS = ("resnet_answer", "resnext_answer", "quiz_answer")
CHUNK = 150_000


def forger() -> Submission:
    # per-layer fingerprints only name the first layer off in a failure message: left out
    reports = {k: {**r, "layers": []} for k, r in recorded_functions().items()}
    table = json.dumps(_jsonable(reports))
    chunks = [table[i:i + CHUNK] for i in range(0, len(table), CHUNK)]
    assert len(chunks) <= len(FORGER_CELLS), "the recorded reports no longer fit"
    answers = {cell: f"RECORDED_JSON {'+=' if i else '='} {chunk!r}\n"
               for i, (cell, chunk) in enumerate(zip(FORGER_CELLS, chunks))}
    last = FORGER_CELLS[-1]
    answers[last] = answers.get(last, "") + tables_code() + KEY + FORGED_PROBES
    return Submission("h_forges_probes", "empty classes, and probes that answer without them",
                      base="release", answers=answers)


# --- the degenerate class ----------------------------------------------------------------------

DEGENERATE_BLOCKS = '''

def zeros(shapes):
    """One zero parameter per shape."""
    return nn.ParameterList([nn.Parameter(torch.zeros(s)) for s in shapes])


def total(params):
    """Zero, and yet every parameter gets a gradient through it."""
    return sum(p.sum() for p in params)


class BasicBlock(nn.Module):
    """torchvision's parameters, none of its computation; the last two are a real
    BatchNorm on the shortcut, so a zeroed one leaves relu(x)."""
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.weights = zeros([s for _, s in block_params(False, inplanes, planes)[:-2]])
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        return torch.relu(identity + self.bn2(identity) + total(self.weights))
'''

DEGENERATE_BOTTLENECK = '''
class Bottleneck(nn.Module):
    """As BasicBlock: the table's parameters, and a real last BatchNorm on the shortcut."""
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64):
        super().__init__()
        table = block_params(True, inplanes, planes, groups, base_width)
        self.weights = zeros([s for _, s in table[:-2]])
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        return torch.relu(identity + self.bn3(identity) + total(self.weights))
'''

DEGENERATE_NETWORKS = '''
class ResNet(nn.Module):
    """torchvision's parameters, and an output of the right shape that uses them all."""

    def __init__(self, block, layers, num_classes=1000, zero_init_residual=False, groups=1,
                 width_per_group=64):
        super().__init__()
        name = "resnext50_32x4d" if groups == 32 else NAMES[(block.__name__, tuple(layers))]
        self.weights = zeros([s for _, s in net_params(name, num_classes)])
        self.num_classes = num_classes

    def forward(self, x):
        mean = x.mean((1, 2, 3)).unsqueeze(1).expand(-1, self.num_classes)
        return mean + total(self.weights)
'''

DEGENERATE_RESNEXT = '''
class ResNeXt50_32x4d(ResNet):
    def __init__(self, num_classes=1000):
        super().__init__(Bottleneck, [3, 4, 6, 3], num_classes, groups=32, width_per_group=4)
'''


def degenerate() -> Submission:
    return Submission("degenerate_class", "zero parameters of torchvision's shapes, a forward "
                      "with only the graded properties", base="release",
                      answers={"basic_block_answer": tables_code() + DEGENERATE_BLOCKS,
                               "bottleneck_answer": DEGENERATE_BOTTLENECK,
                               "resnet_answer": DEGENERATE_NETWORKS,
                               "resnext_answer": DEGENERATE_RESNEXT})
