"""Probes: what the sandbox does with a student's ``nn.Module`` classes.

A probe runs *inside* the sandbox, next to the student's code, and returns
plain data (shapes, counts, arrays, messages) that the grading process judges.
Nothing here decides a grade: a student who patches torch in the sandbox can
only make their own numbers wrong, because every expected value is computed
in the grading process.

Weights never cross the process boundary.  Both sides generate them from the
reference's ``state_dict`` names and shapes and a seed (:func:`fill`),
so VGG-16's 138 million parameters cost two ``randn`` calls instead of a
gigabyte of JSON.

This module is imported by the sandbox worker, so it imports torch lazily:
problem sets that forbid torch never call a probe.
"""
from __future__ import annotations

import contextlib
import functools
import itertools
import math

STUDENT = "__student__"
DOWNSAMPLE = "__downsample__"


# --- specs: how a constructor call is described in plain data ------------------------


def student(name: str, item=None) -> dict:
    """An argument that names one of the student's objects (``ResNet(BasicBlock, ...)``).

    With ``item``, the argument is ``name[item]`` (``VGG(cfgs["vgg16"])``).
    """
    return {STUDENT: name} if item is None else {STUDENT: name, "item": item}


def downsample(in_channels: int, out_channels: int, stride: int) -> dict:
    """torchvision's projection shortcut: a strided 1x1 convolution and a BatchNorm."""
    return {DOWNSAMPLE: [in_channels, out_channels, stride]}


def resolve(ns: dict, value):
    """The object a plain-data argument (:func:`student`, :func:`downsample`) stands for in
    the namespace ``ns``; other values are themselves."""
    import torch.nn as nn

    if isinstance(value, dict) and STUDENT in value:
        if value[STUDENT] not in ns:
            raise NameError(f"`{value[STUDENT]}` is not defined")
        found = ns[value[STUDENT]]
        if "item" in value:
            try:
                return found[value["item"]]
            except (KeyError, IndexError, TypeError) as err:
                raise KeyError(f"`{value[STUDENT]}[{value['item']!r}]` does not exist") from err
        return found
    if isinstance(value, dict) and DOWNSAMPLE in value:
        cin, cout, stride = value[DOWNSAMPLE]
        return nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False),
                             nn.BatchNorm2d(cout))
    if isinstance(value, list):
        return [resolve(ns, v) for v in value]
    return value


def build(ns: dict, ctor: dict, device: str = "cpu"):
    """Call the student's class as ``ctor`` says, with tensors created on ``device``."""
    import torch

    cls = ns[ctor["cls"]]
    args = [resolve(ns, a) for a in ctor.get("args", [])]
    kwargs = {k: resolve(ns, v) for k, v in ctor.get("kwargs", {}).items()}
    with torch.device(device):
        model = cls(*args, **kwargs)
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"{ctor['cls']}(...) returned {type(model).__name__}, not a "
                        "torch.nn.Module")
    return model


# --- weights generated alike on both sides -----------------------------------------------


def entries(model) -> list:
    """``[name, shape]`` of every floating-point tensor in ``model.state_dict()``, in order."""
    return [[k, list(v.shape)] for k, v in model.state_dict().items() if v.is_floating_point()]


_TILE = 65_537  # a prime: tiled values never line up with a weight's rows
_DIRECTION = 4_099  # a prime too, for the same reason


def fill(tensor, name: str, index: int, seed: int) -> None:
    """Overwrite a CPU ``tensor`` with deterministic values for entry ``index`` named ``name``.

    Uniform values with the variance of He initialisation for weights, so that
    signals neither explode nor vanish through 19 ReLU layers; BatchNorm gets
    running statistics and affine parameters away from their defaults, so a
    missing or misplaced BatchNorm shows in eval mode.  Larger tensors tile a
    block of prime length ``_TILE``: drawing each value would take seconds for VGG's
    100-million-entry layer, and a tenth of a second for every network.
    """
    import torch

    g = torch.Generator().manual_seed(seed * 1_000_003 + index)
    flat = tensor.detach().view(-1)
    n = flat.numel()
    base = torch.empty(min(n, _TILE), dtype=torch.float64).uniform_(-1.0, 1.0, generator=g)
    leaf = name.rsplit(".", 1)[-1]
    shape = tensor.shape
    if leaf == "running_var":
        base = 1.0 + 0.5 * base
    elif leaf == "running_mean":
        base = 0.1 * base
    elif len(shape) >= 2:  # uniform(-1, 1) has variance 1/3
        base = base * math.sqrt(3 * 2.0 / math.prod(shape[1:]))
    elif leaf == "weight":  # a norm layer's scale
        base = 1.0 + 0.25 * base
    else:
        base = 0.1 * base
    with torch.no_grad():
        whole = n - n % base.numel()  # tile in place: no copy of a 100-million-entry layer
        flat[:whole].view(-1, base.numel()).copy_(base)
        flat[whole:].copy_(base[:n - whole])


def _core(shape) -> list:
    """A weight's shape without trailing 1x1 dimensions: a 1x1 convolution and a linear
    layer hold the same matrix (and :func:`fill` gives both the same values)."""
    shape = list(shape)
    while len(shape) > 2 and shape[-1] == 1:
        shape.pop()
    return shape


def _match(model, spec: list) -> dict | str:
    """Student ``state_dict`` names for the reference entries, or why they do not match.

    By name when the student mirrored the reference's names, otherwise by
    order and shape (the first mismatch is reported).
    """
    mine = entries(model)
    ref_shapes = {n: _core(s) for n, s in spec}
    if {n: _core(s) for n, s in mine} == ref_shapes:
        return {n: n for n, _ in spec}
    for i, ((rn, rs), (mn, ms)) in enumerate(zip(spec, mine)):
        if _core(rs) != _core(ms):
            return (f"Your model's tensors do not line up with the reference's: tensor #{i} "
                    f"of the state_dict is your `{mn}` with shape {tuple(ms)}, where the "
                    f"reference has `{rn}` with shape {tuple(rs)}.")
    if len(mine) != len(spec):
        which = "more" if len(mine) > len(spec) else "fewer"
        extra = (mine if len(mine) > len(spec) else spec)[min(len(mine), len(spec))]
        return (f"Your model has {which} tensors in its state_dict than the reference "
                f"({len(mine)} against {len(spec)}); the first unmatched one is "
                f"`{extra[0]}` with shape {tuple(extra[1])}.")
    return {rn: mn for (rn, _), (mn, _) in zip(spec, mine)}


def load_generated(model, spec: list, seed: int) -> dict | str:
    """Fill ``model`` (on the CPU) with the values for ``spec``: the student's names for the
    reference's entries, or why the model cannot take them."""
    mapping = _match(model, spec)
    if isinstance(mapping, str):
        return mapping
    state = model.state_dict(keep_vars=True)
    for i, (name, _) in enumerate(spec):
        fill(state[mapping[name]], name, i, seed)
    for name, buffer in model.named_buffers():
        if name.endswith("num_batches_tracked"):
            buffer.zero_()
    return mapping


def covers(model, mapping: dict) -> bool:
    """Whether the generated values set every tensor of ``model``: built on meta and given
    empty storage, a model whose other buffers (index tables, say) would hold garbage."""
    named = itertools.chain(model.named_parameters(), model.named_buffers())
    return all(n in mapping.values() or n.endswith("num_batches_tracked") for n, _ in named)


def generated_model(make, spec: list, seed: int, on_meta: bool = True):
    """``make(device)``'s model in float64 on the CPU with the values for ``spec``, and the
    model's names for the entries (or why it cannot take them, a string).

    Built on meta and given empty storage, the model skips its own initialisation
    (seconds for VGG), where the values then set every tensor (:func:`covers`);
    otherwise, or without ``on_meta``, it is built on the CPU.
    """
    import torch

    if on_meta:
        model = make("meta").to(torch.float64).to_empty(device="cpu")
        mapping = load_generated(model, spec, seed)
        if isinstance(mapping, str) or covers(model, mapping):
            return model, mapping
    model = make("cpu").to(torch.float64)
    return model, load_generated(model, spec, seed)


def _signature(tensor, index: int, seed: int) -> list:
    """``[norm, projection]`` of a tensor: its length and its dot product with values
    generated from ``seed``, which no one can arrange to match without the tensor itself."""
    import torch

    t = tensor.detach().to(torch.float64).reshape(-1).cpu()
    # a short direction, repeated: drawing a long one for each of hundreds of tensors costs
    # more than the backward pass; a chunked sum, no big copy
    direction = torch.empty(min(t.numel(), _DIRECTION), dtype=torch.float64)
    fill(direction, "direction", index, seed + 1)
    whole = t.numel() - t.numel() % direction.numel()
    dot = t[:whole].view(-1, direction.numel()).sum(0) @ direction if whole else 0.0
    dot = dot + t[whole:] @ direction[:t.numel() - whole]
    return [float(t.norm()), float(dot)]


def train_step(model, mapping: dict, spec: list, x, seed: int) -> dict:
    """One training step's forward and backward pass, the same on both sides of the sandbox.

    Train mode (BatchNorm normalises with the batch's statistics and updates its running
    ones; dropout is active, its masks drawn after ``torch.manual_seed(seed)``), the loss
    ``sum(w * output)`` with positive, unequal ``w`` from ``seed``.  Reports the output, and
    for each reference entry the :func:`_signature` of its gradient (parameters) or of its
    new value (buffers), or ``{"error": ...}`` where the pass raises.
    """
    import torch

    model.train()
    torch.manual_seed(seed)
    try:
        y = model(torch.from_numpy(x.copy()))  # a copy: in-place code must not change x
        if not isinstance(y, torch.Tensor):
            return {"error": f"forward() returned {type(y).__name__}, not a tensor"}
        g = torch.Generator().manual_seed(seed * 1_000_003 + 999_983)
        weights = torch.empty(y.shape, dtype=torch.float64).uniform_(1.0, 2.0, generator=g)
        (y * weights.to(y.dtype)).sum().backward()
    except Exception as exc:  # noqa: BLE001 - the grading process says what it means
        return {"error": f"{type(exc).__name__}: {str(exc)[:400]}"}
    state = model.state_dict(keep_vars=True)
    rows = []
    for i, (name, _) in enumerate(spec):
        t = state[mapping[name]]
        if isinstance(t, torch.nn.Parameter):
            rows.append(["grad", None if t.grad is None else _signature(t.grad, i, seed)])
        else:
            rows.append(["value", _signature(t, i, seed)])
    return {"out": y.detach().cpu().numpy().copy(), "entries": rows}


# --- per-layer fingerprints, to name the first layer that differs ---------------------------


def fingerprints(model, run) -> list:
    """``[path, type, shape, sum, sum of squares]`` of each parametrised layer's output."""
    import torch

    rows, names = [], {m: n for n, m in model.named_modules()}

    def hook(mod, inp, out):
        if isinstance(out, torch.Tensor):
            o = out.detach().double()
            rows.append([names[mod], type(mod).__name__, list(o.shape), float(o.sum()),
                         float((o * o).sum())])

    handles = [m.register_forward_hook(hook) for m in model.modules() if _owns_parameters(m)]
    try:
        out = run()
    finally:
        for h in handles:
            h.remove()
    return out, rows


# --- the probes ------------------------------------------------------------------------------------


_BUILT: dict = {}


def _cached_meta(ns: dict, ctor: dict):
    """The model built on meta (or the CPU), reused while the classes it uses stay the same."""
    names = [ctor["cls"]] + [a[STUDENT] for a in ctor.get("args", [])
                             if isinstance(a, dict) and STUDENT in a]
    key = (repr(ctor), tuple(id(ns.get(n)) for n in names))
    if key not in _BUILT:
        _BUILT.clear()  # one model at a time: VGG on the CPU is half a gigabyte
        try:
            _BUILT[key] = build(ns, ctor, "meta"), "meta"
        except Exception:  # noqa: BLE001 - some code cannot run on meta; build it for real
            _BUILT[key] = build(ns, ctor, "cpu"), "cpu"
    return _BUILT[key]


def _owns_parameters(module) -> bool:
    return any(True for _ in module.parameters(recurse=False))


def describe(model) -> dict:
    """Parameter names, shapes and counts, and the layers that own them, in order."""
    return {
        "params": [[n, list(p.shape), int(p.numel()), bool(p.requires_grad)]
                   for n, p in model.named_parameters()],
        "layers": [[n, type(m).__name__, int(sum(p.numel() for p in m.parameters(recurse=False)))]
                   for n, m in model.named_modules() if _owns_parameters(m)],
    }


def structure(ns: dict, ctor: dict) -> dict:
    """:func:`describe` for the student's model (built on meta where its code allows)."""
    return describe(_cached_meta(ns, ctor)[0])


def output_shapes(ns: dict, ctor: dict, input_shapes: list) -> list:
    """The output shape for each input shape in eval mode, or the error's text."""
    import torch

    model, device = _cached_meta(ns, ctor)
    model.eval()
    out = []
    for shape in input_shapes:
        try:
            with torch.no_grad():
                y = model(torch.zeros(shape, device=device))
            out.append(list(y.shape) if isinstance(y, torch.Tensor) else
                       {"error": f"the output is {type(y).__name__}, not a tensor"})
        except Exception as exc:  # noqa: BLE001 - a refusal is an answer here
            out.append({"error": f"{type(exc).__name__}: {str(exc)[:300]}"})
    return out


def function(ns: dict, ctor: dict, spec: list, seed: int, x, train: bool) -> dict:
    """The model with the generated reference weights: its output in float64 eval mode, with
    per-layer fingerprints, and with ``train`` a :func:`train_step` as well."""
    import torch

    # Code that cannot run on meta is built on the CPU instead.
    for on_meta in (True, False):
        try:
            model, mapping = generated_model(functools.partial(build, ns, ctor), spec, seed,
                                             on_meta)
            if isinstance(mapping, str):
                return {"mismatch": mapping}
            model.eval()
            with torch.no_grad():
                y, rows = fingerprints(model, lambda: model(torch.from_numpy(x.copy())))
            break
        except Exception:  # noqa: BLE001
            if not on_meta:
                raise
    if not isinstance(y, torch.Tensor):
        return {"mismatch": f"forward() returned {type(y).__name__}, not a tensor."}
    report = {"out": y.detach().numpy().copy(), "layers": rows}
    if train:
        report["train"] = train_step(model, mapping, spec, x, seed)
    return report


#: statistics of a larger tensor come from this many of its values, evenly strided: enough
#: to tell initialisations apart, at a hundredth of the cost for VGG's classifier
SAMPLED = 2**20


def sampled(n: int) -> int:
    """How many of a tensor's ``n`` values :func:`statistics` uses for its moments."""
    return len(range(0, n, -(-n // SAMPLED))) if n else 0


def statistics(tensor) -> list:
    """``[mean, std, kurtosis, min, max]`` of a tensor's values: the moments in float64 over
    :func:`sampled` of them, the extremes over all."""
    import torch

    flat = tensor.detach().reshape(-1)
    t = flat[::max(1, -(-flat.numel() // SAMPLED))].to(torch.float64)
    mean = t.mean()
    centred = t - mean
    squared = centred * centred
    var = squared.mean()
    # products, not ``** 4``: torch's pow kernel takes half the probe's time for Xception
    kurtosis = (squared * squared).mean() / var ** 2 if var > 0 else torch.zeros(())
    return [float(mean), float(var.sqrt()), float(kurtosis), float(flat.min()),
            float(flat.max())]


def initial_state(model, spec: list) -> dict:
    """:func:`statistics` of each reference entry's tensor in ``model`` as it was built."""
    mapping = _match(model, spec)
    if isinstance(mapping, str):
        return {"mismatch": mapping}
    state = model.state_dict()
    return {"entries": [statistics(state[mapping[name]]) for name, _ in spec]}


def init(ns: dict, ctor: dict, spec: list, seed: int) -> dict:
    """:func:`initial_state` of the student's model, built on the CPU after ``manual_seed``."""
    import torch

    torch.manual_seed(seed)
    return initial_state(build(ns, ctor, "cpu"), spec)


def zero_last_norm(ns: dict, ctor: dict, x) -> dict:
    """The block's output when its last BatchNorm has zero scale and shift (eval, float64)."""
    import torch

    model = build(ns, ctor, "cpu").to(torch.float64).eval()
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    if not norms:
        return {"mismatch": "the block has no nn.BatchNorm2d."}
    with torch.no_grad():
        norms[-1].weight.zero_()
        norms[-1].bias.zero_()
        y = model(torch.from_numpy(x))
    return {"out": y.detach().numpy().copy()}


def run(ns: dict, ctor: dict, x) -> dict:
    """The model's output with its own (seeded) initialisation, in eval mode and float64."""
    import torch

    torch.manual_seed(0)
    model = build(ns, ctor, "cpu").to(torch.float64).eval()
    with torch.no_grad():
        y = model(torch.from_numpy(x))
    if not isinstance(y, torch.Tensor):
        return {"mismatch": f"forward() returned {type(y).__name__}, not a tensor."}
    return {"out": y.detach().numpy().copy()}


def gradients(ns: dict, ctor: dict, x) -> dict:
    """The output and each parameter's gradient norm after a training step's backward pass:
    ``[name, requires_grad, norm or None]``.  Raw numbers; the grading process judges."""
    import torch

    torch.manual_seed(0)
    model = build(ns, ctor, "cpu").to(torch.float64).train()
    y = model(torch.from_numpy(x))
    if not isinstance(y, torch.Tensor):
        return {"mismatch": f"forward() returned {type(y).__name__}, not a tensor."}
    # Positive, unequal weights: a loss whose weights summed to zero would give no
    # gradient to anything that shifts an output channel by a constant (a last bias).
    (y * torch.linspace(1, 2, y.numel(), dtype=y.dtype).reshape(y.shape)).sum().backward()
    return {"out": y.detach().numpy().copy(),
            "grads": [[n, bool(p.requires_grad),
                       None if p.grad is None else float(p.grad.norm())]
                      for n, p in model.named_parameters()]}


# --- problem set 9: training loops and transfer learning -------------------------------------
#
# The student's functions get real PyTorch objects, instrumented: a small network that
# logs the mode and grad mode of every forward pass, and an SGD that records the
# gradients it is asked to apply.  The grading process builds the same objects (same
# code, same seed) and runs the reference loop on them, then compares the logs.


def seed_all(seed: int) -> None:
    """Seed every generator a student might use."""
    import random

    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def spy_net(spec: dict):
    """A float64 MLP with BatchNorm (so train and eval mode differ) that logs each forward
    as ``[training, grad enabled, batch size]``; weights from :func:`fill` and ``spec["seed"]``."""
    import torch
    from torch import nn

    class SpyNet(nn.Module):
        def __init__(self, d, h, k):
            super().__init__()
            self.fc1 = nn.Linear(d, h)
            self.bn = nn.BatchNorm1d(h)
            self.fc2 = nn.Linear(h, k)
            self.log = []

        def forward(self, x):
            self.log.append([self.training, torch.is_grad_enabled(), int(x.shape[0])])
            return self.fc2(torch.relu(self.bn(self.fc1(x))))

    model = SpyNet(spec["d"], spec["h"], spec["k"]).to(torch.float64)
    for i, (name, t) in enumerate(model.state_dict().items()):
        if t.is_floating_point():
            fill(t, name, i, spec["seed"])
    return model


def spy_sgd(params, lr: float):
    """SGD with momentum that records, at every ``step()``, the gradients it applies."""
    import torch

    class SpySGD(torch.optim.SGD):
        def __init__(self, params):
            super().__init__(params, lr=lr, momentum=0.9)
            self.applied = []

        def step(self, closure=None):
            self.applied.append([None if p.grad is None else p.grad.detach().numpy().copy()
                                 for g in self.param_groups for p in g["params"]])
            return super().step(closure)

    return SpySGD(params)


def spy_loss():
    """Cross-entropy that logs ``[loss, batch size]`` for every batch it scores."""
    import torch

    class SpyLoss(torch.nn.CrossEntropyLoss):
        def __init__(self):
            super().__init__()
            self.log = []

        def forward(self, input, target):
            loss = super().forward(input, target)
            self.log.append([float(loss.detach()), int(target.shape[0])])
            return loss

    return SpyLoss()


#: the device the training probes pass: the CPU, under a name of its own, so that moving
#: a batch to the device shows (``device_moves``) where a plain "cpu" would not
SPY_DEVICE = "cpu:0"


@contextlib.contextmanager
def device_moves():
    """Record ``[shape, dtype]`` of every tensor moved ``.to(SPY_DEVICE)`` meanwhile."""
    import torch

    moves, original, target = [], torch.Tensor.to, torch.device(SPY_DEVICE)

    def to(self, *args, **kwargs):
        where = kwargs.get("device", args[0] if args else None)
        if isinstance(where, (str, torch.device)):
            try:
                if torch.device(where) == target:
                    moves.append([list(self.shape), str(self.dtype).removeprefix("torch.")])
            except RuntimeError:  # not a device name: the call below says what is wrong
                pass
        return original(self, *args, **kwargs)

    torch.Tensor.to = to
    try:
        yield moves
    finally:
        torch.Tensor.to = original


def loader(x, y, batch_size: int):
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    return DataLoader(TensorDataset(torch.from_numpy(x), torch.from_numpy(y)),
                      batch_size=batch_size, shuffle=False)


def returned(value) -> dict:
    """A returned number as plain data; a tensor is described, with whether it holds a graph."""
    import torch

    if isinstance(value, torch.Tensor):
        return {"tensor": list(value.shape), "grad": bool(value.requires_grad)}
    return {"value": value}


def dropout_call(ns: dict, fn: str, x, p: float, training: bool, seed: int, rules: dict) -> dict:
    """``fn(x, p, training)`` twice on a tensor made from ``x``, with torch's dropout tripped."""
    import numpy as np
    import torch

    from . import shortcuts

    t = torch.from_numpy(x.copy())
    seed_all(seed)
    outs = []
    with shortcuts.tripwires(shortcuts.Rules.from_json(rules), scoped=True):
        for _ in range(2):
            y = ns[fn](t, p, training)
            if not isinstance(y, torch.Tensor):
                return {"mismatch": f"`{fn}` returned {type(y).__name__}, not a torch.Tensor."}
            outs.append(y.detach().numpy().copy())
    return {"outs": outs, "input_changed": not np.array_equal(t.numpy(), x)}


def train_epoch(ns: dict, fn: str, net: dict, x, y, batch_size: int, lr: float) -> dict:
    """``fn(model, loader, optimizer, loss_fn, "cpu")`` on a spy network left in eval mode."""
    seed_all(0)
    model = spy_net(net).eval()  # as after an evaluation: the loop must switch modes itself
    optimizer, loss_fn = spy_sgd(model.parameters(), lr), spy_loss()
    with device_moves() as moved:
        value = ns[fn](model, loader(x, y, batch_size), optimizer, loss_fn, SPY_DEVICE)
    return {"returned": returned(value), "log": model.log, "applied": optimizer.applied,
            "losses": loss_fn.log, "moved": moved,
            "params": [p.detach().numpy().copy() for p in model.parameters()],
            "buffers": [b.detach().numpy().copy() for b in model.buffers()
                        if b.is_floating_point()]}


def evaluate_call(ns: dict, fn: str, net: dict, x, y, batch_size: int) -> dict:
    """``fn(model, loader, "cpu")`` on a spy network left in train mode."""
    seed_all(0)
    model = spy_net(net).train()  # as after training: evaluation must switch modes itself
    with device_moves() as moved:
        value = ns[fn](model, loader(x, y, batch_size), SPY_DEVICE)
    return {"returned": returned(value), "log": model.log, "moved": moved}


def head_net(spec: dict):
    """A small classifier with its head where a model family keeps it (``spec["layout"]``).

    ``fc`` (ResNet, GoogLeNet), ``classifier`` (DenseNet), ``classifier_seq`` (AlexNet,
    VGG: the head is ``classifier[-1]``), ``head_fc`` (timm), or a real torchvision
    model (``resnet18``, ``mobilenet_v2``) with ``weights=None``.
    """
    import torch
    from torch import nn

    w, k, layout = spec["width"], spec["classes"], spec["layout"]
    torch.manual_seed(spec["seed"])
    if layout in ("resnet18", "mobilenet_v2"):
        import torchvision

        return getattr(torchvision.models, layout)(weights=None, num_classes=k)

    def features():
        return nn.Sequential(nn.Conv2d(3, w, 3, padding=1, bias=False), nn.BatchNorm2d(w),
                             nn.ReLU(), nn.Conv2d(w, 2 * w, 3, stride=2, padding=1),
                             nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = features()
            if layout == "fc":
                self.fc = nn.Linear(2 * w, k)
            elif layout == "classifier":
                self.classifier = nn.Linear(2 * w, k)
            elif layout == "classifier_seq":
                self.classifier = nn.Sequential(nn.Dropout(0.5), nn.Linear(2 * w, 4 * w),
                                                nn.ReLU(), nn.Dropout(0.5), nn.Linear(4 * w, k))
            else:
                self.head = nn.Sequential()
                self.head.add_module("fc", nn.Linear(2 * w, k))

        def forward(self, x):
            x = self.features(x)
            head = {"fc": "fc", "head_fc": "head"}.get(layout, "classifier")
            return getattr(self, head)(x)

    return Net()


def _step_changes(model, seed: int) -> list:
    """Parameter names that one SGD step (train mode, momentum, over every parameter) changes."""
    import torch

    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    torch.manual_seed(seed)
    model.train()
    x = torch.randn(4, 3, 32, 32)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    optimizer.zero_grad()
    loss = torch.nn.functional.cross_entropy(model(x), torch.arange(4) % 2)
    if loss.requires_grad:
        loss.backward()
    optimizer.step()
    return [n for n, p in model.named_parameters() if not torch.equal(before[n], p.detach())]


def transfer(ns: dict, net: dict, freeze: str | None = None, replace: str | None = None,
             num_classes: int | None = None) -> dict:
    """``freeze(model)`` and/or ``replace(model, num_classes)``, then what changed.

    Reports which parameters require gradients, which one training step changes,
    the state before and after (shapes, and whether each value is unchanged), the
    output shape in eval mode, whether each function returned the model it got, and
    with ``replace`` the device types of a model on meta after ``replace`` (``devices``).
    """
    import torch

    devices = None
    if replace:  # on another device than the CPU, the new head must follow the old one
        with torch.device("meta"):
            elsewhere = head_net(net)
        ns[replace](elsewhere, num_classes)
        devices = sorted({p.device.type for p in elsewhere.parameters()})
    model = head_net(net)
    before = {n: t.detach().clone() for n, t in model.state_dict().items()}
    same = {}
    for name, args in ((freeze, ()), (replace, (num_classes,))):
        if name:
            same[name] = ns[name](model, *args) is model
    state = model.state_dict()
    model.eval()
    with torch.no_grad():
        out = model(torch.zeros(2, 3, 32, 32))
    return {
        "returned_same": same,
        "requires_grad": {n: bool(p.requires_grad) for n, p in model.named_parameters()},
        "keys_before": {n: list(t.shape) for n, t in before.items()},
        "keys_after": {n: list(t.shape) for n, t in state.items()},
        "unchanged": [n for n, t in state.items()
                      if n in before and before[n].shape == t.shape and torch.equal(before[n], t)],
        "out_shape": list(out.shape) if isinstance(out, torch.Tensor) else None,
        "changed_by_step": _step_changes(model, net["seed"]),
        "devices": devices,
    }


def train_outcome(ns: dict, fn: str, epochs: int, seed: int, batch_size: int, train_images,
                  train_labels, test_images) -> dict:
    """Train with the student's ``fn(train_loader, epochs, "cpu")`` on the images and labels
    given; the returned model's predictions for ``test_images``, whose labels the grading
    process keeps (``grader.cases.OutcomeCase``)."""
    import time

    import torch

    from . import data

    seed_all(seed)
    # the loader data.loaders(batch_size=batch_size, seed=seed)["train"] is, from the arrays
    train = data.loader(data.as_dataset(train_images, train_labels), batch_size, shuffle=True,
                        seed=seed)
    start = time.monotonic()
    model = ns[fn](train, epochs, "cpu")
    seconds = time.monotonic() - start
    if not isinstance(model, torch.nn.Module):
        return {"mismatch": f"`{fn}` returned {type(model).__name__}, not the trained "
                            "nn.Module."}
    model.eval()
    with torch.no_grad():
        logits = model(torch.from_numpy(test_images)[:, None])
    return {"predicted": logits.argmax(1).numpy().astype("int64"), "seconds": seconds}


PROBES = {"structure": structure, "output_shapes": output_shapes, "function": function,
          "init": init, "zero_last_norm": zero_last_norm, "gradients": gradients, "run": run,
          "dropout_call": dropout_call, "train_epoch": train_epoch,
          "evaluate_call": evaluate_call, "transfer": transfer, "train_outcome": train_outcome}
