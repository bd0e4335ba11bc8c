"""`cnn-course grade`: a class graded on Dask, through real processes.

One small class of problem set 1 (the model solution, the untouched release, a
wrong convolution, and a release whose first answer cell sleeps, so that a
worker can be killed while it grades) is graded

* through a real `dask scheduler` and two `dask worker` processes, one of which
  is killed with SIGKILL while it grades; then again, which grades nothing;
  and a forced regrade of one student;
* on an embedded cluster of 4 worker processes on this machine's cores (2 in CI):
  the scores do not depend on the load, and the autograded notebook of the wrong
  convolution is plain `nbgrader autograde`'s, byte for byte.

Every run's gradebook must be the one plain `nbgrader autograde` gives the
same students (``tests/catalog/snapshots/nbgrader.json``, which
``test_nbgrader_grading.py`` checks against the real thing).
"""
from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader import gradebook, parallel
from grader.cli import ROOT, course_args, make_course, nbgrader, subprocess_env
from grader.sample_class import sample_class
from grader.submissions import Submission

pytestmark = pytest.mark.slow

PS = "ps01_convolution"
SLEEPER = "dan_sleeps"
SNAPSHOTS = Path(__file__).resolve().parent / "catalog" / "snapshots" / "nbgrader.json"
DASK = Path(sys.executable).parent / "dask"


def _students() -> list[Submission]:
    by_name = {s.student: s for s in sample_class(PS)}
    sleeper = Submission(SLEEPER, "the release, whose first answer cell sleeps 5 s",
                         base="release",
                         answers={"conv_output_size_answer": "import time\ntime.sleep(5)\n"})
    return [by_name["ada_complete"], by_name["ben_untouched"], by_name["cho_flipped"], sleeper]


def _expected() -> dict[str, tuple[list[str], str]]:
    """(failing cells, score) of each student under plain `nbgrader autograde`."""
    snap = json.loads(SNAPSHOTS.read_text())
    out = {s: (snap[f"{PS}-{s}"]["failing"], snap[f"{PS}-{s}"]["score"])
           for s in ("ada_complete", "ben_untouched", "cho_flipped")}
    out[SLEEPER] = out["ben_untouched"]  # a stub that sleeps first is still a stub
    return out


def _gradebook(course: Path) -> dict[str, tuple[list[str], str]]:
    rows = gradebook.rows(f"sqlite:///{course / 'gradebook.db'}")
    return {r.student: (sorted(g for g, (score, _) in r.cells.items() if score == 0),
                        f"{r.auto_score:g}/{r.auto_max:g}") for r in rows}


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """The class, submitted, with the assignment in its gradebook: not graded yet."""
    course = tmp_path_factory.mktemp("distributed") / "course"
    make_course(course, {PS: _students()})
    nbgrader("generate_assignment", PS, "--force", *course_args(course), "--log-level=WARN",
             cwd=ROOT)
    return course


@pytest.fixture
def course(template, tmp_path) -> Path:
    copy = tmp_path / "course"
    shutil.copytree(template, copy)
    return copy


def _grade_cmd(course: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "grader.cli", "grade", PS, "--course", str(course), *args]


def _run_grade(course: Path, *args: str, timeout=300) -> str:
    proc = subprocess.run(_grade_cmd(course, *args), cwd=ROOT, env=subprocess_env(),
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


def _graded_lines(output: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in output.splitlines():
        if "] graded " in line:
            student = line.split("] graded ", 1)[1].split()[0]
            out.setdefault(student, []).append(line)
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def dask_cluster(tmp_path):
    """`dask scheduler` and two `dask worker` processes (no nanny: a killed worker stays
    dead), on localhost; yields (address, {worker name: Popen})."""
    from distributed import Client

    address = f"tcp://127.0.0.1:{_free_port()}"
    env = subprocess_env()
    procs: list[subprocess.Popen] = []
    logs = tmp_path / "dask-logs"
    logs.mkdir()

    def start(name: str, *args: str) -> subprocess.Popen:
        log = open(logs / f"{name}.log", "w")
        procs.append(subprocess.Popen([str(DASK), *args], env=env, stdout=log,
                                      stderr=subprocess.STDOUT, cwd=tmp_path))
        return procs[-1]

    try:
        start("scheduler", "scheduler", "--host", "127.0.0.1", "--port",
              address.rsplit(":", 1)[1], "--no-dashboard")
        workers = {name: start(name, "worker", address, "--name", name, "--nthreads", "1",
                               "--no-nanny", "--no-dashboard", "--local-directory",
                               str(tmp_path / name)) for name in ("w1", "w2")}
        with Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=120)
        yield address, workers
    finally:
        for proc in reversed(procs):
            _stop(proc)


def _kill_the_worker_grading(address: str, workers: dict, student: str, grading, timeout=180):
    """SIGKILL the worker whose task for ``student`` runs its sandbox; returns its address."""
    import psutil
    from distributed import Client

    deadline = time.monotonic() + timeout
    with Client(address, timeout="30s") as client:
        while time.monotonic() < deadline:
            assert grading.poll() is None, "grading finished before the worker was killed"
            info = client.scheduler_info()["workers"]  # two workers
            for worker, tasks in client.call_stack().items():
                if not any(f"-{student}-" in str(key) for key in tasks):
                    continue
                proc = workers[info[worker]["name"]]
                if psutil.Process(proc.pid).children(recursive=True):  # the sandbox is up
                    proc.send_signal(signal.SIGKILL)
                    proc.wait(timeout=30)
                    return worker
            time.sleep(0.2)
    raise AssertionError(f"no worker was seen grading {student}")


def test_real_dask_processes_survive_a_killed_worker_and_a_rerun_grades_nothing(
        course, dask_cluster):
    from distributed import Client

    address, workers = dask_cluster
    grading = subprocess.Popen(_grade_cmd(course, "--scheduler", address), cwd=ROOT,
                               env=subprocess_env(), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    start = time.monotonic()
    try:
        killed = _kill_the_worker_grading(address, workers, SLEEPER, grading)
        print(f"killed {killed} after {time.monotonic() - start:.1f} s")
        output, _ = grading.communicate(timeout=300)
    finally:
        _stop(grading)
    print(output, f"first run: {time.monotonic() - start:.1f} s")
    assert grading.returncode == 0, output
    assert _gradebook(course) == _expected()
    graded = _graded_lines(output)
    # every notebook graded once: the killed worker's task was run again, elsewhere
    assert sorted(graded) == sorted(_expected()) and all(len(v) == 1 for v in graded.values())
    assert killed not in graded[SLEEPER][0]
    results = course / parallel.RESULTS_DIR
    stored = {p: p.stat().st_mtime_ns for p in results.rglob("*.json")}
    assert len(stored) == 4

    # A rerun sends nothing to the cluster (no task reaches the scheduler), writes no result,
    # and leaves the gradebook as it was.
    with Client(address, timeout="30s") as client:
        def transitions() -> int:
            # once the first run's tasks are forgotten
            for _ in range(100):
                held, counter = client.run_on_scheduler(
                    lambda dask_scheduler: (len(dask_scheduler.tasks),
                                            dask_scheduler.transition_counter))
                if not held:
                    return counter
                time.sleep(0.1)
            raise AssertionError(f"the scheduler still holds {held} tasks")
        before = transitions()
        start = time.monotonic()
        output = _run_grade(course, "--scheduler", address)
        print(f"rerun: {time.monotonic() - start:.1f} s")
        assert transitions() == before
    assert "0 notebooks to grade, 4 unchanged" in output and not _graded_lines(output)
    assert {p: p.stat().st_mtime_ns for p in results.rglob("*.json")} == stored
    assert _gradebook(course) == _expected()

    # --force regrades (here one student, the quickest)
    start = time.monotonic()
    output = _run_grade(course, "--scheduler", address, "--force", "--student", "ben_untouched")
    print(f"forced: {time.monotonic() - start:.1f} s")
    assert "1 notebooks to grade, 0 unchanged" in output
    assert sorted(_graded_lines(output)) == ["ben_untouched"]
    again = {p: p.stat().st_mtime_ns for p in results.rglob("*.json")}
    assert [p.parts[-3] for p in stored if again[p] != stored[p]] == ["ben_untouched"]
    assert _gradebook(course) == _expected()


def test_four_workers_on_two_cores_grade_as_plain_nbgrader(course, template, tmp_path):
    start = time.monotonic()
    output = _run_grade(course, "--workers", "4")
    print(output, f"4 workers: {time.monotonic() - start:.1f} s")
    graded = _graded_lines(output)
    assert sorted(graded) == sorted(_expected()) and all(len(v) == 1 for v in graded.values())
    assert len({line.rsplit(" on ", 1)[1] for lines in graded.values() for line in lines}) > 1
    assert _gradebook(course) == _expected()
    # plain `nbgrader autograde`, for the wrong convolution: the same notebook, byte for byte
    plain = tmp_path / "plain"
    shutil.copytree(template, plain)
    nbgrader("autograde", PS, "--student=cho_flipped", *course_args(plain), cwd=ROOT)
    notebook = Path("autograded", "cho_flipped", PS, "convolution.ipynb")
    assert (plain / notebook).read_bytes() == (course / notebook).read_bytes()
