"""The mutation catalog under the pytest path (`pytest exercises/`).

Every submission is built from the release, so only the public checks run,
out of process, exactly as `pytest exercises/` runs them.
"""
from __future__ import annotations

import pytest

from grader.runner import NotebookGrader
from tests.catalog.ps01_convolution import ALTERNATIVES, MUTANTS
from tests.sample_class.ps01_convolution import ALL_CHECK_CELLS


def _failing(nb) -> dict[str, str]:
    with NotebookGrader(nb) as grader:
        return {gid: r.message for gid, r in grader.grade_all().items() if not r.passed}


def test_catalog_is_large_enough():
    assert len(MUTANTS) >= 15 and len(ALTERNATIVES) >= 3
    assert len({m.student for m in MUTANTS + ALTERNATIVES}) == len(MUTANTS + ALTERNATIVES)


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.student)
def test_mutant_loses_points(mutant, ps01_solution, ps01_release):
    failing = _failing(mutant.build(ps01_solution, ps01_release))
    assert failing, f"{mutant.student} ({mutant.about}) passed every public check"
    missing = mutant.failing - set(failing)
    assert not missing, f"{mutant.student}: expected these check cells to fail: {sorted(missing)}"


@pytest.mark.parametrize("alternative", ALTERNATIVES, ids=lambda m: m.student)
def test_alternative_gets_full_marks(alternative, ps01_solution, ps01_release):
    failing = _failing(alternative.build(ps01_solution, ps01_release))
    assert not failing, "\n\n".join(failing.values())


def test_untouched_release_scores_zero_with_not_implemented_messages(ps01_release):
    failing = _failing(ps01_release)
    public = ALL_CHECK_CELLS - {"conv2d_all"}  # conv2d_all is a hidden-only cell
    assert set(failing) == public
    for gid, message in failing.items():
        assert "not implemented yet" in message or "Not defined yet" in message, message
