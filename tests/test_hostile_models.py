"""Forged probes earn nothing that a class written for the graded properties would not.

Problem set 5's two students of ``tests/catalog/hostile_models.py``, graded once each,
in the OS sandbox, hidden checks included (as ``nbgrader autograde`` grades them):

* the forger replaces the probes with answers made without a model: it must fail every
  grade cell of function checks, though its recorded answers pass their public runs;
* a degenerate class has only the graded properties: the forger must get no cell, and
  so no point, that this class does not.

The model solution's full marks are proven in ``tests/test_catalog.py``.
"""
from __future__ import annotations

import pytest

from grader import isolation, layout as layouts
from grader.module_checks import InitCheck, ModuleCheck, SameFunctionCheck
from grader.runner import NotebookGrader, problem_set
from tests.catalog import hostile_models
from tests.conftest import TEST_SECRET, release, solution

PS = hostile_models.PS

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(isolation._bwrap_problem() is not None and not isolation.require_isolation(),
                       reason=f"no OS sandbox here: {isolation._bwrap_problem()}"),
]


def cells_of(kind, but=()) -> list:
    """The layout's grade cells whose checks are all ``kind`` and none ``but``."""
    ps = problem_set(PS)
    return [cell for cell in layouts.load(PS).graded_cells()
            if all(isinstance(ps[c.check_id], kind) and not isinstance(ps[c.check_id], but)
                   for c in cell.calls)]


FUNCTION_CELLS = cells_of(SameFunctionCheck)
#: parameter counts, output shapes, zeroed BatchNorms, gradient flow: what the forger answers
#: (not the initialisation, which neither student has: both fail it)
PROPERTY_CELLS = cells_of(ModuleCheck, but=(SameFunctionCheck, InitCheck))


@pytest.fixture(scope="module")
def graded() -> dict:
    """Per student: ``cells`` (grade id -> CellResult) and ``public`` (check id -> whether
    the public run of each function check passed)."""
    out = {}
    for submission in (hostile_models.forger(), hostile_models.degenerate()):
        nb = submission.build(solution(PS), release(PS))
        with NotebookGrader(nb, problem_set=PS, explain=False, secret=TEST_SECRET,
                            require_isolation=True) as grader:
            cells = grader.grade_all()
            public = {c.check_id: grader.run_check(c.check_id, c.profile).passed
                      for cell in FUNCTION_CELLS for c in cell.calls if not c.hidden}
        out[submission.student] = {"cells": cells, "public": public}
    return out


def scores(student: dict) -> str:
    return ", ".join(f"{gid} {r.score:g}/{r.points:g}" for gid, r in student["cells"].items())


def test_the_layout_has_both_kinds_of_cells():
    assert FUNCTION_CELLS and PROPERTY_CELLS


def test_forged_probes_earn_no_more_than_a_degenerate_class(graded):
    """One test, so that pytest-xdist grades the two students once (in one worker)."""
    forger, degenerate = graded["h_forges_probes"], graded["degenerate_class"]
    # The forgery takes effect: the stubs fail every cell, so what the forger passes, its
    # probes passed; the public runs of function checks, its recorded answers passed.
    assert all(forger["cells"][c.grade_id].passed for c in PROPERTY_CELLS), scores(forger)
    assert all(forger["public"].values()), forger["public"]
    # Hidden function checks draw weights and inputs from the secret: nothing recorded
    # answers them, and without a model no student passes a function cell.
    for name, student in graded.items():
        passed = [c.grade_id for c in FUNCTION_CELLS if student["cells"][c.grade_id].passed]
        assert not passed, f"{name} passes function cells {passed} without a model"
    # No cell, and so no point, that a class written for the properties would not get.
    extra = [gid for gid, r in forger["cells"].items()
             if r.passed and not degenerate["cells"][gid].passed]
    assert not extra, f"the forger alone passes {extra}:\n{scores(forger)}\n{scores(degenerate)}"
    assert sum(r.score for r in forger["cells"].values()) <= \
        sum(r.score for r in degenerate["cells"].values())
