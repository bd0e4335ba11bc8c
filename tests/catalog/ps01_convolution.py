"""Problem set 1: mistakes real students make, and other ways to be right.

``MUTANTS``: each must lose points, under pytest and under nbgrader, and the
check cells in ``failing`` must be among those that fail.
``ALTERNATIVES``: correct answers written differently; each must get full marks.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

from grader import notebook as nbio
from grader.submissions import Submission, mutate, solution_answers

ROOT = Path(__file__).resolve().parents[2]
SOLUTION = nbio.read(ROOT / "solutions" / "ps01_convolution" / "convolution.ipynb")
ANSWERS = solution_answers(SOLUTION)
CONV = "conv2d_answer"
CONV_CELLS = ("conv2d_basic", "conv2d_bias", "conv2d_stride", "conv2d_padding",
              "conv2d_dilation", "conv2d_groups")


def _m(name, about, cell, old, new, failing, count=1):
    return Submission(name, about, answers=mutate(ANSWERS, cell, old, new, count),
                      failing=frozenset(failing))


MUTANTS = [
    _m("flipped_kernel", "true convolution: the kernel is flipped", CONV,
       'np.einsum("ncijhw,ocij->nohw", xs, ws)',
       'np.einsum("ncijhw,ocij->nohw", xs, ws[:, :, ::-1, ::-1])', CONV_CELLS),
    _m("forgot_bias", "the bias is never added", CONV,
       "out += np.asarray(bias)[None, :, None, None]", "pass", {"conv2d_bias"}),
    _m("one_sided_padding", "padding added before but not after", CONV,
       "pads = ((ph, ph), (pw, pw))", "pads = ((ph, 0), (pw, 0))", {"conv2d_padding"}),
    _m("height_for_width", "output width computed from the height (right for squares only)",
       CONV, "ow = (xp.shape[3]", "ow = (xp.shape[2]", {"conv2d_basic"}),
    _m("dilation_ignored", "dilation is ignored", CONV,
       "(sh, sw), (dh, dw) = _pair(stride), _pair(dilation)",
       "(sh, sw), (dh, dw) = _pair(stride), (1, 1)", {"conv2d_dilation"}),
    _m("ceil_not_floor", "output size rounds up instead of down", "conv_output_size_answer",
       "return (n + 2 * padding - effective) // stride + 1",
       "return -(-(n + 2 * padding - effective) // stride) + 1", {"conv_output_size_values"}),
    _m("no_size_errors", "impossible settings return a size instead of raising",
       "conv_output_size_answer", "    if n + 2 * padding < effective:\n        raise",
       "    if False:\n        raise", {"conv_output_size_errors"}),
    _m("pool_ceil_keeps_last_window", "ceil_mode keeps a window that starts in the padding",
       "pool_output_size_answer", "if ceil_mode and (out - 1) * stride >= n + padding:",
       "if False:", {"pool_output_size"}),
    _m("max_pool_zero_padding", "max pooling pads with zeros (wrong for negative inputs)",
       "max_pool2d_answer", "constant_values=-np.inf)", "constant_values=0.0)",
       {"max_pool2d_padding"}),
    _m("pool_default_stride_1", "stride=None taken as 1 instead of the kernel size",
       "max_pool2d_answer", "stride if stride is not None else kernel_size",
       "stride if stride is not None else 1", {"max_pool2d_basic"}),
    _m("count_include_pad_ignored", "avg_pool2d always divides by the padded window",
       "avg_pool2d_answer", "(padded_area if count_include_pad else (h1 - h0) * (w1 - w0))",
       "padded_area", {"avg_pool2d_padding"}),
    _m("param_count_no_bias", "conv2d_param_count ignores bias=False", "param_count_answer",
       "* kh * kw + (out_channels if bias else 0)", "* kh * kw + out_channels",
       {"conv2d_param_count"}),
    _m("param_count_no_groups", "conv2d_param_count ignores groups", "param_count_answer",
       "out_channels * (in_channels // groups) * kh * kw",
       "out_channels * in_channels * kh * kw", {"conv2d_param_count"}),
    _m("same_padding_extra_before", "'same' puts the extra pixel before instead of after",
       "same_padding_answer", "return (before, total - before)",
       "return (total - before, before)", {"same_padding"}),
    _m("same_padding_symmetric_in_conv", "conv2d pads (k-1)//2 on both sides for 'same'", CONV,
       "pads = (same_padding(kh, dh), same_padding(kw, dw))",
       "pads = ((dh * (kh - 1) // 2,) * 2, (dw * (kw - 1) // 2,) * 2)", {"conv2d_padding"}),
    Submission("mutates_input", "avg_pool2d divides its input in place (values still right)",
               answers=mutate(mutate(ANSWERS, "avg_pool2d_answer", "    (ph, pw) = _pair(padding)\n",
                                     "    (ph, pw) = _pair(padding)\n    x /= kh * kw\n"),
                              "avg_pool2d_answer", "total / (", "total * (kh * kw) / ("),
               failing=frozenset({"avg_pool2d_basic"})),
    _m("batch_of_one", "only the first image of the batch is used", CONV,
       "    n, c_in, h, w = x.shape\n", "    x = x[:1]\n    n, c_in, h, w = x.shape\n",
       {"conv2d_basic"}),
    _m("groups_ignored", "groups are ignored: every output sees the first input channels",
       CONV, "xs = cols[:, g * c_per_group:(g + 1) * c_per_group]", "xs = cols[:, :c_per_group]",
       {"conv2d_groups"}),
    _m("single_off_by_one", "conv2d_single's output is one pixel too small", "conv2d_single_answer",
       "image.shape[0] - kh + 1, image.shape[1] - kw + 1", "image.shape[0] - kh, image.shape[1] - kw",
       {"conv2d_single"}),
    _m("flatten_pool_stride_1", "flatten_size takes a pool's default stride as 1",
       "flatten_size_answer", 'stride if stride is not None else layer["kernel_size"]',
       "stride if stride is not None else 1", {"flatten_size"}),
    _m("quiz_forgot_bias", "quiz: parameters counted without biases", "quiz_answers",
       "quiz_1x1_params = conv2d_param_count(64, 128, 1)", "quiz_1x1_params = 64 * 128",
       {"quiz_1x1"}),
    Submission("torch_shortcut", "conv2d calls torch.nn.functional.conv2d",
               answers={**ANSWERS, CONV: ANSWERS[CONV] + '''

def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    import torch
    import torch.nn.functional as F
    t = lambda a: None if a is None else torch.as_tensor(a)
    return F.conv2d(t(x), t(weight), t(bias), stride, padding, dilation, groups).numpy()
'''}, failing=frozenset(CONV_CELLS)),
    Submission("scipy_shortcut", "conv2d_single calls scipy.signal.correlate2d",
               answers={**ANSWERS, "conv2d_single_answer": '''
from scipy import signal

def conv2d_single(image, kernel):
    return signal.correlate2d(image, kernel, mode="valid")
'''}, failing=frozenset({"conv2d_single"})),
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
'''}, failing=frozenset({"conv2d_single"})),
]

# Exact failing sets, hidden checks included (measured with the grader), so that
# nbgrader can grade several mutants in one notebook.  What else each one breaks:
_ALSO_FAILS = {
    # every conv2d check draws a bias
    "forgot_bias": {"conv2d_stride", "conv2d_padding", "conv2d_dilation", "conv2d_groups"},
    # every conv2d check draws non-square inputs
    "height_for_width": {"conv2d_dilation", "conv2d_bias", "conv2d_groups", "conv2d_stride",
                         "conv2d_padding"},
    # flatten_size calls conv_output_size
    "ceil_not_floor": {"flatten_size"},
    # the pools and flatten_size call pool_output_size
    "pool_ceil_keeps_last_window": {"max_pool2d_padding", "avg_pool2d_padding", "flatten_size"},
    # the padding check also leaves stride=None
    "pool_default_stride_1": {"max_pool2d_padding"},
    # the quiz's 5x5 answer calls conv2d_param_count
    "param_count_no_bias": {"quiz_5x5"},
    # conv2d's padding='same' calls same_padding
    "same_padding_extra_before": {"conv2d_padding"},
    # the padding check is run on the same arrays
    "mutates_input": {"avg_pool2d_padding"},
    # every conv2d check draws batches of two or more
    "batch_of_one": {"conv2d_dilation", "conv2d_bias", "conv2d_groups", "conv2d_stride",
                     "conv2d_padding"},
}
# The hidden-only cell conv2d_all draws every option at once (measured from the source notebook).
for _name in ("flipped_kernel", "forgot_bias", "one_sided_padding", "height_for_width",
              "dilation_ignored", "batch_of_one", "groups_ignored", "torch_shortcut"):
    _ALSO_FAILS[_name] = _ALSO_FAILS.get(_name, set()) | {"conv2d_all"}
MUTANTS = [dataclasses.replace(m, failing=m.failing | _ALSO_FAILS.get(m.student, set()))
           for m in MUTANTS]
BUNDLED = True
# Answer cells that call each other: a bundle changes at most one cell of each group.
LINKED_CELLS = [{"conv2d_answer", "same_padding_answer"},
                {"conv_output_size_answer", "pool_output_size_answer", "max_pool2d_answer",
                 "avg_pool2d_answer", "flatten_size_answer"},
                {"quiz_answers", "conv_output_size_answer", "param_count_answer"}]

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
