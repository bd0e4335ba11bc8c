"""`cnn-course dist OUT_DIR`: what the students of a graded course receive.

The full repository is the open course: self-learners get the model answers in
``solutions/``. A graded course gives its students this copy instead: the release
(``exercises/``), the lectures, the grader and what installs it (``pyproject.toml``,
``course.sh``), with a README and an ``nbgrader_config.py`` written for students.

Left out: ``solutions/``; ``tests/`` (its catalogs are edits of the model answers);
``grader/sample_class/`` (the demo's students, edits of the model answers that it reads
from ``solutions/`` when imported); the benchmarks other than the one lecture 4 runs
(they grade or train with the model answers); ``.git``, ``.venv``, ``build/``, caches
and gradebooks.

Every text file of the copy is then searched for the model answers: each body between
``### BEGIN SOLUTION`` and ``### END SOLUTION`` and each written answer, whitespace
removed. One found fails the build and nothing is written, unless ``ACCEPTED`` lists it
with the reason it has to ship.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import tarfile
from pathlib import Path

from . import notebook as nbio

# Paths from the repository root; everything else stays behind.
INCLUDE = ("exercises", "lectures", "grader", "book", "benchmarks/bench_convolution.py",
           "LICENSE", "course.sh", ".gitignore")
LEAVE_OUT = ("grader/sample_class",)
JUNK_DIRS = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache", ".hypothesis"}
JUNK_SUFFIXES = (".pyc", ".egg-info", ".db")  # .db: a gradebook holds students' grades

README_SECTIONS = ("Syllabus", "The course as a website", "For students")

STUDENT_CONFIG = '''\
"""nbgrader configuration for the students of cnn-course.

`cnn-course validate work/<problem set>/<notebook>.ipynb` (or `nbgrader validate`) runs the
notebook in a fresh kernel; its check cells get the time the property tests need.
"""
c = get_config()  # noqa: F821 - provided by nbgrader

c.CourseDirectory.course_id = "cnn-course"

from grader.nbgrader_plugin import execute_timeout, kernel_encryption  # noqa: E402

c.Execute.timeout_func = execute_timeout
if kernel_encryption():
    c.KernelManager.transport_encryption = "auto"
'''

# Answers that ship on purpose, by (answer, file in the copy). A new file or a new answer
# fails the build until someone decides it belongs here.
ACCEPTED = {
    ("ps01_convolution/param_count_answer#1", "lectures/lecture_tools.py"):
        "lecture 3 derives the parameter count of a convolution with this code",
    ("ps01_convolution/param_count_answer#2", "lectures/lecture_tools.py"):
        "lecture 3 derives the parameter count of a linear layer with this code",
    ("ps03_lenet_alexnet/lenet5_answer#2", "grader/models/lenet.py"):
        "the reference LeNet-5's one-line forward",
    ("ps03_lenet_alexnet/alexnet2012_answer#2", "grader/models/alexnet.py"):
        "the reference AlexNet's one-line forward",
    ("ps04_vgg_googlenet/inception_answer#4", "lectures/vgg_googlenet_tools.py"):
        "lecture 6 builds the Inception module (its concatenation) for its figures",
    ("ps09_training_transfer/train_one_epoch_answer#1", "grader/references.py"):
        "the grader compares the student's loop with this textbook loop",
    ("ps09_training_transfer/evaluate_answer#1", "grader/references.py"):
        "the grader compares the student's evaluation with this textbook one",
}

_BODY = re.compile(r"^[ \t]*### BEGIN SOLUTION[ \t]*\n(.*?)^[ \t]*### END SOLUTION",
                   re.MULTILINE | re.DOTALL)


def fail(message: str):
    raise SystemExit(f"cnn-course dist: {message}")


def normalize(text: str) -> str:
    # Without whitespace, reindenting or rewrapping an answer does not hide it.
    return "".join(text.split())


def answer_material(solutions: Path) -> dict[str, str]:
    """The model answers, normalized, by ``<problem set>/<grade id>#<n>``: the bodies
    between the solution markers of each solution cell, or the whole cell where it has
    none (nbgrader then blanks all of it, as for the written answers)."""
    material = {}
    for path in sorted(solutions.glob("*/*.ipynb")):
        for cell in nbio.read(path).cells:
            meta = nbio.nbgrader_meta(cell)
            if not meta.get("solution"):
                continue
            for n, body in enumerate(_BODY.findall(cell.source) or [cell.source], 1):
                if normalize(body):
                    material[f"{path.parent.name}/{meta['grade_id']}#{n}"] = normalize(body)
    return material


def _strings(obj) -> list[str]:
    if isinstance(obj, str):
        return [obj]
    values = obj.values() if isinstance(obj, dict) else obj if isinstance(obj, list) else ()
    return [s for v in values for s in _strings(v)]


def searchable(path: Path) -> str | None:
    """The file's text, normalized; a notebook's or JSON file's strings unescaped. None for
    a binary file."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return None
    if path.suffix in (".ipynb", ".json"):
        text = "\n".join(_strings(json.loads(text)))
    return normalize(text)


def find_answers(folder: Path, material: dict[str, str]) -> list[tuple[str, str]]:
    """``(answer, file)`` for every model answer found in a file under ``folder``."""
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        text = searchable(path)
        if text:
            rel = path.relative_to(folder).as_posix()
            found += [(label, rel) for label, body in material.items() if body in text]
    return found


def _wanted(rel: Path) -> bool:
    return not (any(p in JUNK_DIRS or p.endswith(JUNK_SUFFIXES) for p in rel.parts)
                or any(rel.is_relative_to(x) for x in LEAVE_OUT))


def copy_course(root: Path, dest: Path) -> None:
    """The files of ``INCLUDE``, without ``LEAVE_OUT`` and junk."""
    for entry in INCLUDE:
        src = root / entry
        if not src.exists():
            fail(f"{src} is missing; is {root} a complete checkout of the course?")
        files = sorted(p for p in src.rglob("*") if p.is_file()) if src.is_dir() else [src]
        for path in files:
            rel = path.relative_to(root)
            if _wanted(rel):
                (dest / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, dest / rel)


def student_readme(readme: str) -> str:
    """The course README cut to its title, introduction and ``README_SECTIONS``."""
    intro, *sections = re.split(r"^(?=## )", readme, flags=re.MULTILINE)
    by_title = {s.splitlines()[0][3:].strip(): s for s in sections}
    missing = [t for t in README_SECTIONS if t not in by_title]
    if missing:
        fail(f"README.md has no section '## {missing[0]}' for the students' README")
    return intro + "\n".join(by_title[t].rstrip() + "\n" for t in README_SECTIONS)


def student_pyproject(pyproject: str) -> str:
    # tests/ stays behind: a bare `pytest` runs the problem sets' public checks instead.
    old = 'testpaths = ["tests"]'
    if old not in pyproject:
        fail(f"pyproject.toml has no `{old}` to point at exercises/")
    return pyproject.replace(old, 'testpaths = ["exercises"]')


def write_student_files(root: Path, dest: Path) -> None:
    (dest / "README.md").write_text(student_readme((root / "README.md").read_text()))
    (dest / "pyproject.toml").write_text(student_pyproject((root / "pyproject.toml").read_text()))
    (dest / "nbgrader_config.py").write_text(STUDENT_CONFIG)


def check_no_answers(folder: Path, solutions: Path) -> list[tuple[str, str]]:
    """Fails unless every model answer found in ``folder`` is ``ACCEPTED``; returns those."""
    found = find_answers(folder, answer_material(solutions))
    leaks = [f for f in found if f not in ACCEPTED]
    if leaks:
        fail(f"{len(leaks)} model answer(s) would reach the students; nothing was written:\n"
             + "\n".join(f"  {label} in {rel}" for label, rel in leaks))
    return found


def _check_out_dir(out: Path) -> None:
    if out.exists() and not out.is_dir():
        fail(f"{out} is a file; give a new or empty folder")
    if out.exists() and any(out.iterdir()):
        fail(f"{out} is not empty; give a new or empty folder (nothing is overwritten)")


def build(root: Path, out: Path) -> list[tuple[str, str]]:
    """The students' copy of the course at ``root``, in the new or empty folder ``out``;
    returns the accepted answers it holds.

    It is built beside ``out`` and renamed into place once it is checked, so a failed
    build leaves nothing behind, and a folder filled meanwhile is never overwritten."""
    solutions = root / "solutions"
    if not solutions.is_dir():
        fail(f"no solutions/ in {root}: build the students' copy from the full course")
    _check_out_dir(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = out.parent / f".{out.name}.partial-{os.getpid()}"
    stage.mkdir()
    try:
        copy_course(root, stage)
        write_student_files(root, stage)
        accepted = check_no_answers(stage, solutions)
        try:
            os.rename(stage, out)  # replaces an empty folder, never a filled one
        except OSError as e:
            fail(f"{out} could not be written ({e.strerror}); is it still empty?")
    finally:
        if stage.exists():
            shutil.rmtree(stage)
    return accepted


def write_archive(folder: Path, path: Path) -> None:
    """``path`` (.tar.gz), unpacking to a folder named like ``folder``."""
    with tarfile.open(path, "x:gz") as tar:  # "x": an existing archive is never replaced
        tar.add(folder, arcname=folder.name)


def _size(nbytes: int) -> str:
    return f"{nbytes / 1024:.0f} KiB" if nbytes < 1024 ** 2 else f"{nbytes / 1024 ** 2:.1f} MiB"


def summary(folder: Path, accepted: list, tarball: Path | None = None) -> str:
    files = [p for p in folder.rglob("*") if p.is_file()]
    line = (f"{folder}: {len(files)} files, {_size(sum(p.stat().st_size for p in files))}, "
            f"no model answers except {len(accepted)} accepted in grader.dist.ACCEPTED")
    return line + (f"; {tarball} ({_size(tarball.stat().st_size)})" if tarball else "")


def main(root: Path, out: Path, with_archive: bool = False) -> int:
    tarball = out.with_name(out.name + ".tar.gz") if with_archive else None
    if tarball and tarball.exists():
        fail(f"{tarball} exists; move it away first (nothing is overwritten)")
    accepted = build(root, out)
    if tarball:
        write_archive(out, tarball)
    print(summary(out, accepted, tarball))
    return 0
