"""Problem set 1: mistakes real students make, and other ways to be right.

``MUTANTS``: each must lose points, under pytest and under nbgrader.
``ALTERNATIVES``: correct answers written differently; each must get full marks.
Which check cells each one fails is measured and kept in ``snapshots/``.
"""
from __future__ import annotations

from pathlib import Path

from grader import notebook as nbio
from grader.sample_class import ps01_convolution as sample_class
from grader.submissions import Submission, mutate, solution_answers

ROOT = Path(__file__).resolve().parents[2]
SOLUTION = nbio.read(ROOT / "solutions" / "ps01_convolution" / "convolution.ipynb")
ANSWERS = solution_answers(SOLUTION)
CONV = "conv2d_answer"


def _m(name, about, cell, old, new, count=1):
    return Submission(name, about, answers=mutate(ANSWERS, cell, old, new, count))


MUTANTS = [
    sample_class.FLIPPED_KERNEL,
    _m("forgot_bias", "the bias is never added", CONV,
       "out += np.asarray(bias)[None, :, None, None]", "pass"),
    _m("one_sided_padding", "padding added before but not after", CONV,
       "pads = ((ph, ph), (pw, pw))", "pads = ((ph, 0), (pw, 0))"),
    _m("height_for_width", "output width computed from the height (right for squares only)",
       CONV, "ow = (xp.shape[3]", "ow = (xp.shape[2]"),
    _m("dilation_ignored", "dilation is ignored", CONV,
       "(sh, sw), (dh, dw) = _pair(stride), _pair(dilation)",
       "(sh, sw), (dh, dw) = _pair(stride), (1, 1)"),
    _m("ceil_not_floor", "output size rounds up instead of down", "conv_output_size_answer",
       "return (n + 2 * padding - effective) // stride + 1",
       "return -(-(n + 2 * padding - effective) // stride) + 1"),
    _m("no_size_errors", "impossible settings return a size instead of raising",
       "conv_output_size_answer", "    if n + 2 * padding < effective:\n        raise",
       "    if False:\n        raise"),
    _m("pool_ceil_keeps_last_window", "ceil_mode keeps a window that starts in the padding",
       "pool_output_size_answer", "if ceil_mode and (out - 1) * stride >= n + padding:",
       "if False:"),
    sample_class.MAX_POOL_ZERO_PADDING,
    _m("pool_default_stride_1", "stride=None taken as 1 instead of the kernel size",
       "max_pool2d_answer", "stride if stride is not None else kernel_size",
       "stride if stride is not None else 1"),
    _m("count_include_pad_ignored", "avg_pool2d always divides by the padded window",
       "avg_pool2d_answer", "(padded_area if count_include_pad else (h1 - h0) * (w1 - w0))",
       "padded_area"),
    _m("param_count_no_bias", "conv2d_param_count ignores bias=False", "param_count_answer",
       "* kh * kw + (out_channels if bias else 0)", "* kh * kw + out_channels"),
    _m("param_count_no_groups", "conv2d_param_count ignores groups", "param_count_answer",
       "out_channels * (in_channels // groups) * kh * kw",
       "out_channels * in_channels * kh * kw"),
    _m("same_padding_extra_before", "'same' puts the extra pixel before instead of after",
       "same_padding_answer", "return (before, total - before)",
       "return (total - before, before)"),
    _m("same_padding_symmetric_in_conv", "conv2d pads (k-1)//2 on both sides for 'same'", CONV,
       "pads = (same_padding(kh, dh), same_padding(kw, dw))",
       "pads = ((dh * (kh - 1) // 2,) * 2, (dw * (kw - 1) // 2,) * 2)"),
    Submission("mutates_input", "avg_pool2d divides its input in place (values still right)",
               answers=mutate(mutate(ANSWERS, "avg_pool2d_answer", "    (ph, pw) = _pair(padding)\n",
                                     "    (ph, pw) = _pair(padding)\n    x /= kh * kw\n"),
                              "avg_pool2d_answer", "total / (", "total * (kh * kw) / (")),
    _m("batch_of_one", "only the first image of the batch is used", CONV,
       "    n, c_in, h, w = x.shape\n", "    x = x[:1]\n    n, c_in, h, w = x.shape\n"),
    _m("groups_ignored", "groups are ignored: every output sees the first input channels",
       CONV, "xs = cols[:, g * c_per_group:(g + 1) * c_per_group]", "xs = cols[:, :c_per_group]"),
    _m("single_off_by_one", "conv2d_single's output is one pixel too small", "conv2d_single_answer",
       "image.shape[0] - kh + 1, image.shape[1] - kw + 1", "image.shape[0] - kh, image.shape[1] - kw"),
    _m("flatten_pool_stride_1", "flatten_size takes a pool's default stride as 1",
       "flatten_size_answer", 'stride if stride is not None else layer["kernel_size"]',
       "stride if stride is not None else 1"),
    _m("quiz_forgot_bias", "quiz: parameters counted without biases", "quiz_answers",
       "quiz_1x1_params = conv2d_param_count(64, 128, 1)", "quiz_1x1_params = 64 * 128"),
    Submission("torch_shortcut", "conv2d calls torch.nn.functional.conv2d",
               answers={**ANSWERS, CONV: ANSWERS[CONV] + '''

def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    import torch
    import torch.nn.functional as F
    t = lambda a: None if a is None else torch.as_tensor(a)
    return F.conv2d(t(x), t(weight), t(bias), stride, padding, dilation, groups).numpy()
'''}),
    Submission("scipy_shortcut", "conv2d_single calls scipy.signal.correlate2d",
               answers={**ANSWERS, "conv2d_single_answer": '''
from scipy import signal

def conv2d_single(image, kernel):
    return signal.correlate2d(image, kernel, mode="valid")
'''}),
    Submission("numpy_shortcut", "conv2d_single hides np.convolve behind getattr",
               answers={**ANSWERS, "conv2d_single_answer": '''
def conv2d_single(image, kernel):
    kh, kw = kernel.shape
    rows = []
    for i in range(image.shape[0] - kh + 1):
        acc = 0
        for u in range(kh):
            acc = acc + getattr(np, "con" + "volve")(image[i + u], kernel[u][::-1], "valid")
        rows.append(acc)
    return np.array(rows, dtype=float)
'''}),
]

#: Right on the public examples (small, in quarters), wrong on the hidden ones, as a
#: hostile class found: these lose points under nbgrader only, never in a public cell.
HIDDEN_ONLY = [
    _m("conv_float32", "conv2d multiplies in float32 (faster) and stores float64", CONV,
       '"ncijhw,ocij->nohw", xs, ws)',
       '"ncijhw,ocij->nohw", xs.astype(np.float32), ws.astype(np.float32))'),
    Submission("conv_first_two_images", "only the first two images of the batch are convolved",
               answers=mutate(mutate(ANSWERS, CONV, "out = np.empty((n, c_out, oh, ow))",
                                     "out = np.zeros((n, c_out, oh, ow))"),
                              CONV, "out[:, g * out_per_group:(g + 1) * out_per_group] = ",
                              "out[:2, g * out_per_group:(g + 1) * out_per_group] = ")),
    _m("conv_six_channels", "only the first six input channels (of a group) are summed", CONV,
       '"ncijhw,ocij->nohw", xs, ws)', '"ncijhw,ocij->nohw", xs[:, :6], ws[:, :6])'),
    _m("conv_kernel_4x4", "kernel rows and columns past the fourth are left out", CONV,
       '"ncijhw,ocij->nohw", xs, ws)', '"ncijhw,ocij->nohw", xs[:, :, :4, :4], ws[:, :, :4, :4])'),
    _m("conv_image_20x20", "only the top-left 20x20 pixels of each image are used", CONV,
       "xp = np.pad(x, ", "xp = np.pad(x[:, :, :20, :20], "),
    _m("conv_rounds_to_quarters", "conv2d rounds its inputs to multiples of 1/4", CONV,
       "x, weight = np.asarray(x), np.asarray(weight)",
       "x, weight = np.round(np.asarray(x) * 4) / 4, np.round(np.asarray(weight) * 4) / 4"),
    # Pooling, the same way: float32, and right only within the public examples' sizes.
    _m("max_pool_float32", "max_pool2d keeps its input in float32 (half the memory)",
       "max_pool2d_answer", "x = np.asarray(x)", "x = np.asarray(x, dtype=np.float32)"),
    _m("max_pool_rgb_only", "max_pool2d pools the first three (RGB) channels only",
       "max_pool2d_answer", "out = np.maximum(out, window)",
       "out[:, :3] = np.maximum(out[:, :3], window[:, :3])"),
    _m("avg_pool_float32", "avg_pool2d sums each window in float32", "avg_pool2d_answer",
       "total = x[:, :, h0:h1, w0:w1].sum(axis=(2, 3))",
       "total = x[:, :, h0:h1, w0:w1].sum(axis=(2, 3), dtype=np.float32).astype(np.float64)"),
    Submission("avg_pool_first_two_images", "avg_pool2d averages the first two images only",
               answers=mutate(mutate(ANSWERS, "avg_pool2d_answer",
                                     "out = np.empty((n, c, oh, ow))",
                                     "out = np.zeros((n, c, oh, ow))"),
                              "avg_pool2d_answer", "out[:, :, i, j] = total /",
                              "out[:2, :, i, j] = total[:2] /")),
]
MUTANTS += HIDDEN_ONLY

# --- alternative correct implementations of conv2d -------------------------------

_LOOPS = '''
def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """Seven plain loops: slow, obviously correct."""
    n, c_in, h, w = x.shape
    c_out, cpg, kh, kw = weight.shape
    (sh, sw), (dh, dw) = _pair(stride), _pair(dilation)
    if padding == "same":
        (pt, pb), (pl, pr) = same_padding(kh, dh), same_padding(kw, dw)
    elif padding == "valid":
        pt = pb = pl = pr = 0
    else:
        (pt, pl) = _pair(padding)
        pb, pr = pt, pl
    oh = (h + pt + pb - dh * (kh - 1) - 1) // sh + 1
    ow = (w + pl + pr - dw * (kw - 1) - 1) // sw + 1
    opg = c_out // groups
    out = np.zeros((n, c_out, oh, ow))
    for b in range(n):
        for o in range(c_out):
            g = o // opg
            for i in range(oh):
                for j in range(ow):
                    acc = 0.0 if bias is None else float(bias[o])
                    for c in range(cpg):
                        for u in range(kh):
                            for v in range(kw):
                                r, s = i * sh + u * dh - pt, j * sw + v * dw - pl
                                if 0 <= r < h and 0 <= s < w:
                                    acc += x[b, g * cpg + c, r, s] * weight[o, c, u, v]
                    out[b, o, i, j] = acc
    return out
'''

_IM2COL = '''
from numpy.lib.stride_tricks import sliding_window_view


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """im2col with sliding_window_view, then one matrix product per group."""
    c_out, cpg, kh, kw = weight.shape
    (sh, sw), (dh, dw) = _pair(stride), _pair(dilation)
    if padding == "same":
        pad = (same_padding(kh, dh), same_padding(kw, dw))
    elif padding == "valid":
        pad = ((0, 0), (0, 0))
    else:
        ph, pw = _pair(padding)
        pad = ((ph, ph), (pw, pw))
    xp = np.pad(x, ((0, 0), (0, 0)) + pad)
    win = sliding_window_view(xp, (dh * (kh - 1) + 1, dw * (kw - 1) + 1), axis=(2, 3))
    win = win[:, :, ::sh, ::sw, ::dh, ::dw]            # (n, c, oh, ow, kh, kw)
    n, c, oh, ow = win.shape[:4]
    cols = win.reshape(n, groups, cpg, oh, ow, kh, kw)
    wg = weight.reshape(groups, c_out // groups, cpg, kh, kw)
    out = np.einsum("ngchwij,gocij->ngohw", cols, wg, optimize=True)
    out = out.reshape(n, c_out, oh, ow)
    if bias is not None:
        out = out + bias.reshape(1, -1, 1, 1)
    return np.ascontiguousarray(out)
'''

_FFT = '''
def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """Correlation through the FFT: dilate the kernel, flip it, multiply spectra, subsample."""
    c_out, cpg, kh, kw = weight.shape
    (sh, sw), (dh, dw) = _pair(stride), _pair(dilation)
    if padding == "same":
        pad = (same_padding(kh, dh), same_padding(kw, dw))
    elif padding == "valid":
        pad = ((0, 0), (0, 0))
    else:
        ph, pw = _pair(padding)
        pad = ((ph, ph), (pw, pw))
    xp = np.pad(x, ((0, 0), (0, 0)) + pad)
    n, c, H, W = xp.shape
    eh, ew = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    wd = np.zeros((c_out, cpg, eh, ew))
    wd[:, :, ::dh, ::dw] = weight
    shape = (H + eh - 1, W + ew - 1)
    X = np.fft.rfft2(xp, shape)                          # (n, c, ...)
    K = np.fft.rfft2(wd[:, :, ::-1, ::-1], shape)        # flipped: convolution -> correlation
    opg = c_out // groups
    out = np.empty((n, c_out, H - eh + 1, W - ew + 1))
    for g in range(groups):
        Xg = X[:, g * cpg:(g + 1) * cpg]                  # (n, cpg, ...)
        Kg = K[g * opg:(g + 1) * opg]                    # (opg, cpg, ...)
        full = np.fft.irfft2(np.einsum("ncuv,ocuv->nouv", Xg, Kg), shape)
        out[:, g * opg:(g + 1) * opg] = full[:, :, eh - 1:H, ew - 1:W]
    out = out[:, :, ::sh, ::sw]
    if bias is not None:
        out = out + bias.reshape(1, -1, 1, 1)
    return np.ascontiguousarray(out)
'''

ALTERNATIVES = [
    Submission("conv_loops", "conv2d as seven nested loops", answers={**ANSWERS, CONV: _LOOPS}),
    Submission("conv_im2col", "conv2d by im2col (sliding_window_view) and einsum",
               answers={**ANSWERS, CONV: _IM2COL}),
    Submission("conv_fft", "conv2d through numpy.fft", answers={**ANSWERS, CONV: _FFT}),
]

#: entries that make a misconception of ``grader.misconceptions.ps01_convolution``, by id:
#: the diagnosis must name it for them, and for no other entry
DIAGNOSED = {
    "flipped_kernel": "kernel_flipped",
    "forgot_bias": "bias_forgotten",
    "one_sided_padding": "padding_one_side",
    "same_padding_symmetric_in_conv": "same_padding_symmetric",
    "dilation_ignored": "dilation_ignored",
    "groups_ignored": "groups_first_slice",
    "batch_of_one": "first_image_only",
    "single_off_by_one": "valid_size_off_by_one",
    "ceil_not_floor": "output_size_ceil",
    "max_pool_zero_padding": "max_pool_zero_padding",
    "pool_default_stride_1": "pool_stride_defaults_to_1",
    "count_include_pad_ignored": "count_include_pad_ignored",
    "param_count_no_bias": "param_count_bias_always",
    "param_count_no_groups": "param_count_groups_ignored",
    "same_padding_extra_before": "same_padding_extra_before",
    "flatten_pool_stride_1": "flatten_pool_stride_1",
    "quiz_forgot_bias": "quiz_bias_forgotten",
    # the sample class, graded by nbgrader (tests/test_nbgrader_grading.py)
    "cho_flipped": "kernel_flipped",
    "dev_pooling": ("max_pool_zero_padding", "count_include_pad_ignored"),
}
