"""Check cells in the student's kernel: Run All runs every cell, failures are shown, not
raised, and `nbgrader validate` and `cnn-course validate` still count them."""
from __future__ import annotations

import ast
import subprocess
import sys

import nbformat
import pytest

from grader import kernel
from grader.notebook import nbgrader_meta
from grader.problems import AVAILABLE
from tests.conftest import ROOT, notebook_name, release, solution, warning_lines

PS = "ps01_convolution"


def _stub(*args, **kwargs):
    raise NotImplementedError()


def _conv_output_size(n, kernel_size, stride=1, padding=0, dilation=1):
    if n + 2 * padding < dilation * (kernel_size - 1) + 1 or min(kernel_size, stride) < 1:
        raise ValueError("impossible")
    return (n + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1


def _run(check_id, namespace):
    from grader.problems import ps01_convolution
    kernel.check_in_kernel(lambda: ps01_convolution.PROBLEM_SET, PS, check_id, "quick",
                           namespace)


@pytest.fixture
def verdicts(monkeypatch):
    monkeypatch.setattr(kernel, "_verdicts", {})
    monkeypatch.delenv("NBGRADER_VALIDATING", raising=False)


@pytest.fixture
def shown(monkeypatch):
    """What the kernel displays, with an IPython shell present."""
    import IPython.display
    out = []
    monkeypatch.setattr(kernel, "_ipython", lambda: object())
    monkeypatch.setattr(IPython.display, "display", lambda data, raw: out.append(data))
    return out


def test_a_failure_in_a_notebook_is_shown_in_red_without_raising(verdicts, shown, capsys):
    _run("conv_output_size_values", {"conv_output_size": _stub})
    [data] = shown
    assert data["text/plain"].startswith("FAILED: ")
    assert "not implemented yet" in data["text/plain"]
    assert "#c62828" in data["text/html"] and "Traceback" not in data["text/html"]
    assert capsys.readouterr().err == ""


def test_a_diagnosed_misconception_is_shown_in_the_notebook(verdicts, shown):
    def ceil_size(n, kernel_size, stride=1, padding=0, dilation=1):
        _conv_output_size(n, kernel_size, stride, padding, dilation)  # raises where it must
        return -(-(n + 2 * padding - dilation * (kernel_size - 1) - 1) // stride) + 1
    _run("conv_output_size_values", {"conv_output_size": ceil_size})
    [data] = shown
    assert "This looks like: the output size rounds up instead of down." in data["text/plain"]


def test_a_failure_is_escaped_in_html(verdicts, shown):
    kernel._show_failure("FAILED: <b>x</b> [id]\nyour <script> output")
    assert "<script>" not in shown[0]["text/html"] and "&lt;script&gt;" in shown[0]["text/html"]


def test_under_nbgrader_validate_a_failure_goes_to_stderr(verdicts, monkeypatch, capsys):
    monkeypatch.setenv("NBGRADER_VALIDATING", "1")
    _run("conv_output_size_values", {"conv_output_size": _stub})
    err = capsys.readouterr().err
    assert err.startswith("FAILED: ") and "not implemented yet" in err


def test_outside_ipython_a_failure_raises(verdicts, monkeypatch):
    from grader.checks import CheckFailed
    monkeypatch.setattr(kernel, "_ipython", lambda: None)
    with pytest.raises(CheckFailed, match="not implemented yet"):
        _run("conv_output_size_values", {"conv_output_size": _stub})


def test_progress_sums_the_points_of_the_checks_run(verdicts, shown, capsys):
    assert kernel.progress(PS).startswith("0 of 32 points passing.\nNot run yet (21): ")
    _run("conv_output_size_values", {"conv_output_size": _conv_output_size})
    assert capsys.readouterr().out.startswith("PASSED: ")
    _run("same_padding", {"same_padding": _stub})
    lines = kernel.progress(PS).splitlines()
    assert lines[0] == "1 of 32 points passing."
    assert lines[1] == "Failing (1): same_padding."
    assert lines[2].startswith("Not run yet (19): conv_output_size_errors, conv2d_single")


def test_progress_congratulates_when_everything_passes(verdicts, monkeypatch):
    from grader import layout
    for cell in layout.load(PS).graded_cells(hidden=False):
        for call in cell.calls:
            kernel._verdicts[PS, call.check_id, call.profile] = True
    assert kernel.progress(PS) == "32 of 32 points passing.\nEvery check passes: save the " \
                                  "notebook and submit it."


# --- the release runs from top to bottom -----------------------------------------------------


def _raises_at_top_level(stub: str) -> bool:
    """Whether running the cell raises: a ``raise`` at module or class level."""
    tree = ast.parse(stub)
    bodies = [tree.body] + [n.body for n in tree.body if isinstance(n, ast.ClassDef)]
    return any(isinstance(s, ast.Raise) for body in bodies for s in body)


@pytest.mark.parametrize("ps", AVAILABLE)
def test_stubs_parse_and_only_tagged_cells_raise_when_run(ps):
    """JupyterLab's Run All stops at a cell that raises unless it is tagged
    ``raises-exception``: an answer stub that raises where it is defined must be tagged,
    and no class body raises (the class would not exist)."""
    for cell in release(ps).cells:
        meta = nbgrader_meta(cell)
        if cell.cell_type != "code" or not meta.get("solution"):
            continue
        tree = ast.parse(cell.source)  # a SyntaxError here is a broken stub
        classes = [n for n in tree.body if isinstance(n, ast.ClassDef)]
        assert not any(isinstance(s, ast.Raise) for c in classes for s in c.body), \
            f"{meta['grade_id']}: a class body raises; put the solution region inside a method"
        if _raises_at_top_level(cell.source):
            assert "raises-exception" in cell.metadata.get("tags", []), meta["grade_id"]


@pytest.mark.parametrize("ps", AVAILABLE)
def test_the_notebook_ends_with_progress(ps):
    last = solution(ps).cells[-1]
    assert last.source == f"from grader.problems.{ps} import progress\nprogress()"
    assert "Restart Kernel and Run All Cells" in solution(ps).cells[-2].source


@pytest.mark.slow
def test_run_all_runs_every_cell_of_the_release(tmp_path):
    """As JupyterLab's Run All: only cells tagged ``raises-exception`` may raise (nbclient
    follows the same tag), every check cell shows a failure, and the last cell sums up."""
    from nbclient import NotebookClient
    nb = nbformat.read(ROOT / "exercises" / PS / notebook_name(PS), 4)
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        if meta.get("grade") and "check(" in cell.source:
            html = [o.data["text/html"] for o in cell.outputs if "text/html" in o.get("data", {})]
            assert html and "FAILED" in html[0], meta["grade_id"]
    assert nb.cells[-1].outputs[0].text.startswith("0 of 32 points passing.")


def _validate(*args, cwd):
    from grader.cli import subprocess_env
    return subprocess.run([sys.executable, "-m", "grader.cli", "validate", *map(str, args)],
                          cwd=cwd, env=subprocess_env(), capture_output=True, text=True,
                          timeout=600)


@pytest.mark.slow
def test_validate_summarises_failures_and_exits_1(tmp_path):
    nb = tmp_path / notebook_name(PS)
    nbformat.write(release(PS), nb)
    proc = _validate(nb, cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].endswith("0 of the 32 points checked here pass; 22 cell(s) fail:")
    assert proc.stdout.count("FAILED: ") == 22
    assert "FAILED: quiz_explanation: You did not provide a response." in lines
    assert "Traceback" not in proc.stdout and "grader/" not in proc.stdout
    assert warning_lines(proc.stderr) == [], proc.stderr  # none of nbgrader's or the kernel's
