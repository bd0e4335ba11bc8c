"""Helpers for Lecture 4, "The convolution zoo". The notebook imports this module as ``zt``.

Like :mod:`lecture_tools` (which it builds on), it holds three kinds of things:

* the arithmetic of each variant of convolution as small functions: the
  output sizes of transposed convolutions (Dumoulin & Visin relationships
  8-14), weights and multiply-accumulates (MACs) of every layer in the zoo,
  and the translation between the LRN formula of [S3] and PyTorch's;
* small *special-case* constructions that explain an operation: the sparse
  matrix of a 3x3 kernel on a 4x4 input, a kernel with holes, the stamps that
  a transposed convolution adds up, the channel connectivity of a layer
  measured with autograd;
* figure functions. Each returns a :class:`matplotlib.figure.Figure` built with
  the object-oriented API, so that the notebook shows it as the last
  expression of a cell and a test can draw it without a screen.

Every function is checked against PyTorch in ``tests/test_lecture_zoo.py``.

Deliberately absent: general NumPy implementations of the problem-set-2
functions (transposed and 3-D convolution, the convolution matrix, separable
convolutions, channel shuffle, LRN, the backward pass, im2col). The lecture
uses ``torch.nn.functional`` for the real operations; the NumPy code here
handles one channel, stride 1 or no padding: enough to see the idea.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from matplotlib.figure import Figure
from matplotlib.patches import Wedge

from . import figures as fg
from . import lecture_tools as lt

#: One colour per channel group (ColorBrewer "Dark2": tells groups apart in print too).
GROUP_COLORS = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d",
                "#666666")


# ---------------------------------------------------------------------------
# Weights and multiply-accumulates (no biases: they do not change the picture)
# ---------------------------------------------------------------------------


def _add(*costs: tuple[int, int]) -> tuple[int, int]:
    return sum(c[0] for c in costs), sum(c[1] for c in costs)


def cost_conv(c_in: int, c_out: int, k, out: int, groups: int = 1) -> tuple[int, int]:
    """(weights, MACs) of a 2-D convolution producing ``out x out`` maps; ``k`` int or (kh, kw)."""
    return (lt.conv_params(c_in, c_out, k, bias=False, groups=groups),
            lt.conv_macs(c_in, c_out, k, out, out, groups))


def cost_bottleneck(c_in: int, c_mid: int, c_out: int, k: int, out: int) -> tuple[int, int]:
    """A 1x1 convolution down to ``c_mid`` channels, then the k x k one (GoogLeNet's trick)."""
    return _add(cost_conv(c_in, c_mid, 1, out), cost_conv(c_mid, c_out, k, out))


def cost_conv3d(c_in: int, c_out: int, k: int, out: Sequence[int]) -> tuple[int, int]:
    """A k x k x k kernel per (input, output) channel pair, used at every output voxel."""
    weights = c_out * c_in * k ** 3
    return weights, weights * math.prod(out)


def cost_transposed(c_in: int, c_out: int, k: int, in_size: int) -> tuple[int, int]:
    """Transposed k x k convolution on an ``in_size x in_size`` input.

    Same weights as the convolution it transposes; the work is one kernel
    *stamp* per input pixel, so it counts input pixels, not output pixels.
    """
    weights = c_in * c_out * k * k
    return weights, weights * in_size * in_size


def cost_spatially_separable(c_in: int, c_out: int, k: int, out: int) -> tuple[int, int]:
    """A k x 1 convolution then a 1 x k one (Inception-v3's factorisation)."""
    return _add(cost_conv(c_in, c_out, (k, 1), out), cost_conv(c_out, c_out, (1, k), out))


def cost_depthwise_separable(c_in: int, c_out: int, k: int, out: int) -> tuple[int, int]:
    """Depthwise k x k (groups = C_in, one filter per channel) then pointwise 1x1."""
    return _add(cost_conv(c_in, c_in, k, out, groups=c_in), cost_conv(c_in, c_out, 1, out))


def dws_mac_ratio(c_out: int, k: int) -> float:
    """Depthwise separable / standard cost: (k^2 C_in + C_in C_out) / (k^2 C_in C_out)."""
    return 1 / c_out + 1 / k ** 2


def zoo_summary(c: int = 64, k: int = 3, size: int = 56, groups: int = 4,
                frames: int = 8) -> list[dict]:
    """One row per member of the zoo at a reference setting, with a module that builds it.

    ``c`` channels in and out, ``k x k`` kernels, ``size x size`` output maps
    (stride-2 layers produce half that). Weights and MACs come from the
    ``cost_*`` formulas; ``module`` and ``input`` let a test check them against
    ``count_params`` and PyTorch's FLOP counter.
    """
    p, half = k // 2, size // 2
    plane = (c, size, size)
    rows = [
        ("standard k x k", cost_conv(c, c, k, size),
         nn.Conv2d(c, c, k, padding=p, bias=False), plane, "VGG, ResNet: everywhere"),
        ("1x1 (pointwise)", cost_conv(c, c, 1, size),
         nn.Conv2d(c, c, 1, bias=False), plane, "GoogLeNet, ResNet, MobileNet"),
        ("1x1 to C/4, then k x k", cost_bottleneck(c, c // 4, c, k, size),
         nn.Sequential(nn.Conv2d(c, c // 4, 1, bias=False),
                       nn.Conv2d(c // 4, c, k, padding=p, bias=False)), plane,
         "GoogLeNet (Inception)"),
        (f"3-D k x k x k, {frames} frames", cost_conv3d(c, c, k, (frames, size, size)),
         nn.Conv3d(c, c, k, padding=p, bias=False), (c, frames, size, size),
         "video (C3D), CT/MRI volumes"),
        ("transposed k x k, stride 2", cost_transposed(c, c, k, half),
         nn.ConvTranspose2d(c, c, k, stride=2, padding=p, output_padding=1, bias=False),
         (c, half, half), "FCN, U-Net, DCGAN"),
        ("dilated k x k, d=2", cost_conv(c, c, k, size),
         nn.Conv2d(c, c, k, padding=2 * p, dilation=2, bias=False), plane,
         "DeepLab, WaveNet (1-D)"),
        ("k x 1 then 1 x k", cost_spatially_separable(c, c, k, size),
         nn.Sequential(nn.Conv2d(c, c, (k, 1), padding=(p, 0), bias=False),
                       nn.Conv2d(c, c, (1, k), padding=(0, p), bias=False)), plane,
         "Inception-v3 (7x1, 1x7)"),
        ("depthwise separable", cost_depthwise_separable(c, c, k, size),
         nn.Sequential(nn.Conv2d(c, c, k, padding=p, groups=c, bias=False),
                       nn.Conv2d(c, c, 1, bias=False)), plane, "Xception, MobileNet"),
        (f"grouped, g={groups}", cost_conv(c, c, k, size, groups),
         nn.Conv2d(c, c, k, padding=p, groups=groups, bias=False), plane, "AlexNet (g=2)"),
        (f"grouped g={groups} + shuffle", cost_conv(c, c, k, size, groups),
         nn.Sequential(nn.Conv2d(c, c, k, padding=p, groups=groups, bias=False),
                       nn.ChannelShuffle(groups)), plane, "ShuffleNet"),
        ("stride-2 k x k", cost_conv(c, c, k, half),
         nn.Conv2d(c, c, k, stride=2, padding=p, bias=False), plane, "ResNet downsampling"),
        ("2x2 max or avg pooling", (0, 0), nn.MaxPool2d(2), plane, "LeNet, AlexNet, VGG"),
    ]
    if c % 32 == 0:  # ResNeXt's cardinality, after the other grouped row
        rows.insert(9, ("grouped, g=32", cost_conv(c, c, k, size, 32),
                        nn.Conv2d(c, c, k, padding=p, groups=32, bias=False), plane,
                        "ResNeXt (cardinality 32)"))
    standard = rows[0][1][1]
    return [{"layer": name, "params": w, "macs": m, "x standard": f"{m / standard:.3f}",
             "used in": used, "module": module, "input": shape}
            for name, (w, m), module, shape, used in rows]


def summary_text(rows: Sequence[dict]) -> str:
    """:func:`zoo_summary` as a plain-text table: numbers right-aligned, "used in" left."""
    table = lt.format_table(rows, ["layer", "params", "macs", "x standard"]).splitlines()
    width = len(table[0])
    lines = [table[0] + "  used in", "-" * (width + 2 + max(len(r["used in"]) for r in rows))]
    return "\n".join(lines + [line + "  " + r["used in"] for line, r in zip(table[2:], rows)])


# ---------------------------------------------------------------------------
# 1x1 and 3-D convolutions
# ---------------------------------------------------------------------------


def pointwise_as_linear(x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """Apply a 1x1 convolution as ``F.linear`` on each pixel's channel vector.

    Moving the channel axis last turns (N, C, H, W) into N*H*W vectors of
    length C; a 1x1 convolution is the same matrix applied to each of them.
    """
    if (conv.kernel_size, conv.stride, conv.padding, conv.groups) != ((1, 1), (1, 1), (0, 0), 1):
        raise ValueError("only a plain 1x1 convolution (stride 1, no padding, groups 1)")
    return F.linear(x.movedim(1, -1), conv.weight[:, :, 0, 0], conv.bias).movedim(-1, 1)


def conv3d_output_shape(in_dhw: Sequence[int], k: int, s: int = 1, p: int = 0) -> tuple:
    """Output (D, H, W) of a 3-D convolution: the 2-D formula on each of the three axes."""
    return tuple(lt.conv_out(i, k, s, p) for i in in_dhw)


# ---------------------------------------------------------------------------
# Transposed convolution
# ---------------------------------------------------------------------------


def conv_matrix_index(i: int, k: int) -> np.ndarray:
    """Where each kernel tap sits in the sparse matrix C of a k x k kernel on an i x i input.

    One channel, stride 1, no padding ([S4]'s case). Row ``r*o + c`` of C
    computes output pixel (r, c) from the flattened input; the entry for input
    pixel (r+u, c+v) is kernel tap ``u*k + v``. Cells without a tap hold -1.
    """
    o = i - k + 1
    idx = np.full((o * o, i * i), -1)
    for r in range(o):
        for c in range(o):
            for u in range(k):
                for v in range(k):
                    idx[r * o + c, (r + u) * i + (c + v)] = u * k + v
    return idx


def kernel_matrix(kernel, i: int) -> np.ndarray:
    """The numeric matrix C: ``C @ x.ravel()`` is the valid cross-correlation of x with kernel."""
    kernel = np.asarray(kernel, dtype=float)
    idx = conv_matrix_index(i, kernel.shape[0])
    return np.where(idx >= 0, kernel.ravel()[idx], 0.0)


def transposed_conv_by_matrix(y, kernel, i: int) -> np.ndarray:
    """Multiply by C^T: a 1-channel (i-k+1)^2 map goes back to an i x i map."""
    return (kernel_matrix(kernel, i).T @ np.asarray(y, dtype=float).ravel()).reshape(i, i)


def transposed_conv_by_vjp(y: torch.Tensor, weight: torch.Tensor, input_shape, stride=1,
                           padding=0) -> torch.Tensor:
    """The transposed convolution as autograd computes it: y^T J, J the Jacobian of conv2d.

    ``F.conv2d`` is linear in x, so its Jacobian is C, and the vector-Jacobian
    product that backpropagation needs is ``C^T y``. The input shape must be
    given: several input sizes have the same output size (hence output_padding).
    """
    x = torch.zeros(input_shape, dtype=y.dtype, requires_grad=True)
    out = F.conv2d(x, weight, stride=stride, padding=padding)
    (grad,) = torch.autograd.grad(out, x, grad_outputs=y)
    return grad


def transposed_stamps(y, kernel, stride: int = 1) -> np.ndarray:
    """The scatter view of a 1-channel transposed convolution, one stamp per input pixel.

    Input pixel (r, c) adds ``y[r, c] * kernel`` to the output window whose
    corner is (r*s, c*s). Returns an array (y.size, H', W'); its sum over the
    first axis is ``F.conv_transpose2d`` without padding.
    """
    y, kernel = np.asarray(y, dtype=float), np.asarray(kernel, dtype=float)
    (h, w), (kh, kw), s = y.shape, kernel.shape, stride
    stamps = np.zeros((y.size, s * (h - 1) + kh, s * (w - 1) + kw))
    for n, ((r, c), v) in enumerate(np.ndenumerate(y)):
        stamps[n, r * s:r * s + kh, c * s:c * s + kw] = v * kernel
    return stamps


def stretch(y, s: int) -> np.ndarray:
    """Insert s - 1 zeros between neighbouring pixels of a 2-D map ("fractional stride" 1/s)."""
    y = np.asarray(y, dtype=float)
    out = np.zeros(((y.shape[0] - 1) * s + 1, (y.shape[1] - 1) * s + 1))
    out[::s, ::s] = y
    return out


def transposed_by_stretching(y, kernel, stride: int = 1, padding: int = 0,
                             output_padding: int = 0) -> np.ndarray:
    """A 1-channel transposed convolution as an ordinary stride-1 convolution.

    Dumoulin & Visin's construction: stretch the input (s - 1 zeros between
    pixels), pad it with k - p - 1 zeros (plus ``output_padding`` more at the
    bottom and right), then correlate with the kernel rotated by 180 degrees.
    Needs p <= k - 1 (otherwise the equivalent padding would be negative).
    """
    kernel = np.asarray(kernel, dtype=float)
    k = kernel.shape[0]
    q = k - padding - 1
    if q < 0:
        raise ValueError("padding must be at most k - 1 for this construction")
    z = torch.from_numpy(stretch(y, stride))[None, None]
    z = F.pad(z, (q, q + output_padding, q, q + output_padding))
    w = torch.from_numpy(kernel[::-1, ::-1].copy())[None, None]
    return F.conv2d(z, w)[0, 0].numpy()


# Output sizes of transposed convolutions (one axis). i' is the size of the
# transposed convolution's *input*, which is the output size o of the direct
# convolution it transposes. Numbers follow Dumoulin & Visin (2016).


def tout_no_padding(i_: int, k: int) -> int:
    """Relationship 8: transposes (k, s=1, p=0); it is a full-padded conv. o' = i' + (k-1)."""
    return i_ + (k - 1)


def tout_padded(i_: int, k: int, p: int) -> int:
    """Relationship 9: transposes (k, s=1, p); padding k - p - 1. o' = i' + (k-1) - 2p."""
    return i_ + (k - 1) - 2 * p


def tout_half(i_: int, k: int) -> int:
    """Relationship 10: transposes half padding (k odd, p = floor(k/2)). o' = i'."""
    return tout_padded(i_, k, lt.half_padding(k))


def tout_full(i_: int, k: int) -> int:
    """Relationship 11: transposes full padding (p = k - 1): a valid conv. o' = i' - (k-1)."""
    return tout_padded(i_, k, lt.full_padding(k))


def tout_strided(i_: int, k: int, s: int) -> int:
    """Relationship 12: transposes (k, s, p=0) when s divides i - k. o' = s(i'-1) + k."""
    return s * (i_ - 1) + k


def tout_padded_strided(i_: int, k: int, s: int, p: int) -> int:
    """Relationship 13: transposes (k, s, p) when s divides i + 2p - k. o' = s(i'-1) + k - 2p."""
    return s * (i_ - 1) + k - 2 * p


def tout_general(i_: int, k: int, s: int, p: int, a: int) -> int:
    """Relationship 14: o' = s(i'-1) + a + k - 2p, where a = (i + 2p - k) mod s.

    ``a`` is PyTorch's ``output_padding``: the input sizes i, i+1, ..., i+s-1 all
    give the same conv output size, and a says which of them to go back to.
    """
    return s * (i_ - 1) + a + k - 2 * p


def output_padding_for(i: int, k: int, s: int, p: int = 0) -> int:
    """The ``a`` of relationship 14 that makes the transposed conv return to size i."""
    return (i + 2 * p - k) % s


def overlap_counts(n: int, k: int, s: int) -> np.ndarray:
    """How many kernel stamps cover each output pixel of a stride-s transposed conv.

    ``conv_transpose2d`` of an all-ones n x n input with an all-ones k x k
    kernel. Uneven counts in the interior are the checkerboard pattern.
    """
    ones = torch.ones(1, 1, n, n, dtype=torch.float64)
    return F.conv_transpose2d(ones, torch.ones(1, 1, k, k, dtype=torch.float64),
                              stride=s)[0, 0].numpy()


def upsample_conv_counts(n: int, k: int, scale: int) -> np.ndarray:
    """The alternative of Odena et al.: nearest-neighbour upsampling, then a k x k conv.

    All-ones input and kernel again, with 'same' zero padding (k odd): every
    interior pixel is covered k^2 times, only the border differs.
    """
    ones = torch.ones(1, 1, n, n, dtype=torch.float64)
    up = F.interpolate(ones, scale_factor=scale, mode="nearest")
    return F.conv2d(up, torch.ones(1, 1, k, k, dtype=torch.float64),
                    padding=lt.half_padding(k))[0, 0].numpy()


# ---------------------------------------------------------------------------
# Dilated convolution
# ---------------------------------------------------------------------------


def dilate_kernel(kernel, d: int) -> np.ndarray:
    """Spread a 2-D kernel out with d - 1 zeros ("holes") between its taps.

    A convolution with the result equals ``F.conv2d(..., dilation=d)`` with the
    original kernel; its side is the effective kernel d(k-1) + 1.
    """
    kernel = np.asarray(kernel, dtype=float)
    kh, kw = kernel.shape
    out = np.zeros((d * (kh - 1) + 1, d * (kw - 1) + 1))
    out[::d, ::d] = kernel
    return out


# ---------------------------------------------------------------------------
# Spatially separable and flattened convolutions
# ---------------------------------------------------------------------------

#: [S4]'s factorisation of the Sobel kernel: a column [1, 2, 1] times a row [-1, 0, 1].
SOBEL_COL = np.array([1.0, 2.0, 1.0])
SOBEL_ROW = np.array([-1.0, 0.0, 1.0])
SOBEL_X = np.array([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])


def two_passes(gray, col, row) -> tuple[np.ndarray, np.ndarray]:
    """Filter a gray image with a k x 1 column kernel, then a 1 x k row kernel.

    Returns (after the vertical pass, after both). When the 2-D kernel is the
    outer product ``col x row`` this equals one pass with it ('valid' mode).
    """
    x = torch.as_tensor(np.asarray(gray), dtype=torch.float64)[None, None]
    col_w = torch.as_tensor(np.asarray(col), dtype=torch.float64).view(1, 1, -1, 1)
    row_w = torch.as_tensor(np.asarray(row), dtype=torch.float64).view(1, 1, 1, -1)
    vertical = F.conv2d(x, col_w)
    return vertical[0, 0].numpy(), F.conv2d(vertical, row_w)[0, 0].numpy()


def outer3(a, b, c) -> np.ndarray:
    """The rank-1 3-D kernel a x b x c: ``K[ch, u, v] = a[ch] * b[u] * c[v]``."""
    return np.einsum("i,j,k->ijk", np.asarray(a, float), np.asarray(b, float),
                     np.asarray(c, float))


# ---------------------------------------------------------------------------
# Depthwise separable, grouped and shuffled convolutions
# ---------------------------------------------------------------------------


def depthwise_separable(c_in: int, c_out: int, k: int, bias: bool = False) -> nn.Sequential:
    """MobileNet's block without BatchNorm and ReLU: depthwise k x k, then pointwise 1x1."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_in, k, padding=k // 2, groups=c_in, bias=bias),  # one filter per channel
        nn.Conv2d(c_in, c_out, 1, bias=bias),                              # mixes the channels
    )


def dws_equivalent_kernel(dw_weight: torch.Tensor, pw_weight: torch.Tensor) -> torch.Tensor:
    """The standard (C_out, C_in, k, k) kernel that a depthwise + pointwise pair equals.

    Filter o on channel c is the depthwise filter of c scaled by the pointwise
    weight P[o, c]: a standard kernel constrained to this product form.
    """
    return pw_weight[:, :, 0, 0, None, None] * dw_weight[None, :, 0]


def group_mask(c_in: int, c_out: int, groups: int) -> np.ndarray:
    """Which input channels each output channel of a grouped convolution reads.

    Boolean (c_out, c_in), block diagonal: output o is in group
    ``o // (c_out/g)`` and reads the inputs of the same group.
    """
    if c_in % groups or c_out % groups:
        raise ValueError("groups must divide both channel counts")
    return (np.arange(c_out)[:, None] // (c_out // groups)
            == np.arange(c_in)[None, :] // (c_in // groups))


def channel_dependence(fn: Callable[[torch.Tensor], torch.Tensor], c_in: int,
                       size: int = 3) -> np.ndarray:
    """Measure which input channels each output channel depends on, with autograd.

    For every output channel o, back-propagates the sum of its map to a random
    positive float64 input (fn must accept float64) and records which input
    channels receive a nonzero gradient: one row of the (c_out, c_in) result.
    Exact zeros come from the structure of the layer (groups); random weights
    make an accidental cancellation practically impossible.
    """
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(1, c_in, size, size, generator=g, dtype=torch.float64) + 0.5).requires_grad_()
    with lt.one_thread():
        out = fn(x)
        rows = []
        for o in range(out.shape[1]):
            (grad,) = torch.autograd.grad(out[:, o].sum(), x, retain_graph=True)
            rows.append(grad.abs().sum(dim=(0, 2, 3)) > 0)
    return torch.stack(rows).numpy()


def shuffle_permutation(c: int, groups: int) -> np.ndarray:
    """Channel order after ShuffleNet's shuffle: output channel j is input channel perm[j].

    Writing the channels as a (groups, c/groups) table and reading it column by
    column takes one channel from each group in turn.
    """
    return np.arange(c).reshape(groups, c // groups).T.ravel()


def permutation_mask(perm) -> np.ndarray:
    """The (out, in) 0/1 matrix of a channel permutation: out j reads in perm[j]."""
    perm = np.asarray(perm)
    mask = np.zeros((len(perm), len(perm)), dtype=bool)
    mask[np.arange(len(perm)), perm] = True
    return mask


def grouped_stack(c: int, groups: int, shuffle: bool, seed: int = 0) -> nn.Sequential:
    """Two 1x1 grouped convolutions, with ShuffleNet's channel shuffle between them or not."""
    torch.manual_seed(seed)
    layers = [nn.Conv2d(c, c, 1, groups=groups, bias=False)]
    if shuffle:
        layers.append(nn.ChannelShuffle(groups))
    layers.append(nn.Conv2d(c, c, 1, groups=groups, bias=False))
    return nn.Sequential(*layers).double()


def stack_masks(c: int, groups: int, shuffle: bool) -> list[np.ndarray]:
    """The (out, in) masks of :func:`grouped_stack`, layer by layer, from the formulas."""
    masks = [group_mask(c, c, groups)]
    if shuffle:
        masks.append(permutation_mask(shuffle_permutation(c, groups)))
    masks.append(group_mask(c, c, groups))
    return masks


def compose_masks(masks: Sequence[np.ndarray]) -> np.ndarray:
    """Which inputs reach which outputs through a chain of (out, in) masks."""
    total = np.eye(masks[0].shape[1], dtype=int)
    for m in masks:
        total = (m.astype(int) @ total > 0).astype(int)
    return total.astype(bool)


# ---------------------------------------------------------------------------
# Local response normalisation (AlexNet)
# ---------------------------------------------------------------------------

#: AlexNet's published LRN setting (Krizhevsky et al. 2012): window of n = 5 channels.
ALEXNET_LRN = {"k": 2.0, "n": 5, "alpha": 1e-4, "beta": 0.75}


def lrn_seed(a, k: float, alpha: float, beta: float, r: int) -> np.ndarray:
    """[S3]'s LRN formula at one pixel, literally, for a vector of channel activations.

    b_i = a_i (k + alpha * sum_{j=j_low}^{j_high} a_j^2)^(-beta),
    j_low = max(0, i - r/2), j_high = min(i + r/2, f_n - 1).
    With r/2 read as a real number, an integer j >= i - r/2 means
    j >= i - floor(r/2), so the window is i - r//2 .. i + r//2 either way.
    """
    a = np.asarray(a, dtype=float)
    f_n = len(a)
    b = np.empty_like(a)
    for i in range(f_n):
        lo, hi = max(0, i - r // 2), min(i + r // 2, f_n - 1)
        b[i] = a[i] * (k + alpha * np.sum(a[lo:hi + 1] ** 2)) ** (-beta)
    return b


def lrn_torch_args(k: float, alpha: float, beta: float, r: int) -> dict:
    """Arguments of ``F.local_response_norm`` that reproduce [S3]'s formula.

    PyTorch sums over ``size`` channels and divides alpha by ``size``, so the
    window must have [S3]'s width 2*floor(r/2) + 1 (r + 1 for even r) and
    alpha must be multiplied by that width.
    """
    size = 2 * (r // 2) + 1
    return {"size": size, "alpha": alpha * size, "beta": beta, "k": k}


def torch_lrn_window(i: int, size: int, n: int) -> tuple[int, int]:
    """First and last channel in PyTorch's LRN sum for channel i (of n).

    PyTorch zero-pads ``size // 2`` channels before and ``(size - 1) // 2``
    after, so an even size reaches one channel further back than forward.
    """
    return max(0, i - size // 2), min(n - 1, i + (size - 1) // 2)


def lrn_window_matrix(n: int, size: int) -> np.ndarray:
    """Measured: which channels j enter the normalisation of channel i in PyTorch's LRN.

    The Jacobian of ``F.local_response_norm`` at a positive input is nonzero at
    (i, j) exactly when a_j is in channel i's sum.
    """
    g = torch.Generator().manual_seed(1)
    x = torch.rand(1, n, 1, 1, generator=g, dtype=torch.float64) + 0.5
    with lt.one_thread():
        jac = torch.autograd.functional.jacobian(
            lambda t: F.local_response_norm(t, size, alpha=1.0, beta=0.75, k=1.0), x)
    return (jac[0, :, 0, 0, 0, :, 0, 0] != 0).numpy()


# ---------------------------------------------------------------------------
# Pooling, the backward pass, im2col
# ---------------------------------------------------------------------------


def avg_pool_as_conv(x: torch.Tensor, k: int) -> torch.Tensor:
    """k x k average pooling as a stride-k depthwise convolution with the constant kernel 1/k^2."""
    c = x.shape[1]
    w = torch.full((c, 1, k, k), 1.0 / k ** 2, dtype=x.dtype)
    return F.conv2d(x, w, stride=k, groups=c)


def input_grad_by_transpose(dout: torch.Tensor, weight: torch.Tensor, input_hw, stride: int = 1,
                            padding: int = 0) -> torch.Tensor:
    """dL/dx of ``F.conv2d(x, weight, stride, padding)`` as a transposed convolution of dout.

    Same weight tensor (PyTorch stores (C_out, C_in, k, k), which is exactly the
    (in, out, k, k) layout ``conv_transpose2d`` expects for going back), and the
    output_padding of relationship 14 so that the result has x's size.
    """
    kh, kw = weight.shape[-2:]
    a = tuple(output_padding_for(i, k, stride, padding) for i, k in zip(input_hw, (kh, kw)))
    return F.conv_transpose2d(dout, weight, stride=stride, padding=padding, output_padding=a)


def unfold_row_labels(c: int, k: int) -> list[str]:
    """Row labels of ``F.unfold``'s (N, C*k*k, L) output: channel-major, then kernel row, column."""
    return [f"c{ch} ({u},{v})" for ch in range(c) for u in range(k) for v in range(k)]


def conv_by_unfold(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Stride 1, no padding, groups 1: patches as columns, then one matrix product."""
    n, _, h, w = x.shape
    c_out, _, kh, kw = weight.shape
    cols = F.unfold(x, (kh, kw))                      # (N, C*kh*kw, L)
    out = weight.reshape(c_out, -1) @ cols            # (N, C_out, L)
    return out.reshape(n, c_out, h - kh + 1, w - kw + 1)


def load_gray_photo(height: int = 96, name: str = "china.jpg") -> np.ndarray:
    """``lt.to_gray(lt.load_photo(height, name))`` without importing scikit-learn.

    The JPEG ships inside scikit-learn; reading it with Pillow straight from the
    package folder skips the 1-2 s that ``import sklearn.datasets`` takes, which
    matters for a lecture that must run in under a minute.
    """
    from PIL import Image

    folder = importlib.util.find_spec("sklearn").submodule_search_locations[0]
    with Image.open(Path(folder) / "datasets" / "images" / name) as im:
        img = torch.from_numpy(np.asarray(im, dtype=np.float64) / 255.0)
    h, w = img.shape[:2]
    width = round(w * height / h)
    small = F.interpolate(img.permute(2, 0, 1)[None], size=(height, width), mode="area")
    return lt.to_gray(small[0].permute(1, 2, 0).numpy())


# ---------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------


def plot_costs(rows: Sequence[dict], title: str = "", log: bool = False):
    """Weights and MACs side by side, one horizontal bar per row (dicts with layer/params/macs)."""
    names = [r["layer"] for r in rows]
    fig = Figure(figsize=(11, 0.45 * len(rows) + 1.4), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    for ax, key, what in ((axes[0], "params", "weights"),
                          (axes[1], "macs", "multiply-accumulates")):
        vals = [r[key] for r in rows]
        colors = [fg.DARK if n == 0 else fg.BLUE for n in range(len(rows))]
        bars = ax.barh(names, vals, color=colors)
        ax.bar_label(bars, labels=[f"{v:,}" for v in vals], fontsize=8, padding=2)
        ax.set_title(what)
        if log:
            ax.set_xscale("log")
            ax.set_xlim(max(1, min(v for v in vals if v > 0) / 3), max(vals) * 30)
        else:
            ax.set_xlim(0, max(vals) * 1.35)
        ax.grid(axis="x", alpha=0.3)
    axes[0].invert_yaxis()  # first row on top (the y axis is shared)
    if title:
        fig.suptitle(title)
    return fig


def plot_pointwise(x, weight, pixel=(1, 2)):
    """A 1x1 convolution at one pixel: the same C_out x C_in matrix times every channel vector.

    ``x`` is (C_in, H, W), ``weight`` (C_out, C_in). The output maps come from
    ``F.conv2d``; the highlighted pixel shows the matrix-vector product.
    """
    x, weight = np.asarray(x, dtype=float), np.asarray(weight, dtype=float)
    c_in, c_out = x.shape[0], weight.shape[0]
    y = F.conv2d(torch.from_numpy(x)[None], torch.from_numpy(weight)[:, :, None, None])[0].numpy()
    r, c = pixel
    fig = Figure(figsize=(2.2 * (c_in + c_out + 1.4), 3.0), layout="constrained")
    axes = fig.subplots(1, c_in + c_out + 1,
                        width_ratios=[x.shape[2]] * c_in + [c_in * 1.4] + [x.shape[2]] * c_out)
    for ch in range(c_in):
        fg.grid(axes[ch], x[ch], highlight=(r, c, 1, 1), title=f"input channel {ch}", fontsize=9)
    fg.grid(axes[c_in], weight, cmap="Oranges", fmt="{:+g}", fontsize=9,
            title=f"W ({c_out}x{c_in})")
    for ch in range(c_out):
        terms = " ".join(f"{weight[ch, j]:+g}*{x[j, r, c]:g}" for j in range(c_in))
        ax = axes[c_in + 1 + ch]
        fg.grid(ax, y[ch], cmap="Greens", highlight=(r, c, 1, 1), fontsize=9,
                title=f"output channel {ch}")
        ax.set_xlabel(f"[{r},{c}]: {terms} = {y[ch, r, c]:g}", fontsize=8)
    fig.suptitle(f"1x1 convolution: output[:, {r}, {c}] = W @ input[:, {r}, {c}], "
                 "the same W at every pixel")
    return fig


def plot_2d_vs_3d(depth: int = 5, width: int = 7, k: int = 3, kd: int = 3):
    """Depth x width view of a multi-channel 2-D and a 3-D convolution (height not drawn).

    Left: the 2-D filter spans all ``depth`` channels, so each filter gives a
    single map. Right: a 3-D filter spans only ``kd`` of them and also slides
    along depth, so each filter gives a volume. Sizes from ``lt.conv_out``.
    """
    ow, od = lt.conv_out(width, k), lt.conv_out(depth, kd)
    fig = Figure(figsize=(13, 4.0), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, span, out_rows, title in (
            (axes[0], depth, 1, (f"multi-channel 2-D convolution\nfilter {depth}x{k}x{k}: spans "
                                 f"all {depth} channels, slides along H and W only")),
            (axes[1], kd, od, f"3-D convolution\nfilter {kd}x{k}x{k}: slides along depth too")):
        for rr in range(depth):
            for cc in range(width):
                fg.box(ax, cc + 0.5, rr + 0.5, 1, 1, lw=0.6, style=fg.SQUARE)
        # Two filter positions and the output cells they produce.
        positions = [(0, 0, fg.DARK)]
        positions.append((min(2, ow - 1), (depth - span) if out_rows > 1 else 0, fg.ORANGE))
        x0 = width + 2.5
        for cc in range(ow):
            for rr in range(out_rows):
                fg.box(ax, x0 + cc + 0.5, rr + (depth - out_rows + 1) / 2, 1, 1, fc=fg.LIGHT_GREEN,
                       lw=0.6, style=fg.SQUARE)
        for col, row, color in positions:
            fg.box(ax, col + k / 2, row + span / 2, k, span, fill=False, ec=color, lw=3,
                   style=fg.SQUARE)
            fg.box(ax, x0 + col + 0.5, row + (depth - out_rows + 1) / 2, 1, 1, fc=color,
                   alpha=0.9, style=fg.SQUARE)
        fg.arrow(ax, (width + 0.3, depth / 2), (x0 - 0.3, depth / 2), size=14)
        ax.text(width / 2, -0.4, f"input: {depth} channels x {width} wide", ha="center",
                va="bottom")
        ax.text(x0 + ow / 2, (depth - out_rows) / 2 - 0.4,
                f"output: {out_rows} x {ow}" + (" (a volume)" if out_rows > 1 else " (one map)"),
                ha="center", va="bottom")
        ax.text(-0.3, depth / 2, "channel / depth", rotation=90, ha="right", va="center")
        ax.set_title(title, fontsize=11)
        fg.frame(ax, (-1.2, x0 + ow + 0.5), (depth + 0.3, -1.6))
    return fig


def plot_transposed_matrix(i: int = 4, k: int = 3):
    """[S4]'s picture: X (i*i) = C^T (i*i x o*o) times Y (o*o), with symbolic entries.

    Entries come from :func:`conv_matrix_index` (tested against ``F.conv2d``);
    each kernel row has its own colour so the 3-wide bands are easy to follow.
    """
    idx = conv_matrix_index(i, k).T  # C^T: (i*i, o*o)
    n_in, n_out = idx.shape
    fig = Figure(figsize=(11, 0.42 * n_in + 1.6), layout="constrained")
    ax = fig.subplots()
    row_colors = ["#c6dbef", fg.PALE_ORANGE, fg.LIGHT_GREEN, fg.LIGHT_PURPLE, fg.RED]
    for rr in range(n_in):
        for cc in range(n_out):
            t = idx[rr, cc]
            u, v = divmod(t, k)
            fg.box(ax, cc + 0.5, rr + 0.5, 1, 1, fc=row_colors[u % 5] if t >= 0 else "white",
                   ec="0.5", lw=0.6, style=fg.SQUARE)
            ax.text(cc + 0.5, rr + 0.5, f"$W_{{{u},{v}}}$" if t >= 0 else "0", ha="center",
                    va="center", fontsize=10, color="k" if t >= 0 else "0.6")
    ax.text(n_out / 2, -0.3, f"sparse matrix $C^T$ ({n_in} x {n_out})", ha="center", va="bottom")
    ax.text(n_out + 0.7, n_in / 2, "x", ha="center", va="center", fontsize=16)
    y0 = (n_in - n_out) / 2
    for cc in range(n_out):
        fg.box(ax, n_out + 1.9, y0 + cc + 0.5, 1, 1, fc=fg.LIGHT_GREEN, style=fg.SQUARE)
        ax.text(n_out + 1.9, y0 + cc + 0.5, f"$Y_{{{cc}}}$", ha="center", va="center")
    ax.text(n_out + 1.9, y0 - 0.3, f"Y ({n_out} x 1)", ha="center", va="bottom")
    ax.text(n_out + 3.1, n_in / 2, "=", ha="center", va="center", fontsize=16)
    for rr in range(n_in):
        fg.box(ax, n_out + 4.3, rr + 0.5, 1, 1, style=fg.SQUARE)
        ax.text(n_out + 4.3, rr + 0.5, f"$X_{{{rr}}}$", ha="center", va="center", fontsize=9)
    ax.text(n_out + 4.3, -0.3, f"X ({n_in} x 1)", ha="center", va="bottom")
    gx = n_out + 6.5
    for rr in range(i):
        for cc in range(i):
            fg.box(ax, gx + cc + 0.5, rr + (n_in - i + 1) / 2, 1, 1, style=fg.SQUARE)
            ax.text(gx + cc + 0.5, rr + (n_in - i) / 2 + 0.5, f"$X_{{{rr * i + cc}}}$",
                    ha="center", va="center", fontsize=9)
    ax.text(gx + i / 2, (n_in - i) / 2 - 0.3, f"reshaped: {i} x {i}", ha="center", va="bottom")
    fg.arrow(ax, (n_out + 5.0, n_in / 2), (gx - 0.2, n_in / 2), size=14)
    fg.frame(ax, (-0.2, gx + i + 0.3), (n_in + 0.2, -1.2))
    ax.set_title(f"transposed convolution = multiplication by $C^T$  "
                 f"({k}x{k} kernel, {i}x{i} input, "
                 f"{i - k + 1}x{i - k + 1} output of the direct conv)")
    return fig


def plot_transposed_stamps(y, kernel, stride: int = 1):
    """A 1-channel transposed convolution drawn as stamps: each input pixel adds value x kernel."""
    y, kernel = np.asarray(y, dtype=float), np.asarray(kernel, dtype=float)
    stamps = transposed_stamps(y, kernel, stride)
    total = stamps.sum(axis=0)
    n = len(stamps)
    fig = Figure(figsize=(2.4 * (n + 2), 3.0), layout="constrained")
    axes = fig.subplots(1, n + 2)
    vmax = np.abs(stamps).max()
    fg.grid(axes[0], y, cmap="Greens", title="input (e.g. dL/dy)")
    # Where each stamp lands (a zero weight inside the stamp still shows as 0).
    footprint = transposed_stamps(np.ones_like(y), np.ones_like(kernel), stride) != 0
    for m, ((r, c), v) in enumerate(np.ndenumerate(y)):
        shown = np.where(footprint[m], stamps[m] + 0.0, np.nan)  # + 0.0 turns -0 into 0
        fg.grid(axes[m + 1], shown, cmap="RdBu_r", vmin=-vmax, vmax=vmax, fontsize=8,
                title=f"{v:g} x kernel at ({r * stride},{c * stride})")
    fg.grid(axes[-1], total, cmap="RdBu_r", vmin=-np.abs(total).max(), vmax=np.abs(total).max(),
            fontsize=8, title="sum = conv_transpose2d")
    fig.suptitle(f"transposed convolution, stride {stride}: {y.shape[0]}x{y.shape[1]} -> "
                 f"{total.shape[0]}x{total.shape[1]}, one kernel stamp per input pixel")
    return fig


def plot_checkerboard(n: int = 5):
    """Overlap counts of stride-2 upsampling: k=3 (uneven), k=4 (even), nearest + 3x3 conv."""
    cases = [(overlap_counts(n, 3, 2), "transposed conv k=3, s=2\n(k not divisible by s)"),
             (overlap_counts(n, 4, 2), "transposed conv k=4, s=2\n(k divisible by s)"),
             (upsample_conv_counts(n, 3, 2), "nearest upsample x2, then\n3x3 conv (padding 1)")]
    fig = Figure(figsize=(15, 5.6), layout="constrained")
    axes = fig.subplots(2, 3, height_ratios=[4, 1.3])
    vmax = max(m.max() for m, _ in cases)
    for col, (m, title) in enumerate(cases):
        fg.grid(axes[0, col], m, cmap="magma", vmin=0, vmax=m.max() * 1.15, fontsize=7, title=title)
        mid = m[m.shape[0] // 2]
        axes[1, col].step(np.arange(len(mid)), mid, where="mid", color=fg.DARK)
        axes[1, col].set_ylim(0, vmax * 1.1)
        axes[1, col].set_title("middle row", fontsize=9)
        axes[1, col].grid(alpha=0.3)
    fig.suptitle(f"How many kernel stamps cover each output pixel ({n}x{n} all-ones input, "
                 "all-ones kernel)")
    return fig


def plot_dilation_grids(rates: Sequence[int] = (1, 2, 4), k: int = 3):
    """[S4]'s (a)(b)(c): taps of layer l (dots) over the receptive field of layers 1..l.

    The shaded area is the nonzero gradient of ``lt.receptive_field_by_gradient``
    for the stack so far, its size from ``lt.receptive_field``.
    """
    stack = [(k, 1, d) for d in rates]
    size = lt.receptive_field(stack)[-1][0] + 2
    centre = size // 2
    fig = Figure(figsize=(4.2 * len(rates), 4.9), layout="constrained")
    axes = fig.subplots(1, len(rates), squeeze=False)[0]
    for n, (ax, d) in enumerate(zip(axes, rates)):
        grad = lt.receptive_field_by_gradient(stack[:n + 1], size)
        r = lt.receptive_field(stack[:n + 1])[-1][0]
        ax.imshow(np.where(grad > 0, 1.0, 0.0), cmap="Blues", vmin=0, vmax=2.2)
        offsets = [(t - (k - 1) // 2) * d for t in range(k)]
        for du in offsets:
            for dv in offsets:
                ax.plot(centre + dv, centre + du, "o", ms=9, color=fg.DEEP_RED)
        fg.cell_lines(ax, size, size, color="0.75")
        ax.set_title(f"({'abcdefg'[n]}) {d}-dilated {k}x{k} (layer {n + 1})\n"
                     f"taps span {lt.effective_kernel(k, d)}x{lt.effective_kernel(k, d)}, "
                     f"receptive field {r}x{r}", fontsize=10)
    return fig


def plot_separable(gray, col=SOBEL_COL, row=SOBEL_ROW):
    """Two 1-D passes (column, then row) give the same map as one pass with their outer product."""
    vertical, both = two_passes(gray, col, row)
    kernel = np.outer(col, row)
    one = F.conv2d(torch.as_tensor(gray, dtype=torch.float64)[None, None],
                   torch.as_tensor(kernel)[None, None])[0, 0].numpy()
    fig = Figure(figsize=(15, 6.4), layout="constrained")
    top = fig.subfigures(2, 1, height_ratios=[1, 1.35])
    k = len(col)
    a = top[0].subplots(1, 6, width_ratios=[1, 0.6, k, 0.6, k, 6])
    fg.grid(a[0], np.asarray(col)[:, None], cmap="PuOr", vmin=-2, vmax=2, title="column")
    fg.grid(a[2], np.asarray(row)[None, :], cmap="PuOr", vmin=-2, vmax=2, title="row")
    fg.grid(a[4], kernel, cmap="PuOr", fmt="{:+g}", vmin=-2, vmax=2, title="outer product")
    for ax, sym in ((a[1], "x"), (a[3], "=")):
        ax.text(0.5, 0.5, sym, ha="center", va="center", fontsize=20)
    a[5].text(0.05, 0.5, f"one {k}x{k} pass: {k * k} multiplications per output pixel\n"
              f"a {k}x1 pass then a 1x{k} pass: {k} + {k} = {2 * k}", va="center", fontsize=12)
    for ax in (a[1], a[3], a[5]):
        ax.axis("off")
    b = top[1].subplots(1, 4)
    vmax = np.abs(one).max()
    # The [1, 2, 1] pass only smooths (gray); the derivative passes are signed (white = 0).
    for ax, m, title, style in (
            (b[0], gray, f"input {gray.shape[0]}x{gray.shape[1]}", {"cmap": "gray"}),
            (b[1], vertical, f"after the {k}x1 pass: {vertical.shape[0]}x{vertical.shape[1]}",
             {"cmap": "gray"}),
            (b[2], both, f"then the 1x{k} pass: {both.shape[0]}x{both.shape[1]}",
             {"cmap": "PuOr", "vmin": -vmax, "vmax": vmax}),
            (b[3], one, f"one {k}x{k} pass; max |difference| = {np.abs(both - one).max():.1e}",
             {"cmap": "PuOr", "vmin": -vmax, "vmax": vmax})):
        ax.imshow(m, **style)
        ax.set_title(title, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    return fig


def plot_singular_values(kernels: dict):
    """Singular values of 2-D kernels: exactly one nonzero value means separable (rank 1)."""
    fig = Figure(figsize=(3.4 * len(kernels), 3.2), layout="constrained")
    axes = fig.subplots(1, len(kernels), squeeze=False)[0]
    for ax, (name, kern) in zip(axes, kernels.items()):
        s = np.linalg.svd(np.asarray(kern, dtype=float), compute_uv=False)
        bars = ax.bar(np.arange(1, len(s) + 1), s, color=fg.BLUE, ec=fg.DARK)
        ax.bar_label(bars, labels=[f"{v:.2g}" for v in s], fontsize=8)
        ax.set_xticks(np.arange(1, len(s) + 1))
        ax.set_xlabel("singular value number")
        rank = int(np.sum(s > 1e-10 * s[0]))
        ax.set_title(f"{name}: rank {rank}" + (" (separable)" if rank == 1 else ""), fontsize=10)
        ax.set_ylim(0, s[0] * 1.25)
    return fig


def plot_flattened(a, b, c):
    """A rank-1 3-D kernel: its channel slices are scaled copies of one 2-D rank-1 kernel."""
    kern = outer3(a, b, c)
    n = kern.shape[0]
    fig = Figure(figsize=(2.3 * (n + 3), 3.1), layout="constrained")
    axes = fig.subplots(1, n + 3, width_ratios=[1.2] * n + [0.6, 1.2, 1.2])
    vmax = np.abs(kern).max()
    for ch in range(n):
        fg.grid(axes[ch], kern[ch], cmap="PuOr", vmin=-vmax, vmax=vmax, fmt="{:+.2g}", fontsize=8,
                title=f"K[{ch}] = {a[ch]:g} x (b c^T)")
    fg.grid(axes[n], np.asarray(a)[:, None], cmap="PuOr", vmin=-vmax, vmax=vmax,
            title="a (channels)", fontsize=9)
    fg.grid(axes[n + 1], np.asarray(b)[:, None], cmap="PuOr", vmin=-vmax, vmax=vmax,
            title="b (vertical)", fontsize=9)
    fg.grid(axes[n + 2], np.asarray(c)[None, :], cmap="PuOr", vmin=-vmax, vmax=vmax,
            title="c (horizontal)", fontsize=9)
    fig.suptitle(f"flattened convolution: a {n}x{len(b)}x{len(c)} kernel with "
                 f"{kern.size} weights is three 1-D kernels with {len(a) + len(b) + len(c)}")
    return fig


def _channel_flow(ax, masks, labels, in_groups, title):
    """Columns of channel nodes joined by the True entries of (out, in) masks.

    Each node is a pie of the input groups it depends on (composing the masks),
    each edge takes the colour of its source when that is a single group.
    """
    deps = np.eye(max(in_groups) + 1, dtype=bool)[in_groups]  # (channels, groups)
    columns = [deps]
    for m in masks:
        columns.append((m.astype(int) @ columns[-1].astype(int)) > 0)
    height = max(len(col) for col in columns)

    def ys(nodes):
        return [(height - 1) / 2 - j + (len(nodes) - 1) / 2 for j in range(len(nodes))]

    for x, (m, prev, cur) in enumerate(zip(masks, columns, columns[1:])):
        y_prev, y_cur = ys(prev), ys(cur)
        for o, i in zip(*np.nonzero(m)):
            groups = np.flatnonzero(prev[i])
            color = GROUP_COLORS[groups[0] % len(GROUP_COLORS)] if len(groups) == 1 else "0.55"
            ax.plot([x * 3 + 0.25, x * 3 + 2.75], [y_prev[i], y_cur[o]], color=color, lw=1.2,
                    alpha=0.8, zorder=1)
    for x, col in enumerate(columns):
        for y, dep in zip(ys(col), col):
            groups = np.flatnonzero(dep)
            for n, grp in enumerate(groups):
                ax.add_patch(Wedge((x * 3, y), 0.28, 360 * n / len(groups),
                                   360 * (n + 1) / len(groups),
                                   fc=GROUP_COLORS[grp % len(GROUP_COLORS)], ec="k", lw=0.6,
                                   zorder=2))
        ax.text(x * 3, height - 0.2, labels[x], ha="center", va="bottom", fontsize=10)
    ax.set_title(title, fontsize=10)
    fg.frame(ax, (-1, 3 * (len(columns) - 1) + 1), (-0.7, height + 0.7))


def plot_depthwise_separable(c_in: int = 4, c_out: int = 6, k: int = 3):
    """Channel connectivity of a standard conv versus depthwise + pointwise, with their weights."""
    std_w = lt.conv_params(c_in, c_out, k, bias=False)
    dw_w = lt.conv_params(c_in, c_in, k, bias=False, groups=c_in)
    pw_w = lt.conv_params(c_in, c_out, 1, bias=False)
    fig = Figure(figsize=(12, 0.6 * max(c_in, c_out) + 1.6), layout="constrained")
    axes = fig.subplots(1, 2, width_ratios=[1, 1.7])
    groups = list(range(c_in))
    _channel_flow(axes[0], [group_mask(c_in, c_out, 1)], ["input", f"{k}x{k} conv"], groups,
                  f"standard: every edge is a {k}x{k} filter\n"
                  f"{c_out}*{c_in}*{k * k} = {std_w} weights")
    _channel_flow(axes[1], [group_mask(c_in, c_in, c_in), group_mask(c_in, c_out, 1)],
                  ["input", f"depthwise {k}x{k}", "pointwise 1x1"], groups,
                  f"depthwise ({c_in}*{k * k} = {dw_w}) + pointwise ({c_out}*{c_in} = {pw_w}) "
                  f"= {dw_w + pw_w} weights\nspace first, one channel at a time; "
                  "then channels, one pixel at a time")
    return fig


def plot_group_masks(c: int = 8, groups: Sequence[int] = (1, 2, 4, 8), k: int = 3):
    """Block-diagonal (output x input) channel connectivity of grouped convolutions."""
    fig = Figure(figsize=(3.3 * len(groups), 3.9), layout="constrained")
    axes = fig.subplots(1, len(groups), squeeze=False)[0]
    for ax, g in zip(axes, groups):
        m = group_mask(c, c, g)
        colored = np.where(m, np.arange(c)[:, None] // (c // g), np.nan)
        ax.imshow(colored, cmap="Dark2", vmin=0, vmax=7.999)
        fg.cell_lines(ax, c, c, color="0.7")
        ax.set_xlabel("input channel")
        ax.set_ylabel("output channel")
        name = {1: "standard", c: "depthwise"}.get(g, "grouped")
        ax.set_title(f"g={g} ({name})\n{lt.conv_params(c, c, k, False, g)} weights "
                     f"({k}x{k}, {c}->{c})", fontsize=10)
    return fig


def plot_shuffle(c: int = 9, groups: int = 3):
    """Two stacked grouped convolutions, without and with a channel shuffle between them."""
    in_groups = list(np.arange(c) // (c // groups))
    fig = Figure(figsize=(13, 0.55 * c + 1.6), layout="constrained")
    axes = fig.subplots(1, 2, width_ratios=[2, 3])
    _channel_flow(axes[0], stack_masks(c, groups, False), ["input", "GConv 1", "GConv 2"],
                  in_groups, "no shuffle: each colour stays in its group")
    _channel_flow(axes[1], stack_masks(c, groups, True),
                  ["input", "GConv 1", "channel shuffle", "GConv 2"], in_groups,
                  f"shuffle (g={groups}): every output sees every group")
    return fig


def plot_lrn(a, k: float = 2.0, alpha: float = 1e-4, beta: float = 0.75, n: int = 5):
    """LRN at one pixel: activations, the gain b_i / a_i, and PyTorch's windows for n and n - 1."""
    a = np.asarray(a, dtype=float)
    args = lrn_torch_args(k, alpha, beta, n - 1)
    b = F.local_response_norm(torch.from_numpy(a).view(1, -1, 1, 1), **args).view(-1).numpy()
    fig = Figure(figsize=(15, 3.8), layout="constrained")
    axes = fig.subplots(1, 4, width_ratios=[1.4, 1.4, 1, 1])
    chans = np.arange(len(a))
    axes[0].bar(chans, a, color=fg.BLUE, ec=fg.DARK)
    axes[0].set_title("activations $a_i$ at one pixel (after ReLU)")
    axes[1].bar(chans, b / a, color=fg.ORANGE)
    axes[1].axhline(k ** -beta, color="k", lw=0.8, ls="--")
    axes[1].text(len(a) - 0.5, k ** -beta, f"no neighbours: $k^{{-\\beta}}$ = {k ** -beta:.3f}",
                 ha="right", va="bottom", fontsize=8)
    axes[1].set_ylim(0, k ** -beta * 1.25)
    axes[1].set_title(f"gain $b_i / a_i$ (k={k:g}, n={n}, $\\alpha$={alpha:g}, $\\beta$={beta:g})")
    for ax in axes[:2]:
        ax.set_xlabel("channel i")
        ax.set_xticks(chans)
        ax.grid(axis="y", alpha=0.3)
    for ax, size in ((axes[2], n), (axes[3], n - 1)):
        fg.grid(ax, lrn_window_matrix(len(a), size).astype(float), cmap="Greys", vmin=0, vmax=2.5,
                fmt="", title=f"PyTorch, size={size}: channels j\nin the sum of channel i (autograd)")
        ax.set_xlabel("channel j")
        ax.set_ylabel("channel i")
    return fig


def plot_downsampling(gray, filters=None):
    """Max pooling, average pooling, a stride-2 convolution and global average pooling."""
    x = torch.as_tensor(gray, dtype=torch.float64)[None, None]
    filters = lt.edge_filters() if filters is None else filters
    w = torch.as_tensor(np.asarray(filters), dtype=torch.float64)[:, None]
    maps = F.relu(F.conv2d(x, w, stride=2))
    mx, avg = F.max_pool2d(x, 2), F.avg_pool2d(x, 2)
    panels = [(gray, f"input {tuple(x.shape[1:])}", "gray"),
              (mx[0, 0].numpy(), f"max pool 2x2 {tuple(mx.shape[1:])}", "gray"),
              (avg[0, 0].numpy(), f"avg pool 2x2 {tuple(avg.shape[1:])}", "gray"),
              (maps[0, 0].numpy(), f"stride-2 conv, filter 1 of {len(w)}\n{tuple(maps.shape[1:])}",
               "magma")]
    gap = maps.mean(dim=(2, 3))[0].numpy()
    fig = Figure(figsize=(16, 3.6), layout="constrained")
    axes = fig.subplots(1, 5)
    for ax, (m, title, cmap) in zip(axes, panels):
        ax.imshow(m, cmap=cmap)
        ax.set_title(title, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[4].bar(np.arange(1, len(gap) + 1), gap, color=fg.BLUE, ec=fg.DARK)
    axes[4].set_xticks(np.arange(1, len(gap) + 1))
    axes[4].set_xlabel("channel of the stride-2 conv")
    axes[4].set_title(f"global average pooling: {tuple(maps.shape[1:])} -> ({len(gap)},)",
                      fontsize=10)
    return fig


def plot_im2col(x, k: int, column: int = 0):
    """F.unfold's layout: each column is one k x k patch, all channels stacked (channel-major)."""
    x = torch.as_tensor(np.asarray(x), dtype=torch.float64)
    c, _, w = x.shape
    cols = F.unfold(x[None], k)[0].numpy()  # (c*k*k, L)
    ow = w - k + 1
    r0, c0 = divmod(column, ow)
    fig = Figure(figsize=(3 * c + 0.6 * cols.shape[1] + 2.5, 0.34 * cols.shape[0] + 1.6),
                 layout="constrained")
    axes = fig.subplots(1, c + 1, width_ratios=[w] * c + [max(cols.shape[1], 4)])
    for ch in range(c):
        fg.grid(axes[ch], x[ch].numpy(), highlight=(r0, c0, k, k), fmt="{:.0f}", fontsize=9,
                title=f"input channel {ch}")
    ax = axes[c]
    fg.grid(ax, cols, fmt="{:.0f}", fontsize=7, highlight=(0, column, cols.shape[0], 1),
            title=f"F.unfold: ({c}*{k}*{k}, L) = {cols.shape}\n"
                  f"column {column} = patch at ({r0},{c0})")
    ax.set_yticks(np.arange(cols.shape[0]))
    ax.set_yticklabels(unfold_row_labels(c, k), fontsize=7)
    ax.tick_params(axis="y", labelleft=True)
    return fig


def plot_benchmark(results: dict, labels: dict | None = None, title: str = ""):
    """Measured seconds per call on a log scale, each bar labelled with ms and x torch f64."""
    labels = labels or {}
    names = list(results)
    base = results.get("torch f64", min(results.values()))
    fig = Figure(figsize=(9, 3.8), layout="constrained")
    ax = fig.subplots()
    ms = [1000 * results[n] for n in names]
    colors = [fg.RED, fg.ORANGE, fg.BLUE, fg.DARK][:len(names)] + [fg.BLUE] * max(0, len(names) - 4)
    bars = ax.bar([labels.get(n, n) for n in names], ms, color=colors, ec="k")
    ax.bar_label(bars, labels=[f"{m:.2f} ms\n{results[n] / base:.2g}x torch f64"
                               for m, n in zip(ms, names)], fontsize=9)
    ax.set_yscale("log")
    ax.set_ylim(min(ms) / 3, max(ms) * 8)
    ax.set_ylabel("best time per call (ms, log scale)")
    ax.grid(axis="y", which="both", alpha=0.3)
    ax.tick_params(axis="x", labelsize=9)
    if title:
        ax.set_title(title)
    return fig
