"""Helpers for Lecture 9, "Inception-v4 and SENet". The notebook imports this module as ``ist``.

Like the other lecture modules it holds three kinds of things:

* the architectures **as data**: timm's ``inception_v4``, ``inception_resnet_v2`` and
  ``legacy_seresnet50`` (and torchvision's ResNet-50) built on the meta device, per-layer,
  per-block and per-stage tables (rows from :func:`arch_tools.layer_table`, plus timm's
  fused BatchNorm layers, which that function does not see), depth and receptive field
  from :func:`arch_tools.graph_walk` per axis (rectangular 1x7 / 7x1 kernels included),
  the residual additions of a network, the SE parameter formula of Hu et al., and the
  ImageNet errors of the papers with their sources;
* small **constructions that explain an idea**: the convolution block that timm's
  Inception networks use (to build a single block as the network does), a stack of
  Inception-ResNet-A blocks with a chosen residual scale, the per-channel factors of an
  SE module, a hand-set SE module for [S3]'s "mouth, nose, eyes" example;
* **figure functions**. Each returns a :class:`matplotlib.figure.Figure` built with the
  object-oriented API, so the notebook shows it as the last expression of a cell and a
  test can draw it without a screen. The block figures read channels, kernels and
  strides off the timm modules themselves.

Every function is checked against PyTorch, timm and torchvision in
``tests/test_lecture_inception_senet.py``.

Deliberately absent: the SE block, the SE bottleneck, SE-ResNet-50 and the Inception-v4
blocks and network. Problem set 7 asks students to write them; the lecture uses
``timm.models.senet`` and ``timm.models.inception_v4`` instead.
"""

from __future__ import annotations

import operator
import re
from collections import OrderedDict
from functools import partial
from typing import Callable, Sequence

import numpy as np
import timm
import torch
import torch.nn as nn
import torchvision
from matplotlib.figure import Figure
from timm.layers import ConvNormAct
from timm.models.inception_resnet_v2 import Block35
from timm.models.senet import SEModule

from . import arch_tools as at
from . import figures as fg
from . import lecture_tools as lt

#: Module types that :func:`arch_tools.trace` keeps whole here: timm's conv-BN-ReLU blocks.
CONV_BLOCKS = (ConvNormAct,)

#: Input sizes: the Inception networks are trained on 299x299 images, the ResNets on 224x224.
INPUT_299, INPUT_224 = (3, 299, 299), (3, 224, 224)

#: The networks of the lecture: display name -> (library, builder name, input shape).
MODELS = OrderedDict([
    ("Inception-v4", ("timm", "inception_v4", INPUT_299)),
    ("Inception-ResNet-v2", ("timm", "inception_resnet_v2", INPUT_299)),
    ("ResNet-50", ("torchvision", "resnet50", INPUT_224)),
    ("SE-ResNet-50", ("timm", "legacy_seresnet50", INPUT_224)),
])

#: Inception-v4's stages, in order, with the number of blocks of each (Szegedy et al. 2017, Fig. 9).
V4_STAGES = [("stem", 6), ("Inception-A", 4), ("Reduction-A", 1), ("Inception-B", 7),
             ("Reduction-B", 1), ("Inception-C", 3), ("head", 2)]

#: (blocks, output channels) of ResNet-50's four stages: the N_s and C_s of Hu et al.'s formula.
RESNET50_STAGES = [(3, 256), (4, 512), (6, 1024), (3, 2048)]

#: Szegedy et al. 2017, Table 2: (top-1, top-5) error (%), single model, single crop.
SZEGEDY_TABLE2 = OrderedDict([("Inception-v3", (21.2, 5.6)), ("Inception-ResNet-v1", (21.3, 5.5)),
                              ("Inception-v4", (20.0, 5.0)), ("Inception-ResNet-v2", (19.9, 4.9))])

#: Top-5 error (%) on the ILSVRC classification test set: (year, entry, error, source).
ILSVRC = [
    (2012, "AlexNet (1st)", 16.43, "[S4]"),
    (2014, "VGG (2nd)", 7.32, "[S4]"),
    (2014, "GoogLeNet (1st)", 6.67, "Szegedy et al. 2015, Table 2"),
    (2015, "ResNet ensemble (1st)", 3.57, "He et al. 2016, abstract"),
    (2016, "Inception-v4 + 3 Inception-ResNet-v2 (after the challenge)", 3.08,
     "Szegedy et al. 2017, abstract"),
    (2016, "winner of ILSVRC 2016", 2.991, "Hu et al. 2018"),
    (2017, "SENet ensemble (1st)", 2.251, "Hu et al. 2018, abstract"),
]

#: Top-5 error (%), single model, single crop, ILSVRC 2012 validation set, each from its own
#: paper: Szegedy et al. 2017 Table 2 (299x299); Hu et al. 2018 Table 2 (224x224, their
#: re-training of ResNet-50).
TOP5 = OrderedDict([("Inception-v4", 5.0), ("Inception-ResNet-v2", 4.9), ("ResNet-50 v1", 7.48),
                    ("SE-ResNet-50", 6.62)])


# ---------------------------------------------------------------------------
# Building the networks
# ---------------------------------------------------------------------------


def build(name: str, **kwargs) -> nn.Module:
    """A network of :data:`MODELS` (display name) or a timm builder name, untrained, on meta."""
    if name in MODELS:
        lib, builder, _ = MODELS[name]
    else:
        lib, builder = "timm", name
    if lib == "torchvision":
        return at.on_meta(lambda: getattr(torchvision.models, builder)(weights=None, **kwargs))
    return at.on_meta(lambda: timm.create_model(builder, pretrained=False, **kwargs))


def conv_block(eps: float = 1e-3) -> Callable[..., ConvNormAct]:
    """The convolution block timm's ``InceptionV4`` and ``InceptionResnetV2`` pass to their blocks:
    convolution without bias, BatchNorm with TensorFlow's ``eps=0.001``, ReLU; no padding
    unless a layer asks for it (the paper's "V", valid, layers)."""
    return partial(ConvNormAct, padding=0, norm_layer="batchnorm2d", act_layer="relu",
                   norm_kwargs=dict(eps=eps), act_kwargs=dict(inplace=True))


def make_block(cls: type, **kwargs) -> nn.Module:
    """One timm Inception block (``InceptionA``, ``Block35``, ...) exactly as the network builds it."""
    return cls(conv_block=conv_block(), **kwargs)


# ---------------------------------------------------------------------------
# The architecture as data
# ---------------------------------------------------------------------------


def layer_table(model: nn.Module, input_shape: Sequence[int]) -> list[dict]:
    """:func:`arch_tools.layer_table`, which counts timm's fused ``BatchNormAct2d`` (BatchNorm
    with its ReLU as a child module) as a layer, so the Inception networks' totals add up."""
    return at.layer_table(model, input_shape)


def _is_leaf(m: nn.Module) -> bool:
    return not list(m.children())


def blocks_of(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The network's blocks in forward order: its top-level children, with a ``Sequential`` of
    composite modules (timm's ``features``, a ResNet's ``layer1``) opened into its items.
    Activations, dropout and flatten layers are left out."""
    out = []
    for name, child in model.named_children():
        if isinstance(child, (nn.ReLU, nn.Dropout, nn.Flatten, nn.Identity)):
            continue
        items = list(child.named_children()) if isinstance(child, nn.Sequential) else []
        if items and not any(_is_leaf(m) for _, m in items):
            out += [(f"{name}.{n}", m) for n, m in items]
        else:
            out.append((name, child))
    return out


def macs(model: nn.Module, input_shape: Sequence[int]) -> int:
    """Multiply-accumulates for one image (the total of :func:`layer_table`'s ``macs`` column,
    from one pass without building the table)."""
    return at.count(model, input_shape)["macs"]


def tables(model: nn.Module, input_shape: Sequence[int]) -> tuple[list[dict], list[dict]]:
    """:func:`layer_table` and :func:`block_table` from a single forward pass."""
    shapes: dict[str, tuple] = {}
    hooks = _shape_hooks(model, shapes)
    try:
        rows = layer_table(model, input_shape)
    finally:
        for h in hooks:
            h.remove()
    return rows, _blocks(model, rows, shapes)


def _shape_hooks(model: nn.Module, shapes: dict) -> list:
    def keep(name):
        def hook(mod, inp, out):  # returns None: the output is left alone
            shapes.setdefault(name, tuple(out.shape[1:]))
        return hook

    return [m.register_forward_hook(keep(n)) for n, m in blocks_of(model)]


def block_table(model: nn.Module, input_shape: Sequence[int],
                rows: list[dict] | None = None) -> list[dict]:
    """One row per block of :func:`blocks_of`: ``block``, ``type``, ``out_shape`` (from a forward
    hook, so an Inception block shows its concatenation), ``params`` and ``macs`` (summed
    from :func:`layer_table`; pass ``rows`` to reuse a table already computed, or use
    :func:`tables` to get both from one pass)."""
    if rows is None:
        return tables(model, input_shape)[1]
    shapes: dict[str, tuple] = {}
    at.eval_pass(model, input_shape, _shape_hooks(model, shapes))
    return _blocks(model, rows, shapes)


def _blocks(model: nn.Module, rows: list[dict], shapes: dict) -> list[dict]:
    blocks = blocks_of(model)
    table = []
    for name, m in blocks:
        mine = [r for r in rows if r["layer"] == name or r["layer"].startswith(name + ".")]
        table.append({"block": name, "type": type(m).__name__, "out_shape": shapes[name],
                      "params": at.count_params(m), "macs": sum(r["macs"] for r in mine)})
    return table


def v4_stage_of(block_row: dict, index: int) -> str:
    """Stage of the ``index``-th row of Inception-v4's :func:`block_table` (see :data:`V4_STAGES`)."""
    bounds = np.cumsum([n for _, n in V4_STAGES])
    return V4_STAGES[int(np.searchsorted(bounds, index, side="right"))][0]


def resnet_stage_of(block_row: dict, index: int) -> str:
    """Stage of a ResNet or SENet block: ``stem``, ``layer1``-``layer4`` or ``head``."""
    top = block_row["block"].split(".")[0]
    if top.startswith("layer") and top != "layer0":
        return top
    return "head" if top in ("avgpool", "fc", "global_pool", "last_linear") else "stem"


def stage_table(blocks: list[dict], stage_of: Callable[[dict, int], str]) -> list[dict]:
    """Group consecutive rows of :func:`block_table` into stages: ``stage``, ``blocks``,
    ``out_shape`` (of the stage's last block), ``params``, ``macs``."""
    out: list[dict] = []
    for i, r in enumerate(blocks):
        name = stage_of(r, i)
        if not out or out[-1]["stage"] != name:
            out.append({"stage": name, "blocks": 0, "out_shape": None, "params": 0, "macs": 0})
        s = out[-1]
        s["blocks"] += 1
        s["out_shape"] = r["out_shape"]
        s["params"] += r["params"]
        s["macs"] += r["macs"]
    return out


# ---------------------------------------------------------------------------
# Receptive field and residual additions from the traced graph
# ---------------------------------------------------------------------------


def _unwrap(m: nn.Module) -> nn.Module:
    """The convolution inside one of timm's conv blocks, else the module itself."""
    return m.conv if isinstance(m, CONV_BLOCKS) else m


def receptive_field(model: nn.Module, prefix: str | None = None, walk: dict | None = None) -> dict:
    """Receptive field (``r``, ``j``, ``depth``, ``global``) of the output of module ``prefix``,
    the largest over its layers (per axis); by default over all convolutions and pools,
    i.e. that of the last one before the global pooling. ``global`` tells whether that
    output also depends on every pixel through an SE module's squeeze. ``walk``: this
    lecture's :func:`arch_tools.graph_walk` of ``model`` (per axis, ``leaves=CONV_BLOCKS``),
    if already computed."""
    if walk is None:
        walk = at.graph_walk(model, per_axis=True, leaves=CONV_BLOCKS)
    if prefix is None:
        modules = dict(model.named_modules())
        hits = [v for k, v in walk.items() if at.rf_layer(_unwrap(modules[k])) is not None]
    else:
        hits = [v for k, v in walk.items() if k == prefix or k.startswith(prefix + ".")]
    if not hits:
        raise KeyError(prefix)
    # Per axis: the output's channels come from different paths (a concatenation), and the
    # path with the tallest field need not be the one with the widest.
    r = tuple(max(v["r"][a] for v in hits) for a in (0, 1))
    return {"r": r, "j": max(v["j"] for v in hits), "depth": max(v["depth"] for v in hits),
            "global": any(v["global"] for v in hits)}


def residual_additions(model: nn.Module) -> int:
    """How many tensor additions (``a + b``, ``torch.add``) the forward pass does: one per
    residual connection in these networks."""
    adds = (operator.add, operator.iadd, torch.add)
    return sum(1 for n in at.trace(model, CONV_BLOCKS).nodes
               if (n.op == "call_function" and n.target in adds)
               or (n.op == "call_method" and n.target in ("add", "add_")))


# ---------------------------------------------------------------------------
# Inception-ResNet: scaled residuals
# ---------------------------------------------------------------------------


@torch.no_grad()
def residual_parts(block: nn.Module, x: torch.Tensor) -> dict:
    """Run an Inception-ResNet block (``Block35``/``Block17``/``Block8``) on ``x`` and return
    ``x``, the residual branch before scaling (the output of its linear 1x1 ``conv2d``),
    the block's ``scale`` and its output."""
    seen = {}
    handle = block.conv2d.register_forward_hook(lambda m, i, o: seen.__setitem__("branch", o.clone()))
    try:
        out = block(x.clone())
    finally:
        handle.remove()
    return {"x": x, "branch": seen["branch"], "scale": block.scale, "out": out}


def scaled_stack(n: int, scale: float, seed: int = 0) -> nn.Sequential:
    """``n`` Inception-ResNet-A blocks (timm's ``Block35``, 320 channels) with residual ``scale``,
    float64. The same seed gives the same weights whatever the scale."""
    torch.manual_seed(seed)
    return nn.Sequential(*[make_block(Block35, scale=scale) for _ in range(n)]).double()


def rescale(stack: nn.Sequential, scale: float) -> nn.Sequential:
    """Set the residual scale of every block of ``stack`` (in place; the weights stay)."""
    for block in stack:
        block.scale = scale
    return stack


@torch.no_grad()
def activation_growth(stack: nn.Sequential, batch: int = 2, size: int = 8,
                      seed: int = 1) -> dict[str, np.ndarray]:
    """Push a batch through ``stack`` (training mode, as in the first step of training).

    Returns ``norm``: ||x_l|| / ||x_0|| for the input and every block's output, and
    ``change``: ||x_l - x_(l-1)|| / ||x_(l-1)||, how much each block changes its input.
    """
    g = torch.Generator().manual_seed(seed)
    channels = stack[0].conv2d.out_channels
    x = torch.relu(torch.randn(batch, channels, size, size, generator=g, dtype=torch.float64))
    acts = [x]
    stack.train()
    with lt.one_thread():
        for block in stack:
            acts.append(block(acts[-1].clone()))
    norms = np.array([a.norm().item() for a in acts])
    change = np.array([(b - a).norm().item() / a.norm().item() for a, b in zip(acts, acts[1:])])
    return {"norm": norms / norms[0], "change": change}


# ---------------------------------------------------------------------------
# Squeeze-and-excitation
# ---------------------------------------------------------------------------


def se_params(channels: int, reduction: int = 16, bias: bool = True) -> int:
    """Parameters of an SE module on ``channels`` channels: two fully connected layers,
    C -> C/r -> C, i.e. 2 C^2 / r weights (plus C/r + C biases)."""
    hidden = channels // reduction
    return 2 * channels * hidden + (hidden + channels if bias else 0)


def se_network_weights(stages: Sequence[tuple[int, int]] = RESNET50_STAGES,
                       reduction: int = 16) -> int:
    """Hu et al.'s count of the weights SE blocks add to a network (Section 4, Eq. 5):
    (2 / r) * sum over stages of N_s C_s^2, with N_s blocks of C_s output channels."""
    return sum(2 * n * c * (c // reduction) for n, c in stages)


def se_elementwise_ops(stages: Sequence[tuple[int, int, int]]) -> int:
    """Operations the FLOP counter does not see: per SE block one addition per element for the
    squeeze (global average) and one multiplication per element for the scaling.
    ``stages`` holds (blocks, channels, map side)."""
    return sum(2 * n * c * side * side for n, c, side in stages)


@torch.no_grad()
def se_factors(se: SEModule, x: torch.Tensor) -> torch.Tensor:
    """The excitation s, shape (N, C): the sigmoid's output of timm's ``SEModule`` for ``x``."""
    seen = {}
    handle = se.sigmoid.register_forward_hook(lambda m, i, o: seen.__setitem__("s", o))
    try:
        se(x.clone())
    finally:
        handle.remove()
    return seen["s"].flatten(1)


@torch.no_grad()
def se_by_hand(se: SEModule, x: torch.Tensor) -> torch.Tensor:
    """The SE block's formula written out with the module's weights:
    z = mean over H, W (squeeze); s = sigmoid(W2 ReLU(W1 z + b1) + b2) (excitation);
    output = s_c * x_c (scale). The fully connected layers are 1x1 convolutions in timm."""
    z = x.mean(dim=(2, 3))
    w1, w2 = se.fc1.weight.flatten(1), se.fc2.weight.flatten(1)
    s = torch.sigmoid(torch.relu(z @ w1.T + se.fc1.bias) @ w2.T + se.fc2.bias)
    return x * s[:, :, None, None]


#: [S3]'s example: an SE module over four feature maps.
TOY_CHANNELS = ("mouth", "nose", "eyes", "background")


@torch.no_grad()
def se_toy() -> SEModule:
    """A hand-set SE module (4 channels, reduction 2) for [S3]'s example: its hidden unit 0
    fires when the mouth and nose maps are both active on average ("a face"); the gate of
    the eye map opens with it. The other gates stay at fixed values."""
    se = SEModule(4, reduction=2).double()
    se.fc1.weight.zero_()
    se.fc1.bias.zero_()
    se.fc2.weight.zero_()
    se.fc1.weight[0, :2, 0, 0] = 2.0          # h0 = ReLU(2 (z_mouth + z_nose) - 2)
    se.fc1.bias[0] = -2.0
    se.fc2.bias.copy_(torch.tensor([3.0, 3.0, -3.0, -1.0], dtype=torch.float64))
    se.fc2.weight[2, 0, 0, 0] = 3.0            # eyes: sigmoid(3 h0 - 3)
    return se


def toy_maps(mouth: float, nose: float, eyes: float, background: float = 0.5,
             size: int = 6) -> torch.Tensor:
    """A (1, 4, size, size) batch whose maps are constant: the mean activation of each map."""
    vals = torch.tensor([mouth, nose, eyes, background], dtype=torch.float64)
    return vals[None, :, None, None].expand(1, 4, size, size).clone()


# ---------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------


# This lecture's diagrams: dark outlines, small text, filled arrow heads.
_box = partial(fg.box, ec=fg.DARK, lw=0.9, fontsize=7.5)
_arrow = partial(fg.arrow, style="-|>", size=9, lw=0.9, color=fg.DARK)


def describe(m: nn.Module) -> tuple[str, str, int]:
    """(label, colour, output channels or 0 for "as many as in") of one layer of a block."""
    conv = _unwrap(m)
    if isinstance(conv, nn.Conv2d):
        _, (kh, kw), stride, _ = at.rf_layer(conv)
        label = f"{kh}x{kw} conv, {conv.out_channels}"
        if stride != (1, 1):
            label += f"\nstride {stride[0]}"
        if conv.padding == (0, 0) and (kh, kw) != (1, 1):
            label += ", V" if "\n" in label else "\nV (no padding)"
        if not isinstance(m, ConvNormAct):
            label += "\nlinear (no BN, no ReLU)"
            return label, fg.LIGHT_PURPLE, conv.out_channels
        colour = fg.PALE_ORANGE if (kh, kw) == (1, 1) else (fg.BLUE if kh == kw else fg.GREEN)
        return label, colour, conv.out_channels
    if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
        kind = "max" if isinstance(m, nn.MaxPool2d) else "avg"
        _, (k, _), (s, _), _ = at.rf_layer(m)
        return f"{k}x{k} {kind} pool" + (f"\nstride {s}" if s > 1 else ""), fg.GREY, 0
    raise TypeError(type(m))


def branches(block: nn.Module) -> list[list]:
    """The parallel branches of a timm Inception block, each a list of layers in order; a
    tuple in a branch is a split (InceptionC's 1x3 and 3x1 side by side, concatenated).

    Children named ``branchK`` (or ``branchK_S`` / ``branchK_Sa``) form branch K; a
    block without such names (``Mixed3a``, ``Mixed5a``) has one branch per child. The
    linear ``conv2d`` of an Inception-ResNet block is not a branch.
    """
    named = [(n, m) for n, m in block.named_children() if n not in ("conv2d", "act", "relu")]
    if not any(n.startswith("branch") for n, _ in named):
        return [[m] for _, m in named]
    groups: "OrderedDict[str, OrderedDict]" = OrderedDict()
    for n, m in named:
        k, step, _ = re.fullmatch(r"branch(\d+)(?:_(\d+)([ab])?)?", n).groups()
        steps = groups.setdefault(k, OrderedDict())
        steps.setdefault(step or "0", []).append(m)
    out = []
    for steps in groups.values():
        layers: list = []
        for mods in steps.values():
            if len(mods) > 1:
                layers.append(tuple(mods))
            elif isinstance(mods[0], nn.Sequential):
                layers += list(mods[0])
            else:
                layers.append(mods[0])
        out.append(layers)
    return out


def branch_channels(block: nn.Module, c_in: int) -> list[int]:
    """Output channels of each branch of ``block`` for an input with ``c_in`` channels."""
    widths = []
    for layers in branches(block):
        last = layers[-1]
        if isinstance(last, tuple):
            widths.append(sum(describe(m)[2] for m in last))
        else:
            widths.append(describe(last)[2] or c_in)
    return widths


def _in_channels(block: nn.Module) -> int:
    return next(m for m in block.modules() if isinstance(m, nn.Conv2d)).in_channels


def plot_blocks(blocks: Sequence[nn.Module], titles: Sequence[str]) -> Figure:
    """Inception blocks drawn from their own layers: one column per branch, the layers from
    bottom to top, then the concatenation. An Inception-ResNet block also gets its linear
    1x1 convolution, the residual scale, the shortcut and the addition.

    Orange boxes are 1x1 convolutions, blue square kernels, green the factorised 1xn and
    nx1 kernels, grey pooling, purple the linear 1x1 of a residual block.
    """
    fig = Figure(figsize=(4.6 * len(blocks), 6.4), layout="constrained")
    axes = fig.subplots(1, len(blocks), squeeze=False)[0]
    for ax, block, title in zip(axes, blocks, titles):
        c_in = _in_channels(block)
        bs = branches(block)
        residual = hasattr(block, "scale") and hasattr(block, "conv2d")
        n = len(bs)
        split = any(isinstance(layer, tuple) for b in bs for layer in b)
        xs = np.arange(n) * (2.1 if split else 1.75)
        mid = xs.mean()
        rows = max(len(b) for b in bs)
        step = 0.78
        _box(ax, mid, 0, 2.6, 0.5, f"input: {c_in} channels", fc=fg.GREY)
        top = 0.6 + rows * step
        for x, layers in zip(xs, bs):
            # Every branch starts on the first row; the short ones reach up to the concatenation.
            _arrow(ax, (mid + np.clip(x - mid, -1.1, 1.1), 0.25), (x, 0.6 + step / 2 - 0.28))
            prev = None
            for i, layer in enumerate(layers):
                y = 0.6 + i * step + step / 2
                if isinstance(layer, tuple):
                    for dx, m in zip((-0.5, 0.5), layer):
                        label, colour, _ = describe(m)
                        _box(ax, x + dx, y, 0.92, 0.56, label.replace(", ", "\n", 1), fc=colour,
                             fontsize=6.5)
                        _arrow(ax, (x, prev + 0.28), (x + dx, y - 0.28))
                        _arrow(ax, (x + dx, y + 0.28), (x + dx, top + 0.2))
                else:
                    label, colour, _ = describe(layer)
                    _box(ax, x, y, 1.6, 0.56, label, fc=colour)
                    if prev is not None:
                        _arrow(ax, (x, prev + 0.28), (x, y - 0.28))
                    prev = y
            if not isinstance(layers[-1], tuple):
                _arrow(ax, (x, prev + 0.28), (x, top + 0.2))
        widths = branch_channels(block, c_in)
        _box(ax, mid, top + 0.45, xs[-1] - xs[0] + 1.7, 0.5, "concatenate: "
             + " + ".join(map(str, widths)) + f" = {sum(widths)} channels", fc=fg.GREY)
        y_end = top + 0.45
        if residual:
            label, colour, c_out = describe(block.conv2d)
            _arrow(ax, (mid, top + 0.7), (mid, top + 1.0))
            _box(ax, mid, top + 1.3, 3.0, 0.55, label.replace("\n", ", ", 1), fc=colour)
            _arrow(ax, (mid, top + 1.58), (mid, top + 1.9))
            _box(ax, mid, top + 2.15, 1.6, 0.45, f"x scale = {block.scale:g}", fc=fg.RED)
            fg.circled(ax, mid, top + 2.85, ms=16)
            _arrow(ax, (mid, top + 2.38), (mid, top + 2.68))
            xr = xs[-1] + 1.1
            ax.plot([mid + 1.3, xr, xr], [0, 0, top + 2.85], color=fg.DARK, lw=1.3)
            _arrow(ax, (xr, top + 2.85), (mid + 0.2, top + 2.85))
            ax.text(xr + 0.08, top / 2, "identity shortcut", rotation=90, va="center", fontsize=8)
            relu = getattr(block, "act", None) or getattr(block, "relu", None)
            ax.text(mid, top + 3.35, ("ReLU -> " if relu is not None else "")
                    + f"output: {c_out} channels", ha="center", fontsize=8)
            y_end = top + 3.5
        ax.set_xlim(xs[0] - 1.0, xs[-1] + 1.5)
        ax.set_ylim(-0.5, y_end + 0.3)
        ax.axis("off")
        ax.set_title(title, fontsize=10)
    return fig


def plot_factorised(channels: int = 192, k: int = 7) -> Figure:
    """A k x k convolution next to the 1 x k, k x 1 pair that replaces it: the same k x k
    receptive field (shaded), weights for ``channels`` -> ``channels``."""
    full = lt.conv_params(channels, channels, k, bias=False)
    pair = 2 * lt.conv_params(channels, channels, (1, k), bias=False)
    fig = Figure(figsize=(10, 3.4), layout="constrained")
    axes = fig.subplots(1, 3)
    grids = [np.ones((k, k)), np.zeros((k, k)), np.ones((k, k))]
    grids[1][k // 2] = 1
    titles = [f"{k}x{k} conv: {k * k} taps\n{full:,} weights",
              f"1x{k} conv: one row of {k} taps",
              f"then {k}x1 on its output: {k}x{k} field\n2 x {k} taps, {pair:,} weights"]
    for ax, grid, title in zip(axes, grids, titles):
        ax.imshow(grid, cmap="Blues", vmin=0, vmax=1.6)
        ax.set_xticks(np.arange(-0.5, k), minor=True)
        ax.set_yticks(np.arange(-0.5, k), minor=True)
        ax.grid(which="minor", color="0.6", lw=0.5)
        ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
        ax.set_title(title, fontsize=9)
    fig.suptitle(f"factorising a {k}x{k} convolution ({channels} -> {channels} channels): "
                 f"{full / pair:.1f}x fewer weights", fontsize=10)
    return fig


def plot_se_block(se: SEModule, shape: tuple[int, int, int],
                  factors: np.ndarray | None = None) -> Figure:
    """The SE block as a data flow, with the sizes read off ``se`` for an input of ``shape``
    (C, H, W): squeeze (global average pooling), excitation (FC, ReLU, FC, sigmoid),
    scale. With ``factors`` (one per channel) a second panel shows them."""
    c, h, w = shape
    hidden = se.fc1.out_channels
    panels = 2 if factors is not None else 1
    fig = Figure(figsize=(12, 3.2 * panels), layout="constrained")
    axes = fig.subplots(panels, 1, squeeze=False)[:, 0]
    ax = axes[0]
    steps = [(f"U\n{h}x{w}x{c}", fg.BLUE, 1.3),
             (f"global avg pool\n(squeeze)\n1x1x{c}", fg.GREY, 1.6),
             (f"FC {c}->{hidden}\n(1x1 conv)\n{se.fc1.weight.numel() + se.fc1.bias.numel():,} params",
              fg.PALE_ORANGE, 1.8),
             ("ReLU", fg.GREY, 0.8),
             (f"FC {hidden}->{c}\n(1x1 conv)\n{se.fc2.weight.numel() + se.fc2.bias.numel():,} params",
              fg.PALE_ORANGE, 1.8),
             (f"sigmoid\ns: 1x1x{c}\nin (0, 1)", fg.GREY, 1.3)]
    xs = np.cumsum([0] + [(a[2] + b[2]) / 2 + 0.45 for a, b in zip(steps, steps[1:])])
    for x, (text, colour, width) in zip(xs, steps):
        _box(ax, x, 0, width, 1.0, text, fc=colour, fontsize=8)
    for (x0, a), (x1, b) in zip(zip(xs, steps), zip(xs[1:], steps[1:])):
        _arrow(ax, (x0 + a[2] / 2, 0), (x1 - b[2] / 2, 0))
    xm = xs[-1] + 1.4
    fg.circled(ax, xm, 0, "x", ms=16)
    _arrow(ax, (xs[-1] + steps[-1][2] / 2, 0), (xm - 0.2, 0))
    ax.plot([xs[0], xs[0], xm], [0.5, 1.05, 1.05], color=fg.DARK, lw=1.2)
    _arrow(ax, (xm, 1.05), (xm, 0.2))
    ax.text((xs[0] + xm) / 2, 1.15, "U itself (every channel c multiplied by its s_c)", ha="center",
            fontsize=8)
    _box(ax, xm + 1.3, 0, 1.5, 1.0, f"$\\tilde{{X}}_c = s_c U_c$\n{h}x{w}x{c}", fc=fg.BLUE,
         fontsize=8)
    _arrow(ax, (xm + 0.2, 0), (xm + 0.55, 0))
    ax.text(xs[2] + 0.9, -0.8, f"excitation: bottleneck with reduction r = {c // hidden}",
            ha="center", fontsize=8)
    ax.set_xlim(-0.9, xm + 2.2)
    ax.set_ylim(-1.1, 1.45)
    ax.axis("off")
    ax.set_title(f"squeeze-and-excitation on {c} channels: {at.count_params(se):,} parameters",
                 fontsize=10)
    if factors is not None:
        bx = axes[1]
        bx.bar(np.arange(len(factors)), factors, color=fg.ORANGE, width=0.8)
        bx.axhline(1, color="0.5", lw=0.8, ls="--")
        bx.axhline(0, color="0.5", lw=0.8)
        bx.set_ylim(-0.05, 1.1)
        bx.set_xlabel("channel c")
        bx.set_ylabel("s_c")
        bx.set_title("the factors s_c of one image: every one strictly between 0 and 1", fontsize=9)
    return fig


def plot_se_placements(channels: int = 256, reduction: int = 16) -> Figure:
    """Hu et al.'s Figs. 2 and 3 side by side: the SE block after an Inception module
    (SE-Inception) and on the residual branch of a residual unit, before the addition
    (SE-ResNet)."""
    c, hid = channels, channels // reduction
    fig = Figure(figsize=(11, 6.4), layout="constrained")
    axes = fig.subplots(1, 2)
    se_steps = [("global pooling", f"1x1x{c}", fg.GREY), ("FC", f"1x1x{hid}", fg.PALE_ORANGE),
                ("ReLU", f"1x1x{hid}", fg.GREY), ("FC", f"1x1x{c}", fg.PALE_ORANGE),
                ("sigmoid", f"1x1x{c}", fg.GREY)]
    for ax, residual in zip(axes, (False, True)):
        _box(ax, 0, 0, 1.2, 0.45, "X", fc=fg.GREY)
        body = "residual branch\n(1x1, 3x3, 1x1 convs)" if residual else "Inception module\n(parallel branches)"
        _arrow(ax, (0, 0.23), (0, 0.62))
        _box(ax, 0, 1.0, 2.4, 0.7, body, fc=fg.BLUE)
        ax.text(1.35, 1.0, f"HxWx{c}", fontsize=8, va="center")
        _arrow(ax, (0, 1.35), (0, 1.7))
        ys = 1.95 + np.arange(len(se_steps)) * 0.72
        for y, (name, shape, colour) in zip(ys, se_steps):
            _box(ax, 0, y, 1.8, 0.45, name, fc=colour, fontsize=8)
            ax.text(1.05, y, shape, fontsize=8, va="center")
        for y0, y1 in zip(ys, ys[1:]):
            _arrow(ax, (0, y0 + 0.23), (0, y1 - 0.23))
        ys_scale = ys[-1] + 0.8
        _box(ax, 0, ys_scale, 1.8, 0.45, "scale", fc=fg.RED, fontsize=8)
        _arrow(ax, (0, ys[-1] + 0.23), (0, ys_scale - 0.23))
        ax.plot([-1.3, -1.9, -1.9, -0.9], [1.0, 1.0, ys_scale, ys_scale], color=fg.DARK, lw=1.1)
        _arrow(ax, (-1.0, ys_scale), (-0.9, ys_scale))
        y = ys_scale + 0.75
        if residual:
            fg.circled(ax, 0, y, ms=16)
            _arrow(ax, (0, ys_scale + 0.23), (0, y - 0.2))
            ax.plot([-0.6, -2.6, -2.6, -0.25], [0, 0, y, y], color=fg.ORANGE, lw=1.6)
            _arrow(ax, (-0.3, y), (-0.2, y), color=fg.ORANGE)
            ax.text(-2.75, (y) / 2, "identity: not rescaled", rotation=90, va="center",
                    fontsize=8, color=fg.ORANGE)
            ax.text(0, y + 0.45, "ReLU -> $\\tilde{X}$", ha="center", fontsize=9)
        else:
            _arrow(ax, (0, ys_scale + 0.23), (0, y - 0.1))
            ax.text(0, y + 0.05, "$\\tilde{X}$", ha="center", fontsize=9)
        ax.set_xlim(-3.0, 2.2)
        ax.set_ylim(-0.5, y + 0.8)
        ax.axis("off")
        ax.set_title("SE-ResNet module (Hu et al., Fig. 3)" if residual
                     else "SE-Inception module (Hu et al., Fig. 2)", fontsize=10)
    return fig


def plot_residual_scaling(profiles: dict) -> Figure:
    """Two panels for stacks of residual blocks at several scales: activation norm after each
    block (relative to the input) and how much each block changes its input."""
    fig = Figure(figsize=(11, 3.8), layout="constrained")
    a, b = fig.subplots(1, 2)
    colours = (fg.ORANGE, fg.DARK, fg.BLUE, fg.GREEN, fg.RED)
    for (scale, prof), colour in zip(profiles.items(), colours):
        a.plot(np.arange(len(prof["norm"])), prof["norm"], "o-", ms=3, color=colour,
               label=f"scale {scale:g}")
        b.plot(np.arange(1, len(prof["change"]) + 1), prof["change"], "o-", ms=3, color=colour,
               label=f"scale {scale:g}")
    a.set_xlabel("block")
    a.set_ylabel("||x_l|| / ||x_0||")
    a.set_title("size of the activations", fontsize=10)
    b.set_xlabel("block")
    b.set_ylabel("||x_l - x_(l-1)|| / ||x_(l-1)||")
    b.set_title("how much each block changes its input", fontsize=10)
    for ax in (a, b):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return fig


def plot_comparison(rows: Sequence[dict]) -> Figure:
    """Bars of parameters, MACs and the papers' single-crop top-5 error, one bar per network."""
    palette = {"Inception": fg.BLUE, "SE": fg.ORANGE}
    colours = [next((c for k, c in palette.items() if k in r["network"]), fg.DARK) for r in rows]
    return fg.bar_panels(rows, [("params", "parameters (millions)", 1e6),
                                ("macs", "multiply-accumulates (billions)", 1e9),
                                ("top5", "top-5 error %, single crop (papers)", 1)], colours)
