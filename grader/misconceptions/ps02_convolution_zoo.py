"""Problem set 2: the mistakes of the convolution zoo.

As for problem set 1, most wrong references are PyTorch's functions called as the
mistaken code effectively calls them.
"""
from __future__ import annotations

import math

import numpy as np

from .. import references as R
from . import WrongAnswers, WrongFunction, calling

TRANSPOSE = ("conv_transpose2d_basic", "conv_transpose2d_stride", "conv_transpose2d_padding",
             "conv_transpose2d_dilation", "conv_transpose2d_groups", "conv_transpose2d_all")
BACKWARD = ("conv2d_backward_basic", "conv2d_backward_stride", "conv2d_backward_options")
DEPTHWISE = ("depthwise_separable_basic", "depthwise_separable_options")


def _flip(weight) -> np.ndarray:
    return np.asarray(weight)[..., ::-1, ::-1].copy()  # a copy: torch takes no negative strides


_transpose_no_output_padding = calling(R.conv_transpose2d, output_padding=0)
_transpose_not_flipped = calling(R.conv_transpose2d, weight=lambda a: _flip(a["weight"]))
_depthwise_no_bias = calling(R.depthwise_separable_conv2d, depthwise_bias=None)
_lrn_alpha_not_over_n = calling(R.local_response_norm, alpha=lambda a: a["alpha"] * a["size"])


def _tsize_no_output_padding(n, kernel_size, stride=1, padding=0, output_padding=0, dilation=1):
    return R.conv_transpose_output_size(n, kernel_size, stride, padding, output_padding,
                                        dilation) - output_padding


def _transpose_cropped_before(x, weight, bias=None, stride=1, padding=0, output_padding=0,
                              groups=1, dilation=1):
    ph, pw = R._pair(padding)
    full = R.conv_transpose2d(x, weight, bias, stride, 0, output_padding, groups, dilation)
    return full[:, :, ph:, pw:].copy()


def _conv_matrix_transposed(weight, input_hw, stride=1, padding=0):
    return R.conv_matrix(weight, input_hw, stride, padding).T.copy()


def _conv_matrix_unshifted(weight, input_hw, stride=1, padding=0):
    """Windows start at the input's corner, not the padding's: as if all the padding came
    after the input."""
    (ph, pw), (h, w) = R._pair(padding), input_hw
    right = R.conv_matrix(weight, input_hw, stride, padding)
    grown = R.conv_matrix(weight, (h + 2 * ph, w + 2 * pw), stride, 0)
    keep = (np.arange(h + 2 * ph)[:, None] < h) & (np.arange(w + 2 * pw)[None, :] < w)
    out = grown[:, keep.ravel()]
    return out if out.shape == right.shape else out[:0]


def _conv3d_depth_undilated(x, weight, bias=None, stride=1, padding=0, dilation=1):
    d = dilation if isinstance(dilation, (tuple, list)) else (dilation,) * 3
    depth = R.conv3d(x, weight, bias, stride, padding, dilation).shape[2]
    return R.conv3d(x, weight, bias, stride, padding, (1,) + tuple(d[1:]))[:, :, :depth].copy()


def _separable_swapped(image, column, row):
    (h, w), (kh, kw) = np.shape(image), (len(row), len(column))
    if kh > h or kw > w:  # the kernel no longer fits: an empty output
        return np.zeros((max(h - kh + 1, 0), max(w - kw + 1, 0)))
    return R.separable_conv2d(image, row, column)


def _depthwise_sees_channel_sum(x, depthwise_weight, pointwise_weight, depthwise_bias=None,
                                pointwise_bias=None, stride=1, padding=0, dilation=1):
    x = np.asarray(x)
    summed = np.repeat(x.sum(axis=1, keepdims=True), x.shape[1], axis=1)
    return R.depthwise_separable_conv2d(summed, depthwise_weight, pointwise_weight,
                                        depthwise_bias, pointwise_bias, stride, padding, dilation)


def _lrn(x, size, alpha, beta, k, before: int) -> np.ndarray:
    """Local response normalisation with ``before`` channels of the window before each."""
    x = np.asarray(x, dtype=np.float64)
    padded = np.pad(x ** 2, [(0, 0), (before, size - 1 - before)] + [(0, 0)] * (x.ndim - 2))
    window = sum(padded[:, i:i + x.shape[1]] for i in range(size))
    return x / (k + alpha / size * window) ** beta


def _lrn_mirrored(x, size, alpha=1e-4, beta=0.75, k=1.0):
    return _lrn(x, size, alpha, beta, k, before=(size - 1) // 2)


def _jumps(layers) -> list[int]:
    """The jump (product of the earlier strides) at each layer's input."""
    return [math.prod(s for _, s, _ in layers[:i]) for i in range(len(layers))]


def _rf_without_jump(layers):
    return 1 + sum((k - 1) * d for k, _, d in layers), R.receptive_field(layers)[1]


def _rf_without_dilation(layers):
    return (1 + sum((k - 1) * j for (k, _, _), j in zip(layers, _jumps(layers))),
            R.receptive_field(layers)[1])


def _dbias_batch_mean(dout, x, weight, stride=1, padding=0, dilation=1, groups=1):
    dx, dweight, dbias = R.conv2d_backward(dout, x, weight, stride, padding, dilation, groups)
    return dx, dweight, dbias / np.shape(dout)[0]


def _dx_padding_kept(dout, x, weight, stride=1, padding=0, dilation=1, groups=1):
    (ph, pw), (h, w) = R._pair(padding), np.shape(x)[-2:]
    padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    dxp, dweight, dbias = R.conv2d_backward(dout, padded, weight, stride, 0, dilation, groups)
    return dxp[:, :, :h, :w].copy(), dweight, dbias


def _im2col_kernel_major(x, kernel_size, stride=1, padding=0, dilation=1):
    cols = R.im2col(x, kernel_size, stride, padding, dilation)
    n, c = np.shape(x)[:2]
    return cols.reshape(n, c, -1, cols.shape[-1]).transpose(0, 2, 1, 3).reshape(
        cols.shape).copy()


MISCONCEPTIONS = [
    WrongFunction(
        "output_padding_ignored", "output_padding is ignored",
        ("conv_transpose_output_size_values",) + TRANSPOSE,
        "output_padding adds rows and columns after the output, to choose among the sizes "
        "a strided convolution maps to the same input size. Reread lecture 4, §3.",
        functions={"conv_transpose_output_size": _tsize_no_output_padding,
                   "conv_transpose2d": _transpose_no_output_padding}),
    WrongFunction(
        "transpose_not_flipped", "the transposed convolution without its flip", TRANSPOSE,
        "Zero insertion followed by an ordinary correlation needs the kernel flipped (and its "
        "in/out channels swapped); stamping the kernel needs no flip. Reread lecture 4, §3.",
        functions={"conv_transpose2d": _transpose_not_flipped}),
    WrongFunction(
        "transpose_crop_one_side", "the padding is cropped from the top and left only",
        TRANSPOSE,
        "In a transposed convolution, padding=p removes p rows and columns from both sides "
        "of the full output. Reread lecture 4, §3.",
        functions={"conv_transpose2d": _transpose_cropped_before}),
    WrongFunction(
        "conv_matrix_transposed", "C^T instead of C", ("conv_matrix_basic",
                                                       "conv_matrix_stride_padding"),
        "C has one row per output pixel and one column per input pixel, so that "
        "C @ x.ravel() is the output; C^T maps back, and is the transposed convolution. "
        "Reread lecture 4, §3.", functions={"conv_matrix": _conv_matrix_transposed}),
    WrongFunction(
        "conv_matrix_padding_unshifted", "the padding does not shift the windows",
        ("conv_matrix_stride_padding",),
        "With padding p, the window of output (i, j) starts at input row i*s - p, p rows "
        "above the input. Reread lecture 4, §3.",
        functions={"conv_matrix": _conv_matrix_unshifted}),
    WrongFunction(
        "conv3d_depth_undilated", "dilation ignored along depth", ("conv3d_options",),
        "Dilation applies to all three axes: the kernel's depth taps are d apart too. "
        "Reread lecture 4, §2.", functions={"conv3d": _conv3d_depth_undilated}),
    WrongFunction(
        "separable_factors_swapped", "the column runs across and the row down",
        ("separable_conv2d",),
        "The kernel is outer(column, row): filter down the columns with `column`, then along "
        "the rows with `row`. Reread lecture 4, §5.",
        functions={"separable_conv2d": _separable_swapped}),
    WrongFunction(
        "depthwise_mixes_channels", "the depthwise step sums over channels", DEPTHWISE,
        "A depthwise convolution filters each channel on its own (groups = C_in); only the "
        "1x1 pointwise step mixes channels. Reread lecture 4, §6.",
        functions={"depthwise_separable_conv2d": _depthwise_sees_channel_sum}),
    WrongFunction(
        "depthwise_bias_forgotten", "the depthwise bias is never added", DEPTHWISE,
        "Each step has its own bias: add the depthwise bias before the pointwise step. "
        "Reread lecture 4, §6.", functions={"depthwise_separable_conv2d": _depthwise_no_bias}),
    WrongFunction(
        "shuffle_inverse", "the inverse shuffle: reshaped to (C/g, g)", ("channel_shuffle",),
        "ShuffleNet reshapes the channels to (groups, C/groups), transposes and flattens, so "
        "that each new group holds one channel of every old group. Reread lecture 4, §8.",
        functions={"channel_shuffle": lambda x, groups:
                   R.channel_shuffle(x, np.shape(x)[1] // groups)}),
    WrongFunction(
        "lrn_alpha_not_over_n", "alpha not divided by the window size",
        ("local_response_norm",),
        "PyTorch divides by k + alpha/n times the sum of squares, i.e. alpha times their "
        "mean; AlexNet's paper writes alpha times the sum. Reread lecture 4, §9.",
        functions={"local_response_norm": _lrn_alpha_not_over_n}),
    WrongFunction(
        "lrn_window_mirrored", "an even window reaches forward instead of back",
        ("local_response_norm",),
        "For an even size n, PyTorch's window holds n/2 channels before and n/2 - 1 after. "
        "Reread lecture 4, §9.", functions={"local_response_norm": _lrn_mirrored}),
    WrongFunction(
        "rf_ignores_jump", "the receptive field ignores the jump", ("receptive_field",),
        "After a stride s, neighbouring outputs are s input pixels apart, so every later "
        "layer's d(k-1) counts that many times. Reread lecture 2, §6.",
        functions={"receptive_field": _rf_without_jump}),
    WrongFunction(
        "rf_ignores_dilation", "the receptive field ignores the dilation", ("receptive_field",),
        "A dilated kernel spans d(k-1)+1 pixels, so each layer adds d(k-1) times the jump. "
        "Reread lecture 2, §6.", functions={"receptive_field": _rf_without_dilation}),
    WrongFunction(
        "dbias_batch_mean", "dbias averaged over the batch", BACKWARD,
        "The bias is added to every position of every image, so its gradient is the sum of "
        "dout over the batch and all positions. Reread lecture 4, §11.",
        functions={"conv2d_backward": _dbias_batch_mean}),
    WrongFunction(
        "dx_padding_kept", "dx keeps the gradient of the padding", BACKWARD,
        "The padded border is not part of x: crop p rows and columns from each side of the "
        "padded input's gradient. Reread lecture 4, §11.",
        functions={"conv2d_backward": _dx_padding_kept}),
    WrongFunction(
        "im2col_kernel_major", "columns ordered kernel position first, channel second",
        ("im2col",),
        "unfold's rows run channel-major: all kH*kW taps of channel 0, then of channel 1, "
        "matching weight.reshape(C_out, -1). Reread lecture 4, §12.",
        functions={"im2col": _im2col_kernel_major}),
    WrongAnswers(
        "quiz_depthwise_with_bias", "the biases counted in", ("quiz_depthwise",),
        "The question counts weights only: k*k*C_in + C_in*C_out. Reread lecture 4, §6.",
        answers={"quiz_depthwise_params": lambda: 3 * 3 * 32 + 32 + 32 * 64 + 64}),
]
