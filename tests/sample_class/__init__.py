"""The bundled sample class: one module per problem set, each defining ``STUDENTS``."""
from __future__ import annotations


def three_students(catalog, mistake: str, name: str) -> list:
    """The class of a model problem set: the model solution, the untouched release, and
    the catalog's mutant ``mistake`` handed in by student ``name``."""
    from grader import notebook as nbio
    from grader.submissions import Submission

    wrong = next(m for m in catalog.MUTANTS if m.student == mistake)
    return [
        Submission("ada_complete", "the model solution"),
        Submission("ben_untouched", "the release, untouched", base="release",
                   failing=frozenset(c.grade_id for c in nbio.grade_cells(catalog.SOLUTION))),
        Submission(name, wrong.about, answers=wrong.answers, failing=wrong.failing),
    ]
