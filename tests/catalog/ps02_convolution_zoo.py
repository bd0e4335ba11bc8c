"""Problem set 2: mistakes real students make, and other ways to be right.

``MUTANTS``: each must lose points, under pytest and under nbgrader.
``ALTERNATIVES``: correct answers written differently; each must get full marks.
Which check cells each one fails is measured and kept in ``snapshots/``.
"""
from __future__ import annotations

from pathlib import Path

from grader import notebook as nbio
from grader.sample_class.ps02_convolution_zoo import (CONV_FAST_ROW_LOOPS, IM2COL_PIXEL_LOOPS,
                                                     TRANSPOSE_NOT_FLIPPED, ZERO_INSERTION)
from grader.submissions import Submission, mutate, solution_answers

ROOT = Path(__file__).resolve().parents[2]
SOLUTION = nbio.read(ROOT / "solutions" / "ps02_convolution_zoo" / "convolution_zoo.ipynb")
ANSWERS = solution_answers(SOLUTION)

TRANSPOSE = "conv_transpose2d_answer"
BACKWARD = "conv2d_backward_answer"


def _m(name, about, cell, old, new, count=1):
    return Submission(name, about, answers=mutate(ANSWERS, cell, old, new, count))


def _replace(name, about, cell, source):
    return Submission(name, about, answers={**ANSWERS, cell: source})



MUTANTS = [
    # --- transposed convolution
    _m("tsize_no_output_padding", "conv_transpose_output_size ignores output_padding",
       "conv_transpose_output_size_answer", " + output_padding + 1", " + 1"),
    _m("tsize_no_op_rule", "output_padding >= stride is accepted", "conv_transpose_output_size_answer",
       "if output_padding >= max(stride, dilation):", "if False:"),
    _m("cmatrix_no_padding_offset", "conv_matrix forgets that padding shifts the window",
       "conv_matrix_answer", "r, c = i * sh + u - ph, j * sw + v - pw",
       "r, c = i * sh + u, j * sw + v"),
    _m("cmatrix_transposed", "conv_matrix returns C^T ([S4]'s picture) instead of C",
       "conv_matrix_answer", "    return C\n", "    return C.T\n"),
    _m("transpose_output_padding_ignored", "conv_transpose2d ignores output_padding", TRANSPOSE,
       "full_h = (h - 1) * sh + dh * (kh - 1) + 1 + oph\n    full_w = (w - 1) * sw + dw * (kw - 1) + 1 + opw",
       "full_h = (h - 1) * sh + dh * (kh - 1) + 1\n    full_w = (w - 1) * sw + dw * (kw - 1) + 1"),
    TRANSPOSE_NOT_FLIPPED,
    _replace("transpose_channels_swapped",
             "zero insertion, reading weight as (C_out, C_in) like conv2d's layout", TRANSPOSE,
             ZERO_INSERTION.replace(".transpose(1, 0, 2, 3)", "").replace(
                 "_, opg, kh, kw = weight.shape", "opg, _, kh, kw = weight.shape").replace(
                 "flipped[g * ipg:(g + 1) * ipg]", "flipped[g * opg:(g + 1) * opg]")),
    _m("transpose_crop_one_side", "padding cropped from the top and left only", TRANSPOSE,
       "out = out[:, :, ph:full_h - ph, pw:full_w - pw]", "out = out[:, :, ph:, pw:]"),
    _m("transpose_dilation_as_stride", "conv_transpose2d spaces kernel taps by the stride",
       TRANSPOSE, "out[:, outs, u * dh:u * dh + sh * (h - 1) + 1:sh,\n                    v * dw:v * dw",
       "out[:, outs, u * sh:u * sh + sh * (h - 1) + 1:sh,\n                    v * sw:v * sw"),
    # --- 3-D, separable, depthwise separable, shuffle, LRN, receptive field
    _m("conv3d_depth_dilation_ignored", "conv3d ignores the dilation along depth",
       "conv3d_answer", "patch = xp[:, :, a * dd:a * dd + sd", "patch = xp[:, :, a:a + sd"),
    _m("separable_rank2_accepted", "the separability test accepts rank 2",
       "separate_kernel_answer", "if s.size > 1 and s[1] > 1e-9 * s[0]:",
       "if s.size > 2 and s[2] > 1e-9 * s[0]:"),
    _m("separable_exact_zero", "the separability test wants s[1] == 0 exactly (no tolerance)",
       "separate_kernel_answer", "if s.size > 1 and s[1] > 1e-9 * s[0]:",
       "if s.size > 1 and s[1] != 0:"),
    _m("separable_factors_swapped", "separable_conv2d runs the row down and the column across",
       "separable_conv2d_answer", "kh, kw = len(column), len(row)",
       "column, row = row, column\n    kh, kw = len(column), len(row)"),
    _m("depthwise_mixes_channels", "the depthwise step sums over channels like a full conv",
       "depthwise_separable_answer", "xr = np.repeat(xp, m, axis=1)",
       "xr = np.repeat(xp.sum(axis=1, keepdims=True), c_in * m, axis=1)"),
    _m("depthwise_bias_forgotten", "the depthwise bias is never added",
       "depthwise_separable_answer", "mid += np.asarray(depthwise_bias)[None, :, None, None]",
       "pass"),
    _m("shuffle_wrong_axes", "channel shuffle reshapes to (C/g, g): the inverse shuffle",
       "channel_shuffle_answer", "x.reshape(n, groups, c // groups, h, w)",
       "x.reshape(n, c // groups, groups, h, w)"),
    _m("lrn_alpha_not_over_n", "LRN uses alpha instead of alpha / n ([S3]'s formula)",
       "local_response_norm_answer", "alpha / size * window", "alpha * window"),
    _m("lrn_window_mirrored", "LRN's window for even sizes reaches forward instead of back",
       "local_response_norm_answer", "(size // 2, (size - 1) // 2)", "((size - 1) // 2, size // 2)"),
    _m("rf_ignores_jump", "the receptive field ignores the jump", "receptive_field_answer",
       "r += (k - 1) * d * j", "r += (k - 1) * d"),
    _m("rf_ignores_dilation", "the receptive field ignores the dilation", "receptive_field_answer",
       "r += (k - 1) * d * j", "r += (k - 1) * j"),
    # --- the backward pass
    _m("dweight_missing_stride", "dweight correlates with unstrided windows", BACKWARD,
       "patch = xp[:, ci, rows, cols]", "patch = xp[:, ci, i * dh:i * dh + oh, j * dw:j * dw + ow]"),
    _m("dx_stride_1_only", "dx scatters as if the stride were 1", BACKWARD,
       "dxp[:, ci, rows, cols] +=", "dxp[:, ci, i * dh:i * dh + oh, j * dw:j * dw + ow] +="),
    _m("dbias_batch_mean", "dbias averaged over the batch instead of summed", BACKWARD,
       "dbias = dout.sum(axis=(0, 2, 3))", "dbias = dout.sum(axis=(0, 2, 3)) / dout.shape[0]"),
    _m("dx_padding_not_cropped", "dx keeps the gradient of the padding", BACKWARD,
       "dx = dxp[:, :, ph:ph + h, pw:pw + w]", "dx = dxp[:, :, :h, :w]"),
    # --- the fast convolution
    _m("im2col_dilation_as_stride", "im2col spaces kernel taps by the stride", "im2col_answer",
       "cols[:, :, i, j] = xp[:, :, i * dh:i * dh + sh * (oh - 1) + 1:sh,\n"
       "                                  j * dw:j * dw",
       "cols[:, :, i, j] = xp[:, :, i * sh:i * sh + sh * (oh - 1) + 1:sh,\n"
       "                                  j * sw:j * sw"),
    _m("im2col_kernel_major", "im2col orders a column kernel position first, channel second",
       "im2col_answer", "return cols.reshape(n, c * kh * kw, oh * ow)",
       "return cols.transpose(0, 2, 3, 1, 4, 5).reshape(n, c * kh * kw, oh * ow)"),
    IM2COL_PIXEL_LOOPS,
    CONV_FAST_ROW_LOOPS,
    _m("quiz_depthwise_with_bias", "quiz: the depthwise separable count includes biases",
       "quiz_answers", "quiz_depthwise_params = 3 * 3 * 32 + 32 * 64",
       "quiz_depthwise_params = 3 * 3 * 32 + 32 + 32 * 64 + 64"),
    Submission("transpose_torch_shortcut", "conv_transpose2d calls torch",
               answers={**ANSWERS, TRANSPOSE: '''
def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    import torch
    t = lambda a: None if a is None else torch.as_tensor(a)
    return torch.nn.functional.conv_transpose2d(t(x), t(weight), t(bias), stride, padding,
                                                output_padding, groups, dilation).numpy()
'''}),
]

#: Right on the public examples (small, in quarters), wrong on the hidden ones: these lose
#: points under nbgrader only, never in a public cell.
HIDDEN_ONLY = [
    _m("dbias_first_two_images", "dbias sums the first two images of the batch only", BACKWARD,
       "dbias = dout.sum(axis=(0, 2, 3))", "dbias = dout[:2].sum(axis=(0, 2, 3))"),
    _m("conv_fast_float32", "conv2d_fast multiplies in float32 (faster) and returns float64",
       "conv2d_fast_answer", "out = weight.reshape(c_out, -1) @ cols",
       "out = (weight.reshape(c_out, -1).astype(np.float32) @ cols.astype(np.float32))"
       ".astype(np.float64)"),
    # The zoo, the same way: float32, and right only within the public examples' sizes.
    _m("transpose_float32", "conv_transpose2d stamps the kernel in float32, sums in float64",
       TRANSPOSE, 'stamp = np.einsum("nchw,co->nohw", xg, wg[:, :, u, v])',
       'stamp = np.einsum("nchw,co->nohw", xg.astype(np.float32), '
       'wg[:, :, u, v].astype(np.float32))'),
    Submission("transpose_kernel_4x4", "conv_transpose2d leaves out taps past the fourth row "
               "and column", answers=mutate(mutate(ANSWERS, TRANSPOSE, "for u in range(kh):",
                                                   "for u in range(min(kh, 4)):"),
                                            TRANSPOSE, "for v in range(kw):",
                                            "for v in range(min(kw, 4)):")),
    _m("conv3d_float32", "conv3d multiplies in float32, sums in float64", "conv3d_answer",
       'out += np.einsum("ncdhw,oc->nodhw", patch, weight[:, :, a, b, c])',
       'out += np.einsum("ncdhw,oc->nodhw", patch.astype(np.float32), '
       'weight[:, :, a, b, c].astype(np.float32))'),
    _m("conv3d_first_two_images", "conv3d convolves the first two images of the batch only",
       "conv3d_answer", 'out += np.einsum("ncdhw,oc->nodhw", patch, weight[:, :, a, b, c])',
       'out[:2] += np.einsum("ncdhw,oc->nodhw", patch[:2], weight[:, :, a, b, c])'),
    _m("depthwise_float32", "the depthwise step's output is kept in float32 (half the memory)",
       "depthwise_separable_answer", "mid = np.zeros((n, c_in * m, oh, ow))",
       "mid = np.zeros((n, c_in * m, oh, ow), dtype=np.float32)"),
    _m("separable_float32", "separable_conv2d keeps the vertical pass in float32",
       "separable_conv2d_answer", "vertical = np.zeros((oh, image.shape[1]))",
       "vertical = np.zeros((oh, image.shape[1]), dtype=np.float32)"),
]
MUTANTS += HIDDEN_ONLY


# --- alternative correct implementations ------------------------------------------

_TRANSPOSED_GRADIENT = '''
from numpy.lib.stride_tricks import sliding_window_view


def conv2d_backward(dout, x, weight, stride=1, padding=0, dilation=1, groups=1):
    """dx as the transposed convolution of dout; dweight from strided windows."""
    n, c_in, h, w = x.shape
    c_out, cpg, kh, kw = weight.shape
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride), _pair(padding), _pair(dilation)
    oh, ow = dout.shape[2:]
    # output_padding gives back the rows the strided forward pass rounded away
    op = (h + 2 * ph - dh * (kh - 1) - 1 - (oh - 1) * sh,
          w + 2 * pw - dw * (kw - 1) - 1 - (ow - 1) * sw)
    # conv2d's (C_out, C_in/g, kH, kW) weight is already conv_transpose2d's (C_in', C_out'/g, ...)
    dx = conv_transpose2d(dout, weight, stride=stride, padding=padding, output_padding=op,
                          groups=groups, dilation=dilation)
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    win = sliding_window_view(xp, (dh * (kh - 1) + 1, dw * (kw - 1) + 1), axis=(2, 3))
    win = win[:, :, :sh * (oh - 1) + 1:sh, :sw * (ow - 1) + 1:sw, ::dh, ::dw]
    opg = c_out // groups
    dweight = np.concatenate([
        np.einsum("nohw,nchwij->ocij", dout[:, g * opg:(g + 1) * opg],
                  win[:, g * cpg:(g + 1) * cpg]) for g in range(groups)])
    return dx, dweight, dout.sum(axis=(0, 2, 3))
'''

_STRIDE_TRICKS = {
    "im2col_answer": '''
from numpy.lib.stride_tricks import sliding_window_view


def im2col(x, kernel_size, stride=1, padding=0, dilation=1):
    (kh, kw), (sh, sw) = _pair(kernel_size), _pair(stride)
    (ph, pw), (dh, dw) = _pair(padding), _pair(dilation)
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    win = sliding_window_view(xp, (dh * (kh - 1) + 1, dw * (kw - 1) + 1), axis=(2, 3))
    win = win[:, :, ::sh, ::sw, ::dh, ::dw]                      # (n, c, oh, ow, kh, kw)
    n, c, oh, ow = win.shape[:4]
    return win.transpose(0, 1, 4, 5, 2, 3).reshape(n, c * kh * kw, oh * ow)
''',
    "conv2d_fast_answer": '''
def conv2d_fast(x, weight, bias=None, stride=1, padding=0, dilation=1):
    c_out, c_in, kh, kw = weight.shape
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride), _pair(padding), _pair(dilation)
    oh = (x.shape[2] + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (x.shape[3] + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    out = np.tensordot(weight.reshape(c_out, -1), im2col(x, (kh, kw), stride, padding, dilation),
                       axes=([1], [1]))                           # (c_out, n, L)
    out = out.transpose(1, 0, 2).reshape(x.shape[0], c_out, oh, ow)
    return out if bias is None else out + bias[None, :, None, None]
''',
    "separate_kernel_answer": '''
def separate_kernel(kernel):
    """No SVD: the row through the largest entry, and the column scaled by it."""
    kernel = np.asarray(kernel, dtype=float)
    i, j = np.unravel_index(np.argmax(np.abs(kernel)), kernel.shape)
    if kernel[i, j] == 0:
        return np.zeros(kernel.shape[0]), np.zeros(kernel.shape[1])
    column, row = kernel[:, j] / kernel[i, j], kernel[i].copy()
    if not np.allclose(np.outer(column, row), kernel, rtol=1e-9, atol=1e-9 * abs(kernel[i, j])):
        raise ValueError("not separable")
    return column, row
''',
    "channel_shuffle_answer": '''
def channel_shuffle(x, groups):
    c = x.shape[1]
    order = [g * (c // groups) + i for i in range(c // groups) for g in range(groups)]
    return x[:, order]
''',
    "local_response_norm_answer": '''
def local_response_norm(x, size, alpha=1e-4, beta=0.75, k=1.0):
    out = np.empty_like(x, dtype=float)
    c = x.shape[1]
    for ch in range(c):
        lo, hi = max(0, ch - size // 2), min(c - 1, ch + (size - 1) // 2)
        s = (x[:, lo:hi + 1] ** 2).sum(axis=1)
        out[:, ch] = x[:, ch] / (k + alpha * s / size) ** beta
    return out
''',
    "receptive_field_answer": '''
def receptive_field(layers):
    """Backwards from one output pixel: r <- s (r - 1) + d (k - 1) + 1."""
    r, jump = 1, 1
    for k, s, d in reversed(layers):
        r = s * (r - 1) + d * (k - 1) + 1
    for _, s, _ in layers:
        jump *= s
    return r, jump
''',
    "conv_matrix_answer": '''
def conv_matrix(weight, input_hw, stride=1, padding=0):
    """Column j is the response to the j-th one-hot image."""
    h, w = input_hw
    kh, kw = weight.shape
    (sh, sw), (ph, pw) = _pair(stride), _pair(padding)
    basis = np.pad(np.eye(h * w).reshape(h * w, h, w), ((0, 0), (ph, ph), (pw, pw)))
    oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    cols = np.zeros((h * w, oh, ow))
    for u in range(kh):
        for v in range(kw):
            cols += weight[u, v] * basis[:, u:u + sh * (oh - 1) + 1:sh, v:v + sw * (ow - 1) + 1:sw]
    return cols.reshape(h * w, -1).T.copy()
''',
}

_FFT3D = '''
def conv3d(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """Correlation through a 3-D FFT: dilate and flip the kernel, multiply spectra, subsample."""
    (sd, sh, sw), (pd, ph, pw), (dd, dh, dw) = _triple(stride), _triple(padding), _triple(dilation)
    xp = np.pad(x, ((0, 0), (0, 0), (pd, pd), (ph, ph), (pw, pw)))
    c_out, c_in, kd, kh, kw = weight.shape
    e = (dd * (kd - 1) + 1, dh * (kh - 1) + 1, dw * (kw - 1) + 1)
    wd = np.zeros((c_out, c_in) + e)
    wd[:, :, ::dd, ::dh, ::dw] = weight
    shape = tuple(s + k - 1 for s, k in zip(xp.shape[2:], e))
    X = np.fft.rfftn(xp, shape, axes=(2, 3, 4))
    K = np.fft.rfftn(wd[:, :, ::-1, ::-1, ::-1], shape, axes=(2, 3, 4))
    full = np.fft.irfftn(np.einsum("ncxyz,ocxyz->noxyz", X, K), shape, axes=(2, 3, 4))
    out = full[:, :, e[0] - 1:xp.shape[2]:sd, e[1] - 1:xp.shape[3]:sh, e[2] - 1:xp.shape[4]:sw]
    out = np.ascontiguousarray(out)
    return out if bias is None else out + bias[None, :, None, None, None]
'''

_LOOPS = {
    TRANSPOSE: '''
def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """Every input pixel stamps the kernel onto the output: plain loops."""
    n, c_in, h, w = x.shape
    _, opg, kh, kw = weight.shape
    (sh, sw), (ph, pw) = _pair(stride), _pair(padding)
    (oph, opw), (dh, dw) = _pair(output_padding), _pair(dilation)
    oh = (h - 1) * sh - 2 * ph + dh * (kh - 1) + oph + 1
    ow = (w - 1) * sw - 2 * pw + dw * (kw - 1) + opw + 1
    ipg = c_in // groups
    out = np.zeros((n, groups * opg, oh, ow))
    for b in range(n):
        for c in range(c_in):
            g = c // ipg
            for i in range(h):
                for j in range(w):
                    for o in range(opg):
                        for u in range(kh):
                            for v in range(kw):
                                r, s = i * sh + u * dh - ph, j * sw + v * dw - pw
                                if 0 <= r < oh and 0 <= s < ow:
                                    out[b, g * opg + o, r, s] += x[b, c, i, j] * weight[c, o, u, v]
    if bias is not None:
        out += bias[None, :, None, None]
    return out
''',
    "depthwise_separable_answer": '''
def depthwise_separable_conv2d(x, depthwise_weight, pointwise_weight, depthwise_bias=None,
                               pointwise_bias=None, stride=1, padding=0, dilation=1):
    """One 2-D correlation per depthwise filter, then a loop over output channels."""
    n, c_in, h, w = x.shape
    m = depthwise_weight.shape[0] // c_in
    kh, kw = depthwise_weight.shape[2:]
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride), _pair(padding), _pair(dilation)
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oh = (xp.shape[2] - dh * (kh - 1) - 1) // sh + 1
    ow = (xp.shape[3] - dw * (kw - 1) - 1) // sw + 1
    mid = np.zeros((n, c_in * m, oh, ow))
    for f in range(c_in * m):
        for i in range(oh):
            for j in range(ow):
                win = xp[:, f // m, i * sh:i * sh + dh * (kh - 1) + 1:dh,
                         j * sw:j * sw + dw * (kw - 1) + 1:dw]
                mid[:, f, i, j] = (win * depthwise_weight[f, 0]).sum(axis=(1, 2))
        if depthwise_bias is not None:
            mid[:, f] += depthwise_bias[f]
    out = np.zeros((n, pointwise_weight.shape[0], oh, ow))
    for o in range(pointwise_weight.shape[0]):
        for f in range(c_in * m):
            out[:, o] += pointwise_weight[o, f, 0, 0] * mid[:, f]
        if pointwise_bias is not None:
            out[:, o] += pointwise_bias[o]
    return out
''',
    "separable_conv2d_answer": '''
def separable_conv2d(image, column, row):
    """np.dot of every vertical and horizontal window."""
    kh, kw = len(column), len(row)
    oh, ow = image.shape[0] - kh + 1, image.shape[1] - kw + 1
    tmp = np.array([[np.dot(column, image[i:i + kh, j]) for j in range(image.shape[1])]
                    for i in range(oh)]).reshape(oh, image.shape[1])
    return np.array([[np.dot(row, tmp[i, j:j + kw]) for j in range(ow)]
                     for i in range(oh)]).reshape(oh, ow)
''',
}

ALTERNATIVES = [
    Submission("zoo_fractional_strides",
               "conv_transpose2d by zero insertion; dx of conv2d_backward as that transposed conv",
               answers={**ANSWERS, TRANSPOSE: ZERO_INSERTION, BACKWARD: _TRANSPOSED_GRADIENT}),
    Submission("zoo_stride_tricks", "sliding_window_view, tensordot, index shuffles, no SVD, "
               "a backward receptive field, conv3d through the FFT",
               answers={**ANSWERS, **_STRIDE_TRICKS, "conv3d_answer": _FFT3D}),
    Submission("zoo_loops", "plain loops for the transposed, depthwise and separable convolutions",
               answers={**ANSWERS, **_LOOPS}),
]

# Under nbgrader, mutants of independent cells share a notebook (see tests/catalog/__init__.py).

#: entries that make a misconception of ``grader.misconceptions.ps02_convolution_zoo``, by id
DIAGNOSED = {
    "tsize_no_output_padding": "output_padding_ignored",
    "transpose_output_padding_ignored": "output_padding_ignored",
    "transpose_not_flipped": "transpose_not_flipped",
    "transpose_crop_one_side": "transpose_crop_one_side",
    "cmatrix_transposed": "conv_matrix_transposed",
    "cmatrix_no_padding_offset": "conv_matrix_padding_unshifted",
    "conv3d_depth_dilation_ignored": "conv3d_depth_undilated",
    "separable_factors_swapped": "separable_factors_swapped",
    "depthwise_mixes_channels": "depthwise_mixes_channels",
    "depthwise_bias_forgotten": "depthwise_bias_forgotten",
    "shuffle_wrong_axes": "shuffle_inverse",
    "lrn_alpha_not_over_n": "lrn_alpha_not_over_n",
    "lrn_window_mirrored": "lrn_window_mirrored",
    "rf_ignores_jump": "rf_ignores_jump",
    "rf_ignores_dilation": "rf_ignores_dilation",
    "dbias_batch_mean": "dbias_batch_mean",
    "dx_padding_not_cropped": "dx_padding_kept",
    "im2col_kernel_major": "im2col_kernel_major",
    "quiz_depthwise_with_bias": "quiz_depthwise_with_bias",
    "cho_flipped": ("transpose_not_flipped", "lrn_alpha_not_over_n"),  # a sample student
}
