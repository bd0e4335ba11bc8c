"""The real `nbgrader autograde`, over the sample classes and the mutation catalogs.

Two course folders are graded at the same time (one per core), each with its
own SQLite gradebook and half of every problem set's submissions.  Scores are
read back from the gradebooks.
"""
from __future__ import annotations

import subprocess
import sys

import pytest

from grader import gradebook, notebook as nbio
from grader.cli import _env, make_course
from grader.problems import AVAILABLE
from tests.catalog import (case_id, cases, nbgrader_alternatives, nbgrader_cases,
                           sample_class)
from tests.conftest import ROOT, solution

GRADE = ("import sys; from pathlib import Path; from grader.cli import grade_course; "
         "grade_course(Path(sys.argv[1]), sys.argv[2:], show=None)")


def everyone(ps: str) -> list:
    return sample_class(ps).STUDENTS + nbgrader_cases(ps) + nbgrader_alternatives(ps)


@pytest.fixture(scope="session")
def graded(tmp_path_factory):
    """{(student, problem set): Row} for everyone, after autograde and generate_feedback."""
    courses = [tmp_path_factory.mktemp(f"course{i}") / "course" for i in range(2)]
    procs = []
    for i, course in enumerate(courses):
        make_course(course, {ps: everyone(ps)[i::2] for ps in AVAILABLE})
        procs.append(subprocess.Popen([sys.executable, "-c", GRADE, str(course), *AVAILABLE],
                                      cwd=ROOT, env=_env(), stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True))
    for p in procs:
        out, _ = p.communicate(timeout=2400)
        assert p.returncode == 0, out[-5000:]
    rows = {"_courses": courses}
    for course in courses:
        for row in gradebook.rows(f"sqlite:///{course / 'gradebook.db'}"):
            rows[row.student, row.assignment] = row
    return rows


def _points(ps) -> dict[str, float]:
    return {c.grade_id: c.points for c in nbio.grade_cells(solution(ps))}


def _failing(row) -> set[str]:
    return {gid for gid, (score, _) in row.cells.items() if score == 0}


@pytest.mark.parametrize("case", cases("STUDENTS"), ids=case_id)
def test_sample_class_scores(case, graded):
    ps, student = case
    row = graded[student.student, ps]
    points = _points(ps)
    assert set(row.cells) == set(points), "every check cell is graded, deleted ones included"
    assert _failing(row) == set(student.failing), student.about
    expected = sum(p for gid, p in points.items() if gid not in student.failing)
    assert row.auto_score == expected and row.auto_max == sum(points.values())


@pytest.mark.parametrize("case", cases("MUTANTS"), ids=case_id)
def test_mutants_lose_points_under_nbgrader(case, graded):
    ps, mutant = case
    graded_as = next(s for s in nbgrader_cases(ps)
                     if s.student == mutant.student or mutant.student in getattr(s, "members", ()))
    row = graded[graded_as.student, ps]
    assert row.auto_score < row.auto_max, mutant.about
    assert mutant.failing <= _failing(row)


@pytest.mark.parametrize("ps", AVAILABLE)
def test_bundled_mutants_fail_exactly_their_cells(ps, graded):
    for bundle in nbgrader_cases(ps):
        if hasattr(bundle, "members"):
            assert _failing(graded[bundle.student, ps]) == set(bundle.failing), bundle.about


@pytest.mark.parametrize("case", cases("ALTERNATIVES"), ids=case_id)
def test_alternatives_get_full_marks_under_nbgrader(case, graded):
    ps, alternative = case
    graded_as = next(s for s in nbgrader_alternatives(ps) if s.student == alternative.student
                     or alternative.student in getattr(s, "members", ()))
    row = graded[graded_as.student, ps]
    assert row.auto_score == row.auto_max, _failing(row)


def _course_with(graded, *parts):
    return next(c for c in graded["_courses"] if c.joinpath(*parts).exists())


def test_feedback_hides_hidden_tests_and_explains_failures(graded):
    for ps, name in (("ps01_convolution", "convolution.html"),
                     ("ps02_convolution_zoo", "convolution_zoo.html")):
        course = _course_with(graded, "feedback", "cho_flipped", ps)
        html = (course / "feedback" / "cho_flipped" / ps / name).read_text()
        assert "BEGIN HIDDEN TESTS" not in html and "thorough" not in html
        assert "hidden tests ran here" in html
        assert "First difference at index" in html


def test_deleted_check_cell_is_restored(graded):
    ps = "ps01_convolution"
    course = _course_with(graded, "autograded", "ivan_edits_cells")
    nb = nbio.read(course / "autograded" / "ivan_edits_cells" / ps / "convolution.ipynb")
    ids = {c.grade_id for c in nbio.grade_cells(nb)}
    assert {"conv2d_groups", "conv2d_stride"} <= ids


def test_gradebook_table_lists_every_student(graded, capsys):
    from grader.cli import main
    for course in graded["_courses"]:
        assert main(["gradebook", "--db", f"sqlite:///{course / 'gradebook.db'}"]) == 0
    out = capsys.readouterr().out
    for ps in AVAILABLE:
        for student in everyone(ps):
            assert student.student in out
    assert "auto score" in out
