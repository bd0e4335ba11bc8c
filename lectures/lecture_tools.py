"""Helpers shared by the cnn-course lectures 1-3.

The notebooks import this module as ``lt``. It holds three kinds of things:

* the example data of the course's sources [S1]-[S5] (listed in sources.md): the
  5x5 worked example, the four edge filters of the Udacity notes, the MNIST and
  CIFAR ``Net`` classes, and a real photo; plus small examples of our own for the
  figures (an RGB volume and one 3-D filter, a map to pool, [S5]'s +-1 example rebuilt);
* the arithmetic of convolution as small functions, numbered after
  Dumoulin & Visin, *A guide to convolution arithmetic for deep learning*
  (2016), plus receptive fields, parameter counts and multiply-accumulate
  (MAC) counts;
* figure functions. Each returns a :class:`matplotlib.figure.Figure` built
  with the object-oriented API (no pyplot state), so that a notebook shows it
  by leaving it as the last expression of a cell and a test can draw it
  without a screen.

Every formula here is checked against PyTorch in ``tests/test_lectures.py``.
The figures are drawn *from* these functions, so a figure can never show a
different number from the one the tests check.

Deliberately absent: a full multi-channel / strided / grouped ``conv2d`` and
any pooling implementation. Those are problem-set 1 exercises; the lectures
use ``torch.nn.functional`` for them.
"""

from __future__ import annotations

import contextlib
import math
from fractions import Fraction
from typing import Iterable, Sequence

import matplotlib
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from . import figures as fg

# ---------------------------------------------------------------------------
# Example data from the sources (names SEED_* kept for compatibility)
# ---------------------------------------------------------------------------

#: [S4]'s single-channel example: a 5x5 input ...
SEED_INPUT = np.array(
    [
        [3, 3, 2, 1, 0],
        [0, 0, 1, 3, 1],
        [3, 1, 2, 2, 3],
        [2, 0, 0, 2, 2],
        [2, 0, 0, 0, 1],
    ],
    dtype=float,
)
#: ... a 3x3 kernel ...
SEED_KERNEL = np.array([[0, 1, 2], [2, 2, 0], [0, 1, 2]], dtype=float)
#: ... and the 3x3 result [S4] prints (stride 1, no padding).
SEED_OUTPUT = np.array([[12, 12, 17], [10, 17, 19], [9, 6, 14]], dtype=float)

#: [S5]'s +-1 example, rebuilt: its pictures are not in its text, so this 0/1 image and
#: filter (+1 on the diagonal, -1 elsewhere) are chosen to give the numbers it quotes:
#: 0 at the first window, -2 at the next, and the maximum 3 twice, one window below the other.
PM1_IMAGE = np.array(
    [
        [0, 1, 1, 0, 0],
        [0, 1, 0, 0, 0],
        [0, 0, 1, 0, 0],
        [0, 0, 0, 1, 0],
        [0, 0, 0, 0, 1],
    ],
    dtype=float,
)
PM1_FILTER = 2 * np.eye(3) - 1

#: A small integer RGB volume (3 x 5 x 5, channels first) and one 3 x 3 x 3 filter with
#: its bias: a multi-channel step small enough to read every number.
RGB_INPUT = np.array(
    [
        [[1, 0, 2, 1, 0], [0, 2, 1, 0, 1], [2, 1, 0, 2, 2], [1, 0, 1, 1, 0], [0, 2, 2, 0, 1]],
        [[0, 1, 1, 2, 0], [2, 0, 1, 1, 1], [1, 2, 0, 0, 2], [0, 1, 2, 1, 0], [2, 0, 1, 0, 1]],
        [[2, 2, 0, 1, 1], [1, 0, 0, 2, 0], [0, 1, 2, 1, 0], [1, 2, 0, 0, 2], [0, 1, 1, 2, 0]],
    ],
    dtype=float,
)
RGB_FILTER = np.array(
    [
        [[1, 1, 0], [0, 1, -1], [-1, 0, 1]],
        [[0, 1, 0], [1, -1, 1], [0, 1, 0]],
        [[-1, 0, 1], [0, 1, 0], [1, -1, 0]],
    ],
    dtype=float,
)
RGB_BIAS = 1.0

#: A 4x4 map with negative values, for pooling with padding: a corner window that holds one
#: negative pixel and three padding cells shows why max pooling pads with -inf, not 0.
POOL_INPUT = np.array([[-1, 3, 2, -4], [4, -2, 1, 1], [0, 1, -5, 6], [-3, 2, 7, -8]], dtype=float)

#: Names of the four edge filters of [S5], in its order.
EDGE_FILTER_NAMES = ("vertical", "-vertical", "horizontal", "-horizontal")


def edge_filters() -> np.ndarray:
    """The four 4x4 edge filters of [S5], stacked as an array (4, 4, 4).

    Filter 1 is dark-left/bright-right (a vertical edge detector); filter 2 is
    its negative; filters 3 and 4 are the transposes (horizontal edges).
    """
    f1 = np.array([[-1, -1, 1, 1]] * 4, dtype=float)
    return np.stack([f1, -f1, f1.T, -f1.T])


def load_photo(height: int = 128, name: str = "china.jpg") -> np.ndarray:
    """A real RGB photo shipped with scikit-learn, as floats in [0, 1].

    ``sklearn.datasets.load_sample_image`` reads a JPEG from the installed
    package, so nothing is downloaded. The 427x640 original is shrunk by area
    averaging to ``height`` rows so the lectures stay fast on a CPU.
    Returns an array of shape (height, width, 3).
    """
    from sklearn.datasets import load_sample_image

    img = torch.from_numpy(load_sample_image(name).astype(np.float64) / 255.0)
    h, w = img.shape[:2]
    width = round(w * height / h)
    small = F.interpolate(img.permute(2, 0, 1)[None], size=(height, width), mode="area")
    return small[0].permute(1, 2, 0).numpy()


def to_gray(rgb: np.ndarray) -> np.ndarray:
    """Luma (ITU-R 601 weights) of an (H, W, 3) image: one channel instead of three."""
    return rgb @ np.array([0.299, 0.587, 0.114])


def activation_maps(gray: np.ndarray, filters: np.ndarray, padding=0) -> np.ndarray:
    """ReLU(cross-correlation) of one gray image with a stack of 2-D filters.

    This is a one-layer CNN with ``len(filters)`` output channels, no bias:
    exactly what [S5] builds with Keras. Returns (n_filters, H', W').
    """
    x = torch.as_tensor(gray, dtype=torch.float64)[None, None]
    w = torch.as_tensor(np.asarray(filters), dtype=torch.float64)[:, None]
    return F.relu(F.conv2d(x, w, padding=padding))[0].numpy()


def learn_filter(gray, target, kernel_size=4, steps=300, lr=0.05, seed=0):
    """Learn one filter by gradient descent so that ReLU(conv) matches ``target``.

    Uses the same forward pass as :func:`activation_maps` (conv then ReLU) and
    a mean-squared error. Returns ``(filter, losses)`` as numpy arrays.
    The start is random: nothing about edges is put in by hand.
    """
    g = torch.Generator().manual_seed(seed)
    x = torch.as_tensor(gray, dtype=torch.float64)[None, None]
    y = torch.as_tensor(target, dtype=torch.float64)[None, None]
    w = 0.1 * torch.randn(1, 1, kernel_size, kernel_size, generator=g, dtype=torch.float64)
    w.requires_grad_(True)
    opt = torch.optim.Adam([w], lr=lr)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = F.mse_loss(F.relu(F.conv2d(x, w)), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return w.detach()[0, 0].numpy(), np.array(losses)


# ---------------------------------------------------------------------------
# Output-size arithmetic (one spatial axis; 2-D applies it to each axis)
# Relationship numbers follow Dumoulin & Visin (2016).
# ---------------------------------------------------------------------------


def out_no_padding(i: int, k: int) -> int:
    """Relationship 1: stride 1, no padding. o = (i - k) + 1."""
    return (i - k) + 1


def out_padded(i: int, k: int, p: int) -> int:
    """Relationship 2: stride 1, padding p on both sides. o = (i - k) + 2p + 1."""
    return (i - k) + 2 * p + 1


def half_padding(k: int) -> int:
    """Padding for relationship 3 ("half" or "same"): p = floor(k/2), k odd."""
    if k % 2 == 0:
        raise ValueError("half padding needs an odd kernel")
    return k // 2


def out_half(i: int, k: int) -> int:
    """Relationship 3: k odd, s = 1, p = floor(k/2). o = i."""
    return out_padded(i, k, half_padding(k))


def full_padding(k: int) -> int:
    """Padding for relationship 4 ("full"): p = k - 1, every partial overlap."""
    return k - 1


def out_full(i: int, k: int) -> int:
    """Relationship 4: s = 1, p = k - 1. o = i + (k - 1)."""
    return out_padded(i, k, full_padding(k))


def out_strided(i: int, k: int, s: int) -> int:
    """Relationship 5: no padding, stride s. o = floor((i - k)/s) + 1."""
    return (i - k) // s + 1


def out_padded_strided(i: int, k: int, s: int, p: int) -> int:
    """Relationship 6: padding p, stride s. o = floor((i + 2p - k)/s) + 1."""
    return (i + 2 * p - k) // s + 1


def out_pool(i: int, k: int, s: int) -> int:
    """Relationship 7, pooling: o = floor((i - k)/s) + 1 (same as 5)."""
    return (i - k) // s + 1


def effective_kernel(k: int, d: int = 1) -> int:
    """Span of a dilated kernel: k taps with d - 1 holes between neighbours."""
    return k + (k - 1) * (d - 1)


def out_dilated(i: int, k: int, s: int = 1, p: int = 0, d: int = 1) -> int:
    """Relationship 15: o = floor((i + 2p - k - (k-1)(d-1))/s) + 1."""
    return (i + 2 * p - k - (k - 1) * (d - 1)) // s + 1


def conv_out(i: int, k: int, s: int = 1, p: int = 0, d: int = 1) -> int:
    """The general formula in PyTorch's form: o = floor((i + 2p - d(k-1) - 1)/s) + 1.

    Algebraically the same as :func:`out_dilated`; written this way because
    ``d(k-1) + 1`` is the span of the kernel, so ``i + 2p - span`` is how far
    the kernel can slide.
    """
    return (i + 2 * p - d * (k - 1) - 1) // s + 1


def pool_out(i: int, k: int, s: int | None = None, p: int = 0, d: int = 1,
             ceil_mode: bool = False) -> int:
    """Output size of PyTorch's max/avg pooling on one axis.

    Floors like a convolution (the stride defaults to the window). With
    ``ceil_mode=True`` it rounds up instead, but a window must still start
    inside the input or its left padding, so a last window that would start in
    the right padding is dropped.
    """
    s = k if s is None else s
    span = d * (k - 1) + 1
    if not ceil_mode:
        return (i + 2 * p - span) // s + 1
    o = -(-(i + 2 * p - span) // s) + 1
    if (o - 1) * s >= i + p:
        o -= 1
    return o


def seed_out(n: int, f: int, stride: int = 1, p: int = 0) -> Fraction:
    """[S2]'s ``k = [(N + 2p) - F]/stride + 1`` as an exact fraction.

    [S2] calls a setting invalid when this is not an integer.
    """
    return Fraction(n + 2 * p - f, stride) + 1


def seed_keep_size_padding(n: int, f: int, s: int) -> Fraction:
    """[S2]'s ``p = [(N-1)s + F - N]/2``: the padding that makes the output N wide."""
    return Fraction((n - 1) * s + f - n, 2)


def torch_same_padding(k: int, d: int = 1) -> tuple[int, int]:
    """(before, after) padding that PyTorch's ``padding='same'`` uses (stride 1).

    The total d(k-1) is split; when it is odd, the extra pixel goes *after*
    (right / bottom).
    """
    total = d * (k - 1)
    return total // 2, total - total // 2


def tf_same_padding(i: int, k: int, s: int, d: int = 1) -> tuple[int, int]:
    """(before, after) padding of TensorFlow's ``padding='SAME'``.

    TensorFlow aims at ``ceil(i/s)`` outputs (not ``i``) and pads as little as
    that needs, extra pixel after. The total depends on ``i mod s`` when s > 1.
    """
    o = -(-i // s)
    total = max((o - 1) * s + effective_kernel(k, d) - i, 0)
    return total // 2, total - total // 2


def kernel_positions(i: int, k: int, s: int = 1, p: int = 0, d: int = 1) -> list[list[int]]:
    """Padded-input indices that the kernel's taps touch, one list per output.

    Index 0 is the first padding pixel, so input pixel j sits at ``j + p``.
    The number of lists is :func:`conv_out`.
    """
    return [[o * s + t * d for t in range(k)] for o in range(conv_out(i, k, s, p, d))]


def ignored_pixels(i: int, k: int, s: int = 1, p: int = 0, d: int = 1) -> list[int]:
    """Input indices (unpadded) that no kernel tap ever reads.

    Includes the pixels floor() throws away at the end *and* the holes a
    dilated kernel with a large stride jumps over.
    """
    seen = {t - p for taps in kernel_positions(i, k, s, p, d) for t in taps}
    return [j for j in range(i) if j not in seen]


@contextlib.contextmanager
def threads(n: int):
    """Run the block with ``n`` intra-op threads, then restore the previous number."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def one_thread():
    """Run tiny tensor code on one thread (``with lt.one_thread(): ...``).

    Many backward passes through a few dozen numbers gain nothing from
    PyTorch's intra-op threads and, on a busy 2-core machine, lose a lot to
    their synchronisation.
    """
    return threads(1)


# ---------------------------------------------------------------------------
# Receptive fields
# ---------------------------------------------------------------------------


def as_layer(layer) -> tuple[str, int, int, int]:
    """Normalise ``(k,)``, ``(k, s)``, ``(k, s, d)`` or ``('pool', k, s)`` to (kind, k, s, d)."""
    if isinstance(layer[0], str):
        kind, *rest = layer
    else:
        kind, rest = "conv", list(layer)
    k = rest[0]
    s = rest[1] if len(rest) > 1 else (k if kind == "pool" else 1)
    d = rest[2] if len(rest) > 2 else 1
    return kind, k, s, d


def receptive_field(layers: Iterable) -> list[tuple[int, int]]:
    """Receptive field r and jump j after each layer of a stack.

    Each layer is ``(k, s, d)`` for a convolution (s, d optional) or
    ``('pool', k, s)``. Start with r = 1 (one pixel sees itself) and j = 1.
    A layer with kernel k and dilation d adds ``(k-1) d`` steps, and one step
    at this depth is ``j`` input pixels; a stride multiplies the jump.
    Returns ``[(r1, j1), (r2, j2), ...]``.
    """
    r, j, out = 1, 1, []
    for layer in layers:
        _, k, s, d = as_layer(layer)
        r += (k - 1) * d * j
        j *= s
        out.append((r, j))
    return out


def receptive_field_by_gradient(layers: Sequence, size: int | None = None) -> np.ndarray:
    """Brute force: which input pixels can change one output pixel?

    Builds the stack with all-ones weights (so no gradient can cancel) and
    average pooling (max pooling would route the gradient to one pixel only),
    back-propagates from the centre output pixel, and returns |grad| on the
    input as a 2-D array. Its nonzero bounding box is the receptive field.
    """
    if size is None:
        size = 2 * receptive_field(layers)[-1][0] + 1
    x = torch.zeros(1, 1, size, size, dtype=torch.float64, requires_grad=True)
    y = x
    for layer in layers:
        kind, k, s, d = as_layer(layer)
        if kind == "pool":
            y = F.avg_pool2d(y, k, s)
        else:
            w = torch.ones(1, 1, k, k, dtype=torch.float64)
            y = F.conv2d(y, w, stride=s, dilation=d)
    h, w_ = y.shape[-2:]
    y[0, 0, h // 2, w_ // 2].backward()
    return x.grad[0, 0].abs().numpy()


def nonzero_extent(grad: np.ndarray) -> tuple[int, int]:
    """Height and width of the bounding box of the nonzero entries."""
    rows = np.flatnonzero(grad.any(axis=1))
    cols = np.flatnonzero(grad.any(axis=0))
    return int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)


# ---------------------------------------------------------------------------
# Parameters and multiply-accumulates
# ---------------------------------------------------------------------------


def _pair(k) -> tuple[int, int]:
    return (k, k) if isinstance(k, int) else tuple(k)


def conv_params(in_channels: int, out_channels: int, kernel_size, bias: bool = True,
                groups: int = 1) -> int:
    """Weights + biases of a 2-D convolution.

    Each of the ``out_channels`` filters spans only its group's
    ``in_channels / groups`` input channels; one bias per filter.
    """
    kh, kw = _pair(kernel_size)
    return out_channels * (in_channels // groups) * kh * kw + (out_channels if bias else 0)


def linear_params(in_features: int, out_features: int, bias: bool = True) -> int:
    """Weights + biases of a fully connected layer: one weight per input-output pair."""
    return in_features * out_features + (out_features if bias else 0)


def batchnorm_params(num_features: int) -> dict:
    """BatchNorm2d: learnable scale and shift, plus running statistics.

    Only ``weight`` (gamma) and ``bias`` (beta) are parameters; the running
    mean and variance and the step counter are *buffers*: saved with the
    model but never touched by the optimiser.
    """
    return {"learnable": 2 * num_features, "running": 2 * num_features, "counter": 1}


def count_params(module: nn.Module) -> int:
    """What PyTorch says: ``sum(p.numel() for p in module.parameters())``."""
    return sum(p.numel() for p in module.parameters())


def conv_macs(in_channels: int, out_channels: int, kernel_size, out_h: int, out_w: int,
              groups: int = 1) -> int:
    """Multiply-accumulates of a convolution: one per weight per output position."""
    kh, kw = _pair(kernel_size)
    return out_h * out_w * out_channels * (in_channels // groups) * kh * kw


def linear_macs(in_features: int, out_features: int) -> int:
    """Multiply-accumulates of a linear layer: one per weight."""
    return in_features * out_features


def layer_table(model: nn.Module, input_shape: Sequence[int]) -> list[dict]:
    """Run one dummy input through ``model`` and describe each leaf layer.

    The output shapes come from PyTorch (forward hooks); the parameter and
    MAC columns come from :func:`conv_params`, :func:`linear_params`,
    :func:`conv_macs` and :func:`linear_macs`; ``torch_params`` is PyTorch's
    own count, so a reader can compare the two.
    """
    rows = []

    def hook(mod, inp, out):
        row = {"layer": name_of[mod], "type": type(mod).__name__,
               "out_shape": tuple(out.shape[1:]), "params": 0, "macs": 0,
               "torch_params": count_params(mod)}
        if isinstance(mod, nn.Conv2d):
            row["params"] = conv_params(mod.in_channels, mod.out_channels, mod.kernel_size,
                                        mod.bias is not None, mod.groups)
            row["macs"] = conv_macs(mod.in_channels, mod.out_channels, mod.kernel_size,
                                    out.shape[-2], out.shape[-1], mod.groups)
        elif isinstance(mod, nn.Linear):
            row["params"] = linear_params(mod.in_features, mod.out_features, mod.bias is not None)
            row["macs"] = linear_macs(mod.in_features, mod.out_features)
        rows.append(row)

    name_of, handles = {}, []
    for name, mod in model.named_modules():
        if not list(mod.children()):
            name_of[mod] = name
            handles.append(mod.register_forward_hook(hook))
    try:
        with torch.no_grad():
            model(torch.zeros(1, *input_shape))
    finally:
        for h in handles:
            h.remove()
    return rows


def format_table(rows: list[dict], columns: Sequence[str] | None = None) -> str:
    """Plain-text table with thousands separators (the course avoids pandas)."""
    columns = list(columns or rows[0].keys())

    def fmt(v):
        return f"{v:,}" if isinstance(v, int) else str(v)

    cells = [[fmt(r[c]) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]

    def line(values):
        # First column (the name) to the left, numbers and shapes to the right.
        return "  ".join(v.ljust(w) if j == 0 else v.rjust(w)
                         for j, (v, w) in enumerate(zip(values, widths)))

    header = line(columns)
    return "\n".join([header, "-" * len(header)] + [line(row) for row in cells])


class MnistNet(nn.Module):
    """[S1]'s MNIST ``Net``: conv 1->10 k3, conv 10->20 k3, max-pool 2, Linear(500, 10).

    Written in the second of [S1]'s two orders (conv -> ReLU -> pool; the first pools
    before the ReLU, which gives the same function: ReLU and max pooling commute).
    [S1]'s ``log_softmax`` had no ``dim``; modern PyTorch wants one.
    """

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=3)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=3)
        self.mp = nn.MaxPool2d(2)
        self.fc = nn.Linear(500, 10)

    def forward(self, x):
        x = self.mp(F.relu(self.conv1(x)))
        x = self.mp(F.relu(self.conv2(x)))
        x = x.flatten(1)
        return F.log_softmax(self.fc(x), dim=1)


class CifarNet(nn.Module):
    """[S4]'s CIFAR-10 ``Net``: 3->6 k5, pool, 6->16 k5, pool, 400-120-84-10."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = x.flatten(1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


def dense_params_for_image(side: int, channels: int = 3, hidden: int = 1000) -> int:
    """Weights + biases of one dense layer from a flattened side x side x channels image."""
    return linear_params(side * side * channels, hidden)


# ---------------------------------------------------------------------------
# The numbers behind the worked-example figures (the figures draw these, the tests check them)
# ---------------------------------------------------------------------------


def rgb_conv_step(x, w, b: float, row: int, col: int) -> dict:
    """One output pixel of one multi-channel filter, channel by channel, and its whole map.

    ``x`` is (C, H, W) and ``w`` is (C, k, k): one filter. The per-channel windows, products
    and sums show where each part of the pixel comes from; ``map`` is ``F.conv2d``'s, so a
    test can hold the hand-made sum and PyTorch to the same number.
    """
    x, w = np.asarray(x, float), np.asarray(w, float)
    k = w.shape[-1]
    windows = x[:, row:row + k, col:col + k]
    products = windows * w + 0.0  # + 0.0 turns -0 (from 0 x -1) into 0 for printing
    sums = products.sum(axis=(1, 2))
    conv = F.conv2d(torch.tensor(x)[None], torch.tensor(w)[None],
                    torch.tensor([float(b)], dtype=torch.float64))
    return {"windows": windows, "products": products, "channel_sums": sums,
            "value": float(sums.sum() + b), "map": conv[0, 0].numpy()}


def pooling_example(x, k: int = 2, s: int = 2, p: int = 1) -> dict:
    """Max and average pooling of a 2-D ``x`` with padding, the padding made visible.

    The outputs are PyTorch's (the pooling code itself is left to problem set 1). The two
    padded inputs show what each kind pads with: -inf for max pooling, so that padding can
    never win a window, and zeros for average pooling, which by default
    (``count_include_pad=True``) still divides by all k*k cells. ``max_zero_pad`` is what
    padding with zeros would have given instead. ``windows`` holds each output's window as
    its top-left corner in the padded input, row by row.
    """
    t = torch.tensor(np.asarray(x, float))[None, None]
    pad = (p, p, p, p)
    out = {"max_padded": F.pad(t, pad, value=-math.inf), "zero_padded": F.pad(t, pad),
           "max": F.max_pool2d(t, k, s, p), "max_zero_pad": F.max_pool2d(F.pad(t, pad), k, s),
           "avg": F.avg_pool2d(t, k, s, p),
           "avg_no_pad": F.avg_pool2d(t, k, s, p, count_include_pad=False)}
    out = {name: v[0, 0].numpy() for name, v in out.items()}
    oh, ow = out["max"].shape
    out["windows"] = [(i * s, j * s) for i in range(oh) for j in range(ow)]
    return out


def pre_activation(image, kernel) -> np.ndarray:
    """Cross-correlation of one 2-D image with one 2-D kernel, bias 0, before any ReLU."""
    x = torch.as_tensor(np.asarray(image, float))[None, None]
    return F.conv2d(x, torch.as_tensor(np.asarray(kernel, float))[None, None])[0, 0].numpy()


def cost_shares(rows: Sequence[dict]) -> list[dict]:
    """Each weighted layer's share, in percent, of the network's parameters and of its MACs
    (``rows`` from :func:`layer_table`; layers without either are left out)."""
    rows = [r for r in rows if r["params"] or r["macs"]]
    params, macs = sum(r["params"] for r in rows), sum(r["macs"] for r in rows)
    return [{"layer": r["layer"], "type": r["type"], "params": 100 * r["params"] / params,
             "macs": 100 * r["macs"] / macs} for r in rows]


# ---------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------


def plot_conv_step(image, kernel, row, col, stride=1):
    """One step of a single-channel cross-correlation, as four panels.

    Input with the window at output (row, col); the kernel; the elementwise
    products and their sum; the output filled in up to this step.
    """
    image, kernel = np.asarray(image, float), np.asarray(kernel, float)
    kh, kw = kernel.shape
    oh = (image.shape[0] - kh) // stride + 1
    ow = (image.shape[1] - kw) // stride + 1
    r0, c0 = row * stride, col * stride
    patch = image[r0:r0 + kh, c0:c0 + kw]
    prod = patch * kernel
    out = np.full((oh, ow), np.nan)
    # Fill the cells computed so far (row-major order), each from its own window.
    for k in range(row * ow + col + 1):
        r, c = divmod(k, ow)
        out[r, c] = np.sum(image[r * stride:r * stride + kh, c * stride:c * stride + kw] * kernel)
    fig = Figure(figsize=(13, 3.6), layout="constrained")
    axes = fig.subplots(1, 4, width_ratios=[image.shape[1], kw, kw, ow])
    fg.grid(axes[0], image, highlight=(r0, c0, kh, kw), title="input")
    fg.grid(axes[1], kernel, cmap="Oranges", title="kernel")
    fg.grid(axes[2], prod, cmap="Greens", title=f"window x kernel, sum = {prod.sum():g}")
    fg.grid(axes[3], out, highlight=(row, col, 1, 1), vmin=np.nanmin(out),
            vmax=np.nanmax(out) + 1e-9, title=f"output[{row}, {col}] = {prod.sum():g}")
    return fig


def plot_correlation_vs_convolution(signal, kernel):
    """1-D picture of the kernel flip: correlate, convolve, and convolve with the flipped kernel.

    Output j of a 'valid' operation reads inputs j .. j+k-1, so the outputs are
    drawn at the centre of that window to line up with the input.
    """
    signal, kernel = np.asarray(signal, float), np.asarray(kernel, float)
    corr = np.correlate(signal, kernel, mode="valid")
    conv = np.convolve(signal, kernel, mode="valid")
    conv_flip = np.convolve(signal, kernel[::-1], mode="valid")
    fig = Figure(figsize=(12, 3.4), layout="constrained")
    a_k, a_x, a_y = fig.subplots(1, 3, width_ratios=[1, 2, 2])
    a_k.bar(np.arange(len(kernel)), kernel, color=fg.ORANGE)
    a_k.set_xticks(range(len(kernel)))
    a_k.set_title("kernel $w$ = " + str(kernel.astype(int).tolist()))
    a_x.bar(np.arange(len(signal)), signal, color=fg.BLUE)
    a_x.set_title("input $x$")
    centre = np.arange(len(corr)) + (len(kernel) - 1) / 2
    a_y.plot(centre, corr, "o-", label="cross-correlation (CNN layers)")
    a_y.plot(centre, conv, "s--", label="convolution (np.convolve)")
    a_y.plot(centre, conv_flip, "x", ms=11, color="k", label="np.convolve, flipped $w$")
    a_y.set_xlim(a_x.get_xlim())
    a_y.axhline(0, color="0.7", lw=0.8)
    a_y.legend(fontsize=8)
    a_y.set_title("'valid' outputs, drawn under their windows")
    for ax in (a_k, a_x, a_y):
        ax.grid(alpha=0.3)
    return fig


def plot_channels(rgb):
    """An RGB image as what the network sees: three stacked matrices."""
    fig = Figure(figsize=(12, 3), layout="constrained")
    axes = fig.subplots(1, 4)
    axes[0].imshow(np.clip(rgb, 0, 1))
    axes[0].set_title(f"RGB image {rgb.shape[0]}x{rgb.shape[1]}x3")
    for ax, c, name in zip(axes[1:], range(3), ("red", "green", "blue")):
        # Keep one channel and zero the others: bright means a large value.
        only = np.zeros_like(rgb)
        only[..., c] = rgb[..., c]
        ax.imshow(np.clip(only, 0, 1))
        ax.set_title(f"channel {c} ({name}), {rgb.shape[0]}x{rgb.shape[1]}")
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    return fig


def plot_filters_and_maps(filters, maps, names=None, image=None):
    """Filters (numbers written in) on the top row, their activation maps below."""
    n = len(filters)
    names = names or [f"filter {i + 1}" for i in range(n)]
    cols = n + (image is not None)
    fig = Figure(figsize=(3.1 * cols, 6.2), layout="constrained")
    axes = fig.subplots(2, cols, squeeze=False)
    start = 0
    if image is not None:
        axes[0, 0].set_visible(False)
        axes[1, 0].imshow(image, cmap="gray")
        axes[1, 0].set_title("input (gray)")
        axes[1, 0].set_xticks([])
        axes[1, 0].set_yticks([])
        start = 1
    for i in range(n):
        fg.grid(axes[0, start + i], filters[i], cmap="gray", fmt="{:+g}", title=names[i])
        ax = axes[1, start + i]
        ax.imshow(maps[i], cmap="gray")
        ax.set_title(f"ReLU map, {maps[i].shape[0]}x{maps[i].shape[1]}")
        ax.set_xticks([])
        ax.set_yticks([])
    return fig


def plot_learned_filter(true_filter, learned_filter, losses, target, prediction):
    """Target filter vs the one gradient descent found, loss curve, and the two maps."""
    fig = Figure(figsize=(15, 3.4), layout="constrained")
    axes = fig.subplots(1, 5)
    vmax = max(np.abs(true_filter).max(), np.abs(learned_filter).max())
    fg.grid(axes[0], true_filter, cmap="gray", fmt="{:+.0f}", vmin=-vmax, vmax=vmax,
            title="filter that made the target")
    fg.grid(axes[1], learned_filter, cmap="gray", fmt="{:+.2f}", vmin=-vmax, vmax=vmax,
            title="learned filter", fontsize=8)
    axes[2].semilogy(losses)
    axes[2].set_xlabel("gradient step")
    axes[2].set_title("mean squared error")
    for ax, m, t in ((axes[3], target, "target map"), (axes[4], prediction, "learned filter's map")):
        ax.imshow(m, cmap="gray")
        ax.set_title(t)
        ax.set_xticks([])
        ax.set_yticks([])
    return fig


def plot_cnn_pipeline(stages):
    """Boxes and arrows for conv -> ReLU -> pool ... flatten -> FC -> softmax.

    ``stages`` is a list of ``(label, shape)`` where shape is (C, H, W) or (N,).
    A box's height follows the spatial size and its width the channel count,
    so the picture shows maps shrinking while channels grow.
    """
    fig = Figure(figsize=(1.45 * len(stages), 3.6), layout="constrained")
    ax = fig.subplots()
    sizes = [s[1] if len(s) == 3 else 0 for _, s in stages]
    hmax = max(sizes) or 1
    x = 0.0
    centres = []
    for label, shape in stages:
        if len(shape) == 3:
            c, h, _ = shape
            height = 0.5 + 2.5 * h / hmax
            width = 0.25 + 0.2 * math.log2(c + 1)
            color = fg.BLUE
            text = f"{c}x{h}x{shape[2]}"
        else:
            height, width, color = 2.8 * min(1.0, 0.25 + shape[0] / 600), 0.35, fg.LIGHT_GREEN
            text = f"{shape[0]}"
        ax.add_patch(Rectangle((x, -height / 2), width, height, fc=color, ec="k"))
        ax.text(x + width / 2, 1.75, label, ha="center", va="bottom", fontsize=9)
        ax.text(x + width / 2, -1.75, text, ha="center", va="top", fontsize=9)
        centres.append((x, x + width))
        x += width + 0.9
    for (_, right), (left, _) in zip(centres, centres[1:]):
        fg.arrow(ax, (right + 0.05, 0), (left - 0.05, 0), size=14)
    ax.set_xlim(-0.3, x - 0.5)
    ax.set_ylim(-2.4, 2.4)
    ax.axis("off")
    return fig


def plot_conv_arithmetic(i, k, s=1, p=0, d=1, pool=False, title=None):
    """Dumoulin & Visin style picture of one axis setting, applied to both axes.

    Left: the padded input (white = zero padding, blue = input, red hatched =
    pixels no window reads) with the first window (dark) and the last (orange).
    Middle: every kernel position along one axis, one row each.
    Right: the output grid. Sizes come from :func:`conv_out` and
    :func:`kernel_positions`, the functions the tests check.
    """
    o = conv_out(i, k, s, p, d)
    pos = kernel_positions(i, k, s, p, d)
    ign = set(ignored_pixels(i, k, s, p, d))
    n = i + 2 * p
    fig = Figure(figsize=(12, 4.2), layout="constrained")
    a_in, a_pos, a_out = fig.subplots(1, 3, width_ratios=[n, n, max(o, 2)])

    def cell(ax, x, y, **kw):
        ax.add_patch(Rectangle((x, y), 1, 1, **kw))

    for r in range(n):
        for c in range(n):
            inside = p <= r < p + i and p <= c < p + i
            ignored = inside and (r - p in ign or c - p in ign)
            if not inside:
                cell(a_in, c, r, fc="white", ec="0.6", ls="--")
            else:
                cell(a_in, c, r, fc=fg.RED if ignored else fg.BLUE, ec="k",
                     hatch="//" if ignored else None)
    for taps, color in ((pos[-1], fg.ORANGE), (pos[0], fg.DARK)):
        for r in taps:
            for c in taps:
                cell(a_in, c, r, fc=color, ec="k", alpha=0.85)
    a_in.set_title(f"input {i}x{i}, padding {p}")

    for row, taps in enumerate(pos):
        for c in range(n):
            inside = p <= c < p + i
            fc = (fg.DARK if c in taps
                  else (fg.RED if c - p in ign else fg.BLUE) if inside else "white")
            cell(a_pos, c, row, fc=fc, ec="0.4" if inside else "0.7", ls="-" if inside else "--")
    for c in range(n):
        # Input indices above the strip; padding has none.
        a_pos.text(c + 0.5, -0.15, str(c - p) if p <= c < p + i else "pad", ha="center",
                   va="bottom", fontsize=8 if n < 16 else 6)
    for row in range(len(pos)):
        a_pos.text(-0.2, row + 0.5, f"o={row}", ha="right", va="center", fontsize=8)
    a_pos.set_title(f"{'window' if pool else 'kernel'} positions along one axis", pad=16)

    for r in range(o):
        for c in range(o):
            fc = (fg.DARK if (r, c) == (0, 0)
                  else fg.ORANGE if (r, c) == (o - 1, o - 1) else fg.LIGHT_GREEN)
            cell(a_out, c, r, fc=fc, ec="k")
    a_out.set_title(f"output {o}x{o}")

    for ax, h, w in ((a_in, n, n), (a_pos, len(pos), n), (a_out, o, max(o, 2))):
        ax.set_xlim(-1.2 if ax is a_pos else -0.1, w + 0.1)
        ax.set_ylim(max(h, 1) + 0.1, -0.1)
        ax.set_aspect("equal")
        ax.axis("off")
    what = "pool" if pool else "conv"
    fig.suptitle(title or f"{what}: i={i}, k={k}, s={s}, p={p}, d={d}  ->  "
                 f"o = floor(({i} + 2*{p} - {d}*({k}-1) - 1)/{s}) + 1 = {o}"
                 + (f";  ignored input rows/cols: {sorted(ign)}" if ign else ""))
    return fig


def plot_border_effect(gray, kernel, border=4):
    """Zero padding invents edges at the border: valid vs zero-padded vs reflect-padded.

    Shows |response| of one filter three ways. The numbers in the titles are
    mean |response| in a ``border``-pixel frame against the interior.
    """
    x = torch.as_tensor(gray, dtype=torch.float64)[None, None]
    w = torch.as_tensor(kernel, dtype=torch.float64)[None, None]
    k = w.shape[-1]
    pt, pb = torch_same_padding(k)
    valid = F.conv2d(x, w)[0, 0].abs().numpy()
    zero = F.conv2d(F.pad(x, (pt, pb, pt, pb)), w)[0, 0].abs().numpy()
    refl = F.conv2d(F.pad(x, (pt, pb, pt, pb), mode="reflect"), w)[0, 0].abs().numpy()
    fig = Figure(figsize=(15, 3.6), layout="constrained")
    axes = fig.subplots(1, 4)
    axes[0].imshow(gray, cmap="gray")
    axes[0].set_title(f"input {gray.shape[0]}x{gray.shape[1]}")
    vmax = max(valid.max(), zero.max())
    for ax, m, name in ((axes[1], valid, "no padding"), (axes[2], zero, "zero padding"),
                        (axes[3], refl, "reflect padding")):
        ax.imshow(m, cmap="magma", vmin=0, vmax=vmax)
        b = border_mean(m, border)
        ax.set_title(f"{name}: {m.shape[0]}x{m.shape[1]}\n|resp| frame {b[0]:.2f}, inside {b[1]:.2f}",
                     fontsize=10)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    return fig


def border_mean(m: np.ndarray, border: int) -> tuple[float, float]:
    """Mean of ``m`` on a frame ``border`` pixels wide, and inside that frame."""
    mask = np.zeros(m.shape, bool)
    mask[:border], mask[-border:], mask[:, :border], mask[:, -border:] = True, True, True, True
    return float(m[mask].mean()), float(m[~mask].mean())


def plot_receptive_fields(stacks, titles=None, size=None):
    """Gradient maps of several stacks side by side, path counts written in.

    With all-ones weights the gradient at an input pixel counts the paths from
    it to the centre output, so the centre gets the most.
    """
    rf = [receptive_field(s)[-1][0] for s in stacks]
    size = size or max(rf) + 4
    fig = Figure(figsize=(3.4 * len(stacks), 4.2), layout="constrained")
    axes = fig.subplots(1, len(stacks), squeeze=False)[0]
    for ax, stack, r, t in zip(axes, stacks, rf, titles or [None] * len(stacks)):
        g = receptive_field_by_gradient(stack, size)
        show = np.where(g > 0, g, np.nan)
        fg.grid(ax, show, cmap="YlOrRd", fmt="{:.0f}", fontsize=7, vmin=0, vmax=np.nanmax(show))
        h, w = nonzero_extent(g)
        ax.set_title((t + "\n" if t else "") + f"nonzero gradient {h}x{w}, calculator r={r}",
                     fontsize=10)
    return fig


def plot_param_explosion(sides, hidden=1000, conv_channels=64, kernel=3):
    """Parameters vs image side: dense layers explode, a conv layer stays flat."""
    sides = np.asarray(sides)
    dense = [dense_params_for_image(int(n), 3, hidden) for n in sides]
    dense_same = [linear_params(3 * int(n) ** 2, conv_channels * int(n) ** 2) for n in sides]
    conv = [conv_params(3, conv_channels, kernel)] * len(sides)
    fig = Figure(figsize=(8, 4.5), layout="constrained")
    ax = fig.subplots()
    ax.loglog(sides, dense_same, "-", label=f"dense, output as big as the conv's ({conv_channels}xNxN)")
    ax.loglog(sides, dense, "-", label=f"dense, {hidden} hidden units")
    ax.loglog(sides, conv, "-", label=f"conv {kernel}x{kernel}, 3->{conv_channels} channels")
    n = 1000
    ax.plot([n], [dense_params_for_image(n, 3, hidden)], "ko")
    ax.annotate(f"[S1]: 1000x1000x3 image,\n{dense_params_for_image(n, 3, hidden):,} params",
                (n, dense_params_for_image(n, 3, hidden)), xytext=(150, 3e5),
                arrowprops={"arrowstyle": "->"})
    ax.set_xlabel("image side N (pixels), input N x N x 3")
    ax.set_ylabel("parameters in one layer")
    ax.grid(True, which="major", alpha=0.4)
    ax.legend(fontsize=9, loc="upper left")
    return fig


def plot_layer_costs(rows):
    """Bar charts of parameters and MACs per layer (rows from :func:`layer_table`)."""
    rows = [r for r in rows if r["params"] or r["macs"]]
    names = [r["layer"] for r in rows]
    fig = Figure(figsize=(10, 3.6), layout="constrained")
    a1, a2 = fig.subplots(1, 2)
    for ax, key, title in ((a1, "params", "parameters"), (a2, "macs", "multiply-accumulates")):
        vals = [r[key] for r in rows]
        bars = ax.bar(names, vals, color=[fg.BLUE if r["type"] == "Conv2d" else fg.LIGHT_GREEN
                                          for r in rows])
        ax.bar_label(bars, labels=[f"{v:,}" for v in vals], fontsize=9)
        ax.set_title(title)
        ax.set_ylim(0, max(vals) * 1.18)
    return fig


def _outline(ax, r: int, c: int, h: int, w: int, color, inset: float = 0.06, **kw) -> None:
    """A coloured frame around h x w cells of a grid panel, drawn a little inside them so
    that neighbouring frames stay apart."""
    ax.add_patch(Rectangle((c - 0.5 + inset, r - 0.5 + inset), w - 2 * inset, h - 2 * inset,
                           fill=False, lw=2.5, ec=color, **kw))


def plot_rgb_conv(x=RGB_INPUT, w=RGB_FILTER, b: float = RGB_BIAS, row: int = 0, col: int = 1):
    """One 3-D filter on an RGB volume making one pixel of ONE activation map.

    Row c: channel c with the window at (row, col), the filter's slice c, and their products
    with their sum. The right column adds the channel sums and the bias into that pixel of
    the map (the map is ``F.conv2d``'s): the depth is summed away.
    """
    x, w = np.asarray(x, float), np.asarray(w, float)
    step = rgb_conv_step(x, w, b, row, col)
    n, k = len(w), w.shape[-1]
    fig = Figure(figsize=(13, 2.4 * n), layout="constrained")
    axes = fig.subplot_mosaic([[f"x{c}", f"w{c}", f"p{c}", "y"] for c in range(n)],
                              width_ratios=[x.shape[2], k, k, step["map"].shape[1] + 2])
    for c in range(n):
        name, cmap = (("red", "Reds"), ("green", "Greens"), ("blue", "Blues"))[c % 3]
        fg.grid(axes[f"x{c}"], x[c], cmap=cmap, vmin=0, vmax=2 * x.max(),
                highlight=(row, col, k, k), title=f"input channel {c} ({name})")
        fg.grid(axes[f"w{c}"], w[c], cmap="Oranges", fmt="{:+g}", title=f"filter slice {c}")
        fg.grid(axes[f"p{c}"], step["products"][c], cmap="Greys", vmin=-4, vmax=4, fmt="{:+g}",
                title=f"products, sum = {step['channel_sums'][c]:g}")
    terms = " + ".join(f"({v:g})" for v in step["channel_sums"])
    fg.grid(axes["y"], step["map"], cmap="Purples", highlight=(row, col, 1, 1),
            title=f"ONE activation map, {step['map'].shape[0]}x{step['map'].shape[1]}\n"
                  f"{terms} + bias {b:g} = {step['value']:g}")
    return fig


def plot_pooling(x=POOL_INPUT, k: int = 2, s: int = 2, p: int = 1):
    """Max and average pooling with padding: each window framed in its own colour, on the
    padded input and around the output it makes.

    Top row: padding with -inf (what max pooling does), its output, and what padding with 0
    would give instead. Bottom row: padding with 0, the average over all k*k cells
    (``count_include_pad=True``, PyTorch's default) and over the real cells only.
    """
    x = np.asarray(x, float)
    ex = pooling_example(x, k, s, p)
    inside = np.full(ex["zero_padded"].shape, np.nan)  # padding cells stay blank ...
    inside[p:p + x.shape[0], p:p + x.shape[1]] = x
    colors = [matplotlib.colormaps["tab10"](i % 10) for i in range(len(ex["windows"]))]
    n, o = inside.shape[1], ex["max"].shape[1]
    fig = Figure(figsize=(13, 7.4), layout="constrained")
    axes = fig.subplots(2, 3, width_ratios=[n, o, o])
    for ax, pad_text, title in ((axes[0, 0], "-inf", "padded with -inf (max pooling)"),
                                (axes[1, 0], "0", "padded with 0 (average pooling)")):
        fg.grid(ax, inside, cmap="Blues", title=f"input {x.shape[0]}x{x.shape[1]}, {title}")
        for r, c in zip(*np.nonzero(np.isnan(inside))):  # ... and say what they hold
            ax.text(c, r, pad_text, ha="center", va="center", fontsize=9, color="0.45")
        for (r0, c0), color in zip(ex["windows"], colors):
            _outline(ax, r0, c0, k, k, color)
    for ax, key, fmt, title in (
            (axes[0, 1], "max", "{:g}", f"max_pool2d, k={k}, s={s}, padding={p}"),
            (axes[0, 2], "max_zero_pad", "{:g}", "max after 0-padding: wrong"),
            (axes[1, 1], "avg", "{:.2f}", f"avg_pool2d: sum / {k * k} (default)"),
            (axes[1, 2], "avg_no_pad", "{:.2f}", "count_include_pad=False")):
        fg.grid(ax, ex[key], cmap="Greens", fmt=fmt)
        ax.set_title(title, fontsize=10)
        for i, color in enumerate(colors):
            _outline(ax, *divmod(i, o), 1, 1, color)
    return fig


def plot_pm1_example(image=PM1_IMAGE, kernel=PM1_FILTER):
    """[S5]'s +-1 filter on a 0/1 image: the windows that sum to 0 and -2 (first two
    positions) and to the maximum (where the 1-pixels sit exactly under the +1 weights),
    framed in the same colour on the image and on the map, before and after ReLU."""
    pre = pre_activation(image, kernel)
    k = np.asarray(kernel).shape[0]
    marks = [((0, 0), fg.DARK), ((0, 1), fg.ORANGE)]
    marks += [(tuple(int(v) for v in rc), fg.DEEP_RED) for rc in np.argwhere(pre == pre.max())]
    fig = Figure(figsize=(13, 3.6), layout="constrained")
    axes = fig.subplots(1, 4, width_ratios=[len(image), k, len(pre), len(pre)])
    fg.grid(axes[0], image, cmap="gray_r", vmin=0, vmax=2, title="image, pixels in [0, 1]")
    fg.grid(axes[1], kernel, cmap="gray", fmt="{:+g}", title="filter, +1 and -1")
    fg.grid(axes[2], pre, cmap="Greys",
            title=f"sums, bias 0: {pre[0, 0]:g}, {pre[0, 1]:g}, ..., max {pre.max():g}")
    fg.grid(axes[3], np.maximum(pre, 0), cmap="Greys", vmin=pre.min(), vmax=pre.max(),
            title="after ReLU")
    for (r, c), color in marks:
        _outline(axes[0], r, c, k, k, color, inset=0.06 + 0.06 * (c % 2) + 0.06 * r)
        for ax in axes[2:]:
            _outline(ax, r, c, 1, 1, color)
    return fig


def plot_cost_shares(tables: dict):
    """Each layer's share of its network's parameters and of its multiply-accumulates,
    one panel per network (``{name: rows of layer_table}``)."""
    fig = Figure(figsize=(12, 3.8), layout="constrained")
    axes = fig.subplots(1, len(tables), squeeze=False)[0]
    for ax, (name, rows) in zip(axes, tables.items()):
        shares = cost_shares(rows)
        pos = np.arange(len(shares))
        for offset, key, color, label in ((-0.2, "params", fg.BLUE, "parameters"),
                                          (0.2, "macs", fg.ORANGE, "MACs")):
            vals = [r[key] for r in shares]
            bars = ax.bar(pos + offset, vals, 0.4, color=color, label=label)
            ax.bar_label(bars, labels=[f"{v:.0f}%" for v in vals], fontsize=8)
        ax.set_xticks(pos, [r["layer"] for r in shares])
        ax.set_ylim(0, 105)
        ax.set_ylabel("% of the network")
        ax.set_title(f"{name}: {sum(r['params'] for r in rows):,} parameters, "
                     f"{sum(r['macs'] for r in rows):,} MACs", fontsize=10)
        ax.legend(fontsize=9)
    return fig
