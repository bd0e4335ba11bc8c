"""The bundled sample class: the students that `cnn-course demo` autogrades.

One module per problem set defines ``STUDENTS``: the model solution, the
untouched release and realistic mistakes, built from the course's
``solutions/`` (so the demo runs from a checkout of the course).  Where a sample
student makes a mistake of the mutation catalog (``tests/catalog``), the catalog
takes it from here; which cells each one fails is measured by the tests.
"""
from __future__ import annotations

import importlib
from pathlib import Path

from .. import notebook as nbio
from ..submissions import Submission, mutate, solution_answers

SOLUTIONS = Path(__file__).resolve().parents[2] / "solutions"


def answers(ps: str) -> dict[str, str]:
    """The model answers of problem set ``ps``, as a student would have typed them."""
    return solution_answers(nbio.read(next((SOLUTIONS / ps).glob("*.ipynb"))))


def sample_class(ps: str) -> list[Submission]:
    return importlib.import_module(f"{__name__}.{ps}").STUDENTS


def three_students(name: str, mistake: Submission) -> list[Submission]:
    """A model problem set's class: the model solution, the untouched release, and
    student ``name`` handing in ``mistake``."""
    return [Submission("ada_complete", "the model solution"),
            Submission("ben_untouched", "the release, untouched", base="release"),
            Submission(name, mistake.about, answers=mistake.answers)]


def mistake(ps: str, name: str, about: str, cell: str, *edits: tuple[str, str]) -> Submission:
    """A mistake in one answer cell: ``edits`` are ``(old, new)`` replacements, in order."""
    edited = answers(ps)
    for old, new in edits:
        edited = mutate(edited, cell, old, new)
    return Submission(name, about, answers=edited)
