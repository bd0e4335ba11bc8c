"""`cnn-course dist`: the students' copy of a graded course has no model answers, and its
grader works on its own."""
from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile

import pytest

from grader import cli, dist
from tests.conftest import ROOT, notebook_name


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(folder, summary line) of `cnn-course dist OUT_DIR --archive`."""
    out = tmp_path_factory.mktemp("dist") / "course"
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        assert cli.main(["dist", str(out), "--archive"]) == 0
    return out, stdout.getvalue()


def _env(folder):
    # The copy's grader, not the checkout's (installed in .venv as editable).
    return dict(os.environ, PYTHONPATH=str(folder), MPLBACKEND="Agg")


def test_the_dist_holds_the_course_without_solutions_tests_or_junk(built):
    folder, printed = built
    for kept in ("exercises", "lectures", "grader/runner.py", "README.md", "pyproject.toml",
                 "nbgrader_config.py", "course.sh", "book/conf.py"):
        assert (folder / kept).exists(), kept
    for gone in ("solutions", "tests", "grader/sample_class", ".git", ".venv", "build",
                 "benchmarks/bench_grading.py"):
        assert not (folder / gone).exists(), gone
    junk = [p for p in folder.rglob("*") if p.name in dist.JUNK_DIRS
            or p.name.endswith(dist.JUNK_SUFFIXES)]
    assert not junk
    assert len(printed.splitlines()) == 1
    assert re.search(r": \d+ files, [\d.]+ (KiB|MiB), .*course\.tar\.gz \(", printed)


def test_no_model_answer_is_in_the_dist_but_the_accepted_ones(built):
    folder, _ = built
    material = dist.answer_material(ROOT / "solutions")
    assert len({label.split("/")[0] for label in material}) == len(list(
        (ROOT / "solutions").glob("*/*.ipynb")))
    # Equal, not a subset: an accepted overlap that is gone must leave ACCEPTED too.
    assert sorted(dist.find_answers(folder, material)) == sorted(dist.ACCEPTED)


def test_the_archive_unpacks_to_the_same_files(built):
    folder, _ = built
    with tarfile.open(folder.with_name("course.tar.gz")) as tar:
        names = {m.name for m in tar.getmembers() if m.isfile()}
    assert names == {f"course/{p.relative_to(folder).as_posix()}"
                     for p in folder.rglob("*") if p.is_file()}


def test_the_scan_finds_an_answer_reindented_in_a_file_or_a_notebook(tmp_path):
    ps = "ps01_convolution"
    nb = json.loads((ROOT / "solutions" / ps / notebook_name(ps)).read_text())
    source = next("".join(c["source"]) for c in nb["cells"]
                  if c["metadata"].get("nbgrader", {}).get("grade_id") == "conv2d_answer")
    body = dist._BODY.search(source).group(1)
    (tmp_path / "copied.py").write_text("class Mine:\n" + body.replace("\n", "\n    "))
    nb["cells"] = [{"cell_type": "code", "metadata": {}, "outputs": [],
                    "execution_count": None, "source": body.splitlines(keepends=True)}]
    (tmp_path / "copied.ipynb").write_text(json.dumps(nb))
    with pytest.raises(SystemExit, match="2 model answer") as e:
        dist.check_no_answers(tmp_path, ROOT / "solutions")
    assert "ps01_convolution/conv2d_answer#1 in copied.ipynb" in str(e.value)
    assert "ps01_convolution/conv2d_answer#1 in copied.py" in str(e.value)


def test_a_build_that_would_leak_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(dist, "INCLUDE", dist.INCLUDE + ("solutions",))
    with pytest.raises(SystemExit, match="would reach the students"):
        dist.build(ROOT, tmp_path / "course")
    assert list(tmp_path.iterdir()) == []  # neither the folder nor the staged copy


def test_it_refuses_a_non_empty_folder_or_an_existing_archive(tmp_path):
    (tmp_path / "course").mkdir()
    (tmp_path / "course" / "work.txt").write_text("someone's work")
    with pytest.raises(SystemExit, match="not empty"):
        cli.main(["dist", str(tmp_path / "course")])
    assert [p.name for p in (tmp_path / "course").iterdir()] == ["work.txt"]
    assert (tmp_path / "course" / "work.txt").read_text() == "someone's work"

    (tmp_path / "other.tar.gz").write_text("an older archive")
    with pytest.raises(SystemExit, match="exists"):
        cli.main(["dist", str(tmp_path / "other"), "--archive"])
    assert not (tmp_path / "other").exists()
    assert (tmp_path / "other.tar.gz").read_text() == "an older archive"


def test_the_dists_grader_imports_and_grades_its_release(built):
    folder, _ = built
    where = subprocess.run([sys.executable, "-c", "import grader.cli; print(grader.__file__)"],
                           cwd=folder, env=_env(folder), capture_output=True, text=True)
    assert where.returncode == 0, where.stderr
    assert where.stdout.strip() == str(folder / "grader" / "__init__.py")

    ps = "ps01_convolution"
    graded = subprocess.run([sys.executable, "-m", "grader.runner", "--json",
                             f"exercises/{ps}/{notebook_name(ps)}"], cwd=folder,
                            env=_env(folder), capture_output=True, text=True, timeout=120)
    assert graded.returncode == 1, graded.stderr[-2000:]  # the untouched release fails...
    results = json.loads(graded.stdout)
    assert results and all("not implemented yet" in r["message"]
                           for r in results.values())  # ...each check for the right reason


def test_the_dists_nbgrader_config_loads(built):
    from traitlets.config import Config

    from grader.nbgrader_plugin import execute_timeout
    config = Config()
    exec((built[0] / "nbgrader_config.py").read_text(), {"get_config": lambda: config})
    assert config.Execute.timeout_func is execute_timeout
    assert "Autograde" not in config and "source_directory" not in config.CourseDirectory


def test_the_dist_builds_a_wheel(built, tmp_path):
    pytest.importorskip("setuptools")  # needed without build isolation (offline)
    shutil.copytree(built[0], tmp_path / "course")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--no-build-isolation", "--disable-pip-version-check", "-w",
                    str(tmp_path / "wheel"), str(tmp_path / "course")],
                   check=True, capture_output=True, timeout=120)
    wheel = next((tmp_path / "wheel").glob("cnn_course-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "grader/runner.py" in names and "lectures/figures.py" in names
    assert not any("sample_class" in n for n in names)
