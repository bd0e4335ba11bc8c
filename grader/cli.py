"""`cnn-course`: build the exercises, grade the sample class, print a gradebook.

    cnn-course start ps01       # students: copy problem set 1 into work/ and work there
    cnn-course validate NB      # students: run a notebook's checks, summarise, exit 1 on a failure
    cnn-course build            # solutions/ -> exercises/ with nbgrader (never over edits)
    cnn-course build --check    # fail if exercises/ or grader/layouts/ is stale
    cnn-course demo             # build, autograde the sample class, feedback, gradebook
    cnn-course grade ps01_convolution [--workers N] [--scheduler tcp://host:8786] [--force]
                                # grade a class in parallel on Dask, then nbgrader autograde
    cnn-course report ps01_convolution [--out FILE]
                                # a class report: one HTML page with plots, and a summary
    cnn-course gradebook --db sqlite:///gradebook.db
    cnn-course dist OUT_DIR     # the students' copy of a graded course: no solutions

Only the standard library is imported here: nbgrader, nbformat, SQLAlchemy and the grader
are imported by the command that uses them, so that `cnn-course --help` is fast.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from . import gradebook  # the standard library only, until used
from .problems import AVAILABLE
from .release import files as release_files, shown, unsaved_work

ROOT = Path(__file__).resolve().parents[1]
#: the demo's grading secret: a real course keeps its own outside the repository
DEMO_SECRET = "cnn-course demo"
#: where `cnn-course start` puts the students' copies (git-ignored)
WORK_DIR = "work"


class CommandError(Exception):
    """A command that cannot go on: ``main`` prints each line of the message, prefixed with
    the command, on stderr, and exits with ``code``."""

    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code


def _repo_root() -> Path:
    if not (ROOT / "nbgrader_config.py").exists():
        raise CommandError(f"{ROOT} is not a checkout of the course (no nbgrader_config.py)")
    return ROOT


def _instructor_root() -> Path:
    root = _repo_root()
    if not (root / "solutions").is_dir():
        raise CommandError(f"{root} has no solutions/: this is the students' copy of the "
                           "course, and the release is built in the instructor's repository")
    return root


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


# --- the students' work in a release: `build` never destroys it ----------------------------


class UnsavedWork(CommandError):
    """Regenerating the release would destroy what someone wrote in it."""


def _refuse_over_work(root: Path, release: Path, rerun: str) -> None:
    lines = unsaved_work(root, release)
    if lines:
        ps = sorted({p for p in AVAILABLE if any(f"{p}{os.sep}" in line for line in lines)})
        start = " and ".join(f"`cnn-course start {p}`" for p in ps) or "`cnn-course start`"
        raise UnsavedWork("\n".join(lines) + f"\nnothing was changed: copy the work with "
                          f"{start} (students work in {WORK_DIR}/), then `{rerun} --force` "
                          f"replaces {shown(release)}/ with the release")


# --- the release ---------------------------------------------------------------------------


def build(release_dir: Path | None = None, force: bool = False) -> Path:
    """Generate the release of every problem set; returns the release folder.

    The release in ``exercises/`` registers the assignments in the course's gradebook
    (nbgrader's ``db_url``), as ``nbgrader generate_assignment`` does, so that
    ``nbgrader autograde`` works next; any other release uses a scratch gradebook.
    ``exercises/`` is regenerated only where that destroys nobody's work (``unsaved_work``),
    unless ``force``: otherwise ``UnsavedWork`` says what and where, and nothing changes."""
    from . import layout

    root = _instructor_root()
    release = release_dir or root / "exercises"
    db_args = []
    if release_dir is not None:
        db = root / "build" / "release-gradebook.db"
        db.parent.mkdir(exist_ok=True)
        db_args = [f"--CourseDirectory.db_url=sqlite:///{db}"]
    elif not force:
        _refuse_over_work(root, release, "cnn-course build")
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
    import filecmp

    import nbformat

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
    import tempfile

    root = _repo_root()
    with tempfile.TemporaryDirectory() as tmp:
        fresh = build(Path(tmp) / "release")
        return stale_files(fresh, root / "exercises")


# --- a student's copy ----------------------------------------------------------------------


def problem_set_named(name: str) -> str:
    """The problem set ``name`` names: its id, a prefix of one (``ps01``), ``ps1`` or ``1``,
    or (a unique part of) the rest of its id (``convolution``, ``zoo``); ``CommandError``
    lists the choices."""
    key = name.strip().lower()
    m = re.fullmatch(r"(?:ps)?0*([1-9]\d*)", key)
    if m:
        key = f"ps{int(m.group(1)):02d}_"
    found = [ps for ps in AVAILABLE if ps == key] or \
        [ps for ps in AVAILABLE if ps.startswith(key) or ps.split("_", 1)[1] == key] or \
        [ps for ps in AVAILABLE if key in ps.split("_", 1)[1]]
    found = found if key else []
    if len(found) == 1:
        return found[0]
    what = "names several problem sets" if len(found) > 1 else "is not a problem set"
    raise CommandError(f"{name!r} {what}; the course has {', '.join(AVAILABLE)}", code=2)


def start(name: str, work: Path | None = None) -> int:
    """`cnn-course start`: copy a problem set's release into ``work/<problem set>/``, where
    students work: no command of the course overwrites a file there.  A file already there is the
    student's and is left as it is (exit 1, saying so); missing files are copied."""
    import shutil

    root = _repo_root()
    ps = problem_set_named(name)
    src = root / "exercises" / ps
    if not src.is_dir():
        raise CommandError(f"no release of {ps} in {shown(src)} (instructors: `cnn-course "
                           "build` generates it)")
    dest = (work if work is not None else root / WORK_DIR) / ps
    copied, kept = [], []
    for rel in release_files(src):
        target = dest / rel
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(src / rel, "rb") as fin, open(target, "xb") as fout:  # never overwrites
                shutil.copyfileobj(fin, fout)
        except FileExistsError:
            kept.append(rel)
            continue
        except OSError as err:
            raise CommandError(f"cannot write {shown(target)}: {err.strerror or err}") from None
        copied.append(rel)
    notebooks = [rel for rel in release_files(src) if rel.suffix == ".ipynb"]
    if copied:
        print(f"copied {shown(src)}/ -> {shown(dest)}/: {', '.join(map(str, copied))}")
    if kept:
        print(f"cnn-course start: {', '.join(shown(dest / r) for r in kept)} already "
              f"exist{'s' if len(kept) == 1 else ''} (your work): left as is; to start over, "
              f"rename or delete {'it' if len(kept) == 1 else 'them'} and run `cnn-course start "
              f"{ps}` again", file=sys.stderr)
    for rel in notebooks:
        print(f"work in {shown(dest / rel)} (`jupyter lab {shown(dest / rel)}`); "
              f"check it with `pytest {shown(dest)}`")
    return 1 if kept else 0


def validate(notebooks: list[Path]) -> int:
    """`cnn-course validate`: nbgrader's validation of each notebook, with the course's
    configuration, then a summary of its points; exit 1 when a check cell fails or was edited
    (``nbgrader validate`` exits 0 either way)."""
    from nbgrader.validator import Validator
    from traitlets.config.loader import PyFileConfigLoader

    from .notebook import nbgrader_meta, parse_calls, read

    config = PyFileConfigLoader("nbgrader_config.py", path=str(_repo_root())).load_config()
    failures = 0
    for path in notebooks:
        if not path.is_file():
            raise CommandError(f"no notebook {shown(path)}")
        cells = read(path).cells
        points = {c.source.strip(): nbgrader_meta(c).get("points", 0) for c in cells
                  if nbgrader_meta(c).get("grade") and parse_calls(c.source)}
        names = {c.source.strip(): nbgrader_meta(c).get("grade_id", "?") for c in cells}
        results = Validator(config=config).validate(str(path.resolve()))
        edited = results.get("type_changed", []) + results.get("changed", [])
        failed = {c["source"]: c["raw_error"] for c in results.get("failed", [])}
        total = sum(points.values())
        lost = sum(p for source, p in points.items() if source in failed)
        if edited:
            print(f"{shown(path)}: {len(edited)} locked cell(s) were edited, so validation "
                  "stopped; restore them from the release (`cnn-course start` copies it "
                  "beside your work):")
            for cell in edited:
                print("\n".join("    " + line for line in cell["source"].splitlines()))
        else:
            print(f"{shown(path)}: {total - lost:g} of the {total:g} points checked here pass"
                  + (f"; {len(failed)} cell(s) fail:" if failed else "."))
            for source, error in failed.items():
                error = error.strip()  # a check's message names it; nbgrader's own do not
                print("\n" + (error if error.startswith("FAILED") else
                               f"FAILED: {names.get(source, '?')}: {error}"))
        failures += bool(edited or failed)
    return 1 if failures else 0


# --- grading -------------------------------------------------------------------------------


def make_course(course: Path, students_by_ps: dict) -> None:
    """A fresh nbgrader course folder whose submitted/ holds the given students."""
    import shutil

    import nbformat

    from . import notebook as nbio

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
    from . import parallel

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


def _course_args(args) -> list[str]:
    """nbgrader's arguments for --course and --db: the course is nbgrader's (the current
    folder, its nbgrader_config.py), or --course.  Both are checked first: a missing course
    folder, a database URL that is not one, a server that does not answer and a gradebook
    that is not there are one-line errors, and no gradebook is created."""
    extra = []
    if args.course:
        if not args.course.is_dir():
            raise CommandError(f"no course folder {shown(args.course)}")
        extra.append(f"--CourseDirectory.root={args.course.resolve()}")
    if args.db:
        gradebook.check(args.db, must_exist=True)
        extra.append(f"--CourseDirectory.db_url={args.db}")
    return extra


def grade(args) -> int:
    """`cnn-course grade`."""
    from . import parallel

    extra = _course_args(args)
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


def report(args) -> int:
    """`cnn-course report`: the gradebook and stored results of nbgrader's course, as for
    `cnn-course grade`."""
    from . import parallel, report as class_report

    coursedir, _ = parallel.nbgrader_settings(args.assignment, _course_args(args), Path.cwd())
    root = Path(coursedir.root).resolve()
    found = class_report.load(args.assignment, coursedir.db_url, coursedir.course_id,
                              root / parallel.RESULTS_DIR)
    out = class_report.write(found, args.out or root / "reports" / f"{args.assignment}.html")
    print(class_report.summary(found))
    print(f"report: {out}")
    return 0


def demo(out: Path, force: bool = False) -> int:
    from . import secret

    root = _instructor_root()
    start = time.monotonic()
    # Before anything else: the demo regenerates exercises/, which must not hold work.
    if not force:
        _refuse_over_work(root, root / "exercises", "cnn-course demo")
    # Imported here: the sample class reads solutions/, which the students' copy lacks.
    from .sample_class import sample_class

    # The demo's hidden examples come from its own secret, so its gradebook is the README's.
    os.environ[secret.SECRET_ENV] = DEMO_SECRET
    build(force=True)  # checked above
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


# --- the command line ----------------------------------------------------------------------


def version() -> str:
    """The installed distribution's version (the package's own when not installed)."""
    from importlib import metadata

    try:
        return metadata.version("cnn-course")
    except metadata.PackageNotFoundError:
        from . import __version__
        return __version__


class _Version(argparse.Action):
    """``--version``, looked up only when asked for."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS,
                 help="print cnn-course's version and exit"):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"{parser.prog} {version()}")
        parser.exit()


def parser() -> argparse.ArgumentParser:
    course_help = "the nbgrader course folder (default: nbgrader's, the current folder)"
    db_help = ("the gradebook, an SQLAlchemy URL: sqlite:///FILE (which must exist) or "
               "postgresql://user@host/db (default: nbgrader's db_url)")
    p = argparse.ArgumentParser(prog="cnn-course", description=__doc__.split("\n\n")[0])
    p.add_argument("--version", action=_Version)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    s = sub.add_parser("start", help="students: copy a problem set's release into work/ and "
                       "work there (never overwrites a file)",
                       description="Copy the release of a problem set (exercises/PS/) into "
                       "work/PS/, where no command of the course overwrites a file: one already "
                       "there is left as it is (exit 1), one missing is copied. Check your copy "
                       "with `pytest work/PS`.")
    s.set_defaults(run=lambda a: start(a.problem_set, a.dir))
    s.add_argument("problem_set", metavar="PS",
                   help=f"the problem set: its id or the start of it ({', '.join(AVAILABLE)}; "
                        "ps01 or 1 will do)")
    s.add_argument("--dir", type=Path, metavar="DIR",
                   help=f"the folder that receives PS/ (default: {WORK_DIR}/ in the course, "
                        "which git ignores)")
    v = sub.add_parser("validate", help="students: run a notebook's checks as nbgrader "
                       "validate does, and summarise its points (exit 1 on a failure)",
                       description="Run the notebook in a fresh kernel with nbgrader's "
                       "validator and the course's configuration, then print how many points "
                       "pass and each failing check. Exits 1 when a check fails or a locked "
                       "cell was edited.")
    v.set_defaults(run=lambda a: validate(a.notebooks))
    v.add_argument("notebooks", nargs="+", type=Path, metavar="NOTEBOOK",
                   help="a notebook, e.g. work/ps01_convolution/convolution.ipynb")
    b = sub.add_parser("build", help="generate exercises/ from solutions/ with nbgrader",
                       description="Generate exercises/ from solutions/ with nbgrader and "
                       "grader/layouts/ from the same source. Refuses to overwrite a release "
                       "notebook someone has edited (answer cells that differ from the stubs, "
                       "added cells) or to delete files nbgrader would not write back.")
    b.set_defaults(run=build_command)
    b.add_argument("--check", action="store_true",
                   help="only report whether exercises/ or grader/layouts/ is stale")
    b.add_argument("--force", action="store_true",
                   help="regenerate exercises/ even over edited notebooks (their edits are lost)")
    d = sub.add_parser("demo", help="build, then autograde the bundled sample class")
    d.set_defaults(run=lambda a: demo(a.out.resolve(), force=a.force))
    d.add_argument("--out", type=Path, default=ROOT / "build" / "demo-course", metavar="DIR",
                   help="the demo's course folder, replaced on each run (default: "
                        "build/demo-course)")
    d.add_argument("--force", action="store_true",
                   help="rebuild exercises/ even over edited notebooks (as build --force)")
    r = sub.add_parser("grade", help="grade every submission of an assignment in parallel on "
                       "Dask, then nbgrader autograde and generate_feedback from the results")
    r.set_defaults(run=grade)
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
    r.add_argument("--db", metavar="URL", help=db_help)
    r.add_argument("--course", type=Path, metavar="DIR", help=course_help)
    t = sub.add_parser("report", help="a class report: one HTML page with the score "
                       "histogram, each check's pass rate, the slowest submissions and the "
                       "students whose grading hit errors or limits")
    t.set_defaults(run=report)
    t.add_argument("assignment", metavar="ASSIGNMENT", help="an assignment id")
    t.add_argument("--out", type=Path, metavar="FILE",
                   help="the page to write (default: <course>/reports/ASSIGNMENT.html)")
    t.add_argument("--db", metavar="URL", help=db_help)
    t.add_argument("--course", type=Path, metavar="DIR", help=course_help)
    g = sub.add_parser("gradebook", help="print a gradebook as a table")
    g.set_defaults(run=gradebook_command)
    g.add_argument("--db", default=f"sqlite:///{ROOT / 'gradebook.db'}", metavar="URL",
                   help="the gradebook, an SQLAlchemy URL: sqlite:///FILE (which must exist) or "
                        "postgresql://user@host/db (default: the course's gradebook.db)")
    o = sub.add_parser("dist", help="the students' copy of a graded course: no solutions/, "
                       "no tests/, checked for model answers")
    o.set_defaults(run=dist_command)
    o.add_argument("out", type=Path, metavar="OUT_DIR", help="a new or empty folder")
    o.add_argument("--archive", action="store_true", help="also write OUT_DIR.tar.gz beside it")
    return p


def build_command(args) -> int:
    if not args.check:
        build(force=args.force)
        return 0
    from . import layout

    # `build` writes both exercises/ and grader/layouts/ from solutions/
    stale = check_release() + layout.stale()
    for line in stale:
        print("stale:", line)
    print("exercises/ and grader/layouts/ are up to date" if not stale else
          "stale: run `cnn-course build` and commit the result")
    return 1 if stale else 0


def dist_command(args) -> int:
    from . import dist

    return dist.main(_repo_root(), args.out.resolve(), with_archive=args.archive)


def gradebook_command(args) -> int:
    print(gradebook.format_table(gradebook.rows(args.db)))
    return 0


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except (CommandError, gradebook.GradebookError) as err:
        for line in str(err).splitlines():
            print(f"cnn-course {args.command}: {line}", file=sys.stderr)
        return getattr(err, "code", 1)
    except OSError as err:  # a file or folder that is not there, or not writable
        where = f" ({err.filename})" if err.filename else ""
        print(f"cnn-course {args.command}: {err.strerror or err}{where}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"cnn-course {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
