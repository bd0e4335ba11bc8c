"""Grading a whole class: `nbgrader autograde` against `cnn-course grade`, side by side.

    python benchmarks/bench_class.py [--students 200] [--modes nbgrader,workers1,workers2,dask2]

A synthetic class of problem set 1 (by default 200 students: the sample class's ten
kinds of submission over and over, so correct, wrong, crashing, hanging and untouched
ones, each one's file made unique) is graded in a fresh copy of one course folder by:

* ``nbgrader``: plain ``nbgrader autograde`` + ``generate_feedback``, one at a time;
* ``workers1``, ``workers2``: ``cnn-course grade`` on a local Dask cluster of 1 and 2
  worker processes;
* ``dask2``: ``cnn-course grade --scheduler`` through a ``dask scheduler`` and two
  ``dask worker`` processes started here;

and the floor: executing a notebook that only imports numpy and torch.  Prints
submissions per minute, the speed-up over ``nbgrader``, each mode's seconds per
submission against the floor, and fails if any two modes' gradebooks differ.

Not a test: timings on shared machines are noisy, ratios less so.
"""
from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader import gradebook, secret  # noqa: E402
from grader.cli import course_args, make_course, nbgrader, subprocess_env  # noqa: E402
from grader.device import describe_device  # noqa: E402
from grader.sample_class import sample_class  # noqa: E402
from grader.submissions import Submission  # noqa: E402

PS = "ps01_convolution"
MODES = ("nbgrader", "workers1", "workers2", "dask2")


def synthetic_class(n: int) -> list[Submission]:
    """``n`` students, the sample class's kinds in turn; a comment makes each file unique."""
    kinds = sample_class(PS)
    out = []
    for i in range(n):
        kind = kinds[i % len(kinds)]
        edit = kind.edit

        def stamp(nb, i=i, edit=edit):
            if edit is not None:
                edit(nb)
            nb.metadata["bench_student"] = i

        out.append(Submission(f"s{i:03d}_{kind.student.split('_', 1)[1]}", kind.about,
                              answers=dict(kind.answers), base=kind.base, edit=stamp))
    return out


def floor_seconds(repeat: int = 3) -> float:
    """Executing a notebook that only imports numpy and torch, best of ``repeat``."""
    import logging

    import nbformat
    from nbclient import NotebookClient

    logging.getLogger("traitlets").setLevel(logging.ERROR)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import numpy, torch")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        NotebookClient(nb, timeout=120, kernel_name="python3").execute()
        best = min(best, time.perf_counter() - start)
    return best


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalDask:
    """``dask scheduler`` and ``workers`` single-threaded ``dask worker`` processes."""

    def __init__(self, workers: int, tmp: Path):
        self.address = f"tcp://127.0.0.1:{_free_port()}"
        dask = Path(sys.executable).parent / "dask"
        env = subprocess_env()
        quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=tmp)
        self.procs = [subprocess.Popen([str(dask), "scheduler", "--host", "127.0.0.1", "--port",
                                        self.address.rsplit(":", 1)[1], "--no-dashboard"],
                                       **quiet)]
        self.procs += [subprocess.Popen([str(dask), "worker", self.address, "--nthreads", "1",
                                         "--no-dashboard", "--local-directory",
                                         str(tmp / f"w{i}")], **quiet) for i in range(workers)]
        from distributed import Client
        with Client(self.address, timeout="60s") as client:
            client.wait_for_workers(workers, timeout=120)

    def close(self):
        for proc in reversed(self.procs):
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def grade(mode: str, course: Path, tmp: Path) -> float:
    """Wall seconds to grade ``course`` in ``mode``, with feedback."""
    start = time.perf_counter()
    if mode == "nbgrader":
        nbgrader("autograde", PS, "--force", *course_args(course), cwd=ROOT)
        nbgrader("generate_feedback", PS, "--force", *course_args(course), "--log-level=WARN",
                 cwd=ROOT)
        return time.perf_counter() - start
    cmd = [sys.executable, "-m", "grader.cli", "grade", PS, "--course", str(course)]
    cluster = None
    if mode.startswith("workers"):
        cmd += ["--workers", mode.removeprefix("workers")]
    else:
        cluster = LocalDask(int(mode.removeprefix("dask")), tmp)
        start = time.perf_counter()  # a cluster is already there: not the grading's time
        cmd += ["--scheduler", cluster.address]
    try:
        subprocess.run(cmd, cwd=ROOT, env=subprocess_env(), check=True,
                       stdout=subprocess.DEVNULL)
        return time.perf_counter() - start
    finally:
        if cluster:
            cluster.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--students", type=int, default=200)
    ap.add_argument("--modes", default=",".join(MODES),
                    help="comma-separated, of: " + ", ".join(MODES))
    args = ap.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    os.environ["PATH"] = subprocess_env()["PATH"]
    os.environ.setdefault(secret.SECRET_ENV, "cnn-course benchmark")  # hidden checks need one
    students = synthetic_class(args.students)
    print(f"grading a class of {len(students)} {PS} submissions ({describe_device()}, "
          f"{os.cpu_count()} CPUs)\n", flush=True)
    floor = floor_seconds()
    seconds, books = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        template = tmp / "template"
        make_course(template, {PS: students})
        nbgrader("generate_assignment", PS, "--force", *course_args(template),
                 "--log-level=WARN", cwd=ROOT)
        for mode in modes:
            course = tmp / mode
            shutil.copytree(template, course)
            seconds[mode] = grade(mode, course, tmp)
            books[mode] = {(r.student, r.auto_score, r.auto_max) for r in
                           gradebook.rows(f"sqlite:///{course / 'gradebook.db'}")}
            print(f"  {mode:<9} {seconds[mode]:7.1f} s", flush=True)
    n = len(students)
    base = seconds.get("nbgrader")
    print(f"\nfloor (a notebook that only imports numpy and torch): {floor:.2f} s\n")
    print(f"{'mode':<10} {'seconds':>8} {'per minute':>11} {'speed-up':>9} "
          f"{'s/submission':>13} {'x floor':>8}")
    for mode in modes:
        per = seconds[mode] / n
        speedup = f"{base / seconds[mode]:.2f}x" if base else "-"
        print(f"{mode:<10} {seconds[mode]:8.1f} {60 * n / seconds[mode]:11.1f} {speedup:>9} "
              f"{per:13.2f} {per / floor:8.1f}")
    differ = [m for m in modes if books[m] != books[modes[0]]]
    if differ:
        sys.exit(f"\nscores differ between {modes[0]} and {', '.join(differ)}")
    print(f"\nevery mode gave the same {n} scores")


if __name__ == "__main__":
    main()
