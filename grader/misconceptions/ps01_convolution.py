"""Problem set 1: the mistakes of convolution and pooling from scratch.

Each wrong reference is PyTorch's own function called as the mistaken code
effectively calls it, so the mistake, and only the mistake, differs.
"""
from __future__ import annotations

import numpy as np

from .. import references as R
from . import WrongAnswers, WrongFunction, calling

CONV = ("conv2d_basic", "conv2d_bias", "conv2d_stride", "conv2d_padding", "conv2d_dilation",
        "conv2d_groups", "conv2d_all")
POOLS = ("max_pool2d_basic", "max_pool2d_padding", "avg_pool2d_basic", "avg_pool2d_padding")

# PyTorch's functions called as the mistaken code calls them
_flipped = calling(R.conv2d, weight=lambda a: np.asarray(a["weight"])[..., ::-1, ::-1].copy())
_no_bias = calling(R.conv2d, bias=None)
_no_dilation = calling(R.conv2d, dilation=1)
_first_image = calling(R.conv2d, x=lambda a: np.asarray(a["x"])[:1])
_max_pool_stride_1 = calling(R.max_pool2d, stride=lambda a: a["stride"] or 1)
_avg_pool_stride_1 = calling(R.avg_pool2d, stride=lambda a: a["stride"] or 1)
_avg_pool_padded_area = calling(R.avg_pool2d, count_include_pad=True)
_params_with_bias = calling(R.conv2d_param_count, bias=True)
_params_without_groups = calling(R.conv2d_param_count, groups=1)


def _padded_before_only(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    if isinstance(padding, str):
        return R.conv2d(x, weight, bias, stride, padding, dilation, groups)
    ph, pw = R._pair(padding)
    x = np.pad(x, ((0, 0), (0, 0), (ph, 0), (pw, 0)))
    return R.conv2d(x, weight, bias, stride, 0, dilation, groups)


def _symmetric_same(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    if padding == "same":
        kh, kw = np.shape(weight)[-2:]
        dh, dw = R._pair(dilation)
        padding = (dh * (kh - 1) // 2, dw * (kw - 1) // 2)
    return R.conv2d(x, weight, bias, stride, padding, dilation, groups)


def _first_group_everywhere(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    per_group = np.shape(x)[1] // groups
    x = np.concatenate([np.asarray(x)[:, :per_group]] * groups, axis=1)
    return R.conv2d(x, weight, bias, stride, padding, dilation, groups)


def _ceil_size(n, kernel_size, stride=1, padding=0, dilation=1):
    R.conv_output_size(n, kernel_size, stride, padding, dilation)  # raises where that does
    return -(-(n + 2 * padding - dilation * (kernel_size - 1) - 1) // stride) + 1


def _max_pool_zero_padded(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    right = R.max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode)
    (ph, pw), (sh, sw) = R._pair(padding), R._pair(stride if stride is not None else kernel_size)
    x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))  # zeros, where -inf is right
    x = np.pad(x, ((0, 0), (0, 0), (0, sh), (0, sw)), constant_values=-np.inf)  # ceil_mode
    out = R.max_pool2d(x, kernel_size, stride if stride is not None else kernel_size, 0,
                       dilation)
    return np.ascontiguousarray(out[..., :right.shape[-2], :right.shape[-1]])


def _same_extra_before(kernel_size, dilation=1):
    return R.same_padding(kernel_size, dilation)[::-1]


def _flatten_pool_stride_1(in_shape, layers):
    return R.flatten_size(in_shape, [dict(layer, stride=layer.get("stride") or 1)
                                     if layer["type"].endswith("pool2d") else layer
                                     for layer in layers])


MISCONCEPTIONS = [
    WrongFunction(
        "kernel_flipped", "the kernel is flipped (a true convolution)", CONV + ("conv2d_single",),
        "Deep-learning libraries compute cross-correlation: the kernel slides over the input "
        "as it is, without the flip of the mathematical convolution. Reread lecture 1, §2.",
        functions={"conv2d": _flipped,
                   "conv2d_single": lambda image, kernel: R.conv2d_single(
                       image, np.asarray(kernel)[::-1, ::-1].copy())}),
    WrongFunction(
        "bias_forgotten", "the bias is never added", CONV,
        "Each output channel adds its own bias to every position: out[:, o] += bias[o]. "
        "Reread lecture 1, §4.", functions={"conv2d": _no_bias}),
    WrongFunction(
        "padding_one_side", "padding on one side only (before, not after)", CONV,
        "padding=p adds p zeros on both sides of each spatial axis, top and bottom, left and "
        "right. Reread lecture 2, §2.", functions={"conv2d": _padded_before_only}),
    WrongFunction(
        "same_padding_symmetric", "'same' padding split evenly, (k-1)//2 on each side", CONV,
        "For an even kernel, 'same' needs an odd total: PyTorch puts the extra pixel after "
        "(bottom and right). Reread lecture 2, §4.", functions={"conv2d": _symmetric_same}),
    WrongFunction(
        "dilation_ignored", "dilation is ignored", CONV,
        "With dilation d the kernel taps are d pixels apart, so the window spans "
        "d*(k-1)+1 pixels. Reread lecture 2, §2.", functions={"conv2d": _no_dilation}),
    WrongFunction(
        "groups_first_slice", "every group reads the first group's input channels", CONV,
        "Group g of the output reads input channels g*C_in/groups to (g+1)*C_in/groups - 1, "
        "its own slice. Reread lecture 4, §7.", functions={"conv2d": _first_group_everywhere}),
    WrongFunction(
        "first_image_only", "only the first image of the batch is used", CONV,
        "The first axis is the batch (NCHW): every image of it is convolved the same way. "
        "Reread lecture 1, §4.", functions={"conv2d": _first_image}),
    WrongFunction(
        "valid_size_off_by_one", "the valid output is n - k, not n - k + 1",
        ("conv2d_single",),
        "A k-wide kernel fits n - k + 1 times in n pixels: count the first position too. "
        "Reread lecture 2, §1.",
        functions={"conv2d_single": lambda image, kernel: np.ascontiguousarray(
            R.conv2d_single(image, kernel)[:-1, :-1])}),
    WrongFunction(
        "output_size_ceil", "the output size rounds up instead of down",
        ("conv_output_size_values",),
        "A window that would run past the (padded) input is not counted: the division "
        "rounds down, floor((n + 2p - d(k-1) - 1) / s) + 1. Reread lecture 2, §2.",
        functions={"conv_output_size": _ceil_size}),
    WrongFunction(
        "max_pool_zero_padding", "max pooling pads with zeros", ("max_pool2d_padding",),
        "Max pooling's padding must never win: PyTorch pads with -inf. With zeros, a window "
        "of negative values next to the border returns 0. Reread lecture 4, §10.",
        functions={"max_pool2d": _max_pool_zero_padded}),
    WrongFunction(
        "pool_stride_defaults_to_1", "a pooling stride of None taken as 1", POOLS,
        "Pooling's stride defaults to the kernel size (non-overlapping windows), unlike a "
        "convolution's, which defaults to 1. Reread lecture 4, §10.",
        functions={"max_pool2d": _max_pool_stride_1, "avg_pool2d": _avg_pool_stride_1}),
    WrongFunction(
        "count_include_pad_ignored", "avg_pool2d always divides by the padded window",
        ("avg_pool2d_padding",),
        "With count_include_pad=False the zeros of the padding are not counted: divide by the "
        "number of input pixels in the window. Reread lecture 4, §10.",
        functions={"avg_pool2d": _avg_pool_padded_area}),
    WrongFunction(
        "param_count_bias_always", "the bias counted even with bias=False",
        ("conv2d_param_count",),
        "bias=False removes the out_channels bias terms. Reread lecture 3, §1.",
        functions={"conv2d_param_count": _params_with_bias}),
    WrongFunction(
        "param_count_groups_ignored", "groups ignored in the parameter count",
        ("conv2d_param_count",),
        "With groups, each filter sees only in_channels / groups channels, so the weights are "
        "out_channels * (in_channels / groups) * kH * kW. Reread lecture 3, §1.",
        functions={"conv2d_param_count": _params_without_groups}),
    WrongFunction(
        "same_padding_extra_before", "'same' puts the extra pixel before instead of after",
        ("same_padding",),
        "For an odd total padding PyTorch puts the larger half after: (total // 2, "
        "total - total // 2). Reread lecture 2, §4.",
        functions={"same_padding": _same_extra_before}),
    WrongFunction(
        "flatten_pool_stride_1", "a pooling layer's default stride taken as 1",
        ("flatten_size",),
        "A pooling layer without a stride moves by its kernel size: max_pool2d(2) halves the "
        "maps. Reread lecture 3, §4.", functions={"flatten_size": _flatten_pool_stride_1}),
    WrongAnswers(
        "quiz_bias_forgotten", "parameters counted without the biases", ("quiz_1x1",),
        "A convolution has one bias per output channel, unless bias=False. "
        "Reread lecture 3, §1.", answers={"quiz_1x1_params": lambda: 64 * 128}),
]
