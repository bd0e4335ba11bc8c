"""Submissions from an LMS, grades back to it; and students' work kept out of git.

* The round trip: a zip of problem set 1 submissions as Canvas's *Download Submissions*
  names them (the model solution; the untouched release, resubmitted, so Canvas named it
  ``convolution-1.ipynb``; half a problem set, late; and a stray non-notebook file) goes
  through ``nbgrader zip_collect`` with the repository's ``nbgrader_config.py``, then
  ``cnn-course grade``, then ``nbgrader export``. The CSV has one row per Canvas user id,
  with the scores plain ``nbgrader autograde`` gives (``tests/catalog/snapshots/nbgrader.json``),
  and the late one flagged a second after the due date and penalised by nbgrader (this
  course's own ``nbgrader_config.py`` sets ``penalty_method = "zero"``).
* ``.gitignore`` keeps gradebooks, grades, submissions, feedback, downloads, reports and
  stored results out of ``git add .``, in the repository root and in a course folder below it:
  the list the README gives, and every file the round trip wrote.
"""
from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from grader.cli import ROOT, course_args, make_course, nbgrader, subprocess_env
from grader.sample_class import sample_class

PS = "ps01_convolution"
NOTEBOOK = "convolution.ipynb"
SNAPSHOTS = Path(__file__).resolve().parent / "catalog" / "snapshots" / "nbgrader.json"
#: the Canvas file of each Canvas user id: <name>[_late]_<user id>_<submission id>_<file>
CANVAS = {
    "101": ("ada_complete", f"lovelaceada_101_900001_{NOTEBOOK}"),
    "102": ("ben_untouched", "bennettben_102_900002_convolution-1.ipynb"),
    "103": ("eve_halfway", f"evanseve_late_103_900003_{NOTEBOOK}"),
}
LATE = "103"
#: the due date as an instructor types it, and as nbgrader stores and exports it (UTC)
DUEDATE = "2025-10-06 23:59:00 Europe/Berlin"
DUEDATE_UTC = "2025-10-06 21:59:00"
#: what the README says must never reach `git add .`
STUDENT_WORK = ["gradebook.db", "grades.csv", "submitted/x", "autograded/x", "feedback/x",
                "downloaded/x", "reports/x", ".cnn-course/x"]
#: course folders: the repository root (the README's), one below it, and the demo's
COURSE_FOLDERS = ["", "courses/fall2025/", "build/demo-course/"]


def _git_ignored(paths: list[str]) -> set[str]:
    """Those of ``paths`` (relative to the repository root; they need not exist) that the
    repository's ignore rules match, whether or not git tracks them."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    proc = subprocess.run(["git", "check-ignore", "--no-index", "--stdin", "-z"], cwd=ROOT,
                          input="\0".join(paths) + "\0", capture_output=True, text=True)
    assert proc.returncode in (0, 1), proc.stderr  # 1: none of them is ignored
    return set(filter(None, proc.stdout.split("\0")))


def test_student_work_is_git_ignored_and_the_course_is_not():
    paths = [folder + p for folder in COURSE_FOLDERS for p in STUDENT_WORK]
    assert sorted(set(paths) - _git_ignored(paths)) == []
    # no rule hides a file of the course itself
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout.split("\0")
    tracked = [p for p in tracked if p]
    assert {"nbgrader_config.py", f"exercises/{PS}/{NOTEBOOK}"} <= set(tracked)
    assert sorted(_git_ignored(tracked)) == []


@pytest.mark.parametrize("name, expected", [
    ("smithjohn_12345_6789012_convolution.ipynb", ("12345", "convolution", False)),
    ("smithjohn_late_12345_6789012_convolution.ipynb", ("12345", "convolution", True)),
    ("smithjohn_LATE_12345_6789012_convolution.ipynb", ("12345", "convolution", True)),
    # Canvas renames a resubmitted file; a browser renames a second download
    ("smithjohn_12345_6789012_convolution-2.ipynb", ("12345", "convolution", False)),
    ("smithjohn_12345_6789012_convolution (1).ipynb", ("12345", "convolution", False)),
    ("o-brien-mary_7_8_convolution_zoo.ipynb", ("7", "convolution_zoo", False)),
    ("smithjohn_12345_6789012_notes.pdf", None),
    ("convolution.ipynb", None),
])
def test_canvas_file_names(name, expected):
    """What `nbgrader zip_collect` makes of a file in a Canvas download (it matches the
    file's whole path, in downloaded/<assignment>/extracted/<zip's name>/)."""
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    path = f"/course/downloaded/{PS}/extracted/submissions/{name}"
    if not name.endswith(".ipynb"):  # skipped before the pattern is tried
        from grader.lms import CanvasCollector
        assert config.ZipCollectApp.collector_plugin == "grader.lms.CanvasCollector"
        collector = CanvasCollector(config=config)
        assert collector.collect(path) is None and expected is None
        return
    match = re.match(config.FileNameCollectorPlugin.named_regexp, path)
    got = match and (match["student_id"], match["file_id"], bool(match["late"]))
    assert got == expected


def _write_canvas_zip(course: Path, tmp_path: Path) -> Path:
    """downloaded/<PS>/archive/submissions.zip, as Canvas gives it, from the sample class."""
    by_name = {s.student: s for s in sample_class(PS)}
    staging = tmp_path / "staging"
    make_course(staging, {PS: [by_name[name] for name, _ in CANVAS.values()]})
    archive = course / "downloaded" / PS / "archive" / "submissions.zip"
    archive.parent.mkdir(parents=True)
    with zipfile.ZipFile(archive, "w") as zf:
        for name, canvas_name in CANVAS.values():
            zf.write(staging / "submitted" / name / PS / NOTEBOOK, canvas_name)
        zf.writestr("evanseve_late_103_900004_notes.pdf", b"%PDF-1.4 not a notebook")
    return archive


@pytest.mark.slow
def test_canvas_zip_collect_grade_and_export(tmp_path):
    from nbgrader.api import Gradebook

    from grader import gradebook

    start = time.monotonic()
    course = tmp_path / "course"
    course.mkdir()
    nbgrader("generate_assignment", PS, "--force", *course_args(course), "--log-level=WARN",
             cwd=ROOT)
    nbgrader("db", "assignment", "add", PS, f"--duedate={DUEDATE}", *course_args(course),
             "--log-level=WARN", cwd=ROOT)
    # this course's late policy; nbgrader reads a course folder's config after the cwd's
    (course / "nbgrader_config.py").write_text(
        'c = get_config()  # noqa: F821\nc.LateSubmissionPlugin.penalty_method = "zero"\n')
    _write_canvas_zip(course, tmp_path)
    setup = time.monotonic()

    out = nbgrader("zip_collect", PS, *course_args(course), cwd=ROOT).stdout
    assert "3 files collected, 1 files skipped" in out, out
    submitted = sorted(p.relative_to(course / "submitted").as_posix()
                       for p in (course / "submitted").rglob("*") if p.is_file())
    assert submitted == sorted([f"{uid}/{PS}/{NOTEBOOK}" for uid in CANVAS]
                               + [f"{LATE}/{PS}/timestamp.txt"])
    assert (course / "submitted" / LATE / PS / "timestamp.txt").read_text() == \
        DUEDATE_UTC[:-1] + "1"
    collected = time.monotonic()

    proc = subprocess.run([sys.executable, "-m", "grader.cli", "grade", PS, "--course",
                           str(course), "--workers", "1"], cwd=ROOT, env=subprocess_env(),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 graded on the workers" in proc.stdout, proc.stdout
    graded = time.monotonic()

    grades = course / "grades.csv"
    nbgrader("export", f"--assignment={PS}", f"--to={grades}", *course_args(course),
             "--log-level=WARN", cwd=ROOT)
    print(grades.read_text())
    print(f"setup {setup - start:.1f} s, zip_collect {collected - setup:.1f} s, "
          f"cnn-course grade {graded - collected:.1f} s, export {time.monotonic() - graded:.1f} s")

    snap = json.loads(SNAPSHOTS.read_text())
    expected_score = {uid: float(snap[f"{PS}-{name}"]["score"].split("/")[0])
                      for uid, (name, _) in CANVAS.items()}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "cnn-course") as gb:
        max_score = gb.find_assignment(PS).max_score
    with grades.open(newline="") as f:
        rows = {r["student_id"]: r for r in csv.DictReader(f)}
    assert sorted(rows) == sorted(CANVAS)
    for uid, row in rows.items():
        late = uid == LATE
        raw = expected_score[uid]
        assert row["assignment"] == PS and row["duedate"] == DUEDATE_UTC
        assert row["timestamp"] == (DUEDATE_UTC[:-1] + "1" if late else ""), uid
        assert float(row["raw_score"]) == raw, uid
        assert float(row["late_submission_penalty"]) == (raw if late else 0), uid
        assert float(row["score"]) == (0 if late else raw), uid
        assert float(row["max_score"]) == max_score, uid
    assert expected_score[LATE] > 0  # so that the penalty shows

    # each Canvas user's verdicts are their sample student's, cell by cell
    table = gradebook.rows(f"sqlite:///{course / 'gradebook.db'}")
    failing = {r.student: sorted(g for g, (score, _) in r.cells.items() if score == 0)
               for r in table}
    assert failing == {uid: snap[f"{PS}-{name}"]["failing"] for uid, (name, _) in CANVAS.items()}
    for uid in CANVAS:
        assert (course / "feedback" / uid / PS / NOTEBOOK.replace(".ipynb", ".html")).is_file()

    # everything the round trip wrote about students is git-ignored, wherever the course is
    written = [p.relative_to(course).as_posix() for p in course.rglob("*") if p.is_file()]
    private = [p for p in written if not p.startswith("release/") and p != "nbgrader_config.py"]
    assert {p.split("/")[0] for p in private} >= {"gradebook.db", "grades.csv", "submitted",
                                                 "autograded", "feedback", "downloaded",
                                                 ".cnn-course"}
    paths = [folder + p for folder in COURSE_FOLDERS for p in private]
    assert sorted(set(paths) - _git_ignored(paths)) == []
