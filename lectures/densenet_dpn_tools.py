"""Helpers for Lecture 8, "DenseNet and DPN". The notebook imports this module as ``ddt``.

Like the other lecture modules it holds three kinds of things:

* the architectures **as data**: torchvision's DenseNets and timm's DPNs built
  on the meta device, a per-layer table that also sees timm's fused
  BatchNorm + activation layers, a per-block table, the channel layout of
  dense blocks, transitions and dual path blocks, parameter counts by
  formula, the layers on the longest path (for
  :func:`lecture_tools.receptive_field`), and the ImageNet errors of the papers
  with their sources;
* small **measurements that explain an idea**: which earlier outputs feed each
  dense layer (read off torchvision's ``_DenseBlock`` during a forward pass),
  the residual and dense parts of a dual path block computed by hand, and the
  activations autograd keeps for the backward pass (the memory cost of
  concatenation, with and without torchvision's ``memory_efficient``);
* **figure functions**. Each returns a :class:`matplotlib.figure.Figure` built
  with the object-oriented API, so the notebook shows it as the last
  expression of a cell and a test can draw it without a screen.

Every function is checked against torchvision and timm in
``tests/test_lecture_densenet_dpn.py``.

Deliberately absent: the dense layer, dense block, transition, DenseNet,
dual path block and DPN themselves. Problem set 6 asks students to write
them; the lecture uses ``torchvision.models.densenet`` and
``timm.models.dpn`` instead.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Sequence

import numpy as np
import timm
import torch
import torch.nn as nn
import torchvision
from matplotlib.figure import Figure
from matplotlib.patches import Arc, Rectangle
from timm.models import dpn as timm_dpn
from torchvision.models import densenet as tv_densenet
from torchvision.models.resnet import Bottleneck

from . import arch_tools as at
from . import figures as fg
from . import lecture_tools as lt

#: The networks of the lecture: display name -> (library, builder name).
MODELS = OrderedDict([("DenseNet-121", ("torchvision", "densenet121")),
                      ("DPN-68", ("timm", "dpn68")),
                      ("ResNet-50", ("torchvision", "resnet50"))])

#: DenseNet's configurations (Huang et al., Table 1, and torchvision): k, init features, blocks.
DENSENETS = OrderedDict([("densenet121", (32, 64, (6, 12, 24, 16))),
                         ("densenet169", (32, 64, (6, 12, 32, 32))),
                         ("densenet201", (32, 64, (6, 12, 48, 32))),
                         ("densenet161", (48, 96, (6, 12, 36, 24)))])

#: Huang et al., Table 3: ImageNet validation error (%) as
#: ((top-1 with 1 crop, with 10 crops), (top-5 with 1 crop, with 10 crops)).
DENSENET_ERRORS = OrderedDict([("DenseNet-121", ((25.02, 23.61), (7.71, 6.66))),
                               ("DenseNet-169", ((23.80, 22.08), (6.85, 5.92))),
                               ("DenseNet-201", ((22.58, 21.46), (6.34, 5.54))),
                               ("DenseNet-264", ((22.15, 20.80), (6.12, 5.29)))])

#: The authors' README (cypw/DPNs): GFLOPs, top-1 and top-5 error (%), single model, one
#: 224x224 crop, ImageNet-1k validation set.
DPN_ERRORS = OrderedDict([("DPN-68", (2.5, 23.57, 6.93)), ("DPN-92", (6.5, 20.73, 5.37)),
                          ("DPN-98", (11.7, 20.15, 5.15)), ("DPN-131", (16.0, 19.93, 5.12))])

#: Top-5 error (%) of the lecture's networks, each from its own paper's protocol, with the source.
TOP5 = OrderedDict([("DenseNet-121", (7.71, "Huang et al. Table 3, 1 crop")),
                    ("DPN-68", (6.93, "cypw/DPNs README, 1 crop")),
                    ("ResNet-50", (6.71, "He et al. Table 3, 10 crops"))])


# ---------------------------------------------------------------------------
# Building the models
# ---------------------------------------------------------------------------


def _builder(name: str):
    lib, builder = MODELS.get(name, ("timm" if name.startswith("dpn") else "torchvision", name))
    if lib == "timm":
        return lambda **kw: timm.create_model(builder, pretrained=False, **kw)
    return lambda **kw: getattr(torchvision.models, builder)(weights=None, **kw)


def build(name: str, **kwargs) -> nn.Module:
    """A model by display name (``"DPN-68"``) or builder name (``"densenet121"``), untrained,
    on the meta device: shapes and counts, no memory, no arithmetic."""
    make = _builder(name)
    return at.on_meta(lambda: make(**kwargs))


def build_cpu(name: str, seed: int = 0, **kwargs) -> nn.Module:
    """The same model with real (randomly initialised) weights on the CPU, in training mode."""
    torch.manual_seed(seed)
    return _builder(name)(**kwargs).train()


# ---------------------------------------------------------------------------
# The architectures as data
# ---------------------------------------------------------------------------


def layer_table(model: nn.Module, input_shape=(3, 224, 224)) -> list[dict]:
    """:func:`arch_tools.layer_table` at ImageNet's input size."""
    return at.layer_table(model, input_shape)


def block_table(model: nn.Module, input_shape=(3, 224, 224)) -> list[dict]:
    """One row per child of ``model.features`` (stem layers, dense blocks, transitions, dual
    path blocks, final norm) and per head module; the columns add up to the model's totals."""
    return describe(model, input_shape)[1]


def describe(model: nn.Module, input_shape=(3, 224, 224)) -> tuple[dict, list[dict]]:
    """:func:`summary` and :func:`block_table` from one forward pass (a DenseNet or a DPN).

    The summary's MACs are the counter's total, the rows' MACs what it attributes to each
    module, so checking that the rows add up to the total is not circular.
    """
    names = [f"features.{n}" for n, _ in model.features.named_children()]
    names += [n for n, _ in model.named_children() if n != "features"]
    modules = {model.get_submodule(n): n for n in names}
    rows, macs = at.forward_rows(model, input_shape, modules)
    for r in rows:
        r["layer"] = r["layer"].removeprefix("features.")
    return {"params": lt.count_params(model), "macs": macs, "weight_layers": _depth(model)}, rows


def summary(model: nn.Module, input_shape=(3, 224, 224)) -> dict:
    """Parameters, MACs and depth, like :func:`arch_tools.summary` but with one forward pass.

    Depth counts the weight layers (convolutions and linear layers) on the longest path:
    shortcut projections are left out, ResNet's ``downsample`` and DPN's ``c1x1_w``.
    """
    return {**at.count(model, input_shape), "weight_layers": _depth(model)}


#: Names of the shortcut projections: ResNet's ``downsample``, DPN's ``c1x1_w``.
PROJECTIONS = ("downsample", ".c1x1_w")


def _depth(model: nn.Module) -> int:
    return sum(1 for n, m in model.named_modules()
               if isinstance(m, (nn.Conv2d, nn.Linear)) and not any(p in n for p in PROJECTIONS))


def main_path(model: nn.Module) -> list:
    """Convolutions and pools on the longest path, in :func:`lecture_tools.receptive_field`'s
    format: ``(k, s, d)`` or ``('pool', k, s)``. Shortcut projections are left out, and global
    pooling (which sees everything) too. torchvision and timm register these layers in the
    order the forward pass runs them; inside a dense block the longest path runs through every
    layer, because each layer reads the output of the one before."""
    return [layer for _, layer in at.rf_chain(model, skip=PROJECTIONS)]


# ---------------------------------------------------------------------------
# DenseNet: layers, blocks, transitions
# ---------------------------------------------------------------------------


def dense_layers(block: nn.Module) -> list[dict]:
    """Per ``_DenseLayer`` of a torchvision dense block: input channels (what ``norm1`` sees),
    bottleneck width (``conv1``'s output, bn_size * k), new channels (k), and the channel count
    of the block's running concatenation after the layer."""
    rows = []
    for name, layer in block.items():
        c_in, new = layer.norm1.num_features, layer.conv2.out_channels
        rows.append({"layer": name, "in": c_in, "bottleneck": layer.conv1.out_channels,
                     "new": new, "after": c_in + new})
    return rows


def densenet_layout(model: nn.Module) -> list[dict]:
    """Dense blocks and transitions of a torchvision DenseNet: layers, channels in and out,
    growth rate, and for a transition the compression out / in."""
    rows = []
    for name, m in model.features.named_children():
        if isinstance(m, tv_densenet._DenseBlock):
            layers = dense_layers(m)
            rows.append({"module": name, "layers": len(layers), "in": layers[0]["in"],
                         "out": layers[-1]["after"], "k": layers[0]["new"], "theta": ""})
        elif isinstance(m, tv_densenet._Transition):
            rows.append({"module": name, "layers": 1, "in": m.conv.in_channels,
                         "out": m.conv.out_channels, "k": "",
                         "theta": m.conv.out_channels / m.conv.in_channels})
    return rows


def densenet_params(growth_rate: int = 32, block_config: Sequence[int] = (6, 12, 24, 16),
                    num_init_features: int = 64, bn_size: int = 4, num_classes: int = 1000) -> int:
    """DenseNet-BC's parameter count by formula (BatchNorm: 2 per channel, no conv biases).

    A dense layer with c inputs: BN(c) + 1x1 c -> 4k + BN(4k) + 3x3 4k -> k.
    A transition with m inputs: BN(m) + 1x1 m -> floor(m / 2).
    """
    k, b = growth_rate, bn_size * growth_rate
    total = 3 * 49 * num_init_features + 2 * num_init_features          # conv0, norm0
    c = num_init_features
    for i, layers in enumerate(block_config):
        for _ in range(layers):
            total += 2 * c + c * b + 2 * b + 9 * b * k
            c += k
        if i < len(block_config) - 1:
            total += 2 * c + c * (c // 2)
            c //= 2
    return total + 2 * c + c * num_classes + num_classes              # norm5, classifier


def dense_connectivity(block: nn.Module, size: int = 4, seed: int = 0) -> np.ndarray:
    """Which earlier outputs feed each layer of a torchvision ``_DenseBlock`` (real weights).

    Row l-1 describes layer l; column j is x_j (x_0 = the block input, x_j = layer j's output).
    The entry is True when x_j is in the list the block passes to the layer *and* the layer's
    output changes with it: each layer is re-run on detached copies of its inputs, so the
    gradient measures the direct connection only, not the paths through other layers.
    """
    layers = list(block.values())
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(2, layers[0].norm1.num_features, size, size, generator=g, dtype=torch.float64)
    received, outputs = [], []
    hooks = [layer.register_forward_pre_hook(lambda mod, args: received.append(list(args[0])))
             for layer in layers]
    hooks += [layer.register_forward_hook(lambda mod, args, out: outputs.append(out))
              for layer in layers]
    was_training, dtype = block.training, next(block.parameters()).dtype
    block.double().eval()
    try:
        with torch.no_grad():
            block(x)
        sources = [x] + outputs
        matrix = np.zeros((len(layers), len(layers) + 1), dtype=bool)
        for l, (layer, inputs) in enumerate(zip(layers, received)):
            leaves = [t.detach().clone().requires_grad_() for t in inputs]
            grads = torch.autograd.grad(layer(leaves).sum(), leaves)
            for t, gr in zip(inputs, grads):
                j = next(i for i, s in enumerate(sources) if s is t)
                matrix[l, j] = bool(gr.abs().sum() > 0)
    finally:
        for h in hooks:
            h.remove()
        block.to(dtype).train(was_training)
    return matrix


def set_memory_efficient(model: nn.Module, on: bool = True) -> nn.Module:
    """Switch torchvision's checkpointed dense layers on or off, in place (same weights)."""
    for m in model.modules():
        if isinstance(m, tv_densenet._DenseLayer):
            m.memory_efficient = on
    return model


# ---------------------------------------------------------------------------
# Memory: what autograd keeps for the backward pass
# ---------------------------------------------------------------------------


def saved_activations(module: nn.Module, x: torch.Tensor) -> int:
    """Numbers (floats) that autograd keeps for the backward pass of ``module(x)``.

    Counts each storage once, over the 4-D tensors saved by the forward pass
    (``torch.autograd.graph.saved_tensors_hooks``), leaving out the parameters (they are
    kept anyway). BatchNorm saves its input, ReLU its output, a convolution its input;
    ``torch.cat`` saves nothing, but the layer after it saves the concatenation.
    """
    params = {p.untyped_storage().data_ptr() for p in module.parameters()}
    seen: dict[int, int] = {}

    def pack(t):
        ptr = t.untyped_storage().data_ptr()
        if t.dim() == 4 and ptr not in params:
            seen[ptr] = t.untyped_storage().nbytes() // t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        module(x)
    return sum(seen.values())


def dense_block_saved(c0: int, growth_rate: int, layers: int, bn_size: int = 4,
                      memory_efficient: bool = False) -> int:
    """Floats per pixel that a torchvision dense block keeps for the backward pass (training).

    Plain: layer l saves its concatenated input c0 + (l-1)k (for BN) and its ReLU'd copy (for
    the 1x1 convolution), plus 2 x 4k after the bottleneck: quadratic in the number of layers.
    ``memory_efficient``: the concatenation, BN, ReLU and 1x1 are recomputed in the backward
    pass; only the pieces x_0, ..., x_{L-1} (kept once) and the 2 x 4k remain: linear.
    """
    b = bn_size * growth_rate
    if memory_efficient:
        return c0 + (layers - 1) * growth_rate + layers * 2 * b
    return sum(2 * (c0 + l * growth_rate) for l in range(layers)) + layers * 2 * b


def memory_curves(max_layers: int = 24, c0: int = 64, growth_rate: int = 32,
                  size: int = 4, step: int = 1) -> dict:
    """Measured floats per pixel kept for the backward pass, against the number of 3x3
    convolutions: a dense block (plain and ``memory_efficient``) with ``c0`` input channels, and a
    stage of torchvision bottlenecks on 256 channels (ResNet-50's first stage, identity
    shortcuts; one 3x3 convolution per unit). Tiny maps; the counts scale with the area."""
    depths = list(range(1, max_layers + 1, step))
    curves = {"dense block": [], "dense block, memory_efficient": [],
              "residual stage (bottlenecks, 256 channels)": []}
    with lt.one_thread():
        for n in depths:
            torch.manual_seed(0)
            block = tv_densenet._DenseBlock(n, c0, 4, growth_rate, 0.0).train()
            x = torch.randn(2, c0, size, size, requires_grad=True)
            curves["dense block"].append(saved_activations(block, x) // (2 * size * size))
            set_memory_efficient(block, True)
            curves["dense block, memory_efficient"].append(
                saved_activations(block, x) // (2 * size * size))
            stage = nn.Sequential(*[Bottleneck(256, 64) for _ in range(n)]).train()
            x = torch.randn(2, 256, size, size, requires_grad=True)
            curves["residual stage (bottlenecks, 256 channels)"].append(
                saved_activations(stage, x) // (2 * size * size))
    return {"convs": depths, **curves}


def network_saved(model: nn.Module, size: int = 32, full: int = 224) -> int:
    """Floats kept for the backward pass for one ``full x full`` image, in training mode.

    Measured on a batch of two ``size x size`` images (BatchNorm needs two values per channel
    even on the 1x1 maps of the last stage) and scaled by the area: for these networks every
    map at ``size`` is exactly ``size / full`` times the one at ``full`` in each direction
    (224 = 7 x 32 = 3.5 x 64).
    """
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(0))
    with lt.one_thread():
        count = saved_activations(model.train(), x) // 2
    assert count * full * full % (size * size) == 0, "the maps do not scale with the image"
    return count * full * full // (size * size)


# ---------------------------------------------------------------------------
# DPN: dual path blocks
# ---------------------------------------------------------------------------


def block_type(block: nn.Module) -> str:
    """``'proj'``, ``'down'`` or ``'normal'``, as timm's ``DualPathBlock`` was built."""
    if not block.has_proj:
        return "normal"
    return "down" if block.key_stride == 2 else "proj"


def dpn_blocks(model: nn.Module) -> list[dict]:
    """Per timm ``DualPathBlock``: type, input channels, residual width (num_1x1_c), dense
    channels in and out, inc, groups of the 3x3, stride, output channels."""
    rows = []
    for name, b in model.features.named_children():
        if not isinstance(b, timm_dpn.DualPathBlock):
            continue
        c_in, c = b.c1x1_a.bn.num_features, b.num_1x1_c
        dense_in = 2 * b.inc if b.has_proj else c_in - c     # a projection starts the dense path
        rows.append({"block": name, "type": block_type(b), "in": c_in, "residual": c,
                     "dense_in": dense_in, "inc": b.inc, "dense_out": dense_in + b.inc,
                     "out": c + dense_in + b.inc, "groups": b.c3x3_b.conv.groups,
                     "stride": b.key_stride})
    return rows


def dpn_block_params(in_chs: int, r: int, c: int, inc: int, groups: int, proj: bool) -> int:
    """A timm ``DualPathBlock`` by formula: BN-ReLU-conv units, BN = 2 per channel, no biases.
    Projection 1x1 in -> c + 2 inc (if any), 1x1 in -> r, grouped 3x3 r -> r, 1x1 r -> c + inc."""
    total = 2 * in_chs + in_chs * r + 2 * r + 9 * r * (r // groups) + 2 * r + r * (c + inc)
    if proj:
        total += 2 * in_chs + in_chs * (c + 2 * inc)
    return total


def dual_path_parts(block: nn.Module, x: torch.Tensor) -> dict:
    """A timm ``DualPathBlock`` computed by hand from its submodules.

    ``shortcut`` is x itself, or the projection for a 'proj'/'down' block; ``branch`` is
    1x1 -> grouped 3x3 -> 1x1 (each BN-ReLU-conv) with num_1x1_c + inc channels. Returns the
    three pieces of the output, in order: the residual part (shortcut's first num_1x1_c
    channels **plus** the branch's), the old dense part (the rest of the shortcut, passed on
    unchanged), and the inc new dense channels (the rest of the branch).
    """
    if block.c1x1_w_s1 is not None:
        shortcut = block.c1x1_w_s1(x)
    elif block.c1x1_w_s2 is not None:
        shortcut = block.c1x1_w_s2(x)
    else:
        shortcut = x
    branch = block.c1x1_c(block.c3x3_b(block.c1x1_a(x)))
    c = block.num_1x1_c
    return {"shortcut": shortcut, "branch": branch, "residual": shortcut[:, :c] + branch[:, :c],
            "dense_old": shortcut[:, c:], "dense_new": branch[:, c:]}


# ---------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------


def plot_dense_block(block: nn.Module, title: str = "dense block", conn: np.ndarray | None = None):
    """A torchvision dense block: the layers in a row with one arc per direct connection (read off
    :func:`dense_connectivity`, or ``conn`` if it was computed already), each layer's input
    width, and the connectivity matrix."""
    layers = dense_layers(block)
    conn = dense_connectivity(block) if conn is None else conn
    n = len(layers)
    palette = [fg.DARK, fg.ORANGE, "#6a51a3", fg.DARK_GREEN, fg.RED, "#969696", "#3182bd",
               "#e6550d"]
    fig = Figure(figsize=(13, 4.6), layout="constrained")
    a, m = fig.subplots(1, 2, width_ratios=[2.3, 1])
    xs = np.arange(n + 2) * 2.0                          # x_0, layers 1..n, the block output
    c0, k = layers[0]["in"], layers[0]["new"]
    fg.box(a, xs[0], 0, 1.3, 0.9, f"x$_0$\n{c0} ch", fc=fg.MID_GREY)
    for l, row in enumerate(layers, start=1):
        fg.box(a, xs[l], 0, 1.3, 0.9, f"layer {l}\nin {row['in']}\n+{row['new']}", fc=fg.BLUE)
    fg.box(a, xs[-1], 0, 1.3, 0.9, f"concat\n{layers[-1]['after']} ch", fc=fg.LIGHT_GREEN)
    for l in range(1, n + 2):                            # arcs into layer l (and the output)
        sources = range(l) if l == n + 1 else np.flatnonzero(conn[l - 1])
        for j in sources:
            span = xs[l] - xs[j]
            a.add_patch(Arc(((xs[l] + xs[j]) / 2, 0.45), span, 0.55 * span, theta1=0, theta2=180,
                            color=palette[j % len(palette)], lw=1.1, alpha=0.85))
    arcs = int(conn.sum())
    a.set_title(f"{title}: {n} layers, growth rate k = {k}; {arcs} = L(L+1)/2 direct connections "
                f"into the layers\n(+{n + 1} into the concatenated output); colour = source",
                fontsize=10)
    a.set_xlim(-1, xs[-1] + 1)
    a.set_ylim(-0.8, 0.55 + 0.3 * (xs[-1] - xs[0]))
    a.set_aspect("equal")
    a.axis("off")
    m.imshow(conn, cmap="Blues", vmin=0, vmax=1.4, aspect="auto")
    m.set_xticks(range(n + 1), ["x$_0$"] + [f"x$_{j}$" for j in range(1, n + 1)])
    m.set_yticks(range(n), [f"layer {l} ({row['in']} ch)" for l, row in enumerate(layers, 1)])
    m.set_xlabel("earlier output (x$_0$ = block input)")
    m.set_title("which outputs feed each layer\n(measured on torchvision's _DenseBlock)",
                fontsize=10)
    for (i, j), v in np.ndenumerate(conn):
        m.text(j, i, "1" if v else "", ha="center", va="center", fontsize=8)
    return fig


def plot_channel_growth(densenet: nn.Module, dpn: nn.Module):
    """Channels after every dense layer of a DenseNet (growth by k, halved by each transition)
    and after every dual path block of a DPN (residual part constant, dense part growing)."""
    fig = Figure(figsize=(13, 4), layout="constrained")
    a, b = fig.subplots(1, 2)
    counts, marks = [densenet.features.conv0.out_channels], []
    for name, m in densenet.features.named_children():
        if isinstance(m, tv_densenet._DenseBlock):
            counts += [r["after"] for r in dense_layers(m)]
        elif isinstance(m, tv_densenet._Transition):
            marks.append(len(counts))
            counts.append(m.conv.out_channels)
    a.step(np.arange(len(counts)), counts, where="post", color=fg.DARK)
    for i in marks:
        a.text(i + 0.8, counts[i] - 15, f"transition\n{counts[i - 1]} -> {counts[i]}",
               fontsize=7, va="top")
    a.set_ylim(0, max(counts) * 1.08)
    a.set_xlabel("dense layer (and transition), in forward order")
    a.set_ylabel("channels after it")
    a.set_title("DenseNet: +k per layer, x0.5 per transition", fontsize=10)
    a.grid(alpha=0.3)
    rows = dpn_blocks(dpn)
    idx = np.arange(len(rows))
    res = [r["residual"] for r in rows]
    dense = [r["dense_out"] for r in rows]
    b.bar(idx, res, color=fg.BLUE, label="residual part (added)")
    b.bar(idx, dense, bottom=res, color=fg.ORANGE, label="dense part (concatenated)")
    b.set_xticks(idx, [r["block"].removeprefix("conv") for r in rows], rotation=90, fontsize=7)
    b.set_ylabel("channels of the block's output")
    b.set_title("DPN: residual width fixed per stage, dense part +inc per block", fontsize=10)
    b.legend(fontsize=8)
    b.grid(axis="y", alpha=0.3)
    return fig


def _draw_dual_path(ax, block: nn.Module, title: str):
    c, inc = block.num_1x1_c, block.inc
    kind = block_type(block)
    c_in = block.c1x1_a.bn.num_features
    r, g = block.c1x1_a.conv.out_channels, block.c3x3_b.conv.groups
    s = block.key_stride
    dense_in = 2 * inc if block.has_proj else c_in - c
    xb = 2.3                                             # x of the shared branch
    if block.has_proj:
        fg.box(ax, 0.2, 9.1, 3.0, 0.6, f"input: {c_in} channels", fc=fg.MID_GREY)
        proj = block.c1x1_w_s2 or block.c1x1_w_s1
        fg.box(ax, -1.7, 7.2, 2.5, 1.0, f"projection: BN-ReLU-1x1\n{c_in} -> {c} + 2x{inc}"
               + (f", stride {s}" if s > 1 else "") + f"\n{proj.conv.weight.numel():,} weights",
               fc=fg.RED, fontsize=7)
        fg.arrow(ax, (-0.6, 8.8), (-1.4, 7.75))
        x_res, x_dense, y_top = -2.5, -0.9, 6.7
    else:
        left, width = -2.9, 3.2                          # the input tensor as a bar
        w_res = width * c / c_in
        ax.add_patch(Rectangle((left, 8.75), w_res, 0.6, fc=fg.BLUE, ec="k"))
        ax.add_patch(Rectangle((left + w_res, 8.75), width - w_res, 0.6, fc=fg.ORANGE, ec="k"))
        ax.text(left + width / 2, 9.55, f"input: {c_in} = {c} residual + {dense_in} dense",
                ha="center", fontsize=8)
        x_res, x_dense, y_top = left + w_res / 2, left + w_res + (width - w_res) / 2, 8.75
    fg.arrow(ax, (0.4, 8.8), (xb - 0.4, 7.65))
    texts = (f"BN-ReLU-1x1\n{c_in} -> {r}", f"BN-ReLU-3x3, groups {g}\n{r} -> {r}"
             + (f", stride {s}" if s > 1 else ""), f"BN-ReLU-1x1\n{r} -> {c} + {inc}")
    for y, t, fc in zip((7.2, 5.7, 4.2), texts, (fg.LIGHT_GREEN, fg.BLUE, fg.LIGHT_GREEN)):
        fg.box(ax, xb, y, 2.5, 0.9, t, fc=fc, fontsize=7)
    fg.arrow(ax, (xb, 6.75), (xb, 6.15))
    fg.arrow(ax, (xb, 5.25), (xb, 4.65))
    # the branch output is split: first c channels added, last inc concatenated
    fg.arrow(ax, (xb - 0.5, 3.75), (x_res + 0.25, 2.15))
    fg.arrow(ax, (xb + 0.3, 3.75), (xb + 0.3, 2.3))
    ax.text(xb - 1.2, 3.2, f"first {c}", fontsize=7, ha="right")
    ax.text(xb + 0.45, 3.2, f"last {inc}", fontsize=7)
    ax.plot([x_res, x_res], [y_top, 2.3], color=fg.DARK, lw=1.5)
    ax.text(x_res - 0.12, 4.9, f"residual\n{c} ch", fontsize=7, ha="right", color=fg.DARK)
    ax.plot([x_dense, x_dense, xb + 0.05], [y_top, 2.0, 2.0], color=fg.ORANGE, lw=1.5)
    ax.text(x_dense + 0.12, 4.9, f"dense\n{dense_in} ch", fontsize=7, color=fg.ORANGE)
    fg.circled(ax, x_res, 2.0, "+")
    fg.circled(ax, xb + 0.3, 2.0, "C")
    total = c + dense_in + inc
    x0, width = -3.0, 6.6
    for start, n, fc, label in ((0, c, fg.BLUE, f"{c} added"), (c, dense_in, fg.ORANGE,
                                f"{dense_in} old"), (c + dense_in, inc, fg.RED, f"{inc} new")):
        ax.add_patch(Rectangle((x0 + width * start / total, 0.35), width * n / total, 0.8,
                               fc=fc, ec="k"))
        ax.text(x0 + width * (start + n / 2) / total, 0.75, label.replace(" ", "\n"),
                ha="center", va="center", fontsize=7)
    fg.arrow(ax, (x_res, 1.7), (x_res, 1.2))
    fg.arrow(ax, (xb + 0.3, 1.7), (xb + 0.3, 1.2))
    ax.text(0.3, -0.15, f"output: {total} channels ({kind} block)", ha="center", fontsize=8)
    ax.set_title(f"{title}\n{lt.count_params(block):,} parameters", fontsize=9)
    ax.set_xlim(-3.9, 4.0)
    ax.set_ylim(-0.5, 9.9)
    ax.axis("off")


def plot_dual_path_block(blocks: "OrderedDict[str, nn.Module]"):
    """timm ``DualPathBlock``s drawn from the modules: the residual part (added), the dense part
    (concatenated) and the shared 1x1 -> grouped 3x3 -> 1x1 branch that feeds both."""
    fig = Figure(figsize=(5.2 * len(blocks), 6.2), layout="constrained")
    axes = fig.subplots(1, len(blocks), squeeze=False)[0]
    for ax, (title, block) in zip(axes, blocks.items()):
        _draw_dual_path(ax, block, title)
    return fig


def plot_memory_growth(curves: dict):
    """Floats per pixel kept for the backward pass against the number of 3x3 convolutions."""
    fig = Figure(figsize=(7.5, 4), layout="constrained")
    ax = fig.subplots()
    styles = {"dense block": (fg.ORANGE, "o-"), "dense block, memory_efficient": (fg.BLUE, "s-"),
              "residual stage (bottlenecks, 256 channels)": (fg.DARK, "^-")}
    for name, (color, style) in styles.items():
        ax.plot(curves["convs"], curves[name], style, ms=3, color=color, label=name)
    ax.set_xlabel("3x3 convolutions (dense layers, or bottleneck units)")
    ax.set_ylabel("floats kept per pixel (training)")
    ax.set_title("activations kept for the backward pass: quadratic vs linear", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def plot_comparison(rows: Sequence[dict]):
    """Bars of parameters, MACs and activations kept for backward (training), per network."""
    names = [r["network"] for r in rows]
    colors = [fg.ORANGE if "DPN" in n else (fg.DARK if "ResNet" in n else fg.BLUE) for n in names]
    return fg.bar_panels(rows, [("params", "parameters (millions)", 1e6),
                                ("macs", "multiply-accumulates (billions), 224x224", 1e9),
                                ("saved", "floats kept for backward, one 224x224\n"
                                 "image in training (millions)", 1e6)],
                         colors, headroom=1.2, rotation=15)
