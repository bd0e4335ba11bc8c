"""The proof catalog, one module per problem set (``tests/catalog/<ps>.py``).

Each module defines ``SOLUTION``, ``ANSWERS``, ``MUTANTS`` (wrong answers that
must lose points) and ``ALTERNATIVES`` (other correct answers that must get
full marks).  What each one scores is measured once, in process, with the full
grader, and kept in ``snapshots/<ps>.json`` (see ``snapshot.py``).
"""
from __future__ import annotations

import copy
import dataclasses
import importlib

from grader import notebook as nbio
from grader.problems import AVAILABLE
from grader.runner import NotebookGrader
from grader.sample_class import sample_class
from grader.submissions import Submission

from . import snapshot
from tests.conftest import release, solution

#: problem sets whose sample class is graded by the real `nbgrader autograde`
#: (tests/test_nbgrader_grading.py); the others' sample classes are graded here
NBGRADER_CLASSES = ("ps01_convolution", "ps09_training_transfer")


def catalog(ps: str):
    return importlib.import_module(f"tests.catalog.{ps}")


@dataclasses.dataclass(frozen=True)
class Entry:
    """One submission of the catalog or the sample class, and what it must prove."""
    ps: str
    #: "mutant" (loses points in a public cell), "hidden mutant" (only in hidden checks),
    #: "alternative" (full marks) or "student"
    role: str
    submission: Submission

    @property
    def name(self) -> str:
        return self.submission.student

    def answers(self) -> tuple:
        """The answer cells as graded: submissions with equal answers are graded once."""
        nb = self.submission.build(solution(self.ps), release(self.ps))
        return tuple(nbio.answer_cells(nb))


def entries(ps: str) -> list[Entry]:
    module = catalog(ps)
    hidden_only = {m.student for m in getattr(module, "HIDDEN_ONLY", ())}
    out = [Entry(ps, "hidden mutant" if m.student in hidden_only else "mutant", m)
           for m in module.MUTANTS]
    out += [Entry(ps, "alternative", a) for a in module.ALTERNATIVES]
    if ps not in NBGRADER_CLASSES:
        out += [Entry(ps, "student", s) for s in sample_class(ps)]
    return out


def graded_groups() -> list[list[Entry]]:
    """Every entry of every problem set, grouped by identical answers."""
    groups = []
    for ps in AVAILABLE:
        by_answers: dict[tuple, list[Entry]] = {}
        for entry in entries(ps):
            by_answers.setdefault(entry.answers(), []).append(entry)
        groups.extend(by_answers.values())
    return groups


def as_autograded(ps: str, answers: tuple) -> nbio.nbformat.NotebookNode:
    """The source notebook with the student's answer cells: what `nbgrader autograde`
    grades (it restores every check cell, hidden tests included, from the source)."""
    nb = copy.deepcopy(solution(ps))
    by_id = dict(answers)
    for cell in nb.cells:
        gid = nbio.nbgrader_meta(cell).get("grade_id")
        if cell.cell_type == "code" and gid in by_id:
            cell.source = by_id[gid]
    return nb


def measure(ps: str, answers: tuple) -> dict:
    """The check cells failed under nbgrader (all checks) and under pytest (public ones)."""
    with NotebookGrader(as_autograded(ps, answers), explain=False) as grader:
        failing = sorted(gid for gid, r in grader.grade_all().items() if not r.passed)
        public = sorted(cell.grade_id for cell in nbio.grade_cells(release(ps))
                        if not all(grader.run_check(c.check_id, c.profile).passed
                                   for c in cell.calls))
    return {"failing": failing, "failing_public": public}


def failing(ps: str, name: str) -> frozenset:
    return frozenset(snapshot.load(ps)[name]["failing"])


def changed_cells(module, submission) -> frozenset:
    return frozenset(k for k, v in submission.answers.items() if module.ANSWERS.get(k) != v)


def nbgrader_bundle(ps: str) -> Submission:
    """The catalog's mutants as one nbgrader notebook proves the autograde path on a
    problem set: as many as can share it while each keeps a *witness*, a failing cell
    (in the snapshot) that no other member fails, and no two change the same cell.

    A wrong ``BasicBlock`` and a stem without max pooling both break ResNet-18, but
    only the first fails the block's own checks and only the second fails ResNeXt-50,
    so the notebook proves that each loses points.
    """
    module = catalog(ps)
    members: list = []
    for mutant in module.MUTANTS:
        taken = frozenset().union(*(changed_cells(module, m) for m in members))
        trial = members + [mutant]
        if not changed_cells(module, mutant) & taken and all(
                failing(ps, m.student) - frozenset().union(
                    *(failing(ps, o.student) for o in trial if o is not m)) for m in trial):
            members = trial
    answers = dict(module.ANSWERS)
    for m in members:
        answers.update({c: m.answers[c] for c in changed_cells(module, m)})
    bundle = Submission("bundle", " + ".join(m.student for m in members), answers=answers)
    bundle.members = [m.student for m in members]
    return bundle
