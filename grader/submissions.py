"""Build student notebooks from the solution: for the sample class, the mutation
catalog, the alternative implementations and the benchmarks.

A ``Submission`` says which answer cells differ from the model solution (or
starts from the untouched release) and may edit the notebook further, as a
student might (deleting or rewriting a check cell).
"""
from __future__ import annotations

import copy
import dataclasses
import re
from typing import Callable

import nbformat

from . import notebook as nbio

_MARKERS = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*(\n|\Z)", re.MULTILINE)


def solution_answers(solution_nb) -> dict[str, str]:
    """The model answers, as a student would have typed them (no nbgrader markers)."""
    return {gid: _MARKERS.sub("", src) for gid, src in nbio.answer_cells(solution_nb)
            if not gid.startswith(nbio.SETUP_PREFIX)}


def written_answers(solution_nb) -> dict[str, str]:
    """The model's written (markdown) answers, by grade id."""
    return {nbio.nbgrader_meta(c)["grade_id"]: c.source for c in solution_nb.cells
            if c.cell_type == "markdown" and nbio.nbgrader_meta(c).get("solution")}


def mutate(answers: dict[str, str], cell: str, old: str, new: str, count: int = 1) -> dict:
    """A copy of ``answers`` with ``old`` replaced by ``new`` in one cell (must occur)."""
    src = answers[cell]
    if old not in src:
        raise ValueError(f"{old!r} does not occur in answer cell {cell!r}")
    out = dict(answers)
    out[cell] = src.replace(old, new, count)
    return out


@dataclasses.dataclass
class Submission:
    student: str
    about: str
    #: answer cell grade_id -> source; cells not listed keep the base's source
    answers: dict = dataclasses.field(default_factory=dict)
    #: "solution": start from the model answers; "release": from the untouched stubs
    base: str = "solution"
    #: further edits to the notebook (delete or rewrite cells, ...)
    edit: Callable | None = None
    #: check cells expected to score 0
    failing: frozenset = frozenset()

    def build(self, solution_nb, release_nb) -> nbformat.NotebookNode:
        nb = copy.deepcopy(release_nb)
        sources = solution_answers(solution_nb) if self.base == "solution" else {}
        sources.update(self.answers)
        written = written_answers(solution_nb) if self.base == "solution" else {}
        for cell in nb.cells:
            gid = nbio.nbgrader_meta(cell).get("grade_id")
            if gid in sources and cell.cell_type == "code":
                cell.source = sources[gid]
            elif gid in written and cell.cell_type == "markdown":
                cell.source = written[gid]  # the written answer, too
        if self.edit is not None:
            self.edit(nb)
        return nb


def delete_cell(nb, grade_id: str) -> None:
    nb.cells = [c for c in nb.cells if nbio.nbgrader_meta(c).get("grade_id") != grade_id]


def replace_cell_source(nb, grade_id: str, source: str) -> None:
    for c in nb.cells:
        if nbio.nbgrader_meta(c).get("grade_id") == grade_id:
            c.source = source
