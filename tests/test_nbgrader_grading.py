"""The real `nbgrader autograde`, over the sample class and the mutation catalog.

Two course folders are graded at the same time (one per core), each with its
own SQLite gradebook.  Scores are read back from the gradebooks.
"""
from __future__ import annotations

import subprocess
import sys

import pytest

from grader import gradebook, notebook as nbio
from grader.cli import _env, make_course
from tests.catalog.ps01_convolution import ALTERNATIVES, MUTANTS
from tests.conftest import ROOT
from tests.sample_class.ps01_convolution import STUDENTS

PS = "ps01_convolution"
EVERYONE = STUDENTS + MUTANTS + ALTERNATIVES
GRADE = ("import sys; from pathlib import Path; from grader.cli import grade_course; "
         "grade_course(Path(sys.argv[1]), [sys.argv[2]], show=None)")


@pytest.fixture(scope="session")
def graded(tmp_path_factory):
    """{student: Row} for everyone, after autograde and generate_feedback."""
    halves = [EVERYONE[0::2], EVERYONE[1::2]]
    courses = [tmp_path_factory.mktemp(f"course{i}") / "course" for i in range(2)]
    procs = []
    for course, students in zip(courses, halves):
        make_course(course, {PS: students})
        procs.append(subprocess.Popen([sys.executable, "-c", GRADE, str(course), PS], cwd=ROOT,
                                      env=_env(), stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True))
    for p in procs:
        out, _ = p.communicate(timeout=1800)
        assert p.returncode == 0, out[-5000:]
    rows = {}
    for course in courses:
        for row in gradebook.rows(f"sqlite:///{course / 'gradebook.db'}"):
            rows[row.student] = row
        rows.setdefault("_courses", []).append(course)
    return rows


def _points(solution) -> dict[str, float]:
    return {c.grade_id: c.points for c in nbio.grade_cells(solution)}


def _failing(row) -> set[str]:
    return {gid for gid, (score, _) in row.cells.items() if score == 0}


@pytest.mark.parametrize("student", STUDENTS, ids=lambda s: s.student)
def test_sample_class_scores(student, graded, ps01_solution):
    row = graded[student.student]
    points = _points(ps01_solution)
    assert set(row.cells) == set(points), "every check cell is graded, deleted ones included"
    assert _failing(row) == set(student.failing), student.about
    expected = sum(p for gid, p in points.items() if gid not in student.failing)
    assert row.auto_score == expected and row.auto_max == sum(points.values())


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda s: s.student)
def test_mutants_lose_points_under_nbgrader(mutant, graded):
    row = graded[mutant.student]
    assert row.auto_score < row.auto_max, mutant.about
    assert mutant.failing <= _failing(row)


@pytest.mark.parametrize("alternative", ALTERNATIVES, ids=lambda s: s.student)
def test_alternatives_get_full_marks_under_nbgrader(alternative, graded):
    row = graded[alternative.student]
    assert row.auto_score == row.auto_max, _failing(row)


def test_feedback_hides_hidden_tests_and_explains_failures(graded):
    course = next(c for c in graded["_courses"]
                  if (c / "feedback" / "cho_flipped").exists())
    html = (course / "feedback" / "cho_flipped" / PS / "convolution.html").read_text()
    assert "BEGIN HIDDEN TESTS" not in html and "thorough" not in html
    assert "hidden tests ran here" in html
    assert "First difference at index" in html


def test_deleted_check_cell_is_restored(graded):
    course = next(c for c in graded["_courses"]
                  if (c / "autograded" / "ivan_edits_cells").exists())
    nb = nbio.read(course / "autograded" / "ivan_edits_cells" / PS / "convolution.ipynb")
    ids = {c.grade_id for c in nbio.grade_cells(nb)}
    assert {"conv2d_groups", "conv2d_stride"} <= ids


def test_gradebook_table_lists_every_student(graded, capsys):
    from grader.cli import main
    for course in graded["_courses"]:
        assert main(["gradebook", "--db", f"sqlite:///{course / 'gradebook.db'}"]) == 0
    out = capsys.readouterr().out
    for student in EVERYONE:
        assert student.student in out
    assert "auto score" in out
