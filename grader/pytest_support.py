"""``pytest exercises/``: the notebook's check cells as pytest tests.

A problem set's ``test_*.py`` (copied by nbgrader from ``solutions/`` to
``exercises/``) holds two lines::

    from grader.pytest_support import notebook_tests
    test_check_cell = notebook_tests(__file__, "convolution.ipynb")

Each public check cell of the problem set becomes one test, named by its grade
id, running the same checks out of process, exactly as the grader does (the
hidden checks aside).  Which cells and checks exist comes from the problem set's
layout (``grader.layout``), never from the notebook; of the notebook beside the
test file only the answer cells are executed: no plots, no training.
"""
from __future__ import annotations

import atexit
from pathlib import Path

import pytest

from . import layout as layouts, notebook as nbio
from .runner import NotebookGrader

#: the grader of each notebook, or why it cannot be graded
_graders: dict[Path, NotebookGrader | nbio.MalformedNotebook] = {}


def _grader(path: Path, ps: str) -> NotebookGrader | nbio.MalformedNotebook:
    if path not in _graders:
        try:
            _graders[path] = NotebookGrader(path, problem_set=ps, hidden=False)
        except nbio.MalformedNotebook as err:
            _graders[path] = err
    return _graders[path]


@atexit.register
def _close_all():
    for g in _graders.values():
        if isinstance(g, NotebookGrader):
            g.close()
    _graders.clear()


def notebook_tests(test_file: str, notebook: str):
    """A test function parametrized over the public check cells of ``notebook``'s problem
    set (from its layout: the notebook's own check cells do not count)."""
    path = (Path(test_file).resolve().parent / notebook)
    ps = layouts.identify(hints=layouts.path_hints(path))
    ids = [c.grade_id for c in layouts.load(ps).graded_cells(hidden=False)]

    @pytest.mark.parametrize("grade_id", ids)
    def test_check_cell(grade_id):
        grader = _grader(path, ps)
        if isinstance(grader, nbio.MalformedNotebook):
            pytest.fail(f"{notebook} cannot be graded: {grader}", pytrace=False)
        result = grader.grade_cell(grade_id)
        if not result.passed:
            pytest.fail(result.message, pytrace=False)

    test_check_cell.__doc__ = f"The check cells of {notebook}, graded out of process."
    return test_check_cell
