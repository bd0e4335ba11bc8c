"""Architecture as data, for lectures 5-11: per-layer tables and summaries, the traced graph
(depth and receptive field), and a few training steps on a batch of real digits.

Shapes come from forward hooks and multiply-accumulates (MACs) from PyTorch's
own ``torch.utils.flop_counter`` (a MAC is two FLOPs), on the ``meta`` device:
no memory is allocated and no arithmetic is done, so even VGG-19 is described
in milliseconds.  Tested in ``tests/test_arch_tools.py`` and the lectures' tests.
"""
from __future__ import annotations

import contextlib
from typing import Callable, Sequence

import torch
import torch.fx
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from grader.data import digits

from .lecture_tools import count_params, one_thread

# Layers that compute something; activations, dropout and flatten are left out of tables.
COMPUTE = (nn.Conv2d, nn.Linear, nn.BatchNorm2d, nn.MaxPool2d, nn.AvgPool2d,
           nn.AdaptiveAvgPool2d, nn.LocalResponseNorm)


def on_meta(build: Callable[[], nn.Module]) -> nn.Module:
    """``build()`` with every tensor on the meta device (shapes only, no storage)."""
    with torch.device("meta"):
        return build()


def _is_layer(m: nn.Module) -> bool:
    """A leaf module, or a BatchNorm that carries its activation as a parameterless child
    (timm's fused ``BatchNormAct2d``): both are one layer of the table."""
    children = list(m.children())
    return not children or (isinstance(m, nn.BatchNorm2d)
                            and not any(True for c in children for _ in c.parameters()))


def eval_pass(model: nn.Module, input_shape: Sequence[int], handles: list,
              context=None) -> None:
    """One forward pass of a zero image of ``input_shape`` in eval mode, without gradients
    (and inside ``context``, such as a FLOP counter), on the model's device and dtype; the
    forward ``handles`` are removed and the model's mode restored afterwards."""
    first = next(model.parameters())
    was_training = model.training
    model.eval()
    try:
        with context or contextlib.nullcontext(), torch.no_grad():
            model(torch.zeros(1, *input_shape, device=first.device, dtype=first.dtype))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)


def forward_rows(model: nn.Module, input_shape: Sequence[int],
                 modules: dict) -> tuple[list[dict], int]:
    """One forward pass under PyTorch's FLOP counter, for one image of ``input_shape``.

    Returns a row per call of each module in ``modules`` (module -> name), in the
    order they run: ``layer``, ``type``, ``out_shape`` (without the batch),
    ``params`` and ``macs``; and the model's total MACs.  ``model`` may live on
    the meta device.
    """
    rows: list[dict] = []

    def hook(mod, inp, out):
        rows.append({"layer": modules[mod], "type": type(mod).__name__,
                     "out_shape": tuple(out.shape[1:]), "params": count_params(mod), "macs": 0})

    counter = FlopCounterMode(display=False)
    eval_pass(model, input_shape, [m.register_forward_hook(hook) for m in modules], counter)
    flops = counter.get_flop_counts()
    root = type(model).__name__
    for row in rows:
        row["macs"] = int(sum(flops.get(f"{root}.{row['layer']}", {}).values()) // 2)
    return rows, int(counter.get_total_flops() // 2)


def output_shapes(model: nn.Module, input_shape: Sequence[int], names: Sequence[str]) -> dict:
    """Output shape (without the batch) of each named submodule that the forward pass of one
    image calls, from one :func:`eval_pass`. ``names`` are paths as in ``model.get_submodule``
    ("c1", "features.0"). Works on the meta device. A module called twice keeps its first
    output."""
    shapes: dict = {}

    def keep(name):
        def hook(mod, inp, out):  # returns None, so the output is left alone
            shapes.setdefault(name, tuple(out.shape[1:]))
        return hook

    eval_pass(model, input_shape,
              [model.get_submodule(n).register_forward_hook(keep(n)) for n in names])
    return {n: shapes[n] for n in names if n in shapes}


def layer_table(model: nn.Module, input_shape: Sequence[int],
                types: tuple = COMPUTE) -> list[dict]:
    """One row per layer of the given ``types``, in the order the forward pass runs them.

    Columns: ``layer`` (its name in ``state_dict``), ``type``, ``out_shape``
    (without the batch), ``params`` and ``macs`` (for one image).  A layer
    called twice gets two rows.  ``model`` may live on the meta device.
    """
    modules = {m: name for name, m in model.named_modules() if isinstance(m, types) and _is_layer(m)}
    return forward_rows(model, input_shape, modules)[0]


def conv_weights(module: nn.Module) -> int:
    """Weights of the convolutions only (no biases, no BatchNorm scales): what the papers'
    formulas count."""
    return sum(m.weight.numel() for m in module.modules() if isinstance(m, nn.Conv2d))


def top5_error(name: str, version: str = "IMAGENET1K_V1") -> float:
    """Top-5 error (%) that torchvision's documentation gives for a weights entry, read from
    its metadata (nothing is downloaded): one 224x224 centre crop, ImageNet-1K validation."""
    import torchvision

    meta = torchvision.models.get_model_weights(name)[version].meta
    return round(100 - meta["_metrics"]["ImageNet-1K"]["acc@5"], 3)


def count(model: nn.Module, input_shape: Sequence[int]) -> dict:
    """Parameters and MACs for one image, from a single pass (no table): for sweeps."""
    return {"params": count_params(model), "macs": forward_rows(model, input_shape, {})[1]}


def summary(model: nn.Module, input_shape: Sequence[int]) -> dict:
    """Totals for one image: parameters, MACs and depth (weight layers on the longest path).

    Depth counts convolutions and linear layers the way the papers do
    ("VGG-16" has 13 convolutions and 3 linear layers); a shortcut's 1x1
    projection is not on the longest path, so names containing "downsample"
    are left out.  This holds for chains and ResNets only: for branched
    networks (GoogLeNet) use the longest path of the traced graph instead
    (:func:`depth`).
    """
    modules = {m: name for name, m in model.named_modules()
               if isinstance(m, (nn.Conv2d, nn.Linear)) and _is_layer(m)}
    rows, macs = forward_rows(model, input_shape, modules)
    return {"params": count_params(model), "macs": macs,
            "weight_layers": sum(1 for r in rows if "downsample" not in r["layer"])}


# ---------------------------------------------------------------------------
# Depth and receptive field from the traced graph
# ---------------------------------------------------------------------------

# Pooling to a fixed size: the output depends on every pixel of the input.
GLOBAL_POOLS = (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)


def trace(model: nn.Module, leaves: tuple[type, ...] = ()) -> torch.fx.Graph:
    """The forward graph of ``model`` (eval mode); modules of the ``leaves`` types stay single
    nodes (timm's conv-BN-ReLU blocks: fast and readable) instead of being traced through."""

    class Tracer(torch.fx.Tracer):
        def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
            return isinstance(m, leaves) or super().is_leaf_module(m, qualname)

    return Tracer().trace(model.eval())


def _hw(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def rf_layer(module: nn.Module) -> tuple | None:
    """``(kind, kernel, stride, dilation)`` of a convolution (kind ``"conv"``) or a max or
    average pool (``"pool"``), each size a (height, width) pair; None for a layer that keeps
    the receptive field."""
    if isinstance(module, nn.Conv2d):
        return "conv", _hw(module.kernel_size), _hw(module.stride), _hw(module.dilation)
    if isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
        return "pool", _hw(module.kernel_size), _hw(module.stride or module.kernel_size), (1, 1)
    return None


def _lt_format(layer: tuple) -> tuple:
    """An :func:`rf_layer` in :func:`lecture_tools.receptive_field`'s format: ``(k, s, d)``
    or ``("pool", k, s)``."""
    kind, k, s, d = layer
    if k[0] != k[1] or s[0] != s[1] or d[0] != d[1]:
        raise ValueError(f"a non-square layer {layer} has no single (k, s, d)")
    return ("pool", k[0], s[0]) if kind == "pool" else (k[0], s[0], d[0])


def rf_chain(model: nn.Module, skip: Sequence[str] = ()) -> list[tuple[str, tuple]]:
    """``(name, layer)`` for every convolution and max or average pool of ``model`` in module
    order, the layer in :func:`lecture_tools.receptive_field`'s format, leaving out modules
    whose names contain one of ``skip`` (shortcut projections, which never see more than
    the long path). For networks that register their layers in the order the forward pass
    runs them, this is the longest path; for branched ones use :func:`graph_walk`."""
    return [(name, _lt_format(layer)) for name, m in model.named_modules()
            if (layer := rf_layer(m)) is not None and not any(part in name for part in skip)]


def _square(entry: dict) -> dict:
    """A per-axis walk entry with single numbers, and its path in the format of
    :func:`lecture_tools.receptive_field`."""
    if entry["r"][0] != entry["r"][1] or entry["j"][0] != entry["j"][1]:
        raise ValueError("a non-square field: walk with per_axis=True")
    return {**entry, "r": entry["r"][0], "j": entry["j"][0],
            "path": [_lt_format(layer) for layer in entry["path"]]}


def graph_walk(model: nn.Module, per_axis: bool = False,
               leaves: tuple[type, ...] = ()) -> dict[str, dict]:
    """Walk the traced graph of ``model``; for each module call (keyed by its module name),
    what reaches its output:

    * ``depth``: weight layers (convolutions and linear layers) on the longest path from
      the input, this one included: the way the papers count;
    * ``r`` and ``j``: receptive field and jump (the recurrence of
      :func:`lecture_tools.receptive_field`), the largest field over all paths that meet
      there (their jumps must agree); single numbers, or with ``per_axis`` (height, width)
      pairs, each axis on its own, so that a 1x7 followed by a 7x1 gives 7x7;
    * ``global``: True once a global pooling (a network's head, or the squeeze of an SE
      module, ``x.mean((2, 3))``) lies on some path: the output depends on every pixel;
    * ``path`` (not with ``per_axis``): the chain of layers along which the field is reached,
      in :func:`lecture_tools.receptive_field`'s format.

    ``leaves``: module types kept whole (see :func:`trace`); such a block counts as the
    convolution it wraps (``.conv``). The field is only meaningful up to the last
    convolution or pool; flatten and linear layers pass it on unchanged.
    """
    modules = dict(model.named_modules())
    state: dict = {}
    out: dict[str, dict] = {}
    for node in trace(model, leaves).nodes:
        if node.op == "placeholder":
            state[node] = {"depth": 0, "r": (1, 1), "j": (1, 1), "global": False, "path": []}
            continue
        ins = [state[a] for a in node.all_input_nodes if a in state]
        if not ins:
            continue
        if len({s["j"] for s in ins}) > 1:
            raise ValueError(f"paths with different jumps meet at {node.name}")
        cur = {"depth": max(s["depth"] for s in ins),
               "r": tuple(max(s["r"][a] for s in ins) for a in (0, 1)), "j": ins[0]["j"],
               "global": any(s["global"] for s in ins),
               "path": max(ins, key=lambda s: s["r"])["path"]}
        if node.op == "call_method" and node.target == "mean":
            cur["global"] = True
        if node.op == "call_module":
            m = modules[node.target]
            layer_module = m.conv if isinstance(m, leaves) else m
            if isinstance(layer_module, (nn.Conv2d, nn.Linear)):
                cur["depth"] += 1
            if isinstance(m, GLOBAL_POOLS):
                cur["global"] = True
            layer = rf_layer(layer_module)
            if layer is not None:
                _, k, s, d = layer
                cur["r"] = tuple(cur["r"][a] + (k[a] - 1) * d[a] * cur["j"][a] for a in (0, 1))
                cur["j"] = tuple(cur["j"][a] * s[a] for a in (0, 1))
                cur["path"] = cur["path"] + [layer]
            out[node.target] = cur
        state[node] = cur
    if per_axis:
        return {name: {k: v for k, v in e.items() if k != "path"} for name, e in out.items()}
    return {name: _square(e) for name, e in out.items()}


def depth(model: nn.Module, walk: dict | None = None) -> int:
    """Weight layers on the longest input-to-output path (VGG-16: 16, GoogLeNet: 22); pass
    ``walk`` to reuse a :func:`graph_walk` of ``model`` already computed."""
    walk = graph_walk(model, per_axis=True) if walk is None else walk
    return max(v["depth"] for v in walk.values())


# ---------------------------------------------------------------------------
# A few optimizer steps on a tiny batch of digits
# ---------------------------------------------------------------------------


def digits_batch(n: int = 10, size: int = 32, channels: int = 1, pad: int = 0,
                 standardize: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` real handwritten digits of ``grader.data.digits`` (training split), the classes
    in turn 0, 1, ..., 9, 0, ...: a balanced float32 batch ``(n, channels, size, size)``
    and its labels. Nothing is downloaded (the scans ship with scikit-learn).

    The 8x8 scans (values in [0, 1]) are enlarged (bilinear) to ``size - 2 pad`` pixels and
    framed by ``pad`` zeros (LeNet-5 saw 28x28 MNIST digits centred in a 32x32 field);
    ``channels`` copies make an RGB-shaped batch; ``standardize`` gives it mean 0, std 1.
    """
    images, labels = digits("train", size - 2 * pad).tensors
    by_class = [torch.nonzero(labels == c).flatten() for c in range(10)]
    idx = torch.stack([by_class[i % 10][i // 10] for i in range(n)])
    x = F.pad(images[idx], (pad,) * 4).repeat(1, channels, 1, 1)
    if standardize:
        x = (x - x.mean()) / x.std()
    return x, labels[idx]


def train_steps(build: Callable[[], nn.Module], x: torch.Tensor, y: torch.Tensor,
                steps: int = 10, lr: float = 3e-3, seed: int = 0,
                final: bool = False) -> list[float]:
    """Build a model under a fixed seed and take ``steps`` full-batch Adam steps on the
    cross-entropy of the batch ``x``, ``y``.

    Returns the loss before each step and, with ``final``, after the last one too (still in
    training mode, so BatchNorm uses the batch's statistics throughout). Same seed, same
    numbers: initial weights and dropout masks both come from the seeded generator. Runs on
    one thread: for networks this small PyTorch's intra-op threads mostly wait for each
    other, which on a busy 2-core machine costs seconds.
    """
    with one_thread():
        torch.manual_seed(seed)
        model = build().train()
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        losses = []
        for _ in range(steps):
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        if final:
            with torch.no_grad():
                losses.append(F.cross_entropy(model(x), y).item())
    return losses
