"""`cnn-course` on the command line: students work in a copy no command overwrites (`start`),
`build` and `demo` never destroy edits in exercises/, and every error is one line.

No test here runs nbgrader: `build` is tested up to the point where it would (its `nbgrader`
is replaced), and the stubs it compares with are checked against the committed release."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

import nbformat
import pytest

from grader import cli
from grader.problems import AVAILABLE
from grader.release import unsaved_work
from tests.conftest import ROOT, notebook_name, release, solution

PS = "ps01_convolution"
NB = notebook_name(PS)
HEAVY = ("torch", "nbgrader", "nbformat", "sqlalchemy", "numpy", "dask", "hypothesis",
         "matplotlib", "grader.runner")


def run_main(capsys, *argv) -> tuple[int, str, str]:
    """``cnn-course *argv`` in process: (exit code, stdout, stderr)."""
    try:
        code = cli.main(list(argv))
    except SystemExit as err:  # argparse: --help, --version, usage errors
        code = err.code if isinstance(err.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str, command: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"cnn-course {command}: "), err
    assert "Traceback" not in err
    return lines[0]


# --- the command line itself ---------------------------------------------------------------


def test_help_imports_nothing_heavy():
    """`--help` of cnn-course and of every command: no PyTorch, nbgrader, SQLAlchemy, ...
    (measured by what is imported, not by time)."""
    script = f"""
import json, sys
from grader import cli
shown = []
for argv in [["--help"]] + [[c, "--help"] for c in {list(cli.parser()._subparsers._group_actions[0].choices)!r}]:
    try:
        cli.main(argv)
    except SystemExit as err:
        shown.append(err.code)
print(json.dumps({{"codes": shown, "heavy": [m for m in {HEAVY!r} if m in sys.modules]}}))
"""
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(found["codes"]) == {0}
    assert found["heavy"] == []
    assert "usage: cnn-course" in proc.stdout and "start" in proc.stdout


def test_every_command_and_option_has_help():
    commands = cli.parser()._subparsers._group_actions[0]
    helped = {a.dest for a in commands._choices_actions if a.help}
    assert helped == set(commands.choices) >= {"start", "build", "demo", "grade", "report",
                                                 "gradebook", "dist"}
    for name, sub in commands.choices.items():
        for action in sub._actions:
            assert action.help and action.help != "==SUPPRESS==", (name, action.dest)


def test_version(capsys):
    code, out, _ = run_main(capsys, "--version")
    assert code == 0 and out.strip() == f"cnn-course {metadata.version('cnn-course')}"


# --- clear one-line errors -----------------------------------------------------------------


def _not_a_database(tmp_path):
    (tmp_path / "notes.db").write_text("not a database\n")
    return f"sqlite:///{tmp_path / 'notes.db'}", "cannot connect"


def _empty_database(tmp_path):
    (tmp_path / "empty.db").touch()  # an empty file is an empty SQLite database
    return f"sqlite:///{tmp_path / 'empty.db'}", "not an nbgrader gradebook"


@pytest.mark.parametrize("case", [
    lambda tmp: ("nonsense://", "knows no database 'nonsense'"),
    lambda tmp: ("gradebook.db", "is not a database URL"),
    # a port nothing listens on, and a socket folder that is not there: refused at once
    lambda tmp: ("postgresql://nobody@127.0.0.1:1/cnn_course", "cannot connect"),
    lambda tmp: (f"postgresql://nobody@/cnn_course?host={tmp / 'no-server'}", "cannot connect"),
    lambda tmp: (f"sqlite:///{tmp / 'missing.db'}", "no gradebook at"),
    lambda tmp: (f"sqlite:///{tmp / 'no' / 'folder.db'}", "no gradebook at"),
    _not_a_database,
    _empty_database,
], ids=["unknown-kind", "not-a-url", "postgres-refused", "postgres-no-socket", "missing-sqlite",
        "missing-folder", "not-a-database", "empty-database"])
def test_bad_gradebook_is_one_line_and_creates_nothing(tmp_path, capsys, case):
    url, says = case(tmp_path)
    before = sorted((p.name, p.stat().st_size) for p in tmp_path.rglob("*"))
    code, out, err = run_main(capsys, "gradebook", "--db", url)
    assert code == 1 and out == ""
    assert says in one_line_error(err, "gradebook")
    assert sorted((p.name, p.stat().st_size) for p in tmp_path.rglob("*")) == before


def test_gradebook_reads_a_real_gradebook(tmp_path, capsys, monkeypatch):
    from nbgrader.api import Gradebook
    monkeypatch.setenv("PATH", cli.subprocess_env()["PATH"])  # nbgrader runs `alembic`
    with Gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}", "cnn-course") as gb:
        gb.add_assignment(PS)
        gb.add_student("ada")
    code, out, err = run_main(capsys, "gradebook", "--db", f"sqlite:///{tmp_path / 'gradebook.db'}")
    assert code == 0 and err == ""
    assert out.splitlines()[0].startswith("student")


@pytest.mark.parametrize("command", ["grade", "report"])
def test_grade_and_report_check_db_and_course_first(tmp_path, capsys, command):
    code, _, err = run_main(capsys, command, PS, "--db", f"sqlite:///{tmp_path / 'missing.db'}")
    assert code == 1 and "no gradebook at" in one_line_error(err, command)
    assert not (tmp_path / "missing.db").exists()
    code, _, err = run_main(capsys, command, PS, "--db", "nonsense://")
    assert code == 1 and "nonsense" in one_line_error(err, command)
    code, _, err = run_main(capsys, command, PS, "--course", str(tmp_path / "nowhere"))
    assert code == 1 and "no course folder" in one_line_error(err, command)


def test_runner_on_a_missing_notebook_is_one_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "grader.runner", str(tmp_path / "missing.ipynb"),
                           "--public"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip() == f"cannot grade {tmp_path / 'missing.ipynb'}: no such file"


def test_runner_on_a_folder_is_one_line(tmp_path, capsys):
    from grader import runner
    assert runner.main([str(tmp_path), "--public"]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [f"cannot grade {tmp_path}: not a file (give the path "
                                        "of a notebook, .ipynb)"]


# --- `cnn-course start`: the students' copy ------------------------------------------------


@pytest.fixture
def course(tmp_path, monkeypatch):
    """A course checkout of problem set 1 in a temporary folder (the real one untouched):
    nbgrader_config.py, solutions/ and exercises/; its `nbgrader` and layout update are
    recorded, never run."""
    root = tmp_path / "course"
    root.mkdir()
    shutil.copy(ROOT / "nbgrader_config.py", root)
    for folder in ("solutions", "exercises"):
        shutil.copytree(ROOT / folder / PS, root / folder / PS,
                        ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
    calls = []
    monkeypatch.setattr(cli, "ROOT", root)
    monkeypatch.setattr(cli, "nbgrader", lambda *args, **kw: calls.append(args))
    monkeypatch.setattr("grader.layout.update", lambda: calls.append(("layout.update",)))
    return root, calls


@pytest.mark.parametrize("name", [PS, "ps01", "ps1", "1", "convolution"])
def test_start_copies_the_release_into_work(course, capsys, name):
    root, _ = course
    code, out, err = run_main(capsys, "start", name)
    assert code == 0 and err == ""
    work = root / "work" / PS
    assert sorted(p.name for p in work.iterdir()) == sorted(
        p.name for p in (root / "exercises" / PS).iterdir())
    assert (work / NB).read_bytes() == (root / "exercises" / PS / NB).read_bytes()
    assert f"pytest {work}" in out


def test_start_never_overwrites(course, capsys):
    root, _ = course
    work = root / "work" / PS
    assert run_main(capsys, "start", "ps01")[0] == 0
    (work / NB).write_text("my work")
    (work / f"test_{Path(NB).stem}.py").unlink()
    code, out, err = run_main(capsys, "start", "ps01")
    assert code == 1
    assert (work / NB).read_text() == "my work"
    assert (work / f"test_{Path(NB).stem}.py").exists()  # what was missing comes back
    line = one_line_error(err, "start")
    assert f"{work / NB} already exists" in line and "rename or delete it" in line


def test_start_names_the_choices(course, capsys):
    for name in ("ps42", "ps0", "nothing"):
        code, _, err = run_main(capsys, "start", name)
        assert code == 2
        assert ", ".join(AVAILABLE) in one_line_error(err, "start")
    assert not (course[0] / "work").exists()


def test_work_is_git_ignored():
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    proc = subprocess.run(["git", "check-ignore", "-q", f"work/{PS}/{NB}"], cwd=ROOT)
    assert proc.returncode == 0, "work/ (the students' copies) must be in .gitignore"


def test_pytest_grades_the_students_copy():
    """`pytest work/ps01_convolution` grades the copy as `pytest exercises/` grades the
    release: the untouched stub fails ("not implemented"), a solved copy passes."""
    from grader.submissions import Submission

    (ROOT / "build").mkdir(exist_ok=True)
    # under the checkout, as work/ is: pytest reads the course's pyproject.toml
    work = Path(tempfile.mkdtemp(prefix="test-cli-", dir=ROOT / "build"))
    try:
        for copy in ("stub", "solved"):
            assert cli.main(["start", PS, "--dir", str(work / copy)]) == 0
        solved = Submission("v", "model solution").build(solution(PS), release(PS))
        nbformat.write(solved, work / "solved" / PS / NB)
        proc = subprocess.run([sys.executable, "-m", "pytest", str(work / "stub" / PS),
                               str(work / "solved" / PS), "-k", "conv_output_size_values",
                               "-p", "no:cacheprovider", "-p", "no:xdist", "-q", "-rA"],
                              cwd=ROOT, capture_output=True, text=True, timeout=600)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert any(ln.startswith("FAILED") and f"stub/{PS}" in ln for ln in lines), proc.stdout
    assert any(ln.startswith("PASSED") and f"solved/{PS}" in ln for ln in lines), proc.stdout
    assert "not implemented" in proc.stdout
    assert "1 failed, 1 passed" in lines[-1]


# --- `build` and `demo` never destroy work in exercises/ ----------------------------------


def _edit_answer(path: Path, text: str = "def conv2d(x):\n    return x  # mine") -> str:
    nb = nbformat.read(path, 4)
    cell = next(c for c in nb.cells if c.cell_type == "code"
                and c.metadata.get("nbgrader", {}).get("solution"))
    cell.source = text
    nbformat.write(nb, path)
    return cell.metadata.nbgrader.grade_id


def test_the_stubs_are_the_committed_releases():
    """The stubs `build` compares with (nbgrader's ClearSolutions on solutions/, in
    process) are the answer cells of every committed release."""
    assert unsaved_work(ROOT, ROOT / "exercises", committed=lambda *_: None) == []


def test_build_regenerates_an_untouched_release(course, capsys):
    root, calls = course
    (root / "exercises" / PS / ".ipynb_checkpoints").mkdir()  # Jupyter's, not work
    (root / "exercises" / PS / ".ipynb_checkpoints" / "x-checkpoint.ipynb").write_text("{}")
    code, _, err = run_main(capsys, "build")
    assert code == 0 and err == ""
    assert [c[:2] for c in calls if c[0] == "generate_assignment"] == [
        ("generate_assignment", ps) for ps in AVAILABLE]
    assert calls[-1] == ("layout.update",)


def test_build_refuses_to_overwrite_an_edited_answer(course, capsys):
    root, calls = course
    path = root / "exercises" / PS / NB
    gid = _edit_answer(path)
    before = path.read_bytes()
    code, out, err = run_main(capsys, "build")
    assert code == 1 and calls == [] and path.read_bytes() == before
    first, advice = err.strip().splitlines()
    assert first.startswith(f"cnn-course build: {path}") and f"answer cell {gid}" in first
    assert f"`cnn-course start {PS}`" in advice and "`cnn-course build --force`" in advice
    assert "Traceback" not in err
    # --force: the release is regenerated
    assert run_main(capsys, "build", "--force")[0] == 0
    assert ("generate_assignment", PS) in [c[:2] for c in calls]


def test_build_refuses_to_delete_added_cells_and_files(course, capsys):
    root, calls = course
    path = root / "exercises" / PS / NB
    _edit_answer(path, "  \n")  # an emptied answer cell holds no work
    nb = nbformat.read(path, 4)
    nb.cells.append(nbformat.v4.new_code_cell("scratch = 1"))
    nb.cells.append(nbformat.v4.new_markdown_cell(""))  # an empty new cell holds nothing
    nbformat.write(nb, path)
    (root / "exercises" / PS / "notes.md").write_text("mine")
    code, _, err = run_main(capsys, "build")
    assert code == 1 and calls == []
    lines = err.strip().splitlines()
    assert len(lines) == 3, err
    assert f"cell {len(nb.cells) - 1} (added)" in lines[0] and "answer cell" not in lines[0]
    assert "notes.md is not part of the release" in lines[1]


def test_build_refuses_over_an_unreadable_notebook(course, capsys):
    root, calls = course
    (root / "exercises" / PS / NB).write_text("{ half a notebook")
    code, _, err = run_main(capsys, "build")
    assert code == 1 and calls == []
    assert "cannot be read as a notebook" in err


def test_the_committed_release_counts_as_the_stubs(course):
    """Where solutions/ changed a stub since the release was committed, the committed stub
    is no edit; anything else still is."""
    root, _ = course
    path = root / "exercises" / PS / NB
    _edit_answer(path, "raise NotImplementedError('an older stub')")
    older = nbformat.read(path, 4)
    assert unsaved_work(root, root / "exercises", committed=lambda *_: older) == []
    assert len(unsaved_work(root, root / "exercises", committed=lambda *_: None)) == 1
    _edit_answer(path, "def conv2d(x):\n    return x")
    assert len(unsaved_work(root, root / "exercises", committed=lambda *_: older)) == 1


def test_demo_refuses_before_building(course, capsys, tmp_path):
    root, calls = course
    _edit_answer(root / "exercises" / PS / NB)
    code, _, err = run_main(capsys, "demo", "--out", str(tmp_path / "demo"))
    assert code == 1 and calls == [] and not (tmp_path / "demo").exists()
    assert err.startswith("cnn-course demo: ") and "`cnn-course demo --force`" in err


def test_build_in_the_students_copy_says_so(course, capsys):
    root, calls = course
    shutil.rmtree(root / "solutions")
    code, _, err = run_main(capsys, "build")
    assert code == 1 and calls == []
    assert "this is the students' copy" in one_line_error(err, "build")


def test_demo_in_the_students_copy_says_so(course, capsys, tmp_path):
    root, calls = course
    shutil.rmtree(root / "solutions")
    code, _, err = run_main(capsys, "demo", "--out", str(tmp_path / "demo"))
    assert code == 1 and calls == []
    assert "this is the students' copy" in one_line_error(err, "demo")
