"""Helpers for Lecture 6, "VGG and GoogLeNet". The notebook imports this module as ``vgt``.

It builds on :mod:`lecture_tools` (``lt``) and :mod:`arch_tools` (``at``) and holds:

* the architecture as data: the VGG family table built from torchvision's
  ``cfgs``, the receptive field of a layer or block read from the traced graph
  (:func:`arch_tools.graph_walk`, so that branches, as in GoogLeNet, are
  handled), and the same receptive field measured by back-propagation through
  the real model;
* the Inception module's arithmetic: branch widths, the "naive" module of
  Szegedy et al. (2015, Figure 2a) next to the bottlenecked one, and
  torchvision's GoogLeNet with the paper's true 5x5 convolutions and 3x3 pool
  put back;
* figure functions. Each returns a :class:`matplotlib.figure.Figure` built with
  the object-oriented API, so the notebook shows it as the last expression of a
  cell and a test can draw it without a screen.

Papers: K. Simonyan and A. Zisserman, "Very deep convolutional networks for
large-scale image recognition" (ICLR 2015); C. Szegedy et al., "Going deeper
with convolutions" (CVPR 2015). Every function is checked against PyTorch and
torchvision in ``tests/test_lecture_vgg_googlenet.py``.

Deliberately absent: our own VGG, GoogLeNet, BasicConv2d or (bottlenecked)
Inception class and any ``make_layers``: problem set 4 asks students to write
them. This module uses torchvision's; only the paper's *naive* module, which
no problem set asks for, is written out here.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from functools import partial

import numpy as np
import torch
import torch.nn as nn
import torchvision
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from torchvision.models.googlenet import BasicConv2d, Inception
from torchvision.models.vgg import cfgs

from . import arch_tools as at
from . import figures as fg
from . import lecture_tools as lt

#: Top-5 test error (%) in ILSVRC 2014 classification. VGG: [S4] (2nd place);
#: GoogLeNet: Szegedy et al. (2015), Table 2 (1st place). AlexNet 2012: [S4].
TOP5 = {"alexnet": 16.43, "vgg16": 7.32, "googlenet": 6.67}

#: torchvision's VGG names and the column letters of Simonyan & Zisserman's Table 1.
VGG_CONFIGS = {"vgg11": "A", "vgg13": "B", "vgg16": "D", "vgg19": "E"}

#: GoogLeNet's nine Inception modules in torchvision's order.
INCEPTIONS = ("inception3a", "inception3b", "inception4a", "inception4b", "inception4c",
              "inception4d", "inception4e", "inception5a", "inception5b")


def googlenet(**kwargs) -> nn.Module:
    """torchvision's GoogLeNet on the meta device, without aux heads unless asked.

    ``init_weights=True`` is passed to silence torchvision's warning; on the
    meta device no initialisation arithmetic happens anyway.
    """
    kw = {"weights": None, "aux_logits": False, "init_weights": True, **kwargs}
    return at.on_meta(lambda: torchvision.models.googlenet(**kw))


def vgg(name: str = "vgg16") -> nn.Module:
    """torchvision's ``vgg11`` ... ``vgg19_bn`` on the meta device."""
    return at.on_meta(lambda: getattr(torchvision.models, name)(weights=None))


# ---------------------------------------------------------------------------
# VGG
# ---------------------------------------------------------------------------


def cfg_convs(cfg: Sequence) -> int:
    """Convolutions in a VGG configuration: every number is one 3x3 conv, "M" a max pool."""
    return sum(1 for v in cfg if v != "M")


def cfg_stages(cfg: Sequence) -> list[list[int]]:
    """A configuration split at its max pools: the widths of each stage's convolutions."""
    stages, cur = [], []
    for v in cfg:
        if v == "M":
            stages.append(cur)
            cur = []
        else:
            cur.append(v)
    return stages


def vgg_family(size: int = 224) -> list[dict]:
    """One row per torchvision VGG (11, 13, 16, 19, each with and without batch norm).

    Parameters, MACs and weight layers come from :func:`arch_tools.summary`
    on the meta device; ``convs`` is counted from ``torchvision.models.vgg.cfgs``.
    """
    rows = []
    for name, letter in VGG_CONFIGS.items():
        for bn in (False, True):
            s = at.summary(vgg(name + ("_bn" if bn else "")), (3, size, size))
            rows.append({"model": name + ("_bn" if bn else ""), "cfg": letter,
                         "convs": cfg_convs(cfgs[letter]), "weight_layers": s["weight_layers"],
                         "params": s["params"], "GMACs": round(s["macs"] / 1e9, 2),
                         "macs": s["macs"]})
    return rows


def cost_shares(rows: list[dict]) -> dict:
    """Fractions of parameters and MACs in the convolutions and in the linear layers.

    ``rows`` come from :func:`arch_tools.layer_table`.
    """
    out = {}
    for key in ("params", "macs"):
        total = sum(r[key] for r in rows)
        for kind in ("Conv2d", "Linear"):
            out[f"{kind} {key}"] = sum(r[key] for r in rows if r["type"] == kind) / total
    return out


def smallest_input(build: Callable[[], nn.Module], sizes: Sequence[int]) -> int | None:
    """The smallest square input side in ``sizes`` that the model accepts (meta device).

    A size is refused when some layer's output would be empty: PyTorch's
    shape check raises a ``RuntimeError`` even on the meta device.
    """
    model = at.on_meta(build).eval()
    for n in sorted(sizes):
        try:
            with torch.no_grad():
                model(torch.zeros(1, 3, n, n, device="meta"))
        except RuntimeError:
            continue
        return n
    return None


# ---------------------------------------------------------------------------
# Receptive field from the traced graph
# ---------------------------------------------------------------------------


def receptive_field_at(model: nn.Module, prefix: str) -> dict:
    """Receptive field of the output of module ``prefix`` (a layer or a whole block).

    For a block, the largest field over its layers is the field of its output
    (an Inception module's concatenation has the field of its widest branch).
    Returns the :func:`arch_tools.graph_walk` entry: ``r``, ``j``, ``depth``, ``global``,
    ``path``.
    """
    walk = at.graph_walk(model)
    hits = [v for k, v in walk.items() if k == prefix or k.startswith(prefix + ".")]
    if not hits:
        raise KeyError(prefix)
    return max(hits, key=lambda v: v["r"])


def receptive_field_by_model_gradient(model: nn.Module, prefix: str, size: int) -> np.ndarray:
    """Measure the receptive field of module ``prefix`` on the real model by back-propagation.

    A copy of the model gets positive weights (``1 / fan_in``), zero biases,
    batch norm in eval mode at its initial statistics, and average instead of
    max pooling (max pooling would send the gradient to one pixel per
    window). With an all-ones input every ReLU is then open, so no gradient is
    lost, and |d out[centre] / d input| is nonzero exactly on the receptive
    field (clipped by the image border if ``size`` is too small).
    """
    net = copy.deepcopy(model).double().eval()
    for m in list(net.modules()):
        for child_name, child in list(m.named_children()):
            if isinstance(child, nn.MaxPool2d):
                setattr(m, child_name, nn.AvgPool2d(child.kernel_size, child.stride,
                                                    child.padding, ceil_mode=child.ceil_mode))
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                m.weight.fill_(1.0 / m.weight[0].numel())
                if m.bias is not None:
                    m.bias.zero_()
    grabbed = {}

    def hook(mod, inp, out):  # returns None, so the output is left alone
        grabbed["y"] = out

    handle = dict(net.named_modules())[prefix].register_forward_hook(hook)
    in_ch = next(m for m in net.modules() if isinstance(m, nn.Conv2d)).in_channels
    x = torch.ones(1, in_ch, size, size, dtype=torch.float64, requires_grad=True)
    try:
        with lt.one_thread():
            net(x)
            y = grabbed["y"]
            y[0, :, y.shape[-2] // 2, y.shape[-1] // 2].sum().backward()
    finally:
        handle.remove()
    return x.grad[0].abs().sum(0).numpy()


def add_receptive_fields(rows: list[dict], model: nn.Module) -> list[dict]:
    """Copy ``rows`` (from ``at.layer_table``) with an ``rf`` column: the receptive field
    after each convolution or pool, from :func:`arch_tools.graph_walk`; "-" elsewhere."""
    walk = at.graph_walk(model)
    return [{**r, "rf": walk[r["layer"]]["r"]
             if r["type"] in ("Conv2d", "MaxPool2d", "AvgPool2d") else "-"} for r in rows]


def block_table(model: nn.Module, input_shape: Sequence[int]) -> list[dict]:
    """One row per top-level child of ``model`` in forward order (like Table 1 of the GoogLeNet paper).

    Columns: ``block``, ``type``, ``out_shape`` (from a forward hook on the
    block, so an Inception row shows the concatenation), ``params``, ``macs``
    (summed from ``at.layer_table``), ``depth`` (weight layers on the longest
    path up to and including the block) and ``rf`` (receptive field of the
    block's output; "image" once global pooling has mixed all positions).
    Dropout and flatten rows are left out.
    """
    leaf = at.layer_table(model, input_shape, types=(nn.Conv2d, nn.Linear))
    walk = at.graph_walk(model)
    shapes = at.output_shapes(model, input_shape, [name for name, _ in model.named_children()])
    rows, global_seen = [], False
    for name, child in model.named_children():
        if name not in shapes or isinstance(child, (nn.Dropout, nn.Flatten)):
            continue
        mine = [v for k, v in walk.items() if k == name or k.startswith(name + ".")]
        global_seen |= isinstance(child, (nn.AdaptiveAvgPool2d, nn.Linear))
        rows.append({"block": name, "type": type(child).__name__, "out_shape": shapes[name],
                     "params": at.count_params(child),
                     "macs": sum(r["macs"] for r in leaf
                                 if r["layer"] == name or r["layer"].startswith(name + ".")),
                     "depth": max(v["depth"] for v in mine),
                     "rf": "image" if global_seen else max(v["r"] for v in mine)})
    return rows


# ---------------------------------------------------------------------------
# Inception
# ---------------------------------------------------------------------------


def _convs(module: nn.Module) -> list[nn.Conv2d]:
    return [m for m in module.modules() if isinstance(m, nn.Conv2d)]


def branch_channels(block: nn.Module) -> tuple[int, ...]:
    """Output channels of the four branches of an Inception module (torchvision's or naive).

    A branch's width is the last convolution's ``out_channels``; a branch
    without any convolution (the naive pooling branch) keeps its input depth.
    """
    widths = []
    for name in ("branch1", "branch2", "branch3", "branch4"):
        convs = _convs(getattr(block, name))
        widths.append(convs[-1].out_channels if convs else _convs(block)[0].in_channels)
    return tuple(widths)


def inception_args(block: Inception) -> tuple[int, ...]:
    """``(in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj)`` of a torchvision module."""
    b1 = block.branch1.conv
    r3, c3 = (m.conv for m in block.branch2)
    r5, c5 = (m.conv for m in block.branch3)
    pp = block.branch4[1].conv
    return (b1.in_channels, b1.out_channels, r3.out_channels, c3.out_channels,
            r5.out_channels, c5.out_channels, pp.out_channels)


class NaiveInception(nn.Module):
    """Szegedy et al. (2015), Figure 2(a): 1x1, 3x3 and 5x5 convolutions and a 3x3 max
    pool side by side, concatenated, **without** the 1x1 reductions.

    The pooling branch has no convolution, so it passes all ``in_channels`` on:
    the output is always deeper than the input.
    """

    def __init__(self, in_channels: int, ch1x1: int, ch3x3: int, ch5x5: int):
        super().__init__()
        self.branch1 = BasicConv2d(in_channels, ch1x1, kernel_size=1)
        self.branch2 = BasicConv2d(in_channels, ch3x3, kernel_size=3, padding=1)
        self.branch3 = BasicConv2d(in_channels, ch5x5, kernel_size=5, padding=2)
        self.branch4 = nn.MaxPool2d(3, stride=1, padding=1)

    def forward(self, x):
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


def with_true_5x5(block: Inception) -> Inception:
    """A copy of a torchvision Inception module whose "5x5" branch really is 5x5 (padding 2)."""
    block = copy.deepcopy(block)
    old = block.branch3[1].conv
    device = old.weight.device
    with torch.device(device):
        block.branch3[1] = BasicConv2d(old.in_channels, old.out_channels, kernel_size=5, padding=2)
    return block


def googlenet_paper(five_by_five: bool = True, pool4_3x3: bool = True, **kwargs) -> nn.Module:
    """torchvision's GoogLeNet (meta device) with the paper's layer shapes put back.

    ``five_by_five``: the third branch of every Inception module gets the 5x5
    convolution of Szegedy et al.'s Table 1 (torchvision uses 3x3, issue
    pytorch/vision#906). ``pool4_3x3``: the pool before inception 5a is
    3x3/2 as in Table 1 (torchvision's is 2x2/2; both give 7x7 maps at 224).
    """
    model = googlenet(**kwargs)
    if five_by_five:
        for name in INCEPTIONS:
            setattr(model, name, with_true_5x5(getattr(model, name)))
    if pool4_3x3:
        model.maxpool4 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
    return model


def inception_weights(c_in: int, ch1x1: int, ch3x3red: int, ch3x3: int, ch5x5red: int,
                      ch5x5: int, pool_proj: int, k5: int = 5) -> int:
    """Convolution weights of a bottlenecked Inception module, by formula."""
    return (c_in * ch1x1 + c_in * ch3x3red + ch3x3red * ch3x3 * 9
            + c_in * ch5x5red + ch5x5red * ch5x5 * k5 * k5 + c_in * pool_proj)


def naive_weights(c_in: int, ch1x1: int, ch3x3: int, ch5x5: int, k5: int = 5) -> int:
    """Convolution weights of the naive module (Figure 2a), by formula."""
    return c_in * (ch1x1 + ch3x3 * 9 + ch5x5 * k5 * k5)


def naive_depths(c_in: int, blocks: Sequence[Sequence[int]]) -> list[int]:
    """Output depth after each naive module when the ``(ch1x1, ch3x3, ch5x5)`` are kept.

    The pooling branch forwards the whole input, so depth_out = depth_in +
    ch1x1 + ch3x3 + ch5x5: it can only grow.
    """
    out, c = [], c_in
    for ch1, ch3, ch5 in blocks:
        c = c + ch1 + ch3 + ch5
        out.append(c)
    return out


def naive_stack(c_in: int, blocks: Sequence[Sequence[int]]) -> nn.Sequential:
    """Naive modules in a row, each fed the previous one's (ever deeper) output."""
    layers, c = [], c_in
    for ch1, ch3, ch5 in blocks:
        layers.append(NaiveInception(c, ch1, ch3, ch5))
        c += ch1 + ch3 + ch5
    return nn.Sequential(*layers)


def googlenet_naive() -> nn.Module:
    """torchvision's GoogLeNet (meta device) with every Inception module made naive.

    Each module keeps its 1x1, 3x3 and 5x5 widths from Table 1 but loses the
    1x1 reductions and the pool projection, so it is fed the previous
    module's ever deeper output; the classifier is resized to match.
    """
    model = googlenet()
    c = model.inception3a.branch1.conv.in_channels
    with torch.device("meta"):
        for name in INCEPTIONS:
            _, ch1, _, ch3, _, ch5, _ = inception_args(getattr(model, name))
            setattr(model, name, NaiveInception(c, ch1, ch3, ch5))
            c += ch1 + ch3 + ch5
        model.fc = nn.Linear(c, model.fc.out_features)
    return model


# ---------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------


def plot_stacked_3x3(n_layers: int = 3) -> Figure:
    """[S4]'s Figure 5.23, in one dimension: a stack of 3x3 layers vs one big kernel.

    Left: ``n_layers`` 3x3 layers; the cone of units that one top unit
    depends on widens by 2 per layer. Right: one (2n+1)x(2n+1) layer that
    sees the same input window in one step. Widths come from
    :func:`lecture_tools.receptive_field`.
    """
    rf = [1] + [r for r, _ in lt.receptive_field([(3,)] * n_layers)]
    width = rf[-1] + 4
    centre = width // 2
    fig = Figure(figsize=(11, 1.3 + 1.1 * n_layers), layout="constrained")
    a1, a2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1]})

    def row(ax, level, lit, label):
        for i in range(width):
            on = abs(i - centre) <= lit // 2
            ax.add_patch(Rectangle((i, level), 0.9, 0.6, facecolor=fg.ORANGE if on else fg.GREY,
                                   edgecolor=fg.DARK if on else "#bdbdbd", lw=0.8))
        ax.text(-0.5, level + 0.3, label, ha="right", va="center", fontsize=9)

    def links(ax, top, bottom, lit, k):
        for i in range(centre - lit // 2, centre + lit // 2 + 1):
            for t in range(-(k // 2), k // 2 + 1):
                ax.plot([i + 0.45, i + t + 0.45], [top, bottom + 0.6], color=fg.DARK, lw=0.5,
                        alpha=0.6)

    # Level 0 is the input; level l has seen l layers. The top unit is one pixel.
    for level in range(n_layers + 1):
        lit = rf[n_layers - level]
        name = "input" if level == 0 else f"3x3 layer {level}"
        row(a1, 1.5 * level, lit, f"{name}\n({lit} lit)")
        if level:
            links(a1, 1.5 * level, 1.5 * (level - 1), lit, 3)
    big = rf[-1]
    row(a2, 0, big, f"input\n({big} lit)")
    row(a2, 1.5 * n_layers, 1, f"one {big}x{big} layer")
    links(a2, 1.5 * n_layers, 0, 1, big)
    a1.set_title(f"{n_layers} stacked 3x3 layers: {n_layers} ReLUs, {9 * n_layers}C² weights")
    a2.set_title(f"one {big}x{big} layer: 1 ReLU, {big * big}C² weights")
    for ax in (a1, a2):
        ax.set_xlim(-6, width + 0.5)
        ax.set_ylim(-0.3, 1.5 * n_layers + 0.9)
        ax.set_aspect("equal")
        ax.axis("off")
    return fig


def plot_where_costs_live(rows: list[dict], title: str = "") -> Figure:
    """Share of parameters and of MACs per weight layer (rows from ``at.layer_table``)."""
    rows = [r for r in rows if r["type"] in ("Conv2d", "Linear")]
    p_tot, m_tot = sum(r["params"] for r in rows), sum(r["macs"] for r in rows)
    names = [r["layer"] for r in rows]
    y = np.arange(len(rows))
    fig = Figure(figsize=(9, 0.32 * len(rows) + 1.4), layout="constrained")
    ax = fig.subplots()
    p = [100 * r["params"] / p_tot for r in rows]
    m = [100 * r["macs"] / m_tot for r in rows]
    b1 = ax.barh(y - 0.2, p, 0.4, color=fg.ORANGE, label="% of parameters")
    b2 = ax.barh(y + 0.2, m, 0.4, color=fg.BLUE, label="% of MACs")
    ax.bar_label(b1, labels=[f"{v:.1f}" if v >= 0.5 else "" for v in p], fontsize=7, padding=2)
    ax.bar_label(b2, labels=[f"{v:.1f}" if v >= 0.5 else "" for v in m], fontsize=7, padding=2)
    ax.set_yticks(y, [f"{n} ({r['type']})" for n, r in zip(names, rows)], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("percent of the network's total")
    ax.set_xlim(0, max(p + m) * 1.12)
    ax.legend(loc="lower right")
    ax.set_title(title)
    return fig


# Inception diagrams: dark outlines and filled arrow heads.
_box = partial(fg.box, ec=fg.DARK, style="round,pad=0.03")
_arrow = partial(fg.arrow, style="-|>", lw=0.9, color=fg.DARK)


def _describe(m: nn.Module) -> tuple[str, str]:
    """Label and colour of one layer of an Inception branch."""
    conv = m.conv if isinstance(m, BasicConv2d) else m
    if isinstance(conv, nn.Conv2d):
        kh, kw = conv.kernel_size
        colour = fg.PALE_ORANGE if (kh, kw) == (1, 1) else fg.BLUE
        return f"{kh}x{kw} conv\n{conv.in_channels}->{conv.out_channels}", colour
    if isinstance(m, nn.MaxPool2d):
        return f"{m.kernel_size}x{m.kernel_size} max pool\nstride {m.stride}", fg.GREEN
    raise TypeError(type(m))


def plot_inception(blocks: Sequence[nn.Module], titles: Sequence[str]) -> Figure:
    """Inception modules drawn from their own layers: four branches, then concatenation.

    Orange boxes are 1x1 convolutions (the bottlenecks and projections), blue
    the spatial convolutions, green the pooling. The concatenation box adds
    up :func:`branch_channels`. Branch 3 is labelled with the paper's name,
    "5x5", whatever its kernel.
    """
    fig = Figure(figsize=(6.2 * len(blocks), 4.8), layout="constrained")
    axes = fig.subplots(1, len(blocks), squeeze=False)[0]
    xs, mid = (0.8, 2.55, 4.3, 6.05), 3.425
    for ax, block, title in zip(axes, blocks, titles):
        c_in = _convs(block)[0].in_channels
        widths = branch_channels(block)
        _box(ax, mid, 0, 3.2, 0.55, f"input: {c_in} channels", fc=fg.GREY)
        for b, x in zip(("branch1", "branch2", "branch3", "branch4"), xs):
            branch = getattr(block, b)
            layers = list(branch) if isinstance(branch, nn.Sequential) else [branch]
            # One layer sits in the upper row; two fill both rows.
            ys = [2.6] if len(layers) == 1 else [1.3, 2.6]
            start = min(max(x, mid - 1.4), mid + 1.4)   # leave the input box near the branch
            _arrow(ax, (start, 0.28), (x, ys[0] - 0.3))
            for i, (layer, yy) in enumerate(zip(layers, ys)):
                label, colour = _describe(layer)
                if b == "branch3" and label.startswith("3x3"):
                    label = label.replace("3x3 conv", '3x3 conv ("5x5")')
                _box(ax, x, yy, 1.5, 0.55, label, fc=colour)
                if i:
                    _arrow(ax, (x, ys[i - 1] + 0.28), (x, yy - 0.28))
            _arrow(ax, (x, ys[-1] + 0.28), (mid, 3.62))
        _box(ax, mid, 3.9, 4.6, 0.55, "concatenate: " + " + ".join(map(str, widths))
             + f" = {sum(widths)} channels", fc=fg.GREY)
        ax.set_xlim(-0.1, 6.95)
        ax.set_ylim(-0.5, 4.4)
        ax.axis("off")
        ax.set_title(title, fontsize=10)
    return fig


def plot_depth_growth(names: Sequence[str], naive: Sequence[int], real: Sequence[int]) -> Figure:
    """Output depth per Inception module: naive modules (pooling keeps depth) vs bottlenecked."""
    fig = Figure(figsize=(8, 3.8), layout="constrained")
    ax = fig.subplots()
    x = np.arange(len(names))
    ax.plot(x, naive, "o-", color=fg.ORANGE, label="naive modules (Figure 2a)")
    ax.plot(x, real, "s-", color=fg.DARK, label="with 1x1 reductions (torchvision)")
    for xi, v in zip(x, naive):
        ax.annotate(f"{v:,}", (xi, v), textcoords="offset points", xytext=(0, 6), ha="center",
                    fontsize=8)
    ax.set_xticks(x, names, rotation=30)
    ax.set_ylabel("output channels")
    ax.grid(alpha=0.3)
    ax.legend()
    return fig


def plot_comparison(rows: list[dict]) -> Figure:
    """Log-scale bars of parameters and MACs, one bar per row (``model``, ``params``, ``macs``)."""
    fig = Figure(figsize=(10, 3.8), layout="constrained")
    axes = fig.subplots(1, 2)
    colours = [fg.GREY, fg.ORANGE, fg.BLUE, fg.GREEN][: len(rows)]
    for ax, key, title in zip(axes, ("params", "macs"), ("parameters", "MACs per 224x224 image")):
        vals = [r[key] for r in rows]
        bars = ax.bar([r["model"] for r in rows], vals, color=colours, edgecolor=fg.DARK)
        ax.bar_label(bars, labels=[f"{v / 1e6:,.1f} M" for v in vals], fontsize=9)
        ax.set_yscale("log")
        ax.set_ylim(min(vals) / 3, max(vals) * 4)
        ax.set_title(title + " (log scale)")
    return fig
