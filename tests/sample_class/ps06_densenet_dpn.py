"""The bundled sample class for problem set 6 (DenseNet and DPN): see ``ps01_convolution.py``.

Three students: the model solution, the untouched release, and one realistic
mistake from the catalog.
"""
from __future__ import annotations

from grader import notebook as nbio
from grader.submissions import Submission

from tests.catalog.ps06_densenet_dpn import MUTANTS, SOLUTION

ALL_CHECK_CELLS = frozenset(c.grade_id for c in nbio.grade_cells(SOLUTION))
_mistake = next(m for m in MUTANTS if m.student == "adds_like_resnet")

STUDENTS = [
    Submission("ada_complete", "the model solution"),
    Submission("ben_untouched", "the release, untouched", base="release",
               failing=ALL_CHECK_CELLS),
    Submission("cho_adds", _mistake.about, answers=_mistake.answers, failing=_mistake.failing),
]
