"""Helpers for Lecture 5, "LeNet-5 and AlexNet". The notebook imports this module as ``lat``.

It builds on :mod:`lecture_tools` (``lt``), :mod:`arch_tools` (``at``) and
:mod:`zoo_tools` (``zt``) and on the project's models in ``grader.models``.
It holds:

* the facts the lecture quotes from the papers, with their sources, as data;
* small functions that describe an architecture: output shapes of named
  layers, layer tables with a multi-module layer merged into one row, the
  channel settings of every convolution, the parameters a model would have
  without its "two-GPU" groups, LeNet-5's connection counts as the paper
  defines them;
* direct implementations of two formulas the lecture checks PyTorch against:
  the AlexNet paper's local response normalisation and how many pooling
  windows cover each pixel;
* figure functions. Each returns a :class:`matplotlib.figure.Figure` built
  with the object-oriented API (no pyplot state).

Every function is checked against PyTorch in ``tests/test_lecture_lenet_alexnet.py``.

Deliberately absent: the models of problem set 3 (LeNet-5, the sparse C3
layer, AlexNet in its two versions). The lecture uses ``grader.models`` and
``torchvision.models`` for them.
"""

from __future__ import annotations

import copy
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from . import arch_tools as at
from . import figures as fg
from . import lecture_tools as lt
from . import zoo_tools as zt

# ---------------------------------------------------------------------------
# Facts from the papers (numbers that no code can recompute)
# ---------------------------------------------------------------------------

#: LeCun, Bottou, Bengio & Haffner, "Gradient-based learning applied to document
#: recognition", Proc. IEEE 86(11), 1998 (Section III.C, Table I, Fig. 2).
LENET_PAPER = {
    "input": 32,                     # 28x28 MNIST digits centred in a 32x32 field
    "mnist_test_error_pct": 0.95,    # no distortions; 0.8 with distorted training data
    "mnist_test_error_distorted_pct": 0.8,
    "layers_not_counting_input": 7,  # C1, S2, C3, S4, C5, F6, output
    "trainable_params": 60_000,
    # "connections" (multiply-adds, biases included), from the text of Section II.B
    "connections": {"C1": 122_304, "S2": 5_880, "C3": 151_600, "S4": 2_000, "C5": 48_120,
                    "F6": 10_164},
    "params": {"C1": 156, "S2": 12, "C3": 1_516, "S4": 32, "C5": 48_120, "F6": 10_164},
    "tanh_A": 1.7159, "tanh_S": 2 / 3,
    "rbf_prototype": (7, 12),        # each output prototype is a 7x12 bitmap: 84 = F6 width
}

#: Krizhevsky, Sutskever & Hinton, "ImageNet classification with deep convolutional
#: neural networks", NeurIPS 2012.
ALEXNET_PAPER = {
    "channels": (96, 256, 384, 384, 256),
    "kernels": (11, 5, 3, 3, 3),
    "fc": (4096, 4096, 1000),
    "params_text": "60 million", "neurons_text": "650,000",
    "crop": 224, "resized": 256,           # random 224x224 crops of 256x256 images, plus flips
    "augmentation_factor": 2048,           # Section 4.1
    "lrn": {"k": 2.0, "n": 5, "alpha": 1e-4, "beta": 0.75},  # Section 3.3
    "lrn_gain_pct": (1.4, 1.2),            # top-1, top-5 error reduction from LRN
    "overlap_gain_pct": (0.4, 0.3),        # ... from 3x3/stride-2 instead of 2x2/stride-2 pooling
    "relu_speedup": 6,                     # Fig. 1: 25% CIFAR-10 training error six times sooner
    "dropout": 0.5,
    "top5_test_pct": {"5 CNNs": 16.4, "7 CNNs (2 pre-trained on Fall 2011)": 15.3},  # Table 2
    "runner_up_top5_pct": 26.2,
    "gpus": "two NVIDIA GTX 580 3GB", "days": "five to six", "epochs": 90,
}

#: [S4]'s numbers for the two networks and the challenge.
SEED = {
    "lenet_error_pct": 0.95, "lenet_accuracy_pct": 99.05, "lenet_layers": 5,
    "ilsvrc_start": 2010, "ilsvrc_classes": 1000, "ilsvrc_images": 1_200_000,
    "alexnet_top5_pct": 16.43, "alexnet_gain_pct": 9.4, "alexnet_layers": 8,
    "vgg_top5_pct": 7.32,
}

#: ILSVRC classification winners' top-5 test error (%). 2010-2014 from Russakovsky et al.,
#: "ImageNet Large Scale Visual Recognition Challenge", IJCV 2015; 2015 from He et al.,
#: "Deep residual learning for image recognition", CVPR 2016 (3.57%). VGG (2nd, 2014): [S4].
ILSVRC_TOP5 = [
    (2010, "NEC-UIUC", 28.2), (2011, "XRCE", 25.8), (2012, "AlexNet", 16.4),
    (2013, "Clarifai", 11.7), (2014, "GoogLeNet", 6.7), (2014, "VGG (2nd)", 7.32),
    (2015, "ResNet", 3.57),
]


# ---------------------------------------------------------------------------
# Describing architectures
# ---------------------------------------------------------------------------


def merge_rows(rows: list[dict], prefix: str, type_name: str | None = None) -> list[dict]:
    """Replace the rows of ``prefix.*`` (a layer built from several modules) by one row.

    Parameters and MACs add up; the output shapes are stacked along the
    channel axis (the modules' outputs are concatenated, as in LeNet's C3).
    """
    inside = [r for r in rows if r["layer"].startswith(prefix + ".")]
    if not inside:
        return list(rows)
    first = rows.index(inside[0])
    shape = (sum(r["out_shape"][0] for r in inside), *inside[0]["out_shape"][1:])
    merged = {"layer": prefix, "type": type_name or f"{len(inside)} x {inside[0]['type']}",
              "out_shape": shape, "params": sum(r["params"] for r in inside),
              "macs": sum(r["macs"] for r in inside)}
    rest = [r for r in rows if r not in inside]
    return rest[:first] + [merged] + rest[first:]


def totals(rows: Sequence[dict]) -> dict:
    """Sum of the params and MACs columns of a layer table."""
    return {"params": sum(r["params"] for r in rows), "macs": sum(r["macs"] for r in rows)}


def conv_settings(model: nn.Module) -> list[dict]:
    """Channels, kernel, stride, padding and groups of every ``nn.Conv2d``, in module order."""
    return [{"layer": name, "in": m.in_channels, "out": m.out_channels, "k": m.kernel_size[0],
             "s": m.stride[0], "p": m.padding[0], "groups": m.groups}
            for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]


def count_modules(model: nn.Module, kind: type) -> int:
    return sum(isinstance(m, kind) for m in model.modules())


def ungrouped(model: nn.Module) -> nn.Module:
    """A copy of ``model`` with every grouped convolution replaced by a dense one (groups=1).

    What AlexNet would have been on one big GPU with every layer connected to
    every map of the previous one. Built on the model's device (meta works).
    """
    model = copy.deepcopy(model)
    for name, m in list(model.named_modules()):
        if isinstance(m, nn.Conv2d) and m.groups > 1:
            parent, _, child = name.rpartition(".")
            dense = nn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding,
                              bias=m.bias is not None, device=m.weight.device)
            setattr(model.get_submodule(parent) if parent else model, child, dense)
    return model


def sparse_conv_params(table: Sequence[Sequence[int]], k: int, bias: bool = True) -> int:
    """Weights (+ biases) of a convolution whose output map o reads only the maps ``table[o]``.

    Each output map has ``len(table[o]) * k * k`` weights and one bias.
    """
    return sum(len(t) * k * k + bias for t in table)


def connection_matrix(table: Sequence[Sequence[int]], n_in: int) -> np.ndarray:
    """Boolean (n_in, n_out): entry (i, o) is True when output map o reads input map i.

    Rows are input maps and columns output maps, as in Table I of the LeNet paper.
    """
    mat = np.zeros((n_in, len(table)), dtype=bool)
    for o, t in enumerate(table):
        mat[list(t), o] = True
    return mat


def lenet_connections(model: nn.Module, input_shape=(1, 32, 32)) -> dict:
    """LeNet paper's "connections" of each layer of ``grader.models.LeNet5Paper``.

    The paper counts, for every output unit, its incoming weights plus its
    bias: a convolution map uses its parameters at every position, and a
    subsampling unit has 4 inputs and a bias. Keys are the paper's layer names.
    """
    names = ["c1", "s2", "c3", "s4", "c5", "f6"]
    shapes = at.output_shapes(model, input_shape, names)
    out = {}
    for name in names:
        shape, mod = shapes[name], model.get_submodule(name)
        positions = shape[1] * shape[2] if len(shape) == 3 else 1
        if name.startswith("s"):
            out[name.upper()] = positions * shape[0] * (4 + 1)
        else:
            out[name.upper()] = positions * lt.count_params(mod)
    return out


def rf_layers(model: nn.Module) -> list[tuple]:
    """The convolutions and poolings of ``model``, in module order, in ``lt.receptive_field``'s form.

    ``(k, s, d)`` for a convolution and ``("pool", k, s)`` for max or average
    pooling; padding does not change a receptive field's size, so it is left out.
    """
    return [layer for _, layer in at.rf_chain(model)]


def topk_error(logits: torch.Tensor, labels: torch.Tensor, k: int = 5) -> float:
    """Fraction of images whose true label is *not* among the ``k`` highest scores.

    ILSVRC's main criterion is k = 5: a guess counts when the right class is
    anywhere in the five best, which is fair to images holding several objects.
    """
    top = logits.topk(k, dim=1).indices
    return 1.0 - (top == labels[:, None]).any(dim=1).double().mean().item()


# ---------------------------------------------------------------------------
# AlexNet's ingredients
# ---------------------------------------------------------------------------


def lrn_paper(a: torch.Tensor, k: float = 2.0, n: int = 5, alpha: float = 1e-4,
              beta: float = 0.75) -> torch.Tensor:
    """Local response normalisation exactly as written in the AlexNet paper (Section 3.3).

    b_i = a_i / (k + alpha * sum_{j = max(0, i - n/2)}^{min(N - 1, i + n/2)} a_j^2) ** beta

    for the N channels of ``a`` (shape (batch, N, H, W)), with n odd and n/2
    rounded down. Note that alpha multiplies the plain *sum* of squares.
    """
    if n % 2 == 0:
        raise ValueError("the paper's window i - n/2 .. i + n/2 needs an odd n")
    channels = a.shape[1]
    out = torch.empty_like(a)
    for i in range(channels):
        lo, hi = max(0, i - n // 2), min(channels - 1, i + n // 2)
        energy = (a[:, lo:hi + 1] ** 2).sum(dim=1)
        out[:, i] = a[:, i] / (k + alpha * energy) ** beta
    return out


def pool_coverage(size: int, k: int, s: int) -> np.ndarray:
    """How many pooling windows (k x k, stride s, no padding) contain each pixel.

    ``F.unfold`` cuts out every window and ``F.fold`` adds them back in place,
    so a pixel ends up with the number of windows it belongs to.
    """
    ones = torch.ones(1, 1, size, size, dtype=torch.float64)
    cols = F.unfold(ones, k, stride=s)
    return F.fold(cols, (size, size), k, stride=s)[0, 0].numpy().astype(int)


def dropout_outputs(p: float, units: int, passes: int, seed: int = 0) -> np.ndarray:
    """``nn.Dropout(p)`` in training mode applied to all-ones, ``passes`` times: (passes, units).

    Every entry is 0 (dropped) or 1/(1-p) (kept and scaled up).
    """
    torch.manual_seed(seed)
    drop = nn.Dropout(p).train()
    return torch.stack([drop(torch.ones(units, dtype=torch.float64))
                        for _ in range(passes)]).numpy()


def scaled_tanh(x: torch.Tensor) -> torch.Tensor:
    """LeNet's squashing function A tanh(S x) with A = 1.7159, S = 2/3 (paper, Appendix A)."""
    return LENET_PAPER["tanh_A"] * torch.tanh(LENET_PAPER["tanh_S"] * x)


ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "1.7159 tanh(2x/3)": scaled_tanh,
    "ReLU": torch.relu,
}


def activation_curves(x: np.ndarray, names: Sequence[str] = tuple(ACTIVATIONS)) -> dict:
    """{name: (f(x), f'(x))} with the derivative from autograd (ReLU'(0) is 0 in PyTorch)."""
    out = {}
    for name in names:
        t = torch.tensor(np.asarray(x, dtype=float), requires_grad=True)
        y = ACTIVATIONS[name](t)
        (grad,) = torch.autograd.grad(y.sum(), t)
        out[name] = (y.detach().numpy(), grad.numpy())
    return out


def first_layer_gradients(activation: type[nn.Module], depth: int = 10, width: int = 64,
                          seed: int = 0) -> np.ndarray:
    """Gradient norm of each linear layer's weights in a ``depth``-layer MLP, first to last.

    A random batch of 32 inputs, PyTorch's default initialisation, the sum
    of the outputs as the loss. With a saturating activation the gradient
    shrinks at every layer on its way back to the input.
    """
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    for _ in range(depth):
        layers += [nn.Linear(width, width), activation()]
    net = nn.Sequential(*layers, nn.Linear(width, 1)).double()
    with lt.one_thread():
        net(torch.randn(32, width, dtype=torch.float64)).sum().backward()
    return np.array([net[2 * i].weight.grad.norm().item() for i in range(depth)])


def swap_activation(model: nn.Module, old: type[nn.Module], new: Callable[[], nn.Module]):
    """A copy of ``model`` with every ``old`` activation module replaced by ``new()``."""
    model = copy.deepcopy(model)
    for name, m in list(model.named_modules()):
        if isinstance(m, old):
            parent, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent) if parent else model, child, new())
    return model


# ---------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------


def plot_c3_table(table: Sequence[Sequence[int]], k: int = 5):
    """LeNet's Table I: which S2 maps (rows) each C3 map (columns) reads, with the costs.

    Under each column: the map's weights ``len(t) * k * k + 1``; the title
    compares the total with a dense layer.
    """
    mat = connection_matrix(table, 1 + max(max(t) for t in table))
    n_in, n_out = mat.shape
    per_map = [len(t) * k * k + 1 for t in table]
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    ax = fig.subplots()
    ax.imshow(mat, cmap="Blues", vmin=0, vmax=1.6, aspect="equal")
    for i, o in zip(*np.nonzero(mat)):
        ax.text(o, i, "X", ha="center", va="center", fontsize=12, color=fg.DARK, weight="bold")
    fg.cell_lines(ax, n_in, n_out)
    ax.set_xticks(range(n_out))
    ax.set_xticklabels([f"{o}\n{w}" for o, w in zip(range(n_out), per_map)], fontsize=9)
    ax.set_yticks(range(n_in))
    ax.set_yticklabels([f"S2 map {i}" for i in range(n_in)], fontsize=9)
    ax.set_xlabel(f"C3 map (top) and its parameters, {k}x{k}x(maps read) + 1 (bottom)")
    # Group the columns the way the paper describes them.
    for start, stop, text in _runs([len(t) for t in table]):
        ax.annotate("", (start - 0.45, -0.75), (stop + 0.45, -0.75),
                    arrowprops={"arrowstyle": "-", "color": fg.ORANGE, "lw": 2},
                    annotation_clip=False)
        ax.text((start + stop) / 2, -0.9, f"reads {text} maps", ha="center", va="bottom",
                fontsize=9, color=fg.ORANGE)
    sparse, dense = sparse_conv_params(table, k), lt.conv_params(n_in, n_out, k)
    ax.set_title(f"C3: {sparse:,} parameters with this table, {dense:,} if every map read all "
                 f"{n_in} ({mat.sum()} of {mat.size} connections)", pad=26)
    return fig


def _runs(values: Sequence[int]) -> list[tuple[int, int, str]]:
    """(first index, last index, value) of each run of equal neighbours."""
    runs, start = [], 0
    for i in range(1, len(values) + 1):
        if i == len(values) or values[i] != values[start]:
            runs.append((start, i - 1, str(values[start])))
            start = i
    return runs


def plot_activations(x: np.ndarray | None = None):
    """The four activations of the lecture (left) and their derivatives (right)."""
    x = np.linspace(-6, 6, 601) if x is None else np.asarray(x, dtype=float)
    curves = activation_curves(x)
    fig = Figure(figsize=(12, 4), layout="constrained")
    a_f, a_d = fig.subplots(1, 2)
    styles = {"sigmoid": ("-", fg.ORANGE), "tanh": ("--", "#7570b3"),
              "1.7159 tanh(2x/3)": (":", "#1b9e77"), "ReLU": ("-", fg.DARK)}
    for name, (y, dy) in curves.items():
        ls, color = styles[name]
        a_f.plot(x, y, ls, color=color, lw=2, label=name)
        a_d.plot(x, dy, ls, color=color, lw=2, label=name)
    a_f.set_ylim(-2, 4)
    a_f.set_title("activation f(x)")
    a_d.set_title("derivative f'(x) (autograd): the factor a gradient is multiplied by")
    a_d.axvspan(x.min(), -3, color=fg.RED, alpha=0.25)
    a_d.axvspan(3, x.max(), color=fg.RED, alpha=0.25)
    a_d.text(-4.5, 0.5, "saturated:\nsigmoid and tanh\npass almost\nno gradient", fontsize=8,
             ha="center")
    for ax in (a_f, a_d):
        ax.axhline(0, color="0.6", lw=0.8)
        ax.axvline(0, color="0.6", lw=0.8)
        ax.grid(alpha=0.3)
        ax.set_xlabel("x (pre-activation)")
    a_f.legend(fontsize=8, loc="upper left")
    a_d.legend(fontsize=8, loc="center right")
    return fig


def plot_gradient_depth(grads: dict):
    """Gradient norm per layer (log scale) for each activation: {name: array, first layer first}."""
    fig = Figure(figsize=(8, 3.6), layout="constrained")
    ax = fig.subplots()
    for (name, g), marker in zip(grads.items(), "os^v"):
        ax.semilogy(np.arange(1, len(g) + 1), g, marker=marker, label=name)
    ax.set_xlabel("linear layer (1 = nearest the input)")
    ax.set_ylabel("||dL/dW||")
    ax.set_title("gradient reaching each layer of a 10-layer MLP at initialisation")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    return fig


def plot_overlapping_pooling(size: int = 9):
    """Two output windows and the coverage counts of 2x2/stride-2 and 3x3/stride-2 pooling."""
    fig = Figure(figsize=(11, 5.2), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, k in zip(axes, (2, 3)):
        cover = pool_coverage(size, k, 2)
        out = lt.pool_out(size, k, 2)
        fg.grid(ax, cover, cmap="Greens", vmin=0, vmax=5, fmt="{:.0f}")
        for col, color in ((0, fg.DARK), (1, fg.ORANGE)):
            ax.add_patch(Rectangle((2 * col - 0.5 + 0.06 * col, -0.5 + 0.06 * col), k, k,
                                   fill=False, lw=3, ec=color))
        ax.set_title(f"{k}x{k}, stride 2: {size}x{size} -> {out}x{out}\n"
                     f"windows per pixel (max {cover.max()}); "
                     f"{'overlapping' if k > 2 else 'disjoint'} windows")
    fig.suptitle("Overlapping pooling: neighbouring windows (dark, orange) share a row or column")
    return fig


def plot_dropout(outputs: np.ndarray, p: float):
    """Which units survive in each of several training passes, and the eval-mode output."""
    passes, units = outputs.shape
    fig = Figure(figsize=(12, 3.8), layout="constrained")
    a_m, a_b = fig.subplots(1, 2, width_ratios=[3, 1.2])
    a_m.imshow(outputs, cmap="Blues", vmin=0, vmax=outputs.max() * 1.2, aspect="auto")
    fg.cell_lines(a_m, passes, units, color="0.5")
    a_m.set_xlabel("unit")
    a_m.set_ylabel("training step")
    a_m.set_title(f"nn.Dropout(p={p}) in train mode on all-ones: each step drops a new random "
                  f"half;\nkept units are scaled to 1/(1-p) = {1 / (1 - p):g}")
    means = outputs.mean(axis=1)
    a_b.bar(np.arange(passes), means, color=fg.BLUE, ec=fg.DARK)
    a_b.axhline(1.0, color="k", ls="--", lw=1)
    a_b.set_ylim(0, 2)
    a_b.set_xlabel("training step")
    a_b.set_title("mean output per step\n(eval mode: exactly 1)")
    return fig


def plot_two_gpus(c: int = 8, groups_model: nn.Module | None = None):
    """Left: channel masks of a dense and a groups=2 convolution, measured with autograd.
    Right: AlexNet (2012) layer by layer on two GPUs: which layers talk across the GPUs.
    """
    fig = Figure(figsize=(14, 4.4), layout="constrained")
    a1, a2, a3 = fig.subplots(1, 3, width_ratios=[1, 1, 2.6])
    for ax, g in ((a1, 1), (a2, 2)):
        conv = nn.Conv2d(c, c, 3, padding=1, groups=g).double()
        mask = zt.channel_dependence(conv, c)
        fg.grid(ax, mask.astype(float), cmap="Blues", vmin=0, vmax=1.3, fmt="")
        ax.set_xlabel("input channel")
        ax.set_ylabel("output channel")
        n_w = lt.conv_params(c, c, 3, bias=False, groups=g)
        ax.set_title(f"groups={g}: {mask.sum()} of {mask.size} pairs\n{n_w} weights (3x3)")
    layers = conv_settings(groups_model) if groups_model is not None else []
    _draw_gpu_flow(a3, layers)
    return fig


def _draw_gpu_flow(ax, layers: Sequence[dict]):
    names = [f"conv{i + 1}" for i in range(len(layers))] + ["fc6", "fc7", "fc8"]
    cross = [True] + [layer["groups"] == 1 for layer in layers[1:]] + [True, True, True]
    x_of = {n: 1.6 * i for i, n in enumerate(names)}
    for gpu, y in ((0, 1.0), (1, 0.0)):
        ax.text(-1.1, y, f"GPU {gpu + 1}", ha="right", va="center", fontsize=10)
        for i, n in enumerate(names):
            label = n
            if i < len(layers):
                label += f"\n{layers[i]['out'] // 2}"
            fg.box(ax, x_of[n], y, 0.9, 0.6, label, fc=fg.BLUE if gpu == 0 else fg.LIGHT_GREEN,
                   style=fg.SQUARE)
    for i in range(1, len(names)):
        x0, x1 = x_of[names[i - 1]] + 0.45, x_of[names[i]] - 0.45
        for y in (1.0, 0.0):
            fg.arrow(ax, (x0, y), (x1, y))
        if cross[i]:
            for y0, y1 in ((1.0, 0.0), (0.0, 1.0)):
                fg.arrow(ax, (x0, y0), (x1, y1), color=fg.DEEP_RED, lw=1.5)  # across the GPUs
    ax.set_xlim(-1.9, x_of[names[-1]] + 0.7)
    ax.set_ylim(-0.7, 1.6)
    ax.axis("off")
    ax.set_title("AlexNet (2012): half the maps on each GPU (numbers: maps per GPU); "
                 "red = reads both halves", fontsize=10)


def plot_comparison(models: dict, metrics: Sequence[str], log: bool = True):
    """Grouped bars: one group per metric, one bar per model. ``models``: {name: {metric: value}}."""
    names = list(models)
    fig = Figure(figsize=(12, 4.2), layout="constrained")
    ax = fig.subplots()
    width = 0.8 / len(names)
    colors = [fg.ORANGE, fg.BLUE, fg.DARK, "#1b9e77"]
    for j, name in enumerate(names):
        vals = [models[name][m] for m in metrics]
        bars = ax.bar(np.arange(len(metrics)) + (j - (len(names) - 1) / 2) * width, vals, width,
                      label=name, color=colors[j % len(colors)], ec="k")
        ax.bar_label(bars, labels=[f"{v:,.0f}" if v >= 1 else f"{v:g}" for v in vals],
                     fontsize=7, rotation=90, padding=2)
    ax.set_xticks(np.arange(len(metrics)))
    ax.set_xticklabels(metrics)
    if log:
        ax.set_yscale("log")
        top = max(max(v[m] for m in metrics) for v in models.values())
        ax.set_ylim(1, top * 400)
    ax.grid(axis="y", alpha=0.3, which="major")
    ax.legend(loc="upper right", fontsize=9)
    ax.set_title("LeNet-5 (1998) vs AlexNet (2012), log scale")
    return fig


def plot_ilsvrc(results: Sequence[tuple] = ILSVRC_TOP5):
    """Top-5 error of the ILSVRC classification winners by year (AlexNet highlighted)."""
    fig = Figure(figsize=(9, 3.8), layout="constrained")
    ax = fig.subplots()
    labels = [f"{year}\n{team}" for year, team, _ in results]
    errs = [e for *_, e in results]
    colors = [fg.ORANGE if team == "AlexNet" else (fg.BLUE if year < 2012 else fg.DARK)
              for year, team, _ in results]
    bars = ax.bar(labels, errs, color=colors, ec="k")
    ax.bar_label(bars, labels=[f"{e:g}%" for e in errs], fontsize=9)
    ax.set_ylabel("top-5 error (%)")
    ax.set_ylim(0, max(errs) * 1.2)
    ax.set_title("ILSVRC classification: the year CNNs arrived (orange)")
    ax.tick_params(axis="x", labelsize=8)
    ax.grid(axis="y", alpha=0.3)
    return fig


def plot_losses(curves: dict):
    """Training loss per step, one line per run: {label: losses}."""
    fig = Figure(figsize=(8, 3.6), layout="constrained")
    ax = fig.subplots()
    for (label, losses), ls in zip(curves.items(), ("-", "--", ":", "-.")):
        ax.plot(np.arange(len(losses)), losses, ls, lw=2, marker=".", label=label)
    ax.axhline(np.log(10), color="0.5", lw=0.8)
    ax.text(0, np.log(10) + 0.05, "ln 10: guessing among 10 classes", fontsize=8, va="bottom")
    ax.set_xlabel("Adam step")
    ax.set_ylabel("cross-entropy on the batch")
    ax.set_ylim(0, 2.9)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title("LeNet-5 on one batch of digits: the same network, three activations")
    return fig
