"""Grade a class in parallel, on Dask: ``cnn-course grade ASSIGNMENT``.

    cnn-course grade ps01_convolution                     # a local cluster, one worker per core
    cnn-course grade ps01_convolution --workers 4
    cnn-course grade ps01_convolution --scheduler tcp://host:8786   # an existing Dask cluster
    cnn-course grade ps01_convolution --force             # regrade what is already graded

The coordinator (this process, the instructor's) lists the submissions as
nbgrader does, and sends each notebook, as the bytes of its file, to a Dask
worker with plain data: the grading secret, the budget.  The worker grades it
with ``grade_notebook``, the function ``nbgrader autograde`` calls
(``GradeOutOfProcess``), and sends back plain data: each check cell's verdict.
No shared file system is assumed.

Only the coordinator writes files.  It stores each result under the course
(``.cnn-course/results/<student>/<assignment>/<notebook>.json``) and then runs
the real ``nbgrader autograde`` once, told where the results are
(``c.GradeOutOfProcess.results_directory``): a notebook whose stored result was
graded from the same answer cells, by the same grader, secret and budget, takes
it instead of being graded again; any other is graded there as before.  So the
scores, the gradebook, late penalties, the autograded notebooks and the feedback
come from nbgrader's own pipeline, as with ``nbgrader autograde`` alone.

A rerun sends only notebooks whose file, grader version, secret or budget
changed (``--force``: all of them).  A worker that dies mid-grade has its
notebook regraded on another by Dask (``retries``, and the scheduler's
``distributed.scheduler.allowed-failures``); each result is written once, by the
coordinator.  A notebook the workers could not grade is graded by ``nbgrader
autograde`` itself, so nobody is left out.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import logging
import os
import sys
import time
import uuid
from pathlib import Path

from . import __version__, gradebook, layout as layouts, notebook as nbio, secret as grading_secret
from .isolation import IsolationUnavailable

#: where, under the course folder, the coordinator keeps the workers' results
RESULTS_DIR = Path(".cnn-course") / "results"
#: tries of one notebook after its task raised (a worker that dies is the scheduler's
#: ``allowed-failures``)
RETRIES = 2
#: how many times a notebook may be on a worker that dies before Dask gives up on it
ALLOWED_FAILURES = 3


# --- what a result is keyed by ----------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def grader_version(problem_set: str | None = None) -> str:
    """cnn-course's version and a digest of what decides a verdict in ``problem_set``: the
    grader's code and layouts (of the other problem sets, none: a fix to one regrades only
    its own), and the versions of Hypothesis (the hidden examples), NumPy and PyTorch.  A
    stored result is used only under the same one."""
    import hypothesis
    import numpy
    import torch

    from .problems import AVAILABLE

    package = Path(__file__).resolve().parent
    others = {f"{name}{ext}" for ps in AVAILABLE if ps != problem_set and problem_set
              for name, ext in ((f"problems/{ps}", ".py"), (f"layouts/{ps}", ".json"))}
    digest = hashlib.sha256()
    for path in sorted([*package.rglob("*.py"), *(package / "layouts").glob("*.json")]):
        rel = path.relative_to(package).as_posix()
        if rel.startswith("sample_class/") or rel in others:
            continue
        digest.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update(f"{hypothesis.__version__} {numpy.__version__} {torch.__version__}".encode())
    return f"{__version__}+{digest.hexdigest()[:16]}"


def secret_digest(secret: str | None) -> str:
    """What a result records of the grading secret: a digest, never the secret."""
    if not secret:
        return ""
    return hashlib.sha256(b"cnn-course grading secret\0" + secret.encode()).hexdigest()[:16]


def program_digest(problem_set: str, cells) -> str:
    """The digest of what the sandbox runs of a notebook: its answer cells, by name."""
    return hashlib.sha256(json.dumps([problem_set, [list(c) for c in cells]],
                                     ensure_ascii=False).encode()).hexdigest()


def file_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- the stored results -------------------------------------------------------------------------


def result_path(results_dir, student: str, assignment: str, notebook: str) -> Path:
    """Where the result of ``<student>/<assignment>/<notebook>.ipynb`` is kept."""
    return Path(results_dir) / student / assignment / f"{notebook}.json"


def read_result(path: Path) -> dict | None:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def write_result(path: Path, record: dict) -> None:
    """Atomically: a coordinator killed mid-write leaves the old result or none."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(record, indent=1, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)


def same_grading(record: dict | None, *, secret: str | None, budget_s: float) -> bool:
    """Whether ``record`` was graded by this grader, with this secret and budget."""
    return bool(record) and \
        record.get("grader_version") == grader_version(record.get("problem_set")) and \
        record.get("secret") == secret_digest(secret) and \
        float(record.get("budget_s", -1)) == float(budget_s)


def stored_result(results_dir, info: dict, nb, hints, *, secret: str | None,
                  budget_s: float) -> Graded | None:
    """The stored verdicts of notebook ``nb`` (as ``nbgrader autograde`` has sanitized it),
    if they were graded from the same answer cells, by the same grader, secret and budget.
    The notes come from ``nb`` itself, as ``grade_notebook`` would make them."""
    from .nbgrader_plugin import INTERNAL_ERROR, Graded
    from .runner import CellResult

    record = read_result(result_path(results_dir, info.get("student", ""),
                                     info.get("assignment", ""), info.get("notebook", "")))
    if not same_grading(record, secret=secret, budget_s=budget_s) or \
            record.get("status") != "graded":
        return None
    try:
        ps = layouts.identify(nb, list(hints))
        answers = nbio.answers(nb, layouts.load(ps))
    except nbio.MalformedNotebook:
        return None
    if program_digest(ps, answers.cells) != record.get("program"):
        return None
    try:
        results = {gid: CellResult(**r) for gid, r in record["results"].items()}
    except (KeyError, TypeError, AttributeError):
        return None
    return Graded(results, INTERNAL_ERROR, list(answers.notes), "graded", ps,
                  record["program"], record.get("isolation"))


# --- the Dask task: plain data in, plain data out ------------------------------------------------


class _Collect:
    """A logger that keeps its lines, for the coordinator to print."""

    def __init__(self):
        self.lines: list[tuple[str, str]] = []

    def _add(self, level, msg, *args):
        self.lines.append((level, msg % args if args else msg))

    def info(self, msg, *args):
        self._add("info", msg, *args)

    def warning(self, msg, *args):
        self._add("warning", msg, *args)

    def error(self, msg, *args):
        self._add("error", msg, *args)


@functools.lru_cache(maxsize=None)
def _warm_up() -> None:
    """Once per worker process: torch imported, one intra-op thread (workers run side by
    side), the grader's modules loaded."""
    import torch

    import grader.nbgrader_plugin  # noqa: F401 - the checks, references, problem sets

    torch.set_num_threads(1)


def _worker_address() -> str:
    try:
        from distributed import get_worker
        return get_worker().address
    except (ImportError, ValueError):
        return f"pid {os.getpid()}"


def grade_task(data: bytes, job: dict) -> dict:
    """The Dask task: grade one submitted notebook, given the bytes of its file.

    ``job`` holds ``student``, ``assignment``, ``notebook`` (its id, no ``.ipynb``),
    ``secret``, ``budget_s`` and ``require_isolation``.  Returns plain data:
    ``status``, ``results`` (``CellResult.to_json()`` by grade id), ``notes``,
    ``otherwise``, ``program``, ``grader_version``, the log lines, the worker and times.
    """
    from .nbgrader_plugin import Graded, grade_notebook

    start = time.monotonic()
    _warm_up()  # the first task of a worker process: seconds; after that, nothing
    warm_up_s = time.monotonic() - start
    start, cpu = time.monotonic(), time.process_time()
    who = f"student {job['student']} ({job['assignment']}/{job['notebook']})"
    log = _Collect()
    out = {"worker": _worker_address(), "pid": os.getpid()}
    try:
        nb = nbio.parse(data)
    except nbio.MalformedNotebook as err:
        graded = Graded({}, "Your notebook could not be read, so nothing in it was graded: "
                        f"{err}.", [], "malformed")
    else:
        try:
            graded = grade_notebook(nb, hints=[job["assignment"], job["notebook"]],
                                    secret=job["secret"], budget_s=job["budget_s"],
                                    require_isolation=job["require_isolation"], log=log,
                                    who=who)
        except (grading_secret.MissingSecret, IsolationUnavailable) as err:
            out.update(status="setup_error", message=f"{type(err).__name__}: {err}")
            graded = None
    if graded is not None:
        out.update(status=graded.status, problem_set=graded.problem_set,
                   program=graded.program, isolation=graded.isolation,
                   results={gid: r.to_json() for gid, r in graded.results.items()},
                   otherwise=graded.otherwise, notes=graded.notes,
                   grader_version=grader_version(graded.problem_set))
    out.update(log=log.lines, seconds=time.monotonic() - start,
               cpu_seconds=time.process_time() - cpu, warm_up_seconds=warm_up_s)
    return out


# --- the coordinator ------------------------------------------------------------------------------


@dataclasses.dataclass
class Submission:
    student: str
    assignment: str
    notebook: str  # its id: the file name without .ipynb
    path: Path
    data: bytes = b""
    digest: str = ""
    #: where its result is kept, and what the worker needs besides the notebook
    results_dir: Path | None = None
    job: dict = dataclasses.field(default_factory=dict)
    #: the seconds it took last time: the longest are sent first, so none is left for last
    priority: int = 0


@dataclasses.dataclass
class Summary:
    graded: int = 0       # graded on the workers this run
    unchanged: int = 0    # skipped: the stored result is still good
    failed: int = 0       # left to nbgrader autograde
    seconds: float = 0.0  # the workers' part, wall clock
    autograde_seconds: float = 0.0
    feedback_seconds: float = 0.0


@contextlib.contextmanager
def _cwd(path: Path):
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def nbgrader_settings(assignment: str, nbgrader_args, cwd: Path):
    """The course folder and ``GradeOutOfProcess`` settings that ``nbgrader autograde
    ASSIGNMENT *nbgrader_args`` run from ``cwd`` would use: read by nbgrader itself."""
    from nbgrader.apps import AutogradeApp

    from .nbgrader_plugin import GradeOutOfProcess

    with _cwd(cwd):
        app = AutogradeApp()
        app.log.setLevel("ERROR")
        app.initialize([assignment, *nbgrader_args])
        options = GradeOutOfProcess(parent=app)
        coursedir = app.coursedir
    app.clear_instance()
    return coursedir, options


def find_submissions(coursedir, assignment: str) -> list[Submission]:
    """``submitted/<student>/<assignment>/*.ipynb`` as ``nbgrader autograde ASSIGNMENT`` finds
    them (``assignment`` and ``--student`` may be globs), of the notebooks the gradebook
    knows."""
    import glob
    import re

    from nbgrader.api import Gradebook

    root = Path(coursedir.root)
    with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
        known = {a.name: {n.name for n in a.notebooks} for a in gb.assignments}
    pattern = coursedir.format_path(coursedir.submitted_directory, coursedir.student_id or "*",
                                    assignment)
    regexp = coursedir.format_path(coursedir.submitted_directory, "(?P<student_id>.*)",
                                   "(?P<assignment_id>.*)", escape=True)
    excluded = set(filter(None, coursedir.student_id_exclude.split(",")))
    out, unknown = [], set()
    for folder in sorted(glob.glob(pattern)):
        m = re.match(regexp, folder)
        if m is None or m.group("student_id") in excluded or not os.path.isdir(folder):
            continue
        student, name = m.group("student_id"), m.group("assignment_id")
        if name not in known:
            unknown.add(name)
            continue
        for path in sorted(Path(folder).glob("*.ipynb")):
            if path.stem in known[name]:
                out.append(Submission(student, name, path.stem, path.resolve()))
    if unknown:
        raise SystemExit(f"cnn-course grade: no assignment {', '.join(sorted(unknown))} in the "
                         f"gradebook {gradebook.shown_url(coursedir.db_url)}: run `nbgrader "
                         "generate_assignment` (or "
                         "`nbgrader db assignment add`) first")
    if not out:
        print(f"cnn-course grade: no submissions in {root / coursedir.submitted_directory}"
              f"/*/{assignment}/", file=sys.stderr)
    return out


@contextlib.contextmanager
def dask_client(workers: int | None, scheduler: str | None):
    """A client of the Dask cluster at ``scheduler``, or of a local one with ``workers``
    worker processes, one thread each."""
    import dask
    from distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler, timeout="30s") as client:
            try:
                info = client.scheduler_info(n_workers=-1)  # all of them (distributed 2025)
            except TypeError:
                info = client.scheduler_info()
            if any(w.get("nthreads", 1) > 1 for w in info["workers"].values()):
                print("cnn-course grade: warning: workers with several threads grade several "
                      "notebooks in one process; start them with `--nthreads 1`",
                      file=sys.stderr)
            yield client
        return
    with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES}):
        with LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1,
                          processes=True, dashboard_address=None, silence_logs=logging.ERROR) \
                as cluster, Client(cluster) as client:
            yield client


def _score(record: dict) -> str:
    results = record.get("results") or {}
    score = sum(r["points"] for r in results.values() if r["passed"])
    points = sum(r["points"] for r in results.values())
    return f"{score:g}/{points:g}"


def grade_on_workers(todo: list[Submission], *, workers: int | None, scheduler: str | None,
                     summary: Summary, progress: bool = True) -> list[Submission]:
    """Grade ``todo`` on Dask and store each result; returns the submissions that failed."""
    from distributed import as_completed
    from tqdm import tqdm

    failed = []
    start = time.monotonic()
    with dask_client(workers, scheduler) as client:
        futures = {}
        for sub in todo:
            key = f"grade-{sub.assignment}-{sub.student}-{sub.notebook}-{uuid.uuid4().hex[:8]}"
            futures[client.submit(grade_task, sub.data, sub.job, key=key, pure=False,
                                  retries=RETRIES, priority=sub.priority)] = sub
        total, done = len(futures), 0
        # the bar where someone watches; a line per submission in any case
        bar = tqdm(total=total, unit="notebook", desc="grading", file=sys.stderr,
                   disable=not (progress and sys.stderr.isatty()), dynamic_ncols=True)
        write = bar.write if not bar.disable else functools.partial(print, flush=True)
        if not client.scheduler_info()["workers"]:
            write(f"cnn-course grade: waiting for workers to join {client.scheduler.address}")
        for future in as_completed(futures):
            done += 1
            sub = futures.pop(future)
            name = f"{sub.student} {sub.assignment}/{sub.notebook}.ipynb"
            left = (time.monotonic() - start) / done * (total - done)
            count = f"[{done}/{total}{f', {len(failed)} failed' if failed else ''}" + (
                "]" if done == total else f", ~{left:.0f} s left]" if left < 120 else
                f", ~{left / 60:.0f} min left]")
            try:
                out = future.result()
            except Exception as err:  # noqa: BLE001 - KilledWorker, a lost scheduler...
                out = {"status": "task_error", "message": f"{type(err).__name__}: {err}"}
            for level, line in out.get("log", ()):
                if level != "info":
                    write(f"  {line}")
            status = out.get("status")
            if status == "setup_error":
                bar.close()
                for other in futures:
                    other.cancel()
                raise SystemExit(f"cnn-course grade: {out.get('worker')} cannot grade "
                                 f"({name}): {out['message']}")
            ours = grader_version(out.get("problem_set"))
            if status in ("graded", "malformed") and out["grader_version"] != ours:
                status, out["message"] = "task_error", (
                    f"the worker {out.get('worker')} runs grader {out['grader_version']}, "
                    f"this coordinator {ours}: install the same cnn-course there")
            if status in ("graded", "malformed"):
                record = {"student": sub.student, "assignment": sub.assignment,
                          "notebook": sub.notebook, "notebook_sha256": sub.digest,
                          "secret": secret_digest(sub.job["secret"]),
                          "budget_s": sub.job["budget_s"],
                          "graded_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                          **{k: v for k, v in out.items() if k != "log"}}
                write_result(result_path(sub.results_dir, sub.student, sub.assignment,
                                         sub.notebook), record)
                summary.graded += 1
                what = _score(record) if status == "graded" else "cannot be graded"
                if out.get("isolation") == "unisolated":
                    what += " (UNISOLATED: the worker has no sandbox)"
                write(f"{count} graded {name}: {what} in {out['seconds']:.1f} s on "
                      f"{out['worker']}")
            else:
                failed.append(sub)
                summary.failed += 1
                bar.set_postfix(failed=len(failed))
                why = out.get("message") or "internal grader error (log above)"
                write(f"{count} FAILED {name}: {why}; nbgrader autograde will grade it here")
            bar.update(1)
        bar.close()
    summary.seconds = time.monotonic() - start
    return failed


def grade(assignment: str, *, nbgrader, nbgrader_args=(), cwd: Path | None = None,
          workers: int | None = None, scheduler: str | None = None, force: bool = False,
          feedback: bool = True, progress: bool = True, show=None) -> Summary:
    """Grade every submission of ``assignment`` (an id, or a glob as nbgrader takes: ``*``)
    on Dask, then run ``nbgrader autograde`` and ``generate_feedback`` once, on the results.

    ``nbgrader(*args, cwd=, show=)`` runs an nbgrader command (``grader.cli.nbgrader``);
    ``nbgrader_args`` are passed to every one (``--CourseDirectory.root=...``), from
    ``cwd`` (where ``nbgrader_config.py`` is read; default: the current folder).
    """
    cwd = Path(cwd or os.getcwd()).resolve()
    summary = Summary()
    coursedir, options = nbgrader_settings(assignment, nbgrader_args, cwd)
    results_dir = Path(coursedir.root).resolve() / RESULTS_DIR
    secret = grading_secret.load(options.secret_file or None)
    budget_s = float(options.budget_s)
    todo = []
    for sub in find_submissions(coursedir, assignment):
        sub.data = sub.path.read_bytes()
        sub.digest = file_digest(sub.data)
        if len(sub.data) > nbio.MAX_NOTEBOOK_BYTES:
            continue  # nbgrader autograde tells the student, without running anything
        record = read_result(result_path(results_dir, sub.student, sub.assignment,
                                         sub.notebook))
        if not force and same_grading(record, secret=secret, budget_s=budget_s) and \
                record.get("notebook_sha256") == sub.digest:
            summary.unchanged += 1
            continue
        sub.results_dir = results_dir
        sub.priority = round(float((record or {}).get("seconds") or 0))
        sub.job = {"student": sub.student, "assignment": sub.assignment,
                   "notebook": sub.notebook, "secret": secret, "budget_s": budget_s,
                   "require_isolation": bool(options.require_isolation)}
        todo.append(sub)
    print(f"cnn-course grade: {len(todo)} notebooks to grade, {summary.unchanged} unchanged "
          "since they were graded", flush=True)
    if todo:
        grade_on_workers(todo, workers=workers, scheduler=scheduler, summary=summary,
                         progress=progress)
        print(f"cnn-course grade: {summary.graded} graded on the workers in "
              f"{summary.seconds:.1f} s, {summary.failed} left to nbgrader autograde",
              flush=True)
    if not force:
        # nbgrader autograde skips a submission it has graded unless the file is newer: one
        # graded again here (by a new grader, secret or budget) goes through it again
        for sub in todo:
            _remove(Path(coursedir.format_path(coursedir.autograded_directory, sub.student,
                                               sub.assignment)))
    extra = ["--force"] if force else []
    start = time.monotonic()
    nbgrader("autograde", assignment, *extra, *nbgrader_args,
             f"--GradeOutOfProcess.results_directory={results_dir}", cwd=cwd, show=show)
    summary.autograde_seconds = time.monotonic() - start
    if feedback:
        start = time.monotonic()
        nbgrader("generate_feedback", assignment, *extra, *nbgrader_args, "--log-level=WARN",
                 cwd=cwd)
        summary.feedback_seconds = time.monotonic() - start
    return summary


def _remove(path: Path) -> None:
    import shutil
    if path.is_dir():
        shutil.rmtree(path)
