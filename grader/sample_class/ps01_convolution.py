"""Problem set 1's sample class: ten students, from the model solution to one that loops
forever and one that monkeypatches the grader."""
from __future__ import annotations

from ..submissions import Submission, delete_cell, mutate, replace_cell_source
from . import answers, mistake

PS = "ps01_convolution"
ANSWERS = answers(PS)
CONV = "conv2d_answer"

FLIPPED_KERNEL = mistake(PS, "flipped_kernel", "true convolution: the kernel is flipped", CONV,
                         ('np.einsum("ncijhw,ocij->nohw", xs, ws)',
                          'np.einsum("ncijhw,ocij->nohw", xs, ws[:, :, ::-1, ::-1])'))
MAX_POOL_ZERO_PADDING = mistake(PS, "max_pool_zero_padding",
                                "max pooling pads with zeros (wrong for negative inputs)",
                                "max_pool2d_answer",
                                ("constant_values=-np.inf)", "constant_values=0.0)"))


def _edit_and_delete(nb):
    # Deletes one check cell and rewrites another to always pass: both come back.
    delete_cell(nb, "conv2d_groups")
    replace_cell_source(nb, "conv2d_stride", "print('all good!')")


_RAISES = mutate(ANSWERS, CONV, "(sh, sw), (dh, dw) = _pair(stride), _pair(dilation)",
                 "(sh, sw), (dh, dw) = (stride, stride), (dilation, dilation)  # ints only")

_LOOPS_FOREVER = mutate(ANSWERS, CONV, "    x, weight = np.asarray(x), np.asarray(weight)\n",
                        "    x, weight = np.asarray(x), np.asarray(weight)\n"
                        "    i = 0\n    while i < x.shape[2]:\n        pass  # forgot i += 1\n")

_NOISY = mutate(ANSWERS, CONV, "    x, weight = np.asarray(x), np.asarray(weight)\n",
                "    import sys, warnings\n"
                "    warnings.warn('conv2d: debugging output', RuntimeWarning)\n"
                "    print('conv2d called with', x.shape, file=sys.stderr)\n"
                "    x, weight = np.asarray(x), np.asarray(weight)\n")

_CHEAT = dict(ANSWERS)
_CHEAT[CONV] = '''
import numpy
import numpy.testing
import builtins

# Make every comparison pass... in this process.
numpy.testing.assert_allclose = lambda *a, **k: None
numpy.allclose = lambda *a, **k: True
numpy.array_equal = lambda *a, **k: True

class _Yes(Exception):
    pass
builtins.AssertionError = _Yes
try:
    import grader.checks
    grader.checks.compare_array = lambda *a, **k: None
    import grader.problems.ps01_convolution as ps
    ps.check = lambda *a, **k: print("passed!")
except Exception:
    pass


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return numpy.zeros((1, 1, 1, 1))
'''

STUDENTS = [
    Submission("ada_complete", "the model solution"),
    Submission("ben_untouched", "the release, untouched", base="release"),
    Submission("cho_flipped", "flips the kernel (true convolution)",
               answers=FLIPPED_KERNEL.answers),
    Submission("dev_pooling", "max pooling pads with zeros; avg ignores count_include_pad",
               answers=mutate(MAX_POOL_ZERO_PADDING.answers, "avg_pool2d_answer",
                              "(padded_area if count_include_pad else (h1 - h0) * (w1 - w0))",
                              "padded_area")),
    Submission("eve_halfway", "did sections 1-3 and the quiz, left the rest", base="release",
               answers={k: ANSWERS[k] for k in ("conv_output_size_answer", "same_padding_answer",
                                                "conv2d_single_answer", "param_count_answer",
                                                "quiz_answers")}),
    Submission("finn_raises", "conv2d raises TypeError on (h, w) strides and dilations",
               answers=_RAISES),
    Submission("gus_loops_forever", "conv2d never returns", answers=_LOOPS_FOREVER),
    Submission("hana_noisy", "correct, but prints to stderr and warns on every call",
               answers=_NOISY),
    Submission("ivan_edits_cells", "correct, deletes one check cell and rewrites another",
               edit=_edit_and_delete),
    Submission("jo_monkeypatch", "wrong conv2d, monkeypatches numpy.testing and the grader",
               answers=_CHEAT),
]
