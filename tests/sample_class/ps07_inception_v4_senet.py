"""The bundled sample class for problem set 7 (SENet and Inception-v4): see ``ps01_convolution.py``.

Three students: the model solution, the untouched release, and one realistic
mistake from the catalog.
"""
from __future__ import annotations

from grader import notebook as nbio
from grader.submissions import Submission

from tests.catalog.ps07_inception_v4_senet import MUTANTS, SOLUTION

ALL_CHECK_CELLS = frozenset(c.grade_id for c in nbio.grade_cells(SOLUTION))
_mistake = next(m for m in MUTANTS if m.student == "se_after_addition")

STUDENTS = [
    Submission("ada_complete", "the model solution"),
    Submission("ben_untouched", "the release, untouched", base="release",
               failing=ALL_CHECK_CELLS),
    Submission("cho_se_sum", _mistake.about, answers=_mistake.answers, failing=_mistake.failing),
]
