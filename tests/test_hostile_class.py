"""A hostile class, graded by the real `nbgrader autograde` together with honest students.

Every attack of ``tests/catalog/hostile.py`` is one student.  Each must get its fair
score, the honest students before and after them full marks, and the course, the venv
and the grader must be byte for byte what they were (nothing a student planted runs later).
"""
from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from grader import gradebook, notebook as nbio
from grader.cli import course_args, make_course, nbgrader
from tests.catalog import hostile
from tests.conftest import ROOT, solution

pytestmark = pytest.mark.slow  # and one worker: see ONE_WORKER in conftest.py

#: charged seconds per notebook: small, so the slow student runs out (the default is 600)
BUDGET_S = 30


def tracked_files() -> dict[str, str]:
    """sha256 of every file git tracks in the course: solutions, grader, config, exercises."""
    names = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                           check=True).stdout.decode().split("\0")
    return {n: hashlib.sha256((ROOT / n).read_bytes()).hexdigest() for n in names
            if n and (ROOT / n).is_file()}


def environment_files() -> dict[str, tuple]:
    """(size, mtime) of every file of the interpreter's environment, caches aside."""
    out = {}
    for top in {Path(sys.prefix), Path(sys.base_prefix)}:
        for path in top.rglob("*"):
            if "__pycache__" not in path.parts and path.is_file() and not path.is_symlink():
                st = path.stat()
                out[str(path)] = (st.st_size, st.st_mtime_ns)
    return out


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Gradebook rows by student, the course folder, and the fingerprints before and after."""
    before = tracked_files(), environment_files()
    course = tmp_path_factory.mktemp("hostile") / "course"
    everyone = hostile.honest() + [h.submission for h in hostile.students()]
    make_course(course, {hostile.PS: everyone})
    args = course_args(course)
    nbgrader("generate_assignment", hostile.PS, "--force", *args, "--log-level=WARN", cwd=ROOT)
    nbgrader("autograde", hostile.PS, "--force", *args, f"--GradeOutOfProcess.budget_s={BUDGET_S}",
             cwd=ROOT)
    nbgrader("generate_feedback", hostile.PS, "--force", *args, "--log-level=WARN", cwd=ROOT)
    rows = {row.student: row for row in gradebook.rows(f"sqlite:///{course / 'gradebook.db'}")}
    after = tracked_files(), environment_files()
    return rows, course, before, after


def failing(row) -> set[str]:
    return {gid for gid, (score, _) in row.cells.items() if score == 0}


def every_cell() -> set[str]:
    return {c.grade_id for c in nbio.grade_cells(solution(hostile.PS))}


@pytest.mark.parametrize("student", [s.student for s in hostile.honest()])
def test_honest_students_get_full_marks(graded, student):
    row = graded[0][student]
    assert failing(row) == set() and row.auto_score == row.auto_max


@pytest.mark.parametrize("case", hostile.students(), ids=lambda h: h.submission.student)
def test_each_hostile_student_gets_the_fair_score(graded, case):
    rows, course = graded[:2]
    row = rows[case.submission.student]
    assert set(row.cells) == every_cell()
    if case.fair == "zero":
        assert failing(row) == every_cell(), case.submission.about
    elif case.fair == "full":
        assert failing(row) == set(), case.submission.about
    elif case.fair == "some":
        assert set() < failing(row) < every_cell(), case.submission.about
    else:
        assert failing(row) == set(case.fair), case.submission.about
    if case.feedback:
        html = next((course / "feedback" / case.submission.student / hostile.PS).glob("*.html"))
        assert case.feedback in html.read_text(encoding="utf-8")


def test_the_course_the_environment_and_the_grader_are_untouched(graded):
    (files_before, env_before), (files_after, env_after) = graded[2:]
    assert files_after == files_before
    planted = sorted(set(env_after) - set(env_before))
    changed = sorted(p for p in env_before if env_after.get(p) != env_before[p])
    assert not planted and not changed, (planted[:5], changed[:5])


def test_nothing_the_class_started_is_still_running(graded):
    left = subprocess.run(["pgrep", "-f", hostile.MARKER], capture_output=True, text=True)
    assert left.returncode == 1, left.stdout
    assert not any(Path(d, hostile.MARKER).exists() for d in ("/tmp", "/root", "/work",
                                                              str(Path.home())))
