"""The gradebook in a real PostgreSQL server (a throwaway one: tests/postgres_server.py).

* `cnn-course grade --db postgresql://...` grades a small class of problem set 1 on two
  Dask workers; the gradebook read back from PostgreSQL is plain `nbgrader autograde`'s
  (``tests/catalog/snapshots/nbgrader.json``), one row per student and notebook, one
  grade per grade cell;
* two `nbgrader autograde --student` processes, started together, write to the same
  PostgreSQL gradebook: both land, nothing is lost, duplicated or mixed up.

Without the server's binaries these tests skip, and fail where
``CNN_COURSE_REQUIRE_POSTGRES=1`` (``.ci/run``).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader import gradebook
from grader.cli import ROOT, course_args, make_course, nbgrader, subprocess_env
from grader.sample_class import sample_class
from tests import postgres_server

pytestmark = pytest.mark.slow

PS = "ps01_convolution"
STUDENTS = ("ada_complete", "ben_untouched", "cho_flipped")  # correct, stub, wrong
SNAPSHOTS = Path(__file__).resolve().parent / "catalog" / "snapshots" / "nbgrader.json"
REQUIRE_ENV = "CNN_COURSE_REQUIRE_POSTGRES"
TEMPLATE_DB = "ps01_registered"


@pytest.fixture(scope="module")
def postgres():
    try:
        import psycopg  # noqa: F401 - SQLAlchemy's driver for postgresql:// URLs
        with postgres_server.server() as server:
            yield server
    except (ImportError, postgres_server.Unavailable) as err:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{REQUIRE_ENV}=1, but no PostgreSQL: {err}")
        pytest.skip(f"no PostgreSQL: {err}")


@pytest.fixture(scope="module")
def template(tmp_path_factory, postgres) -> Path:
    """The class, submitted, and a database (``TEMPLATE_DB``) that `nbgrader
    generate_assignment` registered the assignment in: not graded yet."""
    course = tmp_path_factory.mktemp("postgres") / "course"
    by_name = {s.student: s for s in sample_class(PS)}
    make_course(course, {PS: [by_name[s] for s in STUDENTS]})
    url = postgres.create_database(TEMPLATE_DB)
    nbgrader("generate_assignment", PS, "--force", *course_args(course),
             f"--CourseDirectory.db_url={url}", "--log-level=WARN", cwd=ROOT)
    return course


@pytest.fixture
def course_db(template, tmp_path, postgres, request) -> tuple[Path, str]:
    """A copy of the class, and of its database (PostgreSQL copies a template database)."""
    course = tmp_path / "course"
    shutil.copytree(template, course)
    return course, postgres.create_database(request.node.name[:60], template=TEMPLATE_DB)


def _expected(students) -> dict[str, tuple[list[str], str]]:
    """(failing cells, score) of each student under plain `nbgrader autograde`."""
    snap = json.loads(SNAPSHOTS.read_text())
    return {s: (snap[f"{PS}-{s}"]["failing"], snap[f"{PS}-{s}"]["score"]) for s in students}


def _check_gradebook(url: str, students) -> None:
    """The gradebook holds exactly ``students``, each with their own scores, and one
    submission, notebook and grade per grade cell each: no row lost, doubled or mixed up."""
    from nbgrader.api import Gradebook, Grade, SubmittedAssignment, SubmittedNotebook

    rows = gradebook.rows(url)
    assert [(r.student, r.assignment) for r in rows] == [(s, PS) for s in sorted(students)]
    got = {r.student: (sorted(g for g, (score, _) in r.cells.items() if score == 0),
                       f"{r.auto_score:g}/{r.auto_max:g}") for r in rows}
    assert got == _expected(students)
    with Gradebook(url, "cnn-course") as gb:
        [notebook] = gb.find_assignment(PS).notebooks
        cells = sorted(c.name for c in notebook.grade_cells)
        assert sorted(s.id for s in gb.students) == sorted(students)
        assert gb.db.query(SubmittedAssignment).count() == len(students)
        assert gb.db.query(SubmittedNotebook).count() == len(students)
        assert gb.db.query(Grade).count() == len(students) * len(cells)
        for student in students:
            sub = gb.find_submission_notebook(notebook.name, PS, student)
            assert sorted(g.name for g in sub.grades) == cells
            assert {g.notebook.assignment.student.id for g in sub.grades} == {student}


def test_cnn_course_grade_writes_a_postgresql_gradebook(course_db):
    course, url = course_db
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "grader.cli", "grade", PS, "--course",
                           str(course), "--db", url, "--workers", "2"], cwd=ROOT,
                          env=subprocess_env(), capture_output=True, text=True, timeout=300)
    print(proc.stdout, proc.stderr, f"cnn-course grade: {time.monotonic() - start:.1f} s")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{len(STUDENTS)} graded on the workers" in proc.stdout
    _check_gradebook(url, STUDENTS)
    assert not (course / "gradebook.db").exists()  # nothing went to the default SQLite


def test_concurrent_autogrades_write_one_postgresql_gradebook(course_db):
    course, url = course_db
    students = STUDENTS[1:]  # the quicker two
    start = time.monotonic()
    procs = [subprocess.Popen([sys.executable, "-m", "nbgrader", "autograde", PS,
                               f"--student={student}", *course_args(course),
                               f"--CourseDirectory.db_url={url}"],
                              cwd=ROOT, env=subprocess_env(), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for student in students]
    try:
        outputs = [proc.communicate(timeout=300)[0] for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    print(*outputs, f"two autogrades side by side: {time.monotonic() - start:.1f} s")
    assert [proc.returncode for proc in procs] == [0, 0], "\n".join(outputs)
    _check_gradebook(url, students)
    assert not (course / "gradebook.db").exists()
