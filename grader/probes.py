"""Probes: what the sandbox does with a student's ``nn.Module`` classes.

A probe runs *inside* the sandbox, next to the student's code, and returns
plain data (shapes, counts, arrays, messages) that the grading process judges.
Nothing here decides a grade: a student who patches torch in the sandbox can
only make their own numbers wrong, because every expected value is computed
in the grading process.

Weights never cross the process boundary.  Both sides generate them from the
reference's ``state_dict`` names and shapes and a seed (:func:`generated`),
so VGG-16's 138 million parameters cost two ``randn`` calls instead of a
gigabyte of JSON.

This module is imported by the sandbox worker, so it imports torch lazily:
problem sets that forbid torch never call a probe.
"""
from __future__ import annotations

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


def _resolve(ns: dict, value):
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
        return [_resolve(ns, v) for v in value]
    return value


def build(ns: dict, ctor: dict, device: str = "cpu"):
    """Call the student's class as ``ctor`` says, with tensors created on ``device``."""
    import torch

    cls = ns[ctor["cls"]]
    args = [_resolve(ns, a) for a in ctor.get("args", [])]
    kwargs = {k: _resolve(ns, v) for k, v in ctor.get("kwargs", {}).items()}
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


_TILE = 1_048_583  # a prime: tiled values never line up with a weight's rows


def fill(tensor, name: str, index: int, seed: int) -> None:
    """Overwrite a CPU ``tensor`` with deterministic values for entry ``index`` named ``name``.

    Uniform values with the variance of He initialisation for weights, so that
    signals neither explode nor vanish through 19 ReLU layers; BatchNorm gets
    running statistics and affine parameters away from their defaults, so a
    missing or misplaced BatchNorm shows in eval mode.  Tensors above a
    million entries tile a prime-length block (VGG's 100-million-entry layer
    would otherwise take seconds to draw).
    """
    import torch

    g = torch.Generator().manual_seed(seed * 1_000_003 + index)
    flat = tensor.detach().view(-1)
    n = flat.numel()
    base = torch.empty(min(n, _TILE), dtype=torch.float64).uniform_(-1.0, 1.0, generator=g)
    if n > _TILE:
        base = base.repeat(-(-n // _TILE))[:n]
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
        flat.copy_(base)


def generated(spec: list, seed: int) -> list:
    """The values :func:`fill` gives each entry of ``spec`` (from :func:`entries`)."""
    import torch

    out = []
    for i, (name, shape) in enumerate(spec):
        t = torch.empty(shape, dtype=torch.float64)
        fill(t, name, i, seed)
        out.append(t)
    return out


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


def load_generated(model, spec: list, seed: int) -> str | None:
    """Fill ``model`` (on the CPU) with the values for ``spec``; or why it cannot take them."""
    mapping = _match(model, spec)
    if isinstance(mapping, str):
        return mapping
    state = model.state_dict(keep_vars=True)
    for i, (name, _) in enumerate(spec):
        fill(state[mapping[name]], name, i, seed)
    return None


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


def forward(ns: dict, ctor: dict, spec: list, seed: int, x) -> dict:
    """The model's output in float64 eval mode with the generated reference weights."""
    import torch

    # Built on meta and given uninitialised float64 storage, the model skips its own
    # initialisation (seconds for VGG): every state_dict entry is overwritten anyway.
    # Code that cannot run that way is built on the CPU instead.
    for on_meta in (True, False):
        try:
            model = build(ns, ctor, "meta").to(torch.float64).to_empty(device="cpu") \
                if on_meta else build(ns, ctor, "cpu").to(torch.float64)
            model.eval()
            problem = load_generated(model, spec, seed)
            if problem:
                return {"mismatch": problem}
            with torch.no_grad():
                y, rows = fingerprints(model, lambda: model(torch.from_numpy(x)))
            break
        except Exception:  # noqa: BLE001
            if not on_meta:
                raise
    if not isinstance(y, torch.Tensor):
        return {"mismatch": f"forward() returned {type(y).__name__}, not a tensor."}
    return {"out": y.detach().numpy().copy(), "layers": rows}


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
    """Parameters that get no gradient from a training step, and whether all is finite."""
    import torch

    torch.manual_seed(0)
    model = build(ns, ctor, "cpu").to(torch.float64).train()
    y = model(torch.from_numpy(x))
    if not isinstance(y, torch.Tensor):
        return {"mismatch": f"forward() returned {type(y).__name__}, not a tensor."}
    # Positive, unequal weights: a loss whose weights summed to zero would give no
    # gradient to anything that shifts an output channel by a constant (a last bias).
    (y * torch.linspace(1, 2, y.numel(), dtype=y.dtype).reshape(y.shape)).sum().backward()
    stuck = [n for n, p in model.named_parameters()
             if p.requires_grad and (p.grad is None or not bool(p.grad.abs().sum() > 0))]
    finite = bool(torch.isfinite(y).all()) and all(
        bool(torch.isfinite(p.grad).all()) for p in model.parameters() if p.grad is not None)
    return {"stuck": stuck, "finite": finite}


PROBES = {"structure": structure, "output_shapes": output_shapes, "forward": forward,
          "zero_last_norm": zero_last_norm, "gradients": gradients, "run": run}
