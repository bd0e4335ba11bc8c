"""Problem set 2: the convolution zoo, the backward pass and a fast convolution, in NumPy.

Transposed, 3-D, separable, depthwise separable and shuffled convolutions, local
response normalization and receptive fields, each equal to its PyTorch
counterpart; then ``conv2d_backward`` against autograd and an im2col
``conv2d_fast`` that may not loop over pixels.  Library convolutions are off
limits (``shortcuts.FROM_SCRATCH``).
"""
from __future__ import annotations

import functools

import numpy as np

from . import lazy_problem_set

# [S4] (lectures/sources.md): a 3x3 kernel on a 4x4 input, whose 4x16 matrix C it shows as C^T.
SEED_KERNEL = np.arange(1.0, 10.0).reshape(3, 3)
SOBEL_X = np.array([[-1.0, 0.0, 1.0],
                    [-2.0, 0.0, 2.0],
                    [-1.0, 0.0, 1.0]])

# [S4]'s dilated stack: three 3x3 layers at rates 1, 2 and 4 see 3x3, 7x7, 15x15.
DILATED_STACK = [(3, 1, 1), (3, 1, 2), (3, 1, 4)]

# For the no-loop checks: the same batch, channels and kernel; 4x4 against 20x20 outputs.
_rng = np.random.default_rng(2)
_X_SMALL = _rng.integers(-8, 9, (1, 2, 6, 6)) / 4
_X_LARGE = _rng.integers(-8, 9, (1, 2, 22, 22)) / 4
_WEIGHT = _rng.integers(-8, 9, (3, 2, 3, 3)) / 4


def build():
    """The problem set.  Built on first use: torch and Hypothesis load only then."""
    from .. import references as R
    from .. import strategies as S
    from ..checks import NoPixelLoopsCheck, ProblemSet, PropertyCheck, ValueCheck
    from ..comparisons import compare_arrays, compare_exact, compare_factors
    from ..shortcuts import FROM_SCRATCH
    from ..strategies.primitives import per_profile

    # Array-valued checks draw their hidden examples with ``thorough=True``: full
    # precision, and half of them at the size of real layers (see ``per_profile``).
    gradients = functools.partial(compare_arrays, names=("dx", "dweight", "dbias"))

    def _transpose(id, title, **features):
        return PropertyCheck(id, title, function="conv_transpose2d",
                             reference=R.conv_transpose2d,
                             **per_profile(S.conv_transpose2d_args, **features))

    def _backward(id, title, **features):
        return PropertyCheck(id, title, function="conv2d_backward", reference=R.conv2d_backward,
                             compare=gradients, **per_profile(S.conv2d_backward_args,
                                                              **features))

    def _no_loops(fn, args_small, args_large, reference):
        return NoPixelLoopsCheck(
            f"{fn}_no_pixel_loops", f"{fn} has no Python loop over pixels (inspected, not timed)",
            function=fn, reference=reference, small=(args_small, {}), large=(args_large, {}),
            pixels=(16, 400))

    return ProblemSet("ps02_convolution_zoo", "convolution_zoo.ipynb", rules=FROM_SCRATCH, checks=[
        # --- transposed convolution
        PropertyCheck(
            "conv_transpose_output_size_values",
            "conv_transpose_output_size gives PyTorch's output length",
            function="conv_transpose_output_size", reference=R.conv_transpose_output_size,
            strategy=S.conv_transpose_output_size_args(valid=True), compare=compare_exact,
            examples=[((2, 3), {"stride": 2}), ((2, 3), {"stride": 2, "output_padding": 1}),
                      ((4, 3), {"padding": 1})]),
        PropertyCheck(
            "conv_transpose_output_size_errors",
            "conv_transpose_output_size refuses impossible settings",
            function="conv_transpose_output_size", reference=R.conv_transpose_output_size,
            strategy=S.conv_transpose_output_size_args(valid=False), raises=ValueError),
        PropertyCheck(
            "conv_matrix_basic", "conv_matrix builds C for a stride-1 convolution",
            function="conv_matrix", reference=R.conv_matrix, **per_profile(S.conv_matrix_args),
            examples=[((SEED_KERNEL, (4, 4)), {})]),
        PropertyCheck(
            "conv_matrix_stride_padding", "conv_matrix with stride and padding",
            function="conv_matrix", reference=R.conv_matrix,
            **per_profile(S.conv_matrix_args, stride=True, padding=True)),
        _transpose("conv_transpose2d_basic", "conv_transpose2d with stride 1"),
        _transpose("conv_transpose2d_stride", "conv_transpose2d with stride and output_padding",
                   stride=True),
        _transpose("conv_transpose2d_padding", "conv_transpose2d with padding", padding=True),
        _transpose("conv_transpose2d_dilation", "conv_transpose2d with dilation", dilation=True),
        _transpose("conv_transpose2d_groups", "conv_transpose2d with groups", groups=True),
        _transpose("conv_transpose2d_all", "conv_transpose2d with every option at once",
                   stride=True, padding=True, dilation=True, groups=True),
        # --- 3-D, separable, depthwise separable, shuffled
        PropertyCheck(
            "conv3d_basic", "conv3d slides the kernel along depth too",
            function="conv3d", reference=R.conv3d, **per_profile(S.conv3d_args)),
        PropertyCheck(
            "conv3d_options", "conv3d with stride, padding and dilation",
            function="conv3d", reference=R.conv3d,
            **per_profile(S.conv3d_args, options=True)),
        PropertyCheck(
            "separate_kernel_rank1", "separate_kernel factors a rank-1 kernel",
            function="separate_kernel", reference=R.separate_kernel,
            **per_profile(S.separable_kernels), compare=compare_factors,
            examples=[((SOBEL_X,), {})]),
        PropertyCheck(
            "separate_kernel_rejects", "separate_kernel refuses kernels of rank 2 or more",
            function="separate_kernel", reference=R.separate_kernel,
            **per_profile(S.inseparable_kernels), raises=ValueError,
            examples=[((np.eye(3),), {})]),
        PropertyCheck(
            "separable_conv2d", "separable_conv2d equals the full 2-D convolution",
            function="separable_conv2d", reference=R.separable_conv2d,
            **per_profile(S.separable_conv2d_args)),
        PropertyCheck(
            "depthwise_separable_basic", "depthwise_separable_conv2d: depthwise, then 1x1",
            function="depthwise_separable_conv2d", reference=R.depthwise_separable_conv2d,
            **per_profile(S.depthwise_separable_args)),
        PropertyCheck(
            "depthwise_separable_options",
            "depthwise_separable_conv2d with biases, stride, padding, dilation, multiplier",
            function="depthwise_separable_conv2d", reference=R.depthwise_separable_conv2d,
            **per_profile(S.depthwise_separable_args, options=True)),
        PropertyCheck(
            "channel_shuffle", "channel_shuffle equals torch.nn.ChannelShuffle",
            function="channel_shuffle", reference=R.channel_shuffle,
            **per_profile(S.channel_shuffle_args),
            examples=[((np.arange(6.0).reshape(1, 6, 1, 1), 2), {}),
                      ((np.arange(6.0).reshape(1, 6, 1, 1), 3), {})]),
        PropertyCheck(
            "local_response_norm", "local_response_norm equals PyTorch's",
            function="local_response_norm", reference=R.local_response_norm,
            **per_profile(S.local_response_norm_args)),
        PropertyCheck(
            "receptive_field", "receptive_field gives the receptive field and the jump",
            function="receptive_field", reference=R.receptive_field, strategy=S.layer_lists(),
            compare=compare_exact,
            examples=[((DILATED_STACK,), {}), (([(3, 2, 1), (3, 1, 1)],), {})]),
        # --- the backward pass
        _backward("conv2d_backward_basic", "conv2d_backward with stride 1"),
        _backward("conv2d_backward_stride", "conv2d_backward with strides", stride=True),
        _backward("conv2d_backward_options", "conv2d_backward with padding, dilation, groups",
                  stride=True, padding=True, dilation=True, groups=True),
        # --- a fast convolution
        PropertyCheck(
            "im2col", "im2col equals torch.nn.functional.unfold",
            function="im2col", reference=R.im2col, **per_profile(S.im2col_args)),
        _no_loops("im2col", (_X_SMALL, 3), (_X_LARGE, 3), R.im2col),
        PropertyCheck(
            "conv2d_fast", "conv2d_fast equals torch.nn.functional.conv2d",
            function="conv2d_fast", reference=R.conv2d_fast,
            **per_profile(S.conv2d_fast_args)),
        _no_loops("conv2d_fast", (_X_SMALL, _WEIGHT), (_X_LARGE, _WEIGHT), R.conv2d_fast),
        # --- numbers from the examples of [S4]
        ValueCheck(
            "quiz_depthwise", "Quiz: a depthwise separable 3x3 convolution from 32 to 64 channels",
            answers={"quiz_depthwise_params": lambda: R.depthwise_separable_param_count(32, 64, 3),
                     "quiz_standard_params": lambda: R.conv2d_param_count(32, 64, 3, bias=False)},
            hints={"quiz_depthwise_params": "k*k*C_in for the depthwise step, C_in*C_out for the "
                                            "pointwise step; no biases."}),
        ValueCheck(
            "quiz_dilated", "Quiz: dilated 3x3 convolutions at rates 1, 2 and 4",
            answers={"quiz_effective_kernel": lambda: 4 * (3 - 1) + 1,
                     "quiz_receptive_field": lambda: R.receptive_field(DILATED_STACK)[0]},
            hints={"quiz_receptive_field": "each layer adds d(k-1) input pixels."}),
        ValueCheck(
            "quiz_separable", "Quiz: the cost of a separable 3x3 kernel and the size of C",
            answers={"quiz_separable_mults": lambda: 3 + 3, "quiz_full_mults": lambda: 3 * 3,
                     "quiz_c_rows": lambda: R.conv_matrix(SEED_KERNEL, (4, 4)).shape[0],
                     "quiz_c_cols": lambda: R.conv_matrix(SEED_KERNEL, (4, 4)).shape[1]},
            hints={"quiz_c_rows": "one row per output pixel."}),
    ])


check, progress, __getattr__ = lazy_problem_set(__name__, build)
