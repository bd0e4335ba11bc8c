"""Problem set 1: convolution and pooling from scratch, in NumPy.

Every function must equal its PyTorch counterpart (NCHW inputs, OIHW weights)
for every valid configuration.  Library convolutions and pooling are off
limits (``shortcuts.FROM_SCRATCH``).
"""
from __future__ import annotations

import numpy as np

from . import lazy_problem_set

# The worked example of [S4] (the course's sources are listed in lectures/sources.md):
# a 5x5 input and a 3x3 kernel.  (SEED_*: the example of the source documents.)
SEED_IMAGE = np.array([[3, 3, 2, 1, 0],
                       [0, 0, 1, 3, 1],
                       [3, 1, 2, 2, 3],
                       [2, 0, 0, 2, 2],
                       [2, 0, 0, 0, 1]], dtype=np.float64)
SEED_KERNEL = np.array([[0, 1, 2],
                        [2, 2, 0],
                        [0, 1, 2]], dtype=np.float64)
SEED_OUTPUT = np.array([[12, 12, 17],
                        [10, 17, 19],
                        [9, 6, 14]], dtype=np.float64)

# The small nets of [S1] (MNIST) and [S4] (CIFAR-10), as flatten_size layer lists.
MNIST_NET = ((1, 28, 28), [dict(type="conv2d", out_channels=10, kernel_size=3),
                           dict(type="max_pool2d", kernel_size=2),
                           dict(type="conv2d", out_channels=20, kernel_size=3),
                           dict(type="max_pool2d", kernel_size=2)])
CIFAR_NET = ((3, 32, 32), [dict(type="conv2d", out_channels=6, kernel_size=5),
                           dict(type="max_pool2d", kernel_size=2),
                           dict(type="conv2d", out_channels=16, kernel_size=5),
                           dict(type="max_pool2d", kernel_size=2)])


def _no_empty_window(expected: np.ndarray) -> bool:
    # With dilation a window can hold padding only; PyTorch then gives -inf.
    # That corner teaches nothing, so such examples are skipped.
    return bool(np.isfinite(expected).all())


def build():
    """The problem set.  Built on first use: torch and Hypothesis load only then."""
    from .. import references as R
    from .. import strategies as S
    from ..checks import ProblemSet, PropertyCheck, ValueCheck
    from ..comparisons import compare_exact
    from ..shortcuts import FROM_SCRATCH
    from ..strategies.primitives import per_profile

    # Array-valued checks draw their hidden examples with ``thorough=True``: full
    # precision, and half of them at the size of real layers (see ``per_profile``).
    def _conv(id, title, **features):
        return PropertyCheck(id, title, function="conv2d", reference=R.conv2d,
                             **per_profile(S.conv2d_args, **features))

    def _pool(kind, id, title, valid=None, **features):
        fn = f"{kind}_pool2d"
        return PropertyCheck(id, title, function=fn, reference=getattr(R, fn),
                             **per_profile(S.pool2d_args, kind, **features), valid=valid)

    return ProblemSet("ps01_convolution", "convolution.ipynb", rules=FROM_SCRATCH, checks=[
        PropertyCheck(
            "conv_output_size_values", "conv_output_size gives PyTorch's output length",
            function="conv_output_size", reference=R.conv_output_size,
            strategy=S.output_size_args(valid=True), compare=compare_exact,
            examples=[((7, 3), {}), ((7, 3), {"stride": 2}), ((7, 3), {"stride": 3}),
                      ((28, 3), {}), ((32, 3), {"padding": 1})]),
        PropertyCheck(
            "conv_output_size_errors", "conv_output_size refuses impossible settings",
            function="conv_output_size", reference=R.conv_output_size,
            strategy=S.output_size_args(valid=False), raises=ValueError),
        PropertyCheck(
            "same_padding", "same_padding matches PyTorch's padding='same'",
            function="same_padding", reference=R.same_padding, strategy=S.same_padding_args(),
            compare=compare_exact),
        PropertyCheck(
            "conv2d_single", "conv2d_single computes a valid 2-D cross-correlation",
            function="conv2d_single", reference=R.conv2d_single,
            **per_profile(S.conv2d_single_args),
            examples=[((SEED_IMAGE, SEED_KERNEL), {})]),
        _conv("conv2d_basic", "conv2d without stride, padding, dilation or bias", bias=False),
        _conv("conv2d_bias", "conv2d adds one bias per output channel", bias=True),
        _conv("conv2d_stride", "conv2d with int and (h, w) strides", stride=True),
        _conv("conv2d_padding", "conv2d with int, (h, w), 'valid' and 'same' padding",
              padding=True),
        _conv("conv2d_dilation", "conv2d with dilation", dilation=True),
        _conv("conv2d_groups", "conv2d with groups", groups=True),
        _conv("conv2d_all", "conv2d with every option at once",
              stride=True, padding=True, dilation=True, groups=True),
        PropertyCheck(
            "pool_output_size", "pool_output_size gives PyTorch's pooling output length",
            function="pool_output_size", reference=R.pool_output_size,
            strategy=S.pool_output_size_args(), compare=compare_exact,
            examples=[((5, 2), {"ceil_mode": True}), ((6, 3), {"stride": 2, "padding": 1,
                                                                "ceil_mode": True})]),
        _pool("max", "max_pool2d_basic",
              "max_pool2d with kernel and stride (default: the kernel size)"),
        _pool("max", "max_pool2d_padding", "max_pool2d with padding, dilation and ceil_mode",
              valid=_no_empty_window, padding=True, dilation=True, ceil_mode=True),
        _pool("avg", "avg_pool2d_basic",
              "avg_pool2d with kernel and stride (default: the kernel size)"),
        _pool("avg", "avg_pool2d_padding",
              "avg_pool2d with padding, ceil_mode and count_include_pad",
              padding=True, ceil_mode=True, count_include_pad=True),
        PropertyCheck(
            "conv2d_param_count", "conv2d_param_count equals nn.Conv2d's parameter count",
            function="conv2d_param_count", reference=R.conv2d_param_count,
            strategy=S.conv2d_param_count_args(), compare=compare_exact,
            examples=[((64, 128, 1), {}), ((10, 6, 5), {"bias": False}), ((3, 64, 3), {})]),
        PropertyCheck(
            "linear_param_count", "linear_param_count equals nn.Linear's parameter count",
            function="linear_param_count", reference=R.linear_param_count,
            strategy=S.linear_param_count_args(), compare=compare_exact,
            examples=[((500, 10), {})]),
        PropertyCheck(
            "flatten_size", "flatten_size gives the input size of the first Linear layer",
            function="flatten_size", reference=R.flatten_size, strategy=S.layer_stacks(),
            compare=compare_exact, examples=[(MNIST_NET, {}), (CIFAR_NET, {})]),
        ValueCheck(
            "quiz_1x1", "Quiz: a 1x1 convolution from 64 to 128 channels",
            answers={"quiz_1x1_depth": lambda: 128,
                     "quiz_1x1_params": lambda: R.conv2d_param_count(64, 128, 1)},
            hints={"quiz_1x1_params": "each filter has one weight per input channel, plus a bias."}),
        ValueCheck(
            "quiz_5x5", "Quiz: six 5x5 filters on ten input channels",
            answers={"quiz_5x5_weights": lambda: R.conv2d_param_count(10, 6, 5, bias=False),
                     "quiz_5x5_params": lambda: R.conv2d_param_count(10, 6, 5)},
            hints={"quiz_5x5_weights": "a filter spans all input channels: 5*5*10 weights each."}),
        ValueCheck(
            "quiz_3x3", "Quiz: a 3x3 convolution from 3 to 64 channels on 32x32",
            answers={"quiz_3x3_params": lambda: R.conv2d_param_count(3, 64, 3),
                     "quiz_3x3_size_valid": lambda: R.conv_output_size(32, 3),
                     "quiz_3x3_size_same": lambda: R.conv_output_size(32, 3, padding=1)},
            hints={"quiz_3x3_size_valid": "no padding, stride 1: o = n - k + 1."}),
    ])


# `from grader.problems.ps01_convolution import check` in a notebook stays cheap:
# during autograde the kernel only prints a note, without importing torch.
check, progress, __getattr__ = lazy_problem_set(__name__, build)
