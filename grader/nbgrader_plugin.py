"""nbgrader preprocessors that make the out-of-process grader authoritative.

Registered in ``nbgrader_config.py``:

* ``MarkGradedOutsideKernel`` (before ``Execute``) tells the check cells in
  the student's kernel not to run their checks there, so a hanging answer
  costs one timeout instead of one per check cell;
* ``GradeOutOfProcess`` (after ``Execute``, before ``SaveAutoGrades``) grades
  the notebook's answer cells in a sandbox and replaces every check cell's
  outputs with the verdict: a stream for a pass, an error for a failure.
  nbgrader then scores the cells from those outputs as usual;
* ``StripHiddenTests`` removes hidden test source from generated feedback;
* ``execute_timeout`` gives each cell its time limit under ``Execute``.
"""
from __future__ import annotations

import os
import re
import traceback

from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor

from .kernel import OUTSIDE_KERNEL_MARKER
from .notebook import nbgrader_meta
from .runner import NotebookGrader


#: seconds an answer cell may run in the kernel; the grader has its own limits
ANSWER_CELL_TIMEOUT = 30
#: seconds a check cell may run: `nbgrader validate` runs the checks in the kernel, and
#: problem set 9's trains a CNN (under autograde check cells only print a note)
CHECK_CELL_TIMEOUT = 300


def execute_timeout(cell) -> int:
    """The time limit of one cell under nbgrader's ``Execute`` (its ``timeout_func``)."""
    return CHECK_CELL_TIMEOUT if nbgrader_meta(cell).get("grade") else ANSWER_CELL_TIMEOUT


def _passed_output(text: str) -> NotebookNode:
    return NotebookNode(output_type="stream", name="stdout", text=text + "\n")


def _failed_output(text: str) -> NotebookNode:
    lines = text.splitlines() or ["check failed"]
    return NotebookNode(output_type="error", ename="CheckFailed", evalue=lines[0],
                        traceback=["\x1b[0;31mCheckFailed\x1b[0m"] + lines)


class MarkGradedOutsideKernel(NbGraderPreprocessor):
    def preprocess(self, nb, resources):
        os.environ[OUTSIDE_KERNEL_MARKER] = "1"
        return nb, resources


class GradeOutOfProcess(NbGraderPreprocessor):
    def preprocess(self, nb, resources):
        try:
            self._grade(nb, resources)
        finally:
            os.environ.pop(OUTSIDE_KERNEL_MARKER, None)
        return nb, resources

    def _grade(self, nb, resources):
        name = resources.get("unique_key", "notebook")
        try:
            with NotebookGrader(nb) as grader:
                results = grader.grade_all(progress=lambda r: self.log.info(
                    "grader: %s %-26s %g/%g (%.1f s)", name, r.grade_id, r.score, r.points,
                    r.seconds))
        except Exception:  # a grader bug must not pass anyone, nor stop the class
            self.log.error("internal grader error on %s:\n%s", name, traceback.format_exc())
            results = None
        for cell in nb.cells:
            meta = nbgrader_meta(cell)
            gid = meta.get("grade_id")
            if not (meta.get("grade") and cell.cell_type == "code"):
                continue
            if results is None:
                if "grader.problems." in cell.source:
                    cell.outputs = [_failed_output(
                        "Internal grader error: this cell could not be graded. Your instructor "
                        "has the log and will regrade it.")]
                continue
            if gid in results:
                r = results[gid]
                cell.outputs = [_passed_output(r.message) if r.passed else
                                _failed_output(r.message)]


_HIDDEN = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS[^\n]*",
                     re.DOTALL | re.MULTILINE)


def strip_hidden(source: str) -> str:
    return _HIDDEN.sub("# (hidden tests ran here when your work was graded)", source)


class StripHiddenTests(NbGraderPreprocessor):
    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code":
            cell.source = strip_hidden(cell.source)
        return cell, resources
