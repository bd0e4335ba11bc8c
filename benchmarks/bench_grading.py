"""How expensive is grading?  Ratios measured side by side, in one run.

    python benchmarks/bench_grading.py [--students 3] [--repeat 3]

Prints:
1. `nbgrader autograde` seconds per submission (the model solution), against
   the floor: executing a notebook that only imports numpy and torch;
2. the out-of-process grader alone on that notebook (quick and thorough profiles);
3. `pytest exercises/ps01_convolution` on a correct notebook;
4. isolation overhead: the same grading and a bare sandbox start, in the
   bubblewrap sandbox and as a plain process, interleaved;
5. the solution's NumPy conv2d against torch.nn.functional.conv2d on the CPU,
   for a ResNet-sized layer (1x64x56x56, 3x3, 64->64);
6. what naming misconceptions costs: a failing sample student of several problem
   sets graded (public + hidden checks) with the diagnosis and without, interleaved.

``--diagnosis`` runs part 6 alone.

Not a test: timings on shared machines are noisy, ratios less so.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

import nbformat
import numpy as np

from grader import isolation, notebook as nbio, secret
from grader.cli import course_args, make_course, nbgrader, subprocess_env
from grader.device import describe_device
from grader.runner import NotebookGrader
from grader.sandbox import Sandbox
from grader.shortcuts import FROM_SCRATCH
from grader.submissions import Submission

ROOT = Path(__file__).resolve().parents[1]

PS = "ps01_convolution"


def timed(fn, repeat=1):
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def floor_notebook_seconds(repeat: int) -> float:
    import logging

    from nbclient import NotebookClient
    logging.getLogger("traitlets").setLevel(logging.ERROR)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import numpy, torch")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    return timed(lambda: NotebookClient(nb, timeout=120, kernel_name="python3").execute(),
                 repeat)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--students", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--diagnosis", action="store_true", help="only part 6: the diagnosis")
    args = ap.parse_args()
    os.environ["PATH"] = subprocess_env()["PATH"]
    os.environ.setdefault(secret.SECRET_ENV, "cnn-course benchmark")  # hidden checks need one
    if args.diagnosis:
        diagnosis_cost(args.repeat)
        return
    solution = nbio.read(ROOT / "solutions" / PS / "convolution.ipynb")
    release = nbio.read(ROOT / "exercises" / PS / "convolution.ipynb")
    correct = Submission("x", "model solution").build(solution, release)
    print(f"cnn-course grading benchmark ({describe_device()}, {os.cpu_count()} CPUs)\n")

    floor = floor_notebook_seconds(args.repeat)

    with tempfile.TemporaryDirectory() as tmp:
        course = Path(tmp) / "course"
        make_course(course, {PS: [Submission(f"s{i}", "model solution")
                                  for i in range(args.students)]})
        nbgrader("generate_assignment", PS, "--force", *course_args(course), cwd=ROOT)
        t = time.perf_counter()
        nbgrader("autograde", PS, "--force", *course_args(course), cwd=ROOT)
        per_submission = (time.perf_counter() - t) / args.students

    quick = timed(lambda: _grade(correct, hidden=False))
    thorough = timed(lambda: _grade(correct, hidden=True))

    with tempfile.TemporaryDirectory() as tmp:
        ex = Path(tmp) / PS
        shutil.copytree(ROOT / "exercises" / PS, ex)
        nbformat.write(correct, ex / "convolution.ipynb")
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(ex)]
        pytest_s = timed(lambda: subprocess.run(cmd, cwd=tmp, capture_output=True, check=True))

    rows = [
        ("floor: run a notebook that imports numpy+torch", floor, 1.0),
        ("nbgrader autograde, per submission (incl. hidden)", per_submission,
         per_submission / floor),
        ("out-of-process grader, public checks", quick, quick / floor),
        ("out-of-process grader, public + hidden checks", thorough, thorough / floor),
        ("pytest exercises/ps01_convolution (correct)", pytest_s, pytest_s / floor),
    ]
    print(f"{'grading':<52} {'seconds':>8} {'x floor':>8}")
    for name, s, ratio in rows:
        print(f"{name:<52} {s:8.2f} {ratio:8.2f}")

    isolation_overhead(correct, args.repeat)
    conv_benchmark(args.repeat)
    diagnosis_cost(args.repeat)


def isolation_overhead(nb, repeat: int) -> None:
    """Grading in the OS sandbox against a plain process, alternating runs."""
    def unisolated():
        return mock.patch.object(isolation, "choose", lambda *a, **k: isolation.Unisolated())

    def start():
        with Sandbox([("a", "x = 1")], FROM_SCRATCH) as sb:
            sb.ensure_started()

    if not isolation.choose().namespaced:
        print(f"\nisolation overhead: not measured ({isolation._bwrap_problem()})")
        return
    times = {"isolated": [], "plain": [], "start isolated": [], "start plain": []}
    for _ in range(repeat):
        times["isolated"].append(timed(lambda: _grade(nb, hidden=True)))
        times["start isolated"].append(timed(start, 5))
        with unisolated():
            times["plain"].append(timed(lambda: _grade(nb, hidden=True)))
            times["start plain"].append(timed(start, 5))
    best = {k: min(v) for k, v in times.items()}
    print(f"\n{'isolation (bubblewrap) against a plain process':<52} {'isolated':>8} "
          f"{'plain':>8} {'ratio':>8}")
    for name, a, b in [("grade ps01, public + hidden checks (s)", "isolated", "plain"),
                       ("start a sandbox and load one cell (ms)", "start isolated",
                        "start plain")]:
        scale = 1000 if name.endswith("(ms)") else 1
        print(f"{name:<52} {scale * best[a]:8.2f} {scale * best[b]:8.2f} "
              f"{best[a] / best[b]:8.2f}")


def _grade(nb, hidden: bool):
    """Grade every check cell, with the hidden checks or without."""
    with NotebookGrader(nb, hidden=hidden) as g:
        results = g.grade_all()
    assert all(r.passed for r in results.values())


#: (problem set, sample student) whose failures the diagnosis names
DIAGNOSED = [("ps01_convolution", "cho_flipped"), ("ps02_convolution_zoo", "cho_flipped"),
             ("ps05_resnet_resnext", "cho_relu"), ("ps09_training_transfer", "cho_batch_mean")]


def diagnosis_cost(repeat: int) -> None:
    """Grading a failing submission with the misconception diagnosis against without it:
    the diagnosis runs only on failure, so this is where it costs."""
    from grader import layout as layouts
    from grader.sample_class import sample_class

    def grade(nb, diagnose: bool) -> int:
        with NotebookGrader(nb, diagnose=diagnose) as g:
            return sum(bool(r.misconception) for r in g.grade_all().values())

    print(f"\n{'a failing student, public + hidden checks (s)':<52} {'named':>8} {'plain':>8} "
          f"{'ratio':>8}  cells named")
    for ps, name in DIAGNOSED:
        student = next(s for s in sample_class(ps) if s.student == name)
        notebook = layouts.load(ps).notebook
        nb = student.build(nbio.read(ROOT / "solutions" / ps / notebook),
                           nbio.read(ROOT / "exercises" / ps / notebook))
        named = grade(nb, True)  # warm: references and caches built once, as in a class
        on, off = [], []
        for _ in range(repeat):
            on.append(timed(lambda: grade(nb, True)))
            off.append(timed(lambda: grade(nb, False)))
        print(f"{ps + ' ' + name:<52} {min(on):8.2f} {min(off):8.2f} "
              f"{min(on) / min(off):8.2f}  {named}")


def conv_benchmark(repeat: int) -> None:
    import torch
    import torch.nn.functional as F
    ns: dict = {}
    exec("import numpy as np", ns)
    solution = nbio.read(ROOT / "solutions" / PS / "convolution.ipynb")
    for gid, src in nbio.answer_cells(solution):
        exec(src, ns)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 64, 56, 56))
    w = rng.standard_normal((64, 64, 3, 3))
    flops = 2 * 64 * 64 * 9 * 56 * 56
    torch.set_num_threads(os.cpu_count() or 1)
    xt, wt = torch.from_numpy(x), torch.from_numpy(w)
    rows = [
        ("solution conv2d (NumPy einsum, float64)", lambda: ns["conv2d"](x, w, padding=1)),
        ("torch F.conv2d float64", lambda: F.conv2d(xt, wt, padding=1)),
        ("torch F.conv2d float32", lambda: F.conv2d(xt.float(), wt.float(), padding=1)),
    ]
    assert np.allclose(rows[0][1](), rows[1][1]().numpy())
    times = [(name, timed(fn, repeat)) for name, fn in rows]
    base = times[1][1]
    print(f"\n{'conv2d 1x64x56x56, 3x3, 64->64, padding 1':<52} {'ms':>8} {'GFLOP/s':>8} "
          f"{'x torch64':>9}")
    for name, s in times:
        print(f"{name:<52} {1000 * s:8.1f} {flops / s / 1e9:8.1f} {s / base:9.2f}")


if __name__ == "__main__":
    main()
