"""Helpers for Lecture 7, "ResNet and ResNeXt". The notebook imports this module as ``rt``.

Like the other lecture modules it holds three kinds of things:

* the architectures **as data**: per-stage and per-unit tables of torchvision's
  ResNets (built on the meta device, rows from :func:`arch_tools.layer_table`),
  the list of residual units with their widths and strides, the layers on the
  longest path (for :func:`lecture_tools.receptive_field`), the weight counts
  of the residual units by formula, and the change that turns torchvision's
  ResNet-50 ("v1.5") back into the paper's ("v1");
* small **constructions that explain an idea**: a stack of two-convolution
  units with and without identity shortcuts (gradient flow at
  initialisation), ResNeXt's split-transform-merge block in the paper's three
  equivalent forms, the parameter-free "option A" shortcut and the paper's
  CIFAR-10 ResNets built from torchvision's own units;
* **figure functions**. Each returns a :class:`matplotlib.figure.Figure` built
  with the object-oriented API, so the notebook shows it as the last
  expression of a cell and a test can draw it without a screen.

Every function is checked against PyTorch and torchvision in
``tests/test_lecture_resnet.py``.

Deliberately absent: the residual units and the ResNet/ResNeXt models
themselves. Problem set 5 asks students to write them; the lecture uses
``torchvision.models.resnet`` and ``grader.models`` instead.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from matplotlib.figure import Figure
from torchvision.models.resnet import BasicBlock, Bottleneck, conv1x1

from . import arch_tools as at
from . import figures as fg
from . import lecture_tools as lt
from . import zoo_tools as zt

#: The four networks of the lecture, by display name: torchvision builder name.
MODELS = OrderedDict([("ResNet-18", "resnet18"), ("ResNet-34", "resnet34"),
                      ("ResNet-50", "resnet50"), ("ResNeXt-50 32x4d", "resnext50_32x4d")])

#: [S3]'s Keras ResNet-34: the filter count of each of its residual units.
SEED_RESNET34_LAYOUT = [64] * 3 + [128] * 4 + [256] * 6 + [512] * 3


# ---------------------------------------------------------------------------
# The architectures as data
# ---------------------------------------------------------------------------


def build(name: str, **kwargs) -> nn.Module:
    """A torchvision model by builder name (``"resnet50"``), untrained, on the meta device."""
    return at.on_meta(lambda: getattr(torchvision.models, name)(weights=None, **kwargs))


def seed_strides(layout: Sequence[int]) -> list[int]:
    """[S3]'s rule: stride 2 whenever the filter count changes, else 1 (first unit: 1)."""
    strides, prev = [], layout[0]
    for filters in layout:
        strides.append(1 if filters == prev else 2)
        prev = filters
    return strides


def residual_units(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(name, unit) for every torchvision residual unit of ``model``, in forward order."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, (BasicBlock, Bottleneck))]


def unit_layout(model: nn.Module) -> list[dict]:
    """One dict per residual unit: name, planes ([S3]'s "filters"), inner width, output
    channels, stride, groups, and the kind of shortcut.

    For a basic unit the width is ``planes``; for a bottleneck it is the width of
    its 3x3 convolution (``planes`` for ResNet-50, ``2 * planes`` for ResNeXt-50
    32x4d) and the output is ``4 * planes``.
    """
    rows = []
    for name, unit in residual_units(model):
        last = unit.conv3 if isinstance(unit, Bottleneck) else unit.conv2
        rows.append({"unit": name, "planes": last.out_channels // unit.expansion,
                     "width": unit.conv2.in_channels, "out": last.out_channels,
                     "stride": unit.stride, "groups": unit.conv2.groups,
                     "shortcut": "identity" if unit.downsample is None else "projection"})
    return rows


def _stage_of(layer_name: str) -> str:
    top = layer_name.split(".")[0]
    if top.startswith("layer"):
        return top
    return "head" if top in ("avgpool", "fc") else "stem"


def _unit_of(layer_name: str) -> str:
    parts = layer_name.split(".")
    return ".".join(parts[:2]) if parts[0].startswith("layer") else _stage_of(layer_name)


def _group(rows: list[dict], key: Callable[[str], str]) -> list[dict]:
    out: "OrderedDict[str, dict]" = OrderedDict()
    for r in rows:
        k = key(r["layer"])
        g = out.setdefault(k, {"name": k, "layers": 0, "out_shape": None, "params": 0, "macs": 0})
        g["layers"] += 1
        g["params"] += r["params"]
        g["macs"] += r["macs"]
        # The last layer of the group that is not part of a shortcut gives its output shape.
        if "downsample" not in r["layer"]:
            g["out_shape"] = r["out_shape"]
    return list(out.values())


def stage_table(model: nn.Module, input_shape=(3, 224, 224)) -> list[dict]:
    """Per stage (stem, layer1-4, head): residual units, output shape, parameters, MACs.

    Built from :func:`arch_tools.layer_table`, so the columns add up to the
    model's totals (the tests check this).
    """
    rows = _group(at.layer_table(model, input_shape), _stage_of)
    counts = {}
    for name, _ in residual_units(model):
        counts[name.split(".")[0]] = counts.get(name.split(".")[0], 0) + 1
    return [{"stage": g["name"], "units": counts.get(g["name"], 0), "out_shape": g["out_shape"],
             "params": g["params"], "macs": g["macs"]} for g in rows]


def unit_table(model: nn.Module, input_shape=(3, 224, 224)) -> list[dict]:
    """Per residual unit (plus the stem and the head): output shape, parameters, MACs."""
    layout = {u["unit"]: u for u in unit_layout(model)}
    rows = []
    for g in _group(at.layer_table(model, input_shape), _unit_of):
        u = layout.get(g["name"])
        rows.append({"unit": g["name"], "stride": u["stride"] if u else "",
                     "shortcut": u["shortcut"] if u else "", "out_shape": g["out_shape"],
                     "params": g["params"], "macs": g["macs"]})
    return rows


def main_path(model: nn.Module) -> list:
    """The convolutions and max pools on the longest path, in :func:`lecture_tools.receptive_field`'s
    format: ``(k, s, d)`` for a convolution, ``('pool', k, s)`` for a max pool.

    Shortcut projections (``downsample``) are left out: a 1x1 convolution on
    the short path never sees more than the long path does. torchvision
    registers the layers of its ResNets in the order the forward pass runs them.
    """
    return [layer for _, layer in at.rf_chain(model, skip=("downsample",))]


def stage_receptive_fields(model: nn.Module) -> "OrderedDict[str, tuple[int, int]]":
    """(receptive field, jump) at the output of the stem and of each stage, along :func:`main_path`."""
    named = at.rf_chain(model, skip=("downsample",))
    out: "OrderedDict[str, tuple[int, int]]" = OrderedDict()
    for (name, _), rf in zip(named, lt.receptive_field([layer for _, layer in named])):
        out[_stage_of(name)] = rf
    return out


def to_v1(model: nn.Module) -> nn.Module:
    """Move the stride of every downsampling bottleneck from its 3x3 convolution to its first 1x1
    convolution, as in He et al.'s paper ("ResNet v1"); torchvision's default is "v1.5".

    Works in place (also on the meta device) and returns ``model``.
    """
    for m in model.modules():
        if isinstance(m, Bottleneck) and m.conv2.stride != (1, 1):
            m.conv1.stride, m.conv2.stride = m.conv2.stride, (1, 1)
    return model


# ---------------------------------------------------------------------------
# Residual units by formula (weights only: biases are off, BatchNorm is extra)
# ---------------------------------------------------------------------------


def basic_weights(c_in: int, c_out: int | None = None) -> int:
    """Two 3x3 convolutions, ``c_in -> c_out -> c_out``: 9 c_in c_out + 9 c_out^2."""
    c_out = c_in if c_out is None else c_out
    return lt.conv_params(c_in, c_out, 3, bias=False) + lt.conv_params(c_out, c_out, 3, bias=False)


def bottleneck_weights(c_in: int, width: int, c_out: int | None = None, groups: int = 1) -> int:
    """1x1 reduce to ``width``, 3x3 (optionally grouped), 1x1 expand to ``c_out``."""
    c_out = c_in if c_out is None else c_out
    return (lt.conv_params(c_in, width, 1, bias=False)
            + lt.conv_params(width, width, 3, bias=False, groups=groups)
            + lt.conv_params(width, c_out, 1, bias=False))


def resnext_template_weights(cardinality: int, d: int, channels: int = 256) -> int:
    """Xie et al.'s count for the template at conv2: C (256 d + 3 3 d d + d 256)."""
    return cardinality * (channels * d + 9 * d * d + d * channels)


# ---------------------------------------------------------------------------
# Gradient flow at initialisation: the same stack with and without shortcuts
# ---------------------------------------------------------------------------


class TwoConvUnit(nn.Module):
    """conv3x3 -> (BN) -> ReLU -> conv3x3 -> (BN), then ReLU; with ``shortcut`` the input is
    added before the last ReLU. Width stays constant, no stride: the bare idea only."""

    def __init__(self, width: int, shortcut: bool, batchnorm: bool = False, he_init: bool = False):
        super().__init__()
        self.shortcut = shortcut
        self.conv1 = nn.Conv2d(width, width, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width) if batchnorm else nn.Identity()
        self.conv2 = nn.Conv2d(width, width, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width) if batchnorm else nn.Identity()
        if he_init:  # torchvision's ResNet initialisation
            for conv in (self.conv1, self.conv2):
                nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(out + x) if self.shortcut else F.relu(out)


def conv_stack(units: int, shortcut: bool, batchnorm: bool = False, he_init: bool = False,
               width: int = 8, seed: int = 0) -> nn.Sequential:
    """``units`` :class:`TwoConvUnit` in a row, float64. The same seed gives the same weights
    with and without shortcuts, so the two stacks differ only in the ``+ x``."""
    torch.manual_seed(seed)
    return nn.Sequential(*[TwoConvUnit(width, shortcut, batchnorm, he_init)
                           for _ in range(units)]).double()


def gradient_profile(stack: nn.Sequential, batch: int = 4, size: int = 8,
                     seed: int = 1) -> np.ndarray:
    """||dL/dx_l|| / ||dL/dx_L|| for the input x_0 and the output x_l of every unit.

    The loss is a fixed random projection of the output, so the gradient that
    enters at the top has a fixed size; the profile shows how much of it is
    left when it reaches each unit. BatchNorm runs in training mode, as in the
    first step of training.
    """
    g = torch.Generator().manual_seed(seed)
    width = stack[0].conv1.in_channels
    x = torch.randn(batch, width, size, size, generator=g, dtype=torch.float64)
    acts = [x.requires_grad_()]
    stack.train()
    with lt.one_thread():
        for unit in stack:
            acts.append(unit(acts[-1]))
            acts[-1].retain_grad()
        r = torch.randn(acts[-1].shape, generator=g, dtype=torch.float64)
        (acts[-1] * r).sum().backward()
    norms = np.array([a.grad.norm().item() for a in acts])
    return norms / norms[-1]


def gradient_profiles(units: int = 32, width: int = 8) -> dict:
    """The two settings of the lecture, plain vs with shortcuts, for ``units`` units.

    * ``"no BN, PyTorch default init"``: what a naive deep stack gets;
    * ``"BN, He init"``: the paper's (and torchvision's) setting.
    """
    out = {}
    for label, bn, he in (("no BN, PyTorch default init", False, False), ("BN, He init", True, True)):
        out[label] = {kind: gradient_profile(conv_stack(units, kind == "shortcuts", bn, he, width))
                      for kind in ("plain", "shortcuts")}
    return out


# ---------------------------------------------------------------------------
# ResNeXt: three equivalent forms of the aggregated transformation
# ---------------------------------------------------------------------------


class SplitTransformMerge(nn.Module):
    """Form (a) of Xie et al.'s Fig. 3: ``cardinality`` separate paths, each
    1x1 (c_in -> d), ReLU, 3x3 (d -> d), ReLU, 1x1 (d -> c_out); the outputs are summed.
    No BatchNorm and no bias, so that the three forms can be compared exactly."""

    def __init__(self, c_in: int, cardinality: int, d: int, c_out: int):
        super().__init__()
        self.paths = nn.ModuleList(
            nn.Sequential(nn.Conv2d(c_in, d, 1, bias=False), nn.ReLU(),
                          nn.Conv2d(d, d, 3, padding=1, bias=False), nn.ReLU(),
                          nn.Conv2d(d, c_out, 1, bias=False))
            for _ in range(cardinality))

    def forward(self, x):
        return sum(path(x) for path in self.paths)


class EarlyConcatenation(nn.Module):
    """Form (b): the paths' first 1x1 layers as one wide 1x1, separate 3x3 per path,
    then concatenation and one 1x1 (a sum of 1x1s = one 1x1 on the concatenation)."""

    def __init__(self, c_in: int, cardinality: int, d: int, c_out: int):
        super().__init__()
        self.d = d
        self.reduce = nn.Conv2d(c_in, cardinality * d, 1, bias=False)
        self.paths = nn.ModuleList(nn.Conv2d(d, d, 3, padding=1, bias=False)
                                   for _ in range(cardinality))
        self.expand = nn.Conv2d(cardinality * d, c_out, 1, bias=False)

    def forward(self, x):
        parts = F.relu(self.reduce(x)).split(self.d, dim=1)
        mid = torch.cat([F.relu(conv(p)) for conv, p in zip(self.paths, parts)], dim=1)
        return self.expand(mid)


def grouped_form(c_in: int, cardinality: int, d: int, c_out: int) -> nn.Sequential:
    """Form (c), the one torchvision's ``Bottleneck(groups=..., base_width=...)`` uses:
    1x1 to C d channels, a grouped 3x3 with ``groups=C``, 1x1 back."""
    w = cardinality * d
    return nn.Sequential(nn.Conv2d(c_in, w, 1, bias=False), nn.ReLU(),
                         nn.Conv2d(w, w, 3, padding=1, groups=cardinality, bias=False), nn.ReLU(),
                         nn.Conv2d(w, c_out, 1, bias=False))


@torch.no_grad()
def copy_paths(paths: SplitTransformMerge, target: nn.Module) -> nn.Module:
    """Copy form (a)'s weights into form (b) or (c): stack the paths' first and middle layers
    along the output channels, their last layers along the input channels."""
    first = torch.cat([p[0].weight for p in paths.paths], dim=0)
    middle = [p[2].weight for p in paths.paths]
    last = torch.cat([p[4].weight for p in paths.paths], dim=1)
    if isinstance(target, EarlyConcatenation):
        target.reduce.weight.copy_(first)
        for conv, w in zip(target.paths, middle):
            conv.weight.copy_(w)
        target.expand.weight.copy_(last)
    else:
        target[0].weight.copy_(first)
        target[2].weight.copy_(torch.cat(middle, dim=0))  # (C d, d, 3, 3): group g sees channels g d..
        target[4].weight.copy_(last)
    return target


# ---------------------------------------------------------------------------
# Faithfulness: option A shortcuts and the paper's CIFAR-10 ResNets
# ---------------------------------------------------------------------------


class ZeroPadShortcut(nn.Module):
    """He et al.'s option A: keep every ``stride``-th pixel and append zero channels.
    No parameters; used in the paper's CIFAR-10 networks."""

    def __init__(self, out_channels: int, stride: int = 2):
        super().__init__()
        self.out_channels, self.stride = out_channels, stride

    def forward(self, x):
        x = x[:, :, ::self.stride, ::self.stride]
        return F.pad(x, (0, 0, 0, 0, 0, self.out_channels - x.shape[1]))


def projection_shortcut(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    """Option B, torchvision's ``downsample``: a 1x1 convolution with the stride, then BN."""
    return nn.Sequential(conv1x1(c_in, c_out, stride), nn.BatchNorm2d(c_out))


def cifar_resnet(n: int = 3, num_classes: int = 10, option: str = "A") -> nn.Sequential:
    """He et al.'s CIFAR-10 ResNet with 6n + 2 weight layers (section 4.2), from torchvision's
    units: a 3x3 stem with 16 channels, three stages of n units with 16, 32, 64 channels
    (32x32, 16x16, 8x8 maps), global average pooling, a 10-way linear layer."""
    layers: list[nn.Module] = [nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16),
                               nn.ReLU(inplace=True)]
    c_in = 16
    for stage, c in enumerate((16, 32, 64)):
        for i in range(n):
            stride = 2 if stage > 0 and i == 0 else 1
            down = None
            if stride != 1 or c_in != c:
                down = ZeroPadShortcut(c, stride) if option == "A" else projection_shortcut(c_in, c, stride)
            layers.append(BasicBlock(c_in, c, stride, down))
            c_in = c
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, num_classes)]
    return nn.Sequential(*layers)


# ---------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------


def unit_spec(unit: nn.Module) -> dict:
    """What a figure needs to draw a torchvision unit: main-path convolutions and shortcut."""
    convs = [unit.conv1, unit.conv2] + ([unit.conv3] if isinstance(unit, Bottleneck) else [])
    main = [{"k": c.kernel_size[0], "in": c.in_channels, "out": c.out_channels,
             "stride": c.stride[0], "groups": c.groups, "weights": c.weight.numel()}
            for c in convs]
    short = None
    if unit.downsample is not None:
        c = unit.downsample[0]
        short = {"k": 1, "in": c.in_channels, "out": c.out_channels, "stride": c.stride[0],
                 "weights": c.weight.numel()}
    return {"main": main, "shortcut": short, "params": lt.count_params(unit),
            "weights": at.conv_weights(unit)}


def default_units() -> "OrderedDict[str, nn.Module]":
    """The four units of the figure, as torchvision builds them (meta device)."""
    return at.on_meta(lambda: OrderedDict([
        ("basic, identity shortcut", BasicBlock(64, 64)),
        ("basic, projection shortcut", BasicBlock(64, 128, 2, projection_shortcut(64, 128, 2))),
        ("bottleneck, identity shortcut", Bottleneck(256, 64)),
        ("bottleneck, projection (v1.5)", Bottleneck(256, 128, 2, projection_shortcut(256, 512, 2))),
    ]))


def plot_residual_units(units: "OrderedDict[str, nn.Module] | None" = None):
    """Basic and bottleneck units with identity and projection shortcuts, drawn from the
    torchvision modules themselves (channels, strides and weight counts are read off them)."""
    units = units or default_units()
    fig = Figure(figsize=(3.3 * len(units), 6.2), layout="constrained")
    axes = fig.subplots(1, len(units), squeeze=False)[0]
    for ax, (title, unit) in zip(axes, units.items()):
        spec = unit_spec(unit)
        n = len(spec["main"])
        ys = np.linspace(7.6, 7.6 - 2.0 * (n - 1), n)
        ax.text(0, 9.1, f"x: {spec['main'][0]['in']} channels", ha="center", fontsize=9)
        fg.arrow(ax, (0, 8.9), (0, ys[0] + 0.45))
        for i, (c, y) in enumerate(zip(spec["main"], ys)):
            label = f"{c['k']}x{c['k']} conv, {c['in']}->{c['out']}"
            if c["groups"] > 1:
                label += f", groups {c['groups']}"
            if c["stride"] > 1:
                label += f", stride {c['stride']}"
            fc = (fg.LIGHT_ORANGE if c["stride"] > 1
                  else fg.BLUE if c["k"] == 3 else fg.LIGHT_GREEN)
            fg.box(ax, 0, y, 2.6, 0.8, f"{label}\n{c['weights']:,} weights", fc=fc)
            after = "BN, ReLU" if i < n - 1 else "BN"
            ax.text(0.05, y - 0.72, after, ha="left", va="center", fontsize=7, color="0.3")
            nxt = ys[i + 1] + 0.45 if i < n - 1 else 1.75
            fg.arrow(ax, (0, y - 0.45), (0, nxt))
        # Addition, final ReLU, output
        fg.circled(ax, 0, 1.45, text_scale=0.7)
        fg.arrow(ax, (0, 1.2), (0, 0.55))
        ax.text(0, 0.35, "ReLU", ha="center", va="center", fontsize=9)
        out = spec["main"][-1]["out"]
        ax.text(0, -0.25, f"output: {out} channels", ha="center", fontsize=9)
        # Shortcut on the right
        xr = 2.3
        ax.plot([0, xr, xr], [8.75, 8.75, 5.0], color=fg.DARK, lw=1.5)
        if spec["shortcut"]:
            s = spec["shortcut"]
            fg.box(ax, xr, 4.4, 1.5, 1.1, f"1x1 conv\n{s['in']}->{s['out']}, stride {s['stride']}"
                   f"\n+ BN\n{s['weights']:,} w", fc=fg.RED, fontsize=7)
            ax.plot([xr, xr], [3.85, 1.45], color=fg.DARK, lw=1.5)
        else:
            ax.plot([xr, xr], [5.0, 1.45], color=fg.DARK, lw=1.5)
            ax.text(xr + 0.1, 4.4, "identity", rotation=90, va="center", fontsize=8, color=fg.DARK)
        fg.arrow(ax, (xr, 1.45), (0.25, 1.45), color=fg.DARK)
        ax.set_title(f"{title}\n{spec['weights']:,} conv weights, {spec['params']:,} params with BN",
                     fontsize=9)
        ax.set_xlim(-1.5, 3.2)
        ax.set_ylim(-0.6, 9.5)
        ax.axis("off")
    return fig


def plot_gradient_flow(profiles: dict):
    """One panel per setting: gradient norm reaching each unit, relative to the top (log scale)."""
    fig = Figure(figsize=(11, 4), layout="constrained")
    axes = fig.subplots(1, len(profiles), squeeze=False)[0]
    for ax, (label, curves) in zip(axes, profiles.items()):
        for kind, color in (("plain", fg.ORANGE), ("shortcuts", fg.DARK)):
            g = curves[kind]
            ax.semilogy(np.arange(len(g)), g, "o-", ms=3, color=color,
                        label=f"{kind}: input gets {g[0]:.1e}")
        ax.axhline(1, color="0.6", lw=0.8)
        ax.set_xlabel("unit index l (0 = input; 2 convolutions per unit)")
        ax.set_ylabel("||dL/dx_l|| / ||dL/dx_top||")
        ax.set_title(label)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    fig.suptitle("gradient reaching each unit at initialisation, "
                 f"{len(next(iter(profiles.values()))['plain']) - 1} units")
    return fig


def plot_cardinality(cardinality: int = 32, d: int = 4, channels: int = 256):
    """ResNeXt's block two ways: ``cardinality`` thin paths (form a), one grouped
    convolution (form c), and which channels the grouped 3x3 connects."""
    w = cardinality * d
    fig = Figure(figsize=(15, 5), layout="constrained")
    a, c, m = fig.subplots(1, 3, width_ratios=[2.2, 1.1, 1.3])
    # (a) the paths
    xs = np.linspace(0, 10, cardinality)
    bw = 0.75 * (xs[1] - xs[0]) if cardinality > 1 else 1.0
    a.text(5, 5.6, f"input, {channels} channels", ha="center", fontsize=9)
    for i, x in enumerate(xs):
        a.plot([5, x], [5.45, 4.6], color="0.6", lw=0.5)
        for y, fc in ((4.2, fg.LIGHT_GREEN), (3.0, fg.BLUE), (1.8, fg.LIGHT_GREEN)):
            fg.box(a, x, y, bw, 0.6, fc=fc, lw=0.4, style=fg.SQUARE)
        a.plot([x, 5], [1.5, 0.75], color="0.6", lw=0.5)
    for y, text in ((4.2, f"{channels},1x1,{d}"), (3.0, f"{d},3x3,{d}"), (1.8, f"{d},1x1,{channels}")):
        a.annotate(text, (xs[0], y), xytext=(-1.3, y), fontsize=8, va="center", ha="right",
                   arrowprops={"arrowstyle": "-", "lw": 0.5})
    fg.circled(a, 5, 0.6, ms=14, text_scale=0.7)
    a.text(5, -0.1, f"sum of {cardinality} paths, then + x, ReLU", ha="center", fontsize=9)
    per_path = bottleneck_weights(channels, d)
    a.set_title(f"(a) split-transform-merge: {cardinality} paths of width {d}\n"
                f"{per_path:,} weights per path x {cardinality} = {per_path * cardinality:,}",
                fontsize=10)
    a.set_xlim(-4.2, 10.8)
    a.set_ylim(-0.4, 6.0)
    a.axis("off")
    # (c) the grouped convolution
    for y, text, fc in ((4.2, f"1x1 conv, {channels}->{w}", fg.LIGHT_GREEN),
                        (3.0, f"3x3 conv, {w}->{w}\ngroups = {cardinality}", fg.BLUE),
                        (1.8, f"1x1 conv, {w}->{channels}", fg.LIGHT_GREEN)):
        fg.box(c, 0, y, 2.4, 0.8, text, fc=fc, fontsize=9)
    for y0, y1 in ((5.45, 4.6), (3.8, 3.4), (2.6, 2.2), (1.4, 0.85)):
        fg.arrow(c, (0, y0), (0, y1))
    c.text(0, 5.6, f"input, {channels} channels", ha="center", fontsize=9)
    fg.circled(c, 0, 0.6, ms=14, text_scale=0.7)
    c.set_title(f"(c) one grouped convolution\n{bottleneck_weights(channels, w, groups=cardinality):,}"
                " weights: the same function", fontsize=10)
    c.set_xlim(-1.6, 1.6)
    c.set_ylim(-0.4, 6.0)
    c.axis("off")
    # connectivity of the grouped 3x3
    m.imshow(zt.group_mask(w, w, cardinality), cmap="Blues", interpolation="nearest")
    m.set_xlabel("input channel of the 3x3")
    m.set_ylabel("output channel of the 3x3")
    m.set_title(f"grouped 3x3: block diagonal, {cardinality} blocks of {d}x{d}\n"
                f"(a dense 3x3 would fill all {w}x{w})", fontsize=10)
    return fig


def plot_comparison(rows: Sequence[dict]):
    """Bars of parameters, MACs and torchvision's top-5 error, one per network."""
    names = [r["network"] for r in rows]
    colors = [fg.ORANGE if "ResNeXt" in n else (fg.DARK if "50" in n else fg.BLUE) for n in names]
    return fg.bar_panels(rows, [("params", "parameters (millions)", 1e6),
                                ("macs", "multiply-accumulates (billions), 224x224", 1e9),
                                ("top5_tv", "top-5 error % (torchvision weights V1)", 1)], colors)


def plot_stage_costs(tables: "OrderedDict[str, list[dict]]"):
    """Parameters and MACs per stage for several networks (rows of :func:`stage_table`)."""
    names = list(tables)
    stages = [r["stage"] for r in next(iter(tables.values()))]
    fig = Figure(figsize=(12, 3.6), layout="constrained")
    axes = fig.subplots(1, 2)
    width = 0.8 / len(names)
    palette = (fg.BLUE, fg.ORANGE, fg.DARK, fg.LIGHT_GREEN, fg.RED)
    for ax, key, title in ((axes[0], "params", "parameters (millions)"),
                           (axes[1], "macs", "multiply-accumulates (millions)")):
        for i, name in enumerate(names):
            vals = [r[key] / 1e6 for r in tables[name]]
            ax.bar(np.arange(len(stages)) + (i - (len(names) - 1) / 2) * width, vals, width,
                   label=name, color=palette[i % len(palette)])
        ax.set_xticks(np.arange(len(stages)), stages)
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=8)
        ax.grid(axis="y", alpha=0.3)
    return fig


def stage_pipeline(model: nn.Module, input_shape=(3, 224, 224)) -> list[tuple[str, tuple]]:
    """``(label, shape)`` after the input, stem, each stage and the classifier, for
    :func:`lecture_tools.plot_cnn_pipeline`."""
    rows = stage_table(model, input_shape)
    stages = [("input", tuple(input_shape))]
    stages += [(r["stage"] if r["stage"] != "head" else "pool + fc", r["out_shape"]) for r in rows]
    return stages
