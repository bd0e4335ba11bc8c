"""The mutation catalog under the pytest path (`pytest exercises/`).

Every submission is built from the release, so only the public checks run,
out of process, exactly as `pytest exercises/` runs them.  A mutant is graded
on the first public cell it must fail, in notebook order: one failing cell is
enough to lose points, and its exact failing set is proven under nbgrader
(``test_nbgrader_grading``).  Alternatives and the untouched release are
graded on every cell; alternatives that change different answer cells share
one notebook, as under nbgrader.
"""
from __future__ import annotations

import pytest

from grader import notebook as nbio
from grader.problems import AVAILABLE
from grader.runner import NotebookGrader
from tests.catalog import case_id, cases, catalog, nbgrader_alternatives
from tests.conftest import release, solution


def _public(ps) -> set[str]:
    """Check cells that run a check outside the hidden-tests block."""
    return {c.grade_id for c in nbio.grade_cells(release(ps)) if c.calls}


@pytest.mark.parametrize("ps", AVAILABLE)
def test_catalog_is_large_enough(ps):
    module = catalog(ps)
    # Problem sets of functions: 15 mutants and 3 alternatives; of whole models: 8 and 2.
    mutants, alternatives = getattr(module, "REQUIRED", (15, 3))
    assert len(module.MUTANTS) >= mutants and len(module.ALTERNATIVES) >= alternatives
    names = [m.student for m in module.MUTANTS + module.ALTERNATIVES]
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("case", cases("MUTANTS"), ids=case_id)
def test_mutant_loses_points(case):
    ps, mutant = case
    cells = [c.grade_id for c in nbio.grade_cells(release(ps))
             if c.grade_id in mutant.failing & _public(ps)]
    assert cells, f"{mutant.student} must fail at least one public check cell"
    with NotebookGrader(mutant.build(solution(ps), release(ps))) as grader:
        result = grader.grade_cell(cells[0])
    assert not result.passed, f"{mutant.student} ({mutant.about}) passed {cells[0]}"


def _alternatives() -> list:
    return [(ps, a) for ps in AVAILABLE for a in nbgrader_alternatives(ps)]


@pytest.mark.parametrize("case", _alternatives(), ids=case_id)
def test_alternative_gets_full_marks(case):
    ps, alternative = case
    with NotebookGrader(alternative.build(solution(ps), release(ps))) as grader:
        failing = {gid: r.message for gid, r in grader.grade_all().items() if not r.passed}
    assert not failing, "\n\n".join(failing.values())


@pytest.mark.parametrize("ps", AVAILABLE)
def test_untouched_release_scores_zero_with_not_implemented_messages(ps):
    with NotebookGrader(release(ps)) as grader:
        results = grader.grade_all()
    assert {gid for gid, r in results.items() if not r.passed} == _public(ps)
    for gid in _public(ps):
        message = results[gid].message
        assert "not implemented yet" in message or "Not defined yet" in message, message
