"""Grading time per model notebook, before the model checks' training steps,
initialisation checks and realistic sizes, and now: side by side, in one run.

    python benchmarks/bench_models.py [--students 2] [--before REV] [ps03_lenet_alexnet ...]

For each model problem set, grades its model solution as a class is graded (hidden
checks included; the references computed for the first student and cached), with
the grader and solutions of ``--before`` (default: bd4f162, the last commit before
them) and with this working tree, one process each, one after the other.  Prints
the best seconds per student of each, after the first, and their ratio.

Not a test: timings on shared machines are noisy, ratios less so.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODEL_SETS = ("ps03_lenet_alexnet", "ps04_vgg_googlenet", "ps05_resnet_resnext",
              "ps06_densenet_dpn", "ps07_inception_v4_senet", "ps08_efficient_nets")
#: the last commit before the model checks took a training step (897a273)
BEFORE = "bd4f162"


def student_seconds(tree: Path, ps: str, students: int) -> list[float]:
    """Seconds to grade each of ``students`` copies of the model solution, with the grader
    of ``tree``, after a first that computes the references (run in a child process)."""
    sys.path.insert(0, str(tree))
    from grader import notebook as nbio
    from grader.runner import NotebookGrader

    nb = nbio.read(next((tree / "solutions" / ps).glob("*.ipynb")))

    def grade() -> float:
        start = time.perf_counter()
        with NotebookGrader(nb, problem_set=ps, explain=False) as grader:
            failed = [k for k, r in grader.grade_all().items() if not r.passed]
        assert not failed, f"{tree}: the model solution of {ps} fails {failed}"
        return time.perf_counter() - start

    grade()
    return [grade() for _ in range(students)]


def best_of(tree: Path, ps: str, students: int) -> float:
    out = subprocess.run([sys.executable, __file__, "--child", str(tree), ps, str(students)],
                         check=True, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(tree)}).stdout
    return min(json.loads(out.splitlines()[-1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--students", type=int, default=2)
    ap.add_argument("--before", default=BEFORE, help="the git revision to compare with")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    ap.add_argument("problem_sets", nargs="*", default=MODEL_SETS)
    args = ap.parse_args()
    os.environ.setdefault("CNN_COURSE_GRADING_SECRET", "cnn-course benchmark")
    if args.child:
        tree, ps, students = args.child
        print(json.dumps(student_seconds(Path(tree), ps, int(students))))
        return
    from grader.device import describe_device
    print(f"cnn-course model-notebook benchmark ({describe_device()}, {os.cpu_count()} CPUs)\n")
    print(f"{'seconds per student':<28} {args.before:>8} {'now':>7} {'ratio':>7}")
    totals = [0.0, 0.0]
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.before],
                                 check=True, capture_output=True).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="data")
        for ps in args.problem_sets:
            before, now = (best_of(tree, ps, args.students) for tree in (Path(tmp), ROOT))
            totals = [totals[0] + before, totals[1] + now]
            print(f"{ps:<28} {before:8.1f} {now:7.1f} {now / before:7.2f}", flush=True)
    print(f"{'all of them':<28} {totals[0]:8.1f} {totals[1]:7.1f} {totals[1] / totals[0]:7.2f}")


if __name__ == "__main__":
    main()
