"""``pytest exercises/``: the notebook's check cells as pytest tests.

A problem set's ``test_*.py`` (copied by nbgrader from ``solutions/`` to
``exercises/``) holds two lines::

    from grader.pytest_support import notebook_tests
    test_check_cell = notebook_tests(__file__, "convolution.ipynb")

Each check cell of the notebook beside it becomes one test, named by its grade
id, running the same checks out of process, exactly as the grader does.
Nothing but the answer cells is executed: no plots, no training.
"""
from __future__ import annotations

import atexit
from pathlib import Path

import pytest

from . import notebook as nbio
from .runner import NotebookGrader

_graders: dict[Path, NotebookGrader] = {}


def _grader(path: Path) -> NotebookGrader:
    if path not in _graders:
        _graders[path] = NotebookGrader(path)
    return _graders[path]


@atexit.register
def _close_all():
    for g in _graders.values():
        g.close()
    _graders.clear()


def notebook_tests(test_file: str, notebook: str):
    """A test function parametrized over the check cells of ``notebook``."""
    path = (Path(test_file).resolve().parent / notebook)
    cells = nbio.grade_cells(nbio.read(path))
    ids = [c.grade_id for c in cells]

    @pytest.mark.parametrize("grade_id", ids)
    def test_check_cell(grade_id):
        result = _grader(path).grade_cell(grade_id)
        if not result.passed:
            pytest.fail(result.message, pytrace=False)

    test_check_cell.__doc__ = f"The check cells of {notebook}, graded out of process."
    return test_check_cell
