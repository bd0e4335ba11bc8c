"""exercises/ is generated from solutions/ by nbgrader, and it works for students."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import nbformat
import pytest

from grader.cli import check_release
from grader.problems import AVAILABLE
from tests.conftest import ROOT, notebook_name, release, solution


@pytest.mark.slow
def test_exercises_are_not_stale():
    stale = check_release()
    assert not stale, ("exercises/ differs from `nbgrader generate_assignment` on solutions/: "
                       "run `cnn-course build` and commit.\n" + "\n".join(stale))


@pytest.mark.parametrize("path", sorted((ROOT / "exercises").rglob("*.ipynb"))
                         + sorted((ROOT / "solutions").rglob("*.ipynb")),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_notebooks_are_stored_without_outputs(path):
    nb = nbformat.read(path, 4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:80]


def test_release_has_no_solutions_or_hidden_tests():
    for path in (ROOT / "exercises").rglob("*"):
        if path.is_file():
            text = path.read_text()
            for marker in ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS", 'profile="thorough"'):
                assert marker not in text, f"{path}: {marker}"


def _pytest(target, cwd):
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run([sys.executable, "-m", "pytest", str(target), "-q", "-p",
                           "no:cacheprovider"], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=900)


@pytest.mark.slow
def test_pytest_exercises_fails_with_not_implemented(tmp_path):
    proc = _pytest(ROOT / "exercises", cwd=tmp_path)  # any working directory
    assert proc.returncode == 1, proc.stdout[-3000:]
    assert "not implemented yet" in proc.stdout
    assert "failed" in proc.stdout.splitlines()[-1]


# The pytest and `nbgrader validate` paths are the same code for every problem set, and
# every model solution is graded in full (the sample class's ada_complete, in
# tests/test_catalog.py or under nbgrader): one problem set of functions and one of
# models prove these paths.
PATHS_PROVEN_ON = ("ps01_convolution", "ps05_resnet_resnext")
# Problem set 9's checks run probes in the kernel (training, scoped tripwires): prove that too.
KERNEL_PATHS_PROVEN_ON = PATHS_PROVEN_ON + ("ps09_training_transfer",)


@pytest.mark.slow
@pytest.mark.parametrize("ps", PATHS_PROVEN_ON)
def test_pytest_solutions_passes(tmp_path, ps):
    proc = _pytest(ROOT / "solutions" / ps, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:]


@pytest.mark.slow
@pytest.mark.parametrize("ps", KERNEL_PATHS_PROVEN_ON)
def test_nbgrader_validate_accepts_a_correct_notebook(tmp_path, ps):
    from grader.cli import subprocess_env
    from grader.submissions import Submission
    nb = Submission("v", "model solution").build(solution(ps), release(ps))
    name = notebook_name(ps)
    nbformat.write(nb, tmp_path / name)
    shutil.copy(ROOT / "nbgrader_config.py", tmp_path)  # as a student runs it, from the course
    proc = subprocess.run([sys.executable, "-m", "nbgrader", "validate", name],
                          cwd=tmp_path, env=subprocess_env(), capture_output=True, text=True, timeout=900)
    assert "Success! Your notebook passes all the tests." in proc.stdout, proc.stdout[-3000:]


@pytest.mark.parametrize("ps", AVAILABLE)
def test_every_check_cell_calls_known_checks_and_every_check_is_used(ps):
    from grader import notebook as nbio
    from grader.runner import problem_set
    calls = [c for cell in nbio.grade_cells(solution(ps)) for c in cell.calls]
    assert {c.check_id for c in calls} == set(problem_set(ps).checks)
    assert all(c.problem_set == ps for c in calls)
    assert {c.profile for c in calls} == {"quick", "thorough"}
