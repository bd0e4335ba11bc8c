"""`cnn-course`: build the exercises, grade the sample class, print a gradebook.

    cnn-course build            # solutions/ -> exercises/ with nbgrader
    cnn-course build --check    # fail if exercises/ or grader/layouts/ is stale
    cnn-course demo             # build, autograde the sample class, feedback, gradebook
    cnn-course grade ps01_convolution [--workers N] [--scheduler tcp://host:8786] [--force]
                                # grade a class in parallel on Dask, then nbgrader autograde
    cnn-course gradebook --db sqlite:///gradebook.db
    cnn-course dist OUT_DIR     # the students' copy of a graded course: no solutions
"""
from __future__ import annotations

import argparse
import filecmp
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from . import dist, gradebook, layout, notebook as nbio, parallel, secret
from .problems import AVAILABLE

ROOT = Path(__file__).resolve().parents[1]
#: the demo's grading secret: a real course keeps its own outside the repository
DEMO_SECRET = "cnn-course demo"


def _repo_root() -> Path:
    if not (ROOT / "nbgrader_config.py").exists():
        sys.exit(f"cnn-course: {ROOT} is not a checkout of the course (no nbgrader_config.py).")
    return ROOT


def subprocess_env() -> dict:
    """The environment for nbgrader and Jupyter subprocesses: nbgrader runs `alembic` and
    `jupyter` from PATH, so this environment's come first."""
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env.setdefault("MPLBACKEND", "Agg")
    return env


def nbgrader(*args, cwd: Path, show=None) -> subprocess.CompletedProcess:
    """Run an nbgrader command from ``cwd`` (where nbgrader_config.py is read)."""
    cmd = [sys.executable, "-m", "nbgrader", *args]
    proc = subprocess.Popen(cmd, cwd=cwd, env=subprocess_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if show and show(line):
            print("  " + line.rstrip(), flush=True)
    proc.wait()
    if proc.returncode != 0:
        sys.stderr.write("".join(lines[-60:]))
        raise SystemExit(f"cnn-course: `nbgrader {' '.join(args)}` failed "
                         f"(exit {proc.returncode})")
    return subprocess.CompletedProcess(cmd, proc.returncode, "".join(lines), "")


def build(release_dir: Path | None = None) -> Path:
    """Generate the release of every problem set; returns the release folder.

    The release in ``exercises/`` registers the assignments in the course's gradebook
    (nbgrader's ``db_url``), as ``nbgrader generate_assignment`` does, so that
    ``nbgrader autograde`` works next; any other release uses a scratch gradebook."""
    root = _repo_root()
    release = release_dir or root / "exercises"
    db_args = []
    if release_dir is not None:
        db = root / "build" / "release-gradebook.db"
        db.parent.mkdir(exist_ok=True)
        db_args = [f"--CourseDirectory.db_url=sqlite:///{db}"]
    for ps in AVAILABLE:
        print(f"building {ps}: solutions/{ps} -> {release / ps}", flush=True)
        nbgrader("generate_assignment", ps, "--force",
                 f"--CourseDirectory.release_directory={release}", *db_args,
                 "--log-level=WARN", cwd=root)
    if release_dir is None:
        layout.update()  # what the grader grades comes from the same source
    return release


def stale_files(expected: Path, actual: Path) -> list[str]:
    """Files that differ between two release folders (notebooks compared as JSON)."""
    diffs = []
    names = {p.relative_to(expected) for p in expected.rglob("*") if p.is_file()} | \
        {p.relative_to(actual) for p in actual.rglob("*") if p.is_file()}
    for rel in sorted(names):
        if "__pycache__" in rel.parts or ".ipynb_checkpoints" in rel.parts:
            continue
        a, b = expected / rel, actual / rel
        if not (a.exists() and b.exists()):
            diffs.append(f"{rel}: only in {'the fresh build' if a.exists() else 'exercises/'}")
        elif rel.suffix == ".ipynb":
            if nbformat.read(a, 4) != nbformat.read(b, 4):
                diffs.append(f"{rel}: differs from a fresh build")
        elif not filecmp.cmp(a, b, shallow=False):
            diffs.append(f"{rel}: differs from a fresh build")
    return diffs


def check_release() -> list[str]:
    root = _repo_root()
    with tempfile.TemporaryDirectory() as tmp:
        fresh = build(Path(tmp) / "release")
        return stale_files(fresh, root / "exercises")


def make_course(course: Path, students_by_ps: dict) -> None:
    """A fresh nbgrader course folder whose submitted/ holds the given students."""
    root = _repo_root()
    if course.exists():
        shutil.rmtree(course)
    (course / "submitted").mkdir(parents=True)
    for ps, students in students_by_ps.items():
        src_dir = root / "solutions" / ps
        nb_name = next(p.name for p in src_dir.glob("*.ipynb"))
        solution = nbio.read(src_dir / nb_name)
        release = nbio.read(root / "exercises" / ps / nb_name)
        for sub in students:
            dest = course / "submitted" / sub.student / ps
            dest.mkdir(parents=True)
            nbformat.write(sub.build(solution, release), dest / nb_name)


def course_args(course: Path) -> list[str]:
    root = _repo_root()
    return [f"--CourseDirectory.root={course}",
            f"--CourseDirectory.source_directory={root / 'solutions'}",
            "--CourseDirectory.release_directory=release"]


def _progress(line: str) -> bool:
    return ("grader:" in line or "Autograding" in line or "ERROR" in line
            or "generating feedback" in line.lower())


def grade_course(course: Path, assignments, show=_progress, workers: int | None = None):
    """Generate, autograde and give feedback on ``assignments`` in ``course``: with plain
    ``nbgrader autograde``, or, given ``workers``, on that many Dask workers
    (``grader.parallel``, as ``cnn-course grade``).  Returns the seconds grading took."""
    root = _repo_root()
    for ps in assignments:
        nbgrader("generate_assignment", ps, "--force", *course_args(course), "--log-level=WARN",
                 cwd=root)
    start = time.monotonic()
    if workers:
        # one nbgrader autograde for the whole course when it holds just these assignments
        submitted = {p.name for p in course.glob("submitted/*/*") if p.is_dir()}
        for ps in ["*"] if submitted == set(assignments) else assignments:
            parallel.grade(ps, nbgrader=nbgrader, nbgrader_args=course_args(course), cwd=root,
                           workers=workers, force=True, show=show, progress=show is not None)
        return time.monotonic() - start
    for ps in assignments:
        nbgrader("autograde", ps, "--force", *course_args(course), cwd=root, show=show)
        nbgrader("generate_feedback", ps, "--force", *course_args(course), "--log-level=WARN",
                 cwd=root)
    return time.monotonic() - start


def grade(args) -> int:
    """`cnn-course grade`: the course is nbgrader's (the current folder, its
    nbgrader_config.py), or --course."""
    extra = []
    if args.course:
        extra.append(f"--CourseDirectory.root={args.course.resolve()}")
    if args.db:
        extra.append(f"--CourseDirectory.db_url={args.db}")
    if args.student:
        extra.append(f"--CourseDirectory.student_id={args.student}")
    summary = parallel.grade(args.assignment, nbgrader=nbgrader, nbgrader_args=extra,
                             workers=args.workers, scheduler=args.scheduler, force=args.force,
                             show=_progress)
    print(f"cnn-course grade: {summary.graded} graded on the workers "
          f"({summary.seconds:.0f} s), {summary.unchanged} unchanged, {summary.failed} failed "
          f"there (graded by nbgrader autograde instead); nbgrader autograde "
          f"{summary.autograde_seconds:.0f} s, generate_feedback {summary.feedback_seconds:.0f} s",
          flush=True)
    return 0


def demo(out: Path) -> int:
    # Imported here: the sample class reads solutions/, which the students' copy lacks.
    from .sample_class import sample_class

    _repo_root()
    start = time.monotonic()
    # The demo's hidden examples come from its own secret, so its gradebook is the README's.
    os.environ[secret.SECRET_ENV] = DEMO_SECRET
    build()
    students = {ps: sample_class(ps) for ps in AVAILABLE}
    make_course(out, students)
    n = sum(len(s) for s in students.values())
    workers = os.cpu_count() or 1
    print(f"\nautograding {n} sample submissions in {out} (one sandbox per notebook, "
          f"{workers} Dask workers)", flush=True)
    seconds = grade_course(out, AVAILABLE, workers=workers)
    db = f"sqlite:///{out / 'gradebook.db'}"
    table = gradebook.rows(db)
    about = {(s.student, ps): s.about for ps, subs in students.items() for s in subs}
    print(f"\ngradebook ({db}):\n")
    print(gradebook.format_table(table, about))
    print(f"\nfeedback: {out / 'feedback'}    (grading {seconds:.0f} s, "
          f"{time.monotonic() - start:.0f} s in all)")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="cnn-course", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="generate exercises/ from solutions/ with nbgrader")
    b.add_argument("--check", action="store_true", help="only report whether exercises/ is stale")
    d = sub.add_parser("demo", help="build, then autograde the bundled sample class")
    d.add_argument("--out", type=Path, default=ROOT / "build" / "demo-course")
    r = sub.add_parser("grade", help="grade every submission of an assignment in parallel on "
                       "Dask, then nbgrader autograde and generate_feedback from the results")
    r.add_argument("assignment", metavar="ASSIGNMENT",
                   help="an assignment id, or a glob as nbgrader takes ('*': all of them)")
    r.add_argument("--workers", type=int, default=os.cpu_count() or 1, metavar="N",
                   help="worker processes of the local Dask cluster (default: one per core, "
                        "%(default)s)")
    r.add_argument("--scheduler", metavar="ADDRESS",
                   help="grade on an existing Dask cluster (tcp://host:8786) instead")
    r.add_argument("--force", action="store_true",
                   help="regrade submissions already graded with this grader, secret and budget")
    r.add_argument("--student", metavar="ID", help="only this student (a glob, as nbgrader's "
                   "--student)")
    r.add_argument("--db", metavar="URL", help="the gradebook (default: nbgrader's db_url)")
    r.add_argument("--course", type=Path, metavar="DIR",
                   help="the nbgrader course folder (default: nbgrader's, the current folder)")
    g = sub.add_parser("gradebook", help="print a gradebook as a table")
    g.add_argument("--db", default=f"sqlite:///{ROOT / 'gradebook.db'}")
    t = sub.add_parser("dist", help="the students' copy of a graded course: no solutions/, "
                       "no tests/, checked for model answers")
    t.add_argument("out", type=Path, metavar="OUT_DIR", help="a new or empty folder")
    t.add_argument("--archive", action="store_true", help="also write OUT_DIR.tar.gz beside it")
    args = parser.parse_args(argv)
    if args.command == "build":
        if args.check:
            # `build` writes both exercises/ and grader/layouts/ from solutions/
            stale = check_release() + layout.stale()
            for line in stale:
                print("stale:", line)
            print("exercises/ and grader/layouts/ are up to date" if not stale else
                  "stale: run `cnn-course build` and commit the result")
            return 1 if stale else 0
        build()
        return 0
    if args.command == "demo":
        return demo(args.out.resolve())
    if args.command == "grade":
        return grade(args)
    if args.command == "dist":
        return dist.main(_repo_root(), args.out.resolve(), with_archive=args.archive)
    print(gradebook.format_table(gradebook.rows(args.db)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
