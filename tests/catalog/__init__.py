"""The proof catalog, one module per problem set (``tests/catalog/<ps>.py``).

Each module defines ``SOLUTION``, ``ANSWERS``, ``MUTANTS`` (wrong answers that
must lose points) and ``ALTERNATIVES`` (other correct answers that must get
full marks).  What each one scores is measured once, in process, with the full
grader, and kept in ``snapshots/<ps>.json`` (see ``snapshot.py``).
"""
from __future__ import annotations

import ast
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

    @property
    def misconceptions(self) -> frozenset[str]:
        """The ids of the misconceptions (``grader.misconceptions``) this entry makes: a
        catalog's ``DIAGNOSED`` maps a name to one id, or a sample student to several."""
        ids = getattr(catalog(self.ps), "DIAGNOSED", {}).get(self.name, ())
        return frozenset((ids,) if isinstance(ids, str) else ids)

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


def measure(ps: str, answers: tuple, only: frozenset | None = None) -> dict:
    """The check cells failed under nbgrader (all checks) and under pytest (public ones),
    and the misconceptions their failures were diagnosed as; of the cells ``only``, where
    given (the others taken to pass, as the model solution's do)."""
    with NotebookGrader(as_autograded(ps, answers), explain=False) as grader:
        # pytest's public runs first: grading reuses those that pass (NotebookGrader.run_check)
        public = sorted(cell.grade_id for cell in nbio.grade_cells(release(ps))
                        if (only is None or cell.grade_id in only) and
                        not all(grader.run_check(c.check_id, c.profile).passed
                                for c in cell.calls))
        results = {cell.grade_id: grader.grade_cell(cell.grade_id) for cell in grader.cells
                   if only is None or cell.grade_id in only}
        failing = sorted(gid for gid, r in results.items() if not r.passed)
    diagnosed = sorted({r.misconception for r in results.values() if r.misconception})
    return {"failing": failing, "failing_public": public, "diagnosed": diagnosed}


# --- which check cells an edit can change --------------------------------------------------
#
# A mutant edits one or two answer cells; a check cell whose checks never reach the names
# those cells define grades it as it grades the model solution, which the catalog grades in
# full (as an alternative or a sample student).  So the catalog grades only the cells an
# edit can reach.  The analysis may err: the snapshot, always measured in full (--update),
# then lists a failing cell that was not graded, and the test fails, never passes wrongly.


def _bound_and_used(source: str) -> tuple[set, set] | None:
    """The names a cell binds at the top level, and every name it reads; None if it does
    not parse (a stub in progress: anything may happen)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    bound = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound |= {(a.asname or a.name).split(".")[0] for a in node.names}
        else:
            bound |= {n.id for n in ast.walk(node)
                      if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    return bound, used


def _student_names(value) -> set[str]:
    """The student's objects a probe's case passes by name (``grader.probes.STUDENT``)."""
    from grader.probes import STUDENT
    if isinstance(value, dict):
        return ({value[STUDENT]} if STUDENT in value else set()).union(
            *map(_student_names, value.values()))
    if isinstance(value, (list, tuple)):
        return set().union(*map(_student_names, value))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return set().union(*(_student_names(getattr(value, f.name))
                             for f in dataclasses.fields(value)))
    return set()


def looked_up(check) -> set[str]:
    """The names of the student's objects a check reaches directly."""
    names = {getattr(check, a, "") for a in ("function", "cls")} - {""}
    names |= set(getattr(check, "functions", ()))
    names |= set(getattr(check, "answers", {}))  # a quiz's answers are names too
    return names | _student_names(list(getattr(check, "examples", ())))


def reachable_cells(ps: str, answers: tuple) -> frozenset | None:
    """The check cells ``answers`` can grade otherwise than the model solution's answers:
    those whose checks reach, through the names the answer cells read, a name that an
    edited cell binds (before or after the edit).  None: every cell (the model solution,
    a cell that does not parse, cells that are not the model's at all)."""
    from grader.runner import problem_set

    model = dict(nbio.answer_cells(Submission("model", "").build(solution(ps), release(ps))))
    given = dict(answers)
    if set(given) != set(model):
        return None
    cells = {gid: _bound_and_used(src) for gid, src in given.items()}
    if any(v is None for v in cells.values()):
        return None
    if given == model:
        return None  # the model solution itself: what the others are measured against
    edited = set()
    for gid in (g for g in given if given[g] != model[g]):
        before = _bound_and_used(model[gid])
        edited |= cells[gid][0] | (before[0] if before else set())
    checks = problem_set(ps).checks
    out = set()
    for cell in nbio.grade_cells(solution(ps)):
        names = set().union(*(looked_up(checks[c.check_id]) for c in cell.calls))
        frontier = set(names)
        while frontier:  # every name the reached cells read, transitively
            found = set().union(*(used for bound, used in cells.values() if bound & frontier))
            frontier = found - names
            names |= found
        if names & edited:
            out.add(cell.grade_id)
    return frozenset(out)


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
