"""Quiet grading: each message in feedback once, no false or harmless warnings.

In process: what ``GradeOutOfProcess`` writes, ``RestoreCells`` on a release and on an
edited check cell (against a gradebook that nbgrader's own preprocessors filled, as
``nbgrader generate_assignment`` does), and the warning filter.  With real nbgrader
(slow): autograde and generate_feedback on part of problem set 1's class (validate:
tests/test_kernel.py).
"""
from __future__ import annotations

import copy
import logging
import subprocess
import sys
import warnings

import nbformat
import pytest
from nbgrader.api import Gradebook
from nbgrader.preprocessors import (ClearHiddenTests, ClearOutput, ClearSolutions,
                                    ComputeChecksums, LockCells, SaveCells)
from sqlalchemy.exc import SAWarning

from grader import notebook as nbio
from grader.nbgrader_plugin import GradeOutOfProcess, RestoreCells, quiet_known_warnings
from grader.runner import CellResult
from tests.conftest import ROOT, notebook_name, solution, warning_lines

PS = "ps01_convolution"


def _check_cells(nb) -> dict:
    return {nbio.nbgrader_meta(c)["grade_id"]: c for c in nb.cells
            if c.cell_type == "code" and nbio.nbgrader_meta(c).get("grade")}


# --- what a check cell shows -------------------------------------------------------------


def test_each_check_cell_shows_its_verdict_once(monkeypatch):
    nb = copy.deepcopy(solution(PS))
    gids = list(_check_cells(nb))[:3]
    # the runner says in one line that the public and the hidden examples passed
    passed = f"PASSED: title [{gids[0]}] (35 examples, then 75 hidden ones)"
    results = {gids[0]: CellResult(gids[0], True, 1, passed),
               # the runner stops at a cell's first failing check: public or hidden
               gids[1]: CellResult(gids[1], False, 1, f"FAILED: title [{gids[1]}]\npublic"),
               gids[2]: CellResult(gids[2], False, 1, f"FAILED: title [{gids[2]}]\nhidden")}
    monkeypatch.setattr(GradeOutOfProcess, "_grade", lambda self, nb, res: (results, "?", []))
    GradeOutOfProcess().preprocess(nb, {})
    outputs = {gid: c.outputs for gid, c in _check_cells(nb).items()}
    assert outputs[gids[0]] == [nbformat.NotebookNode(
        output_type="stream", name="stdout",
        text=f"PASSED: title [{gids[0]}] (35 examples, then 75 hidden ones)\n")]
    for gid, detail in [(gids[1], "public"), (gids[2], "hidden")]:
        [out] = outputs[gid]
        assert out.output_type == "error"
        assert "\n".join(out.traceback).count("FAILED:") == 1 and detail in out.traceback


# --- checksums of released check cells (nbgrader issue #1961) ----------------------------


@pytest.fixture
def released(tmp_path, monkeypatch):
    """The gradebook and release of problem set 1, made by nbgrader's preprocessors in the
    order of ``nbgrader generate_assignment``; the resources autograde passes."""
    from grader.cli import subprocess_env
    monkeypatch.setenv("PATH", subprocess_env()["PATH"])  # the gradebook runs `alembic`
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    with Gradebook(url) as gb:
        gb.update_or_create_assignment(PS)
    resources = {"nbgrader": {"db_url": url, "assignment": PS,
                              "notebook": notebook_name(PS).removesuffix(".ipynb")}}
    nb = copy.deepcopy(solution(PS))
    for step in (LockCells, ClearSolutions, ClearOutput, ComputeChecksums, SaveCells,
                 ClearHiddenTests, ComputeChecksums):
        nb, _ = step().preprocess(nb, copy.deepcopy(resources))
    return nb, resources


def _restore(nb, resources, caplog) -> list[str]:
    caplog.clear()
    log = logging.getLogger("test-restore-cells")
    with caplog.at_level(logging.WARNING, logger=log.name):
        RestoreCells(log=log).preprocess(nb, copy.deepcopy(resources))
    return [r.getMessage() for r in caplog.records]


def test_released_check_cells_are_not_reported_as_edited(released, caplog):
    release, resources = released
    hidden = [gid for gid, c in _check_cells(solution(PS)).items() if "HIDDEN TESTS" in c.source]
    assert len(hidden) > 10
    nb = copy.deepcopy(release)
    assert _restore(nb, resources, caplog) == []
    cells = _check_cells(nb)
    assert all("BEGIN HIDDEN TESTS" in cells[gid].source for gid in hidden)  # as before


def test_an_edited_check_cell_is_reported_and_restored(released, caplog):
    release, resources = released
    nb = copy.deepcopy(release)
    cell = _check_cells(nb)["conv2d_stride"]
    cell.source = "print('all good!')"
    [warning] = _restore(nb, resources, caplog)
    assert "'conv2d_stride' was edited" in warning
    assert "BEGIN HIDDEN TESTS" in cell.source


# --- harmless warnings -------------------------------------------------------------------


def test_only_nbgrader_known_sqlalchemy_warnings_are_silenced():
    known = ("Object of type <SubmittedAssignment> not in session, add operation along "
             "'Student.submissions' will not proceed")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        quiet_known_warnings()
        warnings.warn_explicit(known, SAWarning, "api.py", 1, module="nbgrader.api")
        warnings.warn_explicit(known, SAWarning, "mine.py", 1, module="grader.gradebook")
        warnings.warn_explicit("another", SAWarning, "api.py", 1, module="nbgrader.api")
        warnings.warn_explicit(known, UserWarning, "api.py", 1, module="nbgrader.api")
    assert [(str(w.message), w.category, w.filename) for w in seen] == [
        (known, SAWarning, "mine.py"), ("another", SAWarning, "api.py"),
        (known, UserWarning, "api.py")]


# --- real nbgrader -----------------------------------------------------------------------


def _nbgrader(*args, cwd=ROOT) -> subprocess.CompletedProcess:
    from grader.cli import subprocess_env
    proc = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=cwd, text=True,
                          capture_output=True, env=subprocess_env(), timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


@pytest.mark.slow
def test_autograde_and_feedback_say_each_thing_once(tmp_path, snapshot):
    from grader.cli import course_args
    from grader.sample_class import sample_class
    from tests.catalog.snapshot import load

    course = tmp_path / "course"
    course.mkdir()
    args = course_args(course)
    _nbgrader("generate_assignment", PS, *args, "--log-level=WARN")
    name = notebook_name(PS)
    release = nbio.read(course / "release" / PS / name)  # this source's, whatever exercises/ is
    students = {s.student: s for s in sample_class(PS)}
    for who in ("ada_complete", "ben_untouched", "cho_flipped", "ivan_edits_cells"):
        (course / "submitted" / who / PS).mkdir(parents=True)
        nbformat.write(students[who].build(solution(PS), release),
                       course / "submitted" / who / PS / name)

    autograde = _nbgrader("autograde", PS, *args)
    assert warning_lines(autograde.stderr) == [
        "[AutogradeApp | WARNING] grader: student ivan_edits_cells (ps01_convolution/"
        "convolution): locked cell 'conv2d_stride' was edited; the source's is restored",
        "[AutogradeApp | WARNING] grader: student ivan_edits_cells (ps01_convolution/"
        "convolution): grade cell 'conv2d_groups' is missing; restored"]
    feedback = _nbgrader("generate_feedback", PS, *args)
    assert warning_lines(feedback.stderr) == []

    from grader import gradebook
    for row in gradebook.rows(f"sqlite:///{course / 'gradebook.db'}"):  # as ever
        failing = sorted(gid for gid, (score, _) in row.cells.items() if score == 0)
        assert load("nbgrader")[f"{PS}-{row.student}"] == {
            "failing": failing, "score": f"{row.auto_score:g}/{row.auto_max:g}"}

    def html(who):
        return (course / "feedback" / who / PS / name.replace(".ipynb", ".html")).read_text()

    cells = len(_check_cells(solution(PS)))
    assert html("ben_untouched").count("FAILED:") == cells  # fails every cell, each once
    assert html("ada_complete").count("PASSED:") == cells
    assert "hidden ones)" in html("ada_complete")
    cho = html("cho_flipped")
    assert cho.count("FAILED: conv2d without stride, padding, dilation or bias") == 1
    assert "This looks like: the kernel is flipped (a true convolution)." in cho
