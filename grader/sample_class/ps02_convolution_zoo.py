"""Problem set 2's sample class: the same students as in problem set 1, a term later."""
from __future__ import annotations

from ..submissions import Submission, mutate
from . import answers

PS = "ps02_convolution_zoo"
ANSWERS = answers(PS)
TRANSPOSE = "conv_transpose2d_answer"

# A transposed convolution written the "fractionally strided" way: insert zeros between the
# input pixels, pad by the dilated kernel size minus 1 (less the padding), and correlate with the
# flipped kernel whose in/out axes are swapped.  Correct as written; the catalog's mutants break it.
ZERO_INSERTION = '''
def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """Zero insertion, then an ordinary correlation with the flipped kernel."""
    n, c_in, h, w = x.shape
    _, opg, kh, kw = weight.shape
    (sh, sw), (ph, pw) = _pair(stride), _pair(padding)
    (oph, opw), (dh, dw) = _pair(output_padding), _pair(dilation)
    up = np.zeros((n, c_in, (h - 1) * sh + 1, (w - 1) * sw + 1))
    up[:, :, ::sh, ::sw] = x                                  # the "fractional" stride
    eh, ew = dh * (kh - 1), dw * (kw - 1)
    up = np.pad(up, ((0, 0), (0, 0), (eh, eh + oph), (ew, ew + opw)))
    ipg = c_in // groups
    # (C_in, C_out/g, kh, kw) -> per group (C_out/g, C_in/g, kh, kw), flipped in space
    flipped = weight[:, :, ::-1, ::-1]
    oh, ow = up.shape[2] - eh, up.shape[3] - ew
    out = np.zeros((n, groups * opg, oh, ow))
    for g in range(groups):
        wg = flipped[g * ipg:(g + 1) * ipg].transpose(1, 0, 2, 3)
        xg = up[:, g * ipg:(g + 1) * ipg]
        for u in range(kh):
            for v in range(kw):
                out[:, g * opg:(g + 1) * opg] += np.einsum(
                    "nchw,oc->nohw", xg[:, :, u * dh:u * dh + oh, v * dw:v * dw + ow],
                    wg[:, :, u, v])
    out = out[:, :, ph:oh - ph, pw:ow - pw]
    if bias is not None:
        out = out + bias[None, :, None, None]
    return out
'''

PIXEL_LOOP_IM2COL = '''
def im2col(x, kernel_size, stride=1, padding=0, dilation=1):
    """Correct, but one Python iteration per output pixel."""
    (kh, kw), (sh, sw) = _pair(kernel_size), _pair(stride)
    (ph, pw), (dh, dw) = _pair(padding), _pair(dilation)
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    n, c = x.shape[:2]
    oh = (xp.shape[2] - dh * (kh - 1) - 1) // sh + 1
    ow = (xp.shape[3] - dw * (kw - 1) - 1) // sw + 1
    cols = np.empty((n, c * kh * kw, oh * ow))
    for i in range(oh):
        for j in range(ow):
            win = xp[:, :, i * sh:i * sh + dh * (kh - 1) + 1:dh, j * sw:j * sw + dw * (kw - 1) + 1:dw]
            cols[:, :, i * ow + j] = win.reshape(n, -1)
    return cols
'''

PIXEL_LOOP_CONV = '''
def conv2d_fast(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """Correct, but a matrix-vector product per output row: still a loop over pixels."""
    c_out, _, kh, kw = weight.shape
    cols = im2col(x, (kh, kw), stride, padding, dilation)
    n, _, L = cols.shape
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride), _pair(padding), _pair(dilation)
    oh = (x.shape[2] + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = L // oh
    w2 = weight.reshape(c_out, -1)
    out = np.empty((n, c_out, oh, ow))
    for i in range(oh):
        out[:, :, i, :] = w2 @ cols[:, :, i * ow:(i + 1) * ow]
    if bias is not None:
        out = out + bias[None, :, None, None]
    return out
'''

TRANSPOSE_NOT_FLIPPED = Submission(
    "transpose_not_flipped", "zero insertion, but the kernel is not flipped",
    answers={**ANSWERS, TRANSPOSE: ZERO_INSERTION.replace("weight[:, :, ::-1, ::-1]", "weight")})
IM2COL_PIXEL_LOOPS = Submission("im2col_pixel_loops", "im2col correct, but loops over output pixels",
                                answers={**ANSWERS, "im2col_answer": PIXEL_LOOP_IM2COL})
CONV_FAST_ROW_LOOPS = Submission("conv_fast_row_loops",
                                 "conv2d_fast correct, but loops over output rows",
                                 answers={**ANSWERS, "conv2d_fast_answer": PIXEL_LOOP_CONV})

_FIRST_HALF = ("conv_transpose_output_size_answer", "conv_matrix_answer", "conv_transpose2d_answer",
               "conv3d_answer", "separate_kernel_answer", "separable_conv2d_answer",
               "depthwise_separable_answer", "quiz_answers")

_HANGS_AND_CRASHES = mutate(
    mutate(ANSWERS, "conv3d_answer", "    out = np.zeros((x.shape[0], c_out, od, oh, ow))\n",
           "    out = np.zeros((x.shape[0], c_out, od, oh, ow))\n    while od > 0:\n"
           "        pass  # meant to shrink od\n"),
    "conv2d_backward_answer", "    out_per_group = c_out // groups\n",
    "    out_per_group = c_out // groups\n    if groups > 1:\n"
    "        raise ValueError('groups are not supported yet')\n")

STUDENTS = [
    Submission("ada_complete", "the model solution"),
    Submission("ben_untouched", "the release, untouched", base="release"),
    Submission("cho_flipped", "transposed conv without the kernel flip; LRN without alpha/n",
               answers=mutate(TRANSPOSE_NOT_FLIPPED.answers, "local_response_norm_answer",
                              "alpha / size * window", "alpha * window")),
    Submission("eve_halfway", "did sections 1-4 and the quiz, left the rest", base="release",
               answers={k: ANSWERS[k] for k in _FIRST_HALF}),
    Submission("finn_hangs_and_crashes", "conv3d never returns; conv2d_backward refuses groups",
               answers=_HANGS_AND_CRASHES),
    Submission("gus_pixel_loops", "right values, but im2col and conv2d_fast loop over pixels",
               answers={**ANSWERS, "im2col_answer": PIXEL_LOOP_IM2COL,
                        "conv2d_fast_answer": PIXEL_LOOP_CONV}),
]
