"""Helpers for Lecture 10, "Xception, MobileNet and ShuffleNet". The notebook imports this
module as ``eft``.

Like the other lecture modules it holds three kinds of things:

* the architectures **as data**: the networks of the lecture built on the meta
  device (timm's ``legacy_xception`` and ``mobilenetv1_100``, torchvision's
  ``mobilenet_v2`` and ``shufflenet_v2_x1_0``), tables grouped by module with
  totals that add up to the model's, MobileNet v1's layer list in the form of
  the paper's Table 1, MobileNet v2's ``(t, c, n, s)`` table read back from
  the model, and the accuracy numbers of the papers with their sources;
* the **cost arithmetic** of efficient convolutions: a standard against a
  depthwise separable convolution, the unit costs of ShuffleNet v1's Section 3.2,
  the memory access cost of ShuffleNet v2's guidelines G1 and G2, which channels a stack
  of grouped convolutions connects (with and without a channel shuffle), and
  MobileNet v2's "ReLU destroys a low-dimensional manifold" experiment;
* **figure functions**. Each returns a :class:`matplotlib.figure.Figure` built
  with the object-oriented API, so the notebook shows it as the last
  expression of a cell and a test can draw it without a screen.

Every function is checked against PyTorch, timm and torchvision in
``tests/test_lecture_efficient.py``.

Deliberately absent: the separable convolution module, the inverted residual,
the ShuffleNet v2 unit, the channel shuffle itself and the five networks.
Problem set 8 asks students to write them; the lecture uses timm's
(``timm.models.xception``) and torchvision's (``torchvision.models.mobilenetv2``,
``torchvision.models.shufflenetv2``) instead.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from fractions import Fraction
from typing import Callable, Sequence

import numpy as np
import timm
import torch
import torch.nn as nn
import torchvision
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from timm.models.efficientnet import _gen_mobilenet_v1
from torchvision.models.shufflenetv2 import channel_shuffle

from . import arch_tools as at
from . import figures as fg
from . import lecture_tools as lt
from . import zoo_tools as zt

#: The lecture's networks: display name -> (library, builder name, input side).
MODELS = OrderedDict([
    ("Xception", ("timm", "legacy_xception", 299)),
    ("MobileNet v1", ("timm", "mobilenetv1_100", 224)),
    ("MobileNet v2", ("torchvision", "mobilenet_v2", 224)),
    ("ShuffleNet v2 1x", ("torchvision", "shufflenet_v2_x1_0", 224)),
])
#: Earlier networks, for scale.
SCALE = OrderedDict([
    ("VGG-16", ("torchvision", "vgg16", 224)),
    ("GoogLeNet", ("torchvision", "googlenet", 224)),
    ("ResNet-50", ("torchvision", "resnet50", 224)),
])

#: ImageNet top-1 accuracy (%) as the papers report it, one centre crop unless noted, and where.
PAPER_TOP1 = OrderedDict([
    ("Xception", (79.0, "Chollet 2017, Table 1 (299x299)")),
    ("MobileNet v1", (70.6, "Howard et al. 2017, Table 8")),
    ("MobileNet v2", (72.0, "Sandler et al. 2018, Table 4")),
    ("ShuffleNet v2 1x", (69.4, "Ma et al. 2018, Table 8 (30.6% error)")),
    ("VGG-16", (71.5, "Howard et al. 2017, Table 8")),
    ("GoogLeNet", (69.8, "Howard et al. 2017, Table 8")),
    ("ResNet-50", (76.1, "Xie et al. 2017, Table 3 (23.9% error)")),
])

#: Chollet 2017, Table 1: ImageNet (top-1, top-5) accuracy, single crop, single model.
CHOLLET_TABLE1 = OrderedDict([("VGG-16", (0.715, 0.901)), ("ResNet-152", (0.770, 0.933)),
                              ("Inception V3", (0.782, 0.941)), ("Xception", (0.790, 0.945))])
#: Chollet 2017, Table 3: parameters.
CHOLLET_TABLE3_PARAMS = {"Inception V3": 23_626_728, "Xception": 22_855_952}

#: Howard et al. 2017, Table 8: ImageNet top-1 (%), million mult-adds, million parameters.
HOWARD_TABLE8 = OrderedDict([("MobileNet v1", (70.6, 569, 4.2)), ("GoogLeNet", (69.8, 1550, 6.8)),
                             ("VGG-16", (71.5, 15300, 138))])
#: Howard et al. 2017, Table 2: share (%) of MobileNet's mult-adds and parameters by layer kind.
HOWARD_TABLE2 = {"Conv 1x1": (94.86, 74.59), "Conv dw": (3.06, 1.06), "FC": (0.18, 24.33)}
#: Howard et al. 2017, Table 6: width multiplier -> (top-1 %, million mult-adds, million params).
HOWARD_TABLE6 = OrderedDict([(1.0, (70.6, 569, 4.2)), (0.75, (68.4, 325, 2.6)),
                             (0.5, (63.7, 149, 1.3)), (0.25, (50.6, 41, 0.5))])
#: Howard et al. 2017, Table 7: input side -> (top-1 %, million mult-adds), width 1.0.
HOWARD_TABLE7 = OrderedDict([(224, (70.6, 569)), (192, (69.1, 418)), (160, (67.2, 290)),
                             (128, (64.4, 186))])

#: Ma et al. 2018, Table 5: ShuffleNet v2 (million FLOPs, i.e. mult-adds; million weights).
SHUFFLENET_V2_COST = OrderedDict([("1x", (146, 2.3)), ("0.5x", (41, 1.4))])


# ---------------------------------------------------------------------------
# The architectures as data
# ---------------------------------------------------------------------------


def build_timm(name: str, **kwargs) -> nn.Module:
    """A timm model by name (``"legacy_xception"``), untrained, on the meta device."""
    return at.on_meta(lambda: timm.create_model(name, pretrained=False, **kwargs))


def build_torchvision(name: str, **kwargs) -> nn.Module:
    """A torchvision model by builder name (``"mobilenet_v2"``), untrained, on the meta device."""
    if name == "googlenet":
        kwargs = {"aux_logits": False, "init_weights": False, **kwargs}
    return at.on_meta(lambda: getattr(torchvision.models, name)(weights=None, **kwargs))


def build(name: str, **kwargs) -> nn.Module:
    """A network of :data:`MODELS` or :data:`SCALE` by display name, untrained, on the meta device."""
    lib, builder, _ = {**MODELS, **SCALE}[name]
    return (build_timm if lib == "timm" else build_torchvision)(builder, **kwargs)


def input_shape(name: str) -> tuple[int, int, int]:
    """The input each network was designed for: 299x299 for Xception, 224x224 for the rest."""
    side = {**MODELS, **SCALE}[name][2]
    return (3, side, side)


def mobilenet_v1(alpha: float = 1.0) -> nn.Module:
    """timm's MobileNet v1 with width multiplier ``alpha`` (channels rounded to multiples of 8),
    on the meta device. ``alpha=1`` is ``mobilenetv1_100``, ``1.25`` is ``mobilenetv1_125``."""
    return at.on_meta(lambda: _gen_mobilenet_v1("mobilenetv1_100", alpha, pretrained=False))


def count(model: nn.Module, input_shape: Sequence[int]) -> dict:
    """Parameters and MACs for one image (:func:`arch_tools.count`): for sweeps over many sizes."""
    return at.count(model, input_shape)


def _owner(name: str) -> str:
    """The module that owns a parameter (``a.b.weight`` -> ``a.b``)."""
    return name.rsplit(".", 1)[0]


def module_table(model: nn.Module, input_shape: Sequence[int],
                 key: Callable[[str], str]) -> list[dict]:
    """Rows grouped by ``key(module_name)``, in forward order: group, weight layers
    (convolutions and linear layers, shortcuts included), output shape, parameters, MACs.

    Parameters are summed over ``named_parameters`` (so BatchNorm, timm's fused
    ``BatchNormAct2d`` included, is counted and the column adds up to the
    model's total); MACs come from :func:`arch_tools.layer_table`. The output
    shape is that of the outermost module of the group (``stage2`` rather than
    its last convolution: a ShuffleNet unit concatenates two branches).
    """
    rows = at.layer_table(model, input_shape, types=(nn.Conv2d, nn.Linear))
    out: "OrderedDict[str, dict]" = OrderedDict()

    def group(g):
        return out.setdefault(g, {"group": g, "layers": 0, "out_shape": None, "params": 0, "macs": 0})

    for r in rows:
        g = group(key(r["layer"]))
        g["macs"] += r["macs"]
        g["layers"] += 1
    for name, p in model.named_parameters():   # a group without weight layers (a BN) gets a row
        group(key(_owner(name)))["params"] += p.numel()
    # Output shapes: every module's output, keep the outermost (fewest dots, last called) per group.
    seen: dict = {}

    def hook(mod, inp, res, name):
        if isinstance(res, torch.Tensor):
            g, depth = key(name), name.count(".")
            if g in out and (g not in seen or depth <= seen[g][0]):
                seen[g] = (depth, tuple(res.shape[1:]))

    at.eval_pass(model, input_shape,
                 [m.register_forward_hook(lambda mod, i, o, n=n: hook(mod, i, o, n))
                  for n, m in model.named_modules() if n])
    for g, row in out.items():
        row["out_shape"] = seen[g][1]
    return list(out.values())


def top_level(name: str) -> str:
    """Group key: the top-level module, with BatchNorm/activation merged into its convolution
    (``bn1``/``act1`` -> ``conv1``) and timm's ``global_pool.pool`` -> ``pool``."""
    top = name.split(".")[0]
    if top[:2] == "bn" and top[2:].isdigit():
        return "conv" + top[2:]
    return "pool" if top == "global_pool" else top


def xception_flow(group: str) -> str:
    """Chollet's three flows: entry (conv1, conv2, block1-3), middle (block4-11), exit."""
    if group.startswith("block"):
        i = int(group[5:])
        return "entry" if i <= 3 else ("middle" if i <= 11 else "exit")
    return "entry" if group in ("conv1", "conv2") else "exit"


def xception_table(model: nn.Module, input_shape=(3, 299, 299)) -> list[dict]:
    """Per module of timm's ``legacy_xception``, with its flow."""
    rows = module_table(model, input_shape, top_level)
    return [{"flow": xception_flow(r["group"]), **r} for r in rows]


def _conv_kind(m: nn.Module) -> str:
    if isinstance(m, nn.Linear):
        return "FC"
    if m.groups == m.in_channels == m.out_channels and m.groups > 1:
        return "Conv dw"
    return "Conv"


def paper_table1(model: nn.Module, input_shape=(3, 224, 224)) -> list[dict]:
    """MobileNet v1's layers in the form of Howard et al.'s Table 1: type/stride, filter shape,
    input size (H x W x C), plus parameters and MACs. One row per weight layer."""
    mods = dict(model.named_modules())
    rows = at.layer_table(model, input_shape, types=(nn.Conv2d, nn.Linear))
    out, prev = [], (input_shape[1], input_shape[2], input_shape[0])
    for r in rows:
        m = mods[r["layer"]]
        kind = _conv_kind(m)
        if kind == "FC":
            shape, stride, size = f"{m.in_features} x {m.out_features}", "s1", f"1 x 1 x {m.in_features}"
        else:
            k = m.kernel_size[0]
            shape = (f"{k} x {k} x {m.in_channels} dw" if kind == "Conv dw"
                     else f"{k} x {k} x {m.in_channels} x {m.out_channels}")
            stride, size = f"s{m.stride[0]}", f"{prev[0]} x {prev[1]} x {prev[2]}"
        out.append({"type / stride": f"{kind} / {stride}", "filter shape": shape,
                    "input size": size, "params": r["params"], "macs": r["macs"]})
        if len(r["out_shape"]) == 3:
            c, h, w = r["out_shape"]
            prev = (h, w, c)
    return out


def cost_by_kind(model: nn.Module, input_shape=(3, 224, 224)) -> dict:
    """Share (%) of MACs and of weights (convolutions and linear layers; biases and BatchNorm left
    out) per
    kind of layer: full 3x3 convolution, depthwise, 1x1 (pointwise), fully connected.
    The form of Howard et al.'s Table 2."""
    mods = dict(model.named_modules())
    rows = at.layer_table(model, input_shape, types=(nn.Conv2d, nn.Linear))
    acc: dict = {}
    for r in rows:
        m = mods[r["layer"]]
        kind = _conv_kind(m)
        if kind == "Conv":
            kind = "Conv 1x1" if m.kernel_size == (1, 1) else f"Conv {m.kernel_size[0]}x{m.kernel_size[0]}"
        a = acc.setdefault(kind, [0, 0])
        a[0] += r["macs"]
        a[1] += m.weight.numel()
    tm, tp = sum(a[0] for a in acc.values()), sum(a[1] for a in acc.values())
    return {k: {"macs %": 100 * a[0] / tm, "params %": 100 * a[1] / tp} for k, a in acc.items()}


def full_conv_cost(model: nn.Module, input_shape=(3, 224, 224)) -> dict:
    """Parameters (weights and biases, no BatchNorm) and MACs of the same network with every
    depthwise + pointwise pair replaced by one full convolution of the depthwise kernel size
    (Howard et al.'s "Conv MobileNet", Table 4)."""
    mods = dict(model.named_modules())
    rows = at.layer_table(model, input_shape, types=(nn.Conv2d, nn.Linear))
    params = macs = 0
    pending = None
    for r in rows:
        m = mods[r["layer"]]
        if _conv_kind(m) == "Conv dw":
            pending = m
            continue
        if pending is not None:  # the pointwise convolution after a depthwise one
            k, (_, h, w) = pending.kernel_size[0], r["out_shape"]
            params += lt.conv_params(m.in_channels, m.out_channels, k, bias=False)
            macs += lt.conv_macs(m.in_channels, m.out_channels, k, h, w)
            pending = None
        else:
            params += r["params"]
            macs += r["macs"]
    return {"params": params, "macs": macs}


def v2_settings(model: nn.Module) -> list[list[int]]:
    """MobileNet v2's ``[t, c, n, s]`` rows (expansion, output channels, repeats, first stride),
    read back from the inverted residual blocks of a torchvision model."""
    from torchvision.models.mobilenetv2 import InvertedResidual as IR
    rows: list[list[int]] = []
    for m in model.modules():
        if not isinstance(m, IR):
            continue
        first, dw = m.conv[0], [c for c in m.conv.modules()
                                if isinstance(c, nn.Conv2d) and c.groups > 1][0]
        c_in = first[0].in_channels if isinstance(first, nn.Sequential) else first.in_channels
        t, c = dw.in_channels // c_in, m.out_channels
        if rows and rows[-1][:2] == [t, c] and m.stride == 1:
            rows[-1][2] += 1
        else:
            rows.append([t, c, 1, m.stride])
    return rows


def block_specs(block: nn.Module) -> list[tuple[str, int, str]]:
    """``(layer, output channels, what follows it)`` for the convolutions of a sequential block,
    in order; "what follows" is the activation after its BatchNorm, or "linear"."""
    layers = [m for m in block.modules() if not list(m.children())]
    specs = []
    for i, m in enumerate(layers):
        if not isinstance(m, nn.Conv2d):
            continue
        k = m.kernel_size[0]
        kind = "depthwise" if m.groups == m.in_channels > 1 else ("1x1" if k == 1 else "conv")
        act = "linear"
        for nxt in layers[i + 1:]:
            if isinstance(nxt, nn.Conv2d):
                break
            if isinstance(nxt, (nn.ReLU, nn.ReLU6)):
                act = type(nxt).__name__
                break
        specs.append((f"{k}x{k} {kind}" if kind != "1x1" else "1x1 conv", m.out_channels, act))
    return specs


def receptive_fields(model: nn.Module) -> tuple[int, int]:
    """(weight layers on the longest path, receptive field of the last convolution), from the
    traced graph (:func:`arch_tools.graph_walk`). Depthwise and pointwise convolutions
    count as two layers, as in Howard et al.'s 28-layer MobileNet."""
    walk = at.graph_walk(model)
    return at.depth(model, walk), max(v["r"] for v in walk.values())


# ---------------------------------------------------------------------------
# Cost arithmetic
# ---------------------------------------------------------------------------


def standard_cost(m: int, n: int, k: int, h: int, w: int | None = None) -> dict:
    """A k x k convolution from ``m`` to ``n`` channels on an h x w output (no bias):
    ``k^2 m n`` weights and ``k^2 m n h w`` MACs."""
    w = h if w is None else w
    return {"weights": k * k * m * n, "macs": k * k * m * n * h * w}


def separable_cost(m: int, n: int, k: int, h: int, w: int | None = None) -> dict:
    """Depthwise k x k (one filter per input channel) then pointwise 1x1 (``m -> n``):
    ``k^2 m + m n`` weights and ``(k^2 m + m n) h w`` MACs, split into the two steps."""
    w = h if w is None else w
    dw, pw = k * k * m, m * n
    return {"depthwise_weights": dw, "pointwise_weights": pw, "weights": dw + pw,
            "depthwise_macs": dw * h * w, "pointwise_macs": pw * h * w, "macs": (dw + pw) * h * w}


def separable_ratio(n: int, k: int) -> Fraction:
    """Howard et al.'s eq. 5: separable / standard cost = 1/N + 1/D_K^2 (exact)."""
    return Fraction(1, n) + Fraction(1, k * k)


def unit_macs(c: int, m: int, h: int, w: int, g: int) -> dict:
    """Zhang et al.'s Section 3.2: MACs of three bottleneck units on a c x h x w input with m
    bottleneck channels: ResNet ``hw(2cm + 9m^2)``, ResNeXt ``hw(2cm + 9m^2/g)``, ShuffleNet
    ``hw(2cm/g + 9m)`` (grouped 1x1 convolutions, depthwise 3x3)."""
    return {"ResNet": h * w * (2 * c * m + 9 * m * m),
            "ResNeXt": h * w * (2 * c * m + 9 * m * m // g),
            "ShuffleNet": h * w * (2 * c * m // g + 9 * m)}


def memory_access(h: int, w: int, c1: int, c2: int, groups: int = 1) -> int:
    """Ma et al.'s memory access cost of a 1x1 convolution: read the input ``hw c1``, write the
    output ``hw c2``, read the weights ``c1 c2 / g`` (numbers of values, not bytes)."""
    return h * w * (c1 + c2) + c1 * c2 // groups


def flops_1x1(h: int, w: int, c1: int, c2: int, groups: int = 1) -> int:
    """MACs of the same 1x1 convolution (the papers' "FLOPs" B): ``hw c1 c2 / g``."""
    return h * w * c1 * c2 // groups


def memory_access_bound(h: int, w: int, flops: int) -> float:
    """Ma et al.'s eq. 1: ``MAC >= 2 sqrt(hw B) + B / hw``, with equality when c1 = c2."""
    return 2 * math.sqrt(h * w * flops) + flops / (h * w)


def g1_rows(h: int = 56, w: int = 56, c: int = 128,
            ratios: Sequence[int] = (1, 2, 6, 12)) -> list[dict]:
    """Guideline G1: 1x1 convolutions with c1:c2 = 1:r and the same MACs as c -> c."""
    target = flops_1x1(h, w, c, c)
    rows = []
    for r in ratios:
        c1 = round(c / math.sqrt(r))
        c2 = round(target / (h * w * c1))
        rows.append({"c1:c2": f"1:{r}", "c1": c1, "c2": c2, "macs": flops_1x1(h, w, c1, c2),
                     "memory": memory_access(h, w, c1, c2)})
    return rows


def g2_rows(h: int = 56, w: int = 56, c: int = 128,
            groups: Sequence[int] = (1, 2, 4, 8)) -> list[dict]:
    """Guideline G2: 1x1 convolutions c' -> c' with g groups and the MACs of c -> c; with more
    groups the layer can afford more channels, and reading and writing them costs more."""
    target = flops_1x1(h, w, c, c)
    rows = []
    for g in groups:
        cg = round(math.sqrt(target * g / (h * w)))
        rows.append({"groups": g, "channels": cg, "macs": flops_1x1(h, w, cg, cg, g),
                     "memory": memory_access(h, w, cg, cg, g)})
    return rows


class Shuffle(nn.Module):
    """torchvision's ``channel_shuffle`` as a layer, so it can sit in an ``nn.Sequential``."""

    def __init__(self, groups: int):
        super().__init__()
        self.groups = groups

    def forward(self, x):
        return channel_shuffle(x, self.groups)


def shuffle_permutation(channels: int, groups: int) -> list[int]:
    """Output channel i of ``channel_shuffle`` is input channel ``perm[i]``."""
    x = torch.arange(channels, dtype=torch.float32).view(1, channels, 1, 1)
    return [int(v) for v in channel_shuffle(x, groups).flatten()]


def grouped_stack(channels: int, groups: int, shuffle: bool, layers: int = 2,
                  seed: int = 0) -> nn.Sequential:
    """``layers`` grouped 1x1 convolutions (ShuffleNet v1's pointwise group convolutions), with
    a channel shuffle between consecutive ones when ``shuffle``. Float64, random weights."""
    torch.manual_seed(seed)
    mods: list[nn.Module] = []
    for i in range(layers):
        if i and shuffle:
            mods.append(Shuffle(groups))
        mods.append(nn.Conv2d(channels, channels, 1, groups=groups, bias=False).double())
    return nn.Sequential(*mods)


def connectivity(module: nn.Module, channels: int) -> np.ndarray:
    """``mask[o, i]``: does output channel o depend on input channel i? From the Jacobian of
    ``module`` at one pixel (random weights make accidental zeros practically impossible)."""
    x = torch.randn(channels, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    jac = torch.autograd.functional.jacobian(lambda v: module(v.view(1, -1, 1, 1)).flatten(), x)
    return (jac.abs() > 1e-12).numpy()


def relu_manifold(dims: Sequence[int] = (2, 3, 5, 15, 30), points: int = 400,
                  seed: int = 0) -> "OrderedDict[int, dict]":
    """Sandler et al.'s Figure 1: a 2-D spiral embedded in n dimensions by a random matrix T,
    passed through ReLU, and mapped back to 2-D by the best linear map (least squares).

    Returns, per n, the spiral, its reconstruction and the relative error
    ``|x - x_hat| / |x|``. Without the ReLU the reconstruction is exact for
    every n >= 2; with it, information is lost when n is small.
    """
    rng = np.random.default_rng(seed)
    t = np.linspace(0.5, 4 * np.pi, points)
    spiral = np.stack([t * np.cos(t), t * np.sin(t)], axis=1) / (4 * np.pi)
    out: "OrderedDict[int, dict]" = OrderedDict()
    for n in dims:
        T = rng.normal(size=(n, 2))
        y = np.maximum(spiral @ T.T, 0)
        readout = np.linalg.lstsq(y, spiral, rcond=None)[0]
        back = y @ readout
        out[n] = {"spiral": spiral, "recovered": back,
                  "error": float(np.linalg.norm(back - spiral) / np.linalg.norm(spiral))}
    return out


# ---------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------


def plot_separable_conv(m: int = 8, n: int = 12, k: int = 3, side: int = 14) -> Figure:
    """The weights of a standard k x k convolution (n x m kernels) against a depthwise one
    (m kernels) and a pointwise one (an n x m matrix), with their counts, and the cost ratio
    1/N + 1/k^2 as N grows."""
    rng = np.random.default_rng(0)
    std, sep = standard_cost(m, n, k, side), separable_cost(m, n, k, side)
    fig = Figure(figsize=(15, 4.2), layout="constrained")
    a, b, c, d = fig.subplots(1, 4, width_ratios=[1.0, 0.9, 0.8, 1.3])
    full = np.abs(rng.normal(size=(n * k, m * k)))
    a.imshow(full, cmap="Blues", aspect="equal")
    for i in range(1, m):
        a.axvline(i * k - 0.5, color="w", lw=1.5)
    for j in range(1, n):
        a.axhline(j * k - 0.5, color="w", lw=1.5)
    a.set_title(f"standard: {n} x {m} kernels of {k}x{k}\n{std['weights']:,} weights, "
                f"{std['macs']:,} MACs on {side}x{side}", fontsize=9)
    a.set_xlabel(f"input channel (M = {m})")
    a.set_ylabel(f"output channel (N = {n})")
    dw = np.full((m * k, m * k), np.nan)
    for i in range(m):
        dw[i * k:(i + 1) * k, i * k:(i + 1) * k] = np.abs(rng.normal(size=(k, k)))
    b.imshow(dw, cmap="Oranges", aspect="equal", vmin=0)
    b.set_title(f"depthwise: {m} kernels of {k}x{k}, one per channel\n"
                f"{sep['depthwise_weights']:,} weights, {sep['depthwise_macs']:,} MACs", fontsize=9)
    b.set_xlabel("input channel")
    b.set_ylabel("output channel (= input channel)")
    c.imshow(np.abs(rng.normal(size=(n, m))), cmap="Greens", aspect="equal")
    c.set_title(f"pointwise: {n} x {m} scalars (1x1)\n{sep['pointwise_weights']:,} weights, "
                f"{sep['pointwise_macs']:,} MACs", fontsize=9)
    c.set_xlabel("input channel")
    c.set_ylabel("output channel")
    for ax in (a, b, c):
        ax.set_xticks([])
        ax.set_yticks([])
    ns = np.array([8, 16, 32, 64, 128, 256, 512, 1024])
    for kk, color in ((3, fg.DARK), (5, fg.ORANGE), (7, "0.4")):
        d.semilogx(ns, [float(separable_ratio(int(v), kk)) for v in ns], "o-", color=color,
                   ms=3, label=f"{kk}x{kk}: ratio -> 1/{kk * kk} = {1 / kk ** 2:.3f}")
    d.set_xticks(ns, [str(v) for v in ns], fontsize=7)
    d.set_xlabel("output channels N")
    d.set_ylabel("separable / standard MACs")
    d.set_title(f"cost ratio 1/N + 1/k^2 (here {float(separable_ratio(n, k)):.3f})", fontsize=9)
    d.grid(alpha=0.3)
    d.legend(fontsize=8)
    return fig


def plot_towers(channels: int = 12, towers: Sequence[int] = (1, 3, 12), k: int = 3) -> Figure:
    """Chollet's continuum: a 1x1 convolution followed by a k x k convolution split into
    ``towers`` groups. One tower is a regular convolution, a few are an Inception-like module,
    one per channel is the "extreme Inception" (a depthwise separable convolution)."""
    fig = Figure(figsize=(4 * len(towers), 4), layout="constrained")
    axes = fig.subplots(1, len(towers))
    for ax, g in zip(axes, towers):
        ax.imshow(zt.group_mask(channels, channels, g), cmap="Blues", interpolation="nearest",
                  vmin=0, vmax=1)
        spatial = lt.conv_params(channels, channels, k, bias=False, groups=g)
        name = {1: "one tower: regular conv", channels: "one tower per channel: depthwise"}.get(
            g, f"{g} towers (Inception-like)")
        ax.set_title(f"{name}\n{k}x{k} weights: {spatial:,} (+ {channels * channels:,} in the 1x1)",
                     fontsize=9)
        ax.set_xlabel("input channel of the spatial conv")
        ax.set_ylabel("output channel")
    return fig


def plot_xception_flows(rows: Sequence[dict]) -> Figure:
    """Xception's entry, middle and exit flows as boxes, one per row of :func:`xception_table`
    (the middle flow's eight identical blocks as one box marked x8)."""
    fig = Figure(figsize=(13, 5.0), layout="constrained")
    ax = fig.subplots()
    ends = {}
    cols = {"entry": 0.0, "middle": 4.2, "exit": 8.4}
    fills = {"entry": fg.BLUE, "middle": fg.LIGHT_GREEN, "exit": fg.LIGHT_ORANGE}
    by_flow: "OrderedDict[str, list]" = OrderedDict((f, []) for f in cols)
    for r in rows:
        by_flow[r["flow"]].append(r)
    for flow, items in by_flow.items():
        x = cols[flow]
        if flow == "middle":
            r0 = items[0]
            items = [{**r0, "group": f"{items[0]['group']}..{items[-1]['group']} (x{len(items)})",
                      "params": sum(r["params"] for r in items), "macs": sum(r["macs"] for r in items)}]
        total_p = sum(r["params"] for r in by_flow[flow])
        total_m = sum(r["macs"] for r in by_flow[flow])
        ax.text(x, 9.5, f"{flow} flow\n{total_p / 1e6:.2f} M params, {total_m / 1e9:.2f} G MACs",
                ha="center", fontsize=10, weight="bold")
        ys = np.linspace(8.3, 8.3 - 1.15 * (len(items) - 1), len(items))
        for y, r in zip(ys, items):
            shape = "x".join(str(v) for v in r["out_shape"])
            fg.box(ax, x, y, 3.6, 0.9, f"{r['group']}: {r['layers']} weight layers\nout {shape}, "
                   f"{r['params']:,} params", fc=fills[flow], lw=0.8)
        for y0, y1 in zip(ys, ys[1:]):
            fg.arrow(ax, (x, y0 - 0.45), (x, y1 + 0.45))
        ends[flow] = ys[-1]
    fg.arrow(ax, (cols["entry"] + 1.8, ends["entry"]), (cols["middle"] - 1.8, 8.3))
    fg.arrow(ax, (cols["middle"] + 1.8, 8.3), (cols["exit"] - 1.8, 8.3))
    ax.text(cols["middle"], 6.6, "each middle block:\n3 x (ReLU, 3x3 separable conv 728->728, BN)\n"
            "+ identity shortcut", ha="center", fontsize=9)
    ax.set_xlim(-2.2, 10.6)
    ax.set_ylim(min(ends.values()) - 0.7, 10.4)
    ax.axis("off")
    return fig


def plot_inverted_residual(specs: "OrderedDict[str, tuple[int, list]]") -> Figure:
    """Each block as a stack of bars whose width is proportional to the number of channels:
    a ResNet bottleneck is wide-narrow-wide, an inverted residual narrow-wide-narrow.

    ``specs`` maps a title to ``(input channels, block_specs(...))``.
    """
    fig = Figure(figsize=(6 * len(specs), 4.6), layout="constrained")
    axes = fig.subplots(1, len(specs), squeeze=False)[0]
    widest = max(max([c_in] + [s[1] for s in layers]) for c_in, layers in specs.values())
    for ax, (title, (c_in, layers)) in zip(axes, specs.items()):
        levels = [("input", c_in, "")] + list(layers)
        ys = np.arange(len(levels))[::-1] * 1.1
        for y, (label, ch, act) in zip(ys, levels):
            wdt = 6 * ch / widest
            color = (fg.LIGHT_GREEN if label == "input"
                     else fg.LIGHT_ORANGE if "depthwise" in label else fg.BLUE)
            ax.add_patch(Rectangle((-wdt / 2, y - 0.3), wdt, 0.6, fc=color, ec="k", lw=0.8))
            ax.text(3.3, y, f"{label}: {ch} ch" + (f"\nthen {act}" if act else ""), va="center",
                    fontsize=8, color="#de2d26" if act == "linear" else "k")
        ax.plot([-3.3, -3.6, -3.6, -3.3], [ys[0], ys[0], ys[-1], ys[-1]], color=fg.DARK, lw=1.5)
        ax.text(-3.7, (ys[0] + ys[-1]) / 2, "+ x", ha="right", va="center", fontsize=9,
                color=fg.DARK)
        ax.set_title(title, fontsize=10)
        ax.set_xlim(-4.5, 6.5)
        ax.set_ylim(ys[-1] - 0.7, ys[0] + 0.7)
        ax.axis("off")
    return fig


def plot_relu_manifold(results: "OrderedDict[int, dict]") -> Figure:
    """One panel per embedding dimension n: the spiral (grey) and what survives ReLU (colour)."""
    fig = Figure(figsize=(3 * (len(results) + 1), 3.2), layout="constrained")
    axes = fig.subplots(1, len(results) + 1)
    first = next(iter(results.values()))["spiral"]
    axes[0].scatter(first[:, 0], first[:, 1], c=np.arange(len(first)), cmap="viridis", s=3)
    axes[0].set_title("input: a 2-D spiral", fontsize=9)
    for ax, (n, r) in zip(axes[1:], results.items()):
        ax.plot(r["spiral"][:, 0], r["spiral"][:, 1], color="0.85", lw=1)
        ax.scatter(r["recovered"][:, 0], r["recovered"][:, 1], c=np.arange(len(first)),
                   cmap="viridis", s=3)
        ax.set_title(f"n = {n}: error {r['error']:.2f}", fontsize=9)
    for ax in axes:
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
    return fig


def plot_channel_shuffle(channels: int = 12, groups: int = 3, masks=None) -> Figure:
    """Channel shuffle as a permutation (left), and which input channels reach which output
    channels through two grouped 1x1 convolutions without (middle) and with (right) it.
    ``masks``: the two :func:`connectivity` matrices, if already computed."""
    perm = shuffle_permutation(channels, groups)
    per = channels // groups
    colors = [fg.DARK, fg.ORANGE, fg.DARK_GREEN, "#756bb1", "#de2d26", "0.5"]
    fig = Figure(figsize=(14, 4.4), layout="constrained")
    a, b, c = fig.subplots(1, 3, width_ratios=[1, 1, 1])
    for i in range(channels):
        src = perm[i]
        col = colors[(src // per) % len(colors)]
        a.plot([0, 1], [channels - 1 - src, channels - 1 - i], color=col, lw=1.5)
        a.plot([0], [channels - 1 - i], "s", color=colors[(i // per) % len(colors)], ms=8)
        a.plot([1], [channels - 1 - i], "s", color=col, ms=8)
    a.set_xticks([0, 1], ["before\n(grouped by group)", "after channel_shuffle"])
    a.set_yticks(range(channels), [str(channels - 1 - i) for i in range(channels)], fontsize=7)
    a.set_title(f"channel shuffle, {channels} channels, {groups} groups:\n"
                "reshape (g, C/g), transpose, flatten", fontsize=9)
    a.set_xlim(-0.3, 1.3)
    for i, (ax, shuffle) in enumerate(((b, False), (c, True))):
        mask = (masks[i] if masks is not None
                else connectivity(grouped_stack(channels, groups, shuffle), channels))
        ax.imshow(mask, cmap="Blues", interpolation="nearest", vmin=0, vmax=1)
        ax.set_title(f"two grouped 1x1 convs, {'with' if shuffle else 'no'} shuffle:\n"
                     f"each output sees {int(mask.sum(1).min())} of {channels} inputs", fontsize=9)
        ax.set_xlabel("input channel")
        ax.set_ylabel("output channel")
    return fig


def plot_guidelines(g1: Sequence[dict], g2: Sequence[dict]) -> Figure:
    """ShuffleNet v2's G1 and G2: memory access cost of 1x1 convolutions with equal MACs."""
    fig = Figure(figsize=(11, 3.6), layout="constrained")
    a, b = fig.subplots(1, 2)
    for ax, rows, key, title in ((a, g1, "c1:c2", "G1: equal MACs, unequal widths"),
                                 (b, g2, "groups", "G2: equal MACs, more groups")):
        labels = [str(r[key]) for r in rows]
        vals = [r["memory"] / 1e3 for r in rows]
        bars = ax.bar(labels, vals, color=[fg.DARK] + [fg.BLUE] * (len(rows) - 1))
        ax.bar_label(bars, labels=[f"{v:,.0f}k" for v in vals], fontsize=8)
        ax.set_xlabel(key)
        ax.set_ylabel("memory access (thousand values)")
        mean = sum(r["macs"] for r in rows) / len(rows)
        ax.set_title(f"{title}\n(about {mean / 1e6:.1f} M MACs each)", fontsize=10)
        ax.set_ylim(0, max(vals) * 1.2)
    return fig


def plot_multipliers(width_rows: Sequence[dict], res_rows: Sequence[dict]) -> Figure:
    """MobileNet v1's two knobs: MACs and parameters against the width multiplier (with the
    alpha^2 law), MACs against the resolution (with rho^2), paper top-1 annotated."""
    fig = Figure(figsize=(12, 3.8), layout="constrained")
    a, b = fig.subplots(1, 2)
    al = np.array([r["alpha"] for r in width_rows])
    base = next(r for r in width_rows if r["alpha"] == 1.0)
    for key, color, label in (("macs", fg.DARK, "MACs"), ("params", fg.ORANGE, "parameters")):
        a.plot(al, [r[key] / base[key] for r in width_rows], "o", color=color, label=label)
    grid = np.linspace(al.min(), al.max(), 50)
    a.plot(grid, grid ** 2, "--", color="0.5", label="alpha^2")
    for r in width_rows:
        if r.get("top1"):
            a.annotate(f"{r['top1']}%", (r["alpha"], r["macs"] / base["macs"]),
                       textcoords="offset points", xytext=(6, -10), fontsize=8)
    a.set_xlabel("width multiplier alpha")
    a.set_ylabel("relative to alpha = 1")
    a.set_title("width multiplier (paper top-1 annotated)", fontsize=10)
    a.legend(fontsize=8)
    a.grid(alpha=0.3)
    sides = np.array([r["side"] for r in res_rows])
    b.plot(sides, [r["macs"] / 1e6 for r in res_rows], "o", color=fg.DARK, label="MACs (measured)")
    top = max(res_rows, key=lambda r: r["side"])
    g = np.linspace(sides.min(), sides.max(), 50)
    b.plot(g, top["macs"] / 1e6 * (g / top["side"]) ** 2, "--", color="0.5", label="rho^2 law")
    for r in res_rows:
        if r.get("top1"):
            b.annotate(f"{r['top1']}%", (r["side"], r["macs"] / 1e6), textcoords="offset points",
                       xytext=(6, -10), fontsize=8)
    b.set_xlabel("input resolution")
    b.set_ylabel("MACs (millions)")
    b.set_title("resolution multiplier (paper top-1 annotated)", fontsize=10)
    b.legend(fontsize=8)
    b.grid(alpha=0.3)
    return fig


def plot_cost_accuracy(rows: Sequence[dict]) -> Figure:
    """Left: paper top-1 against MACs (log scale), marker area proportional to parameters.
    Right: parameters and MACs as bars (log scale)."""
    fig = Figure(figsize=(13, 4.6), layout="constrained")
    a, b = fig.subplots(1, 2)
    for r in rows:
        efficient = r["network"] in MODELS
        a.scatter(r["macs"] / 1e6, r["top1"], s=30 + r["params"] / 2.5e5, alpha=0.6,
                  color=fg.ORANGE if efficient else fg.DARK, edgecolor="k")
        a.annotate(f"{r['network']}\n{r['params'] / 1e6:.1f} M params", (r["macs"] / 1e6, r["top1"]),
                   textcoords="offset points", xytext=(8, -4), fontsize=8)
    a.set_xscale("log")
    a.set_xlabel("multiply-accumulates per image (millions, log scale)")
    a.set_ylabel("ImageNet top-1 (%), as the papers report")
    a.set_title("accuracy against cost (orange: this lecture)", fontsize=10)
    a.grid(alpha=0.3, which="both")
    lo = min(r["top1"] for r in rows)
    a.set_ylim(lo - 2, max(r["top1"] for r in rows) + 2)
    names = [r["network"] for r in rows]
    x = np.arange(len(rows))
    b.bar(x - 0.2, [r["params"] / 1e6 for r in rows], 0.4, color=fg.ORANGE, label="parameters (M)")
    b.bar(x + 0.2, [r["macs"] / 1e8 for r in rows], 0.4, color=fg.DARK, label="MACs (x 100 M)")
    b.set_yscale("log")
    b.set_xticks(x, names, rotation=25, fontsize=8)
    b.legend(fontsize=8)
    b.grid(axis="y", alpha=0.3, which="both")
    b.set_title("parameters and MACs (log scale)", fontsize=10)
    return fig
