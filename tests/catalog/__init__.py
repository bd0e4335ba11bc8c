"""The proof catalog, one module per problem set (``tests/catalog/<ps>.py``).

Each module defines ``SOLUTION``, ``ANSWERS``, ``MUTANTS`` (wrong answers that
must lose points) and ``ALTERNATIVES`` (other correct answers that must get
full marks); ``tests/sample_class/<ps>.py`` defines the bundled class.
"""
from __future__ import annotations

import importlib

from grader.problems import AVAILABLE


def catalog(ps: str):
    return importlib.import_module(f"tests.catalog.{ps}")


def sample_class(ps: str):
    return importlib.import_module(f"tests.sample_class.{ps}")


def cases(kind: str) -> list:
    """``[(ps, submission), ...]`` for ``kind`` in MUTANTS / ALTERNATIVES / STUDENTS."""
    out = []
    for ps in AVAILABLE:
        module = sample_class(ps) if kind == "STUDENTS" else catalog(ps)
        out.extend((ps, s) for s in getattr(module, kind))
    return out


def case_id(case) -> str:
    ps, submission = case
    return f"{ps[:4]}-{submission.student}"


def changed_cells(module, submission) -> frozenset:
    return frozenset(k for k, v in submission.answers.items() if module.ANSWERS.get(k) != v)


def nbgrader_cases(ps: str) -> list:
    """The mutants as nbgrader grades them: alone, or bundled when the catalog allows.

    Autograding a notebook costs half a minute of CI, so a catalog may set
    ``BUNDLED = True``: mutants that change different answer cells (and no cells
    that call each other, ``LINKED_CELLS``) share one notebook.  The bundle must
    fail exactly the union of its members' cells; each member's own cells were
    shown to fail with that member alone under pytest.
    """
    from grader.submissions import Submission

    module = catalog(ps)
    mode = getattr(module, "BUNDLED", False)
    if not mode:
        return list(module.MUTANTS)
    if mode == "witness":
        return _witness_bundles(module)
    linked = [frozenset(group) for group in getattr(module, "LINKED_CELLS", ())]

    def reach(cells):
        return frozenset().union(cells, *(g for g in linked if g & cells))

    bundles: list[list] = []
    for mutant in module.MUTANTS:
        cells = reach(changed_cells(module, mutant))
        for members in bundles:
            taken = frozenset().union(*(reach(changed_cells(module, m)) for m in members))
            failing = frozenset().union(*(m.failing for m in members))
            if not (cells & taken) and not (mutant.failing & failing):
                members.append(mutant)
                break
        else:
            bundles.append([mutant])
    return _combine(module, bundles, "bundle")


def _witnessed(members) -> bool:
    """Each member fails a cell that no other member fails: its own proof of losing points."""
    return all(m.failing - frozenset().union(*(o.failing for o in members if o is not m))
               for m in members)


def _witness_bundles(module) -> list:
    """Bundles for models, where every cell calls the blocks before it.

    Mutants that change different answer cells share a notebook when each
    keeps a *witness*: a failing cell that no other member fails.  A wrong
    ``BasicBlock`` and a stem without max pooling both break ResNet-18, but
    only the first fails the block's own checks and only the second fails
    ResNeXt-50, so the notebook proves that each loses points.
    """
    bundles: list[list] = []
    for mutant in module.MUTANTS:
        cells = changed_cells(module, mutant)
        for members in bundles:
            taken = frozenset().union(*(changed_cells(module, m) for m in members))
            if not (cells & taken) and _witnessed(members + [mutant]):
                members.append(mutant)
                break
        else:
            bundles.append([mutant])
    return _combine(module, bundles, "bundle")


def nbgrader_alternatives(ps: str) -> list:
    """The alternatives as nbgrader grades them: one notebook when they change different cells."""
    module = catalog(ps)
    alternatives = list(module.ALTERNATIVES)
    cells = [changed_cells(module, a) for a in alternatives]
    if getattr(module, "BUNDLED", False) != "witness" or \
            sum(len(c) for c in cells) != len(frozenset().union(*cells)):
        return alternatives
    return _combine(module, [alternatives], "alternatives")


def _combine(module, bundles, prefix) -> list:
    from grader.submissions import Submission

    out = []
    for i, members in enumerate(bundles, 1):
        answers = dict(module.ANSWERS)
        for m in members:
            answers.update({c: m.answers[c] for c in changed_cells(module, m)})
        out.append(Submission(f"{prefix}{i}", " + ".join(m.student for m in members),
                              answers=answers,
                              failing=frozenset().union(*(m.failing for m in members))))
        out[-1].members = [m.student for m in members]
    return out
