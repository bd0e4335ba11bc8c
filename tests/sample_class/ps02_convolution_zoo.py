"""The bundled sample class for problem set 2 (see ``ps01_convolution.py`` beside it).

The same students as in problem set 1, a term later.
"""
from __future__ import annotations

from grader import notebook as nbio
from grader.submissions import Submission, mutate

from tests.catalog.ps02_convolution_zoo import (ANSWERS, BACKWARD_CELLS, MUTANTS, SOLUTION,
                                                TRANSPOSE_CELLS)

ALL_CHECK_CELLS = frozenset(c.grade_id for c in nbio.grade_cells(SOLUTION))
_by_name = {m.student: m for m in MUTANTS}

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
    Submission("ben_untouched", "the release, untouched", base="release",
               failing=ALL_CHECK_CELLS),
    Submission("cho_flipped", "transposed conv without the kernel flip; LRN without alpha/n",
               answers=mutate(_by_name["transpose_not_flipped"].answers,
                              "local_response_norm_answer", "alpha / size * window",
                              "alpha * window"),
               failing=frozenset(TRANSPOSE_CELLS | {"local_response_norm"})),
    Submission("eve_halfway", "did sections 1-4 and the quiz, left the rest", base="release",
               answers={k: ANSWERS[k] for k in _FIRST_HALF},
               failing=frozenset({"channel_shuffle", "local_response_norm", "receptive_field",
                                  "im2col", "im2col_no_pixel_loops", "conv2d_fast",
                                  "conv2d_fast_no_pixel_loops", "quiz_dilated",
                                  "quiz_separable"}
                                 | BACKWARD_CELLS)),
    Submission("finn_hangs_and_crashes", "conv3d never returns; conv2d_backward refuses groups",
               answers=_HANGS_AND_CRASHES,
               failing=frozenset({"conv3d_basic", "conv3d_options", "conv2d_backward_options"})),
    Submission("gus_pixel_loops", "right values, but im2col and conv2d_fast loop over pixels",
               answers={**ANSWERS, **{c: _by_name[m].answers[c] for m, c in (
                   ("im2col_pixel_loops", "im2col_answer"),
                   ("conv_fast_row_loops", "conv2d_fast_answer"))}},
               failing=frozenset({"im2col_no_pixel_loops", "conv2d_fast_no_pixel_loops"})),
]
