"""Hypothesis strategies for valid configurations, in the form PyTorch accepts.

Every strategy builds valid shapes directly instead of filtering with
``assume``, so the reference never raises and no example is wasted.  Sizes are
kept small: loop-based student code must stay fast, and small counterexamples
are the readable ones.  The hidden checks' strategies (``thorough=True``) also
draw full-precision values and, within a budget of multiply-adds, the sizes of
real layers: small shapes in small integers and quarters let wrong code pass.

Each argument strategy returns ``(args, kwargs)``: a keyword is left out when
its value is drawn as "use the default", so the defaults are tested too.

One module per domain, all importable from here: ``primitives`` (arrays and
options), ``convolution`` (the NumPy functions of problem sets 1 and 2),
``models`` (``nn.Module`` cases, problem sets 3 to 8), ``training`` (problem
set 9).  The cases themselves are ``grader.cases``.
"""
from .convolution import (channel_shuffle_args, conv2d_args, conv2d_backward_args,
                          conv2d_fast_args, conv2d_param_count_args, conv2d_single_args,
                          conv3d_args, conv_matrix_args, conv_transpose2d_args,
                          conv_transpose_output_size_args, depthwise_separable_args, im2col_args,
                          inseparable_kernels, layer_lists, layer_stacks, linear_param_count_args,
                          local_response_norm_args, output_size_args, pool2d_args,
                          pool_output_size_args, same_padding_args, separable_conv2d_args,
                          separable_kernels)
from .models import (basic_conv_cases, bound, dense_block_cases, dense_layer_cases,
                     dual_path_cases, fixed_block_cases, inception_cases, inverted_residual_cases,
                     network_input_cases, residual_block_cases, se_block_cases,
                     se_bottleneck_cases, separable_conv_cases, shuffle_block_cases,
                     sparse_conv_cases, sparse_tables, transition_cases, vgg_feature_cases,
                     xception_block_cases)
from .primitives import arrays, as_pair, int_or_pair, st
from .training import dropout_cases, head_cases, loader_cases
