"""What do the model checks' training steps and initialisation checks cost?  Side by side,
in one run.

    python benchmarks/bench_models.py [--repeat 2] [ps03_lenet_alexnet ...]

For each model problem set, grades the model solution as a class is graded (one
process, the references computed for the first student and cached), then
alternates two ways of grading the next students:

* ``all``: every check as it grades;
* ``eval only``: the function checks compare eval-mode outputs only (no training
  step) and the initialisation checks are skipped, as before they existed.

It prints the best seconds per student of each and their ratio.  Not a test:
timings on shared machines are noisy, ratios less so.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import time
from pathlib import Path
from unittest import mock

from grader import notebook as nbio, references as R, secret
from grader.device import describe_device
from grader.module_checks import InitCheck
from grader.runner import NotebookGrader

ROOT = Path(__file__).resolve().parents[1]
MODEL_SETS = ("ps03_lenet_alexnet", "ps04_vgg_googlenet", "ps05_resnet_resnext",
              "ps06_densenet_dpn", "ps07_inception_v4_senet", "ps08_efficient_nets")


@contextlib.contextmanager
def eval_only():
    """The function checks without their training step, and no initialisation checks."""
    cached = R.model_function  # keeps its cache: both ways share the references

    def without_training(build, input_shape, seed, train=True):
        return {**cached(build, input_shape, seed, train), "train": None}

    with mock.patch.object(R, "model_function", without_training), \
            mock.patch.object(InitCheck, "_one", lambda self, target, case, seed: None):
        yield


def grade_seconds(nb, ps: str) -> float:
    t = time.perf_counter()
    with NotebookGrader(nb, problem_set=ps, explain=False) as g:
        results = g.grade_all()
    assert all(r.passed for r in results.values()), [k for k, r in results.items()
                                                     if not r.passed]
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("problem_sets", nargs="*", default=MODEL_SETS)
    args = ap.parse_args()
    os.environ.setdefault(secret.SECRET_ENV, "cnn-course benchmark")  # hidden checks need one
    print(f"cnn-course model-check benchmark ({describe_device()}, {os.cpu_count()} CPUs)\n")
    print(f"{'seconds per student (model solution)':<28} {'first':>7} {'all':>7} "
          f"{'eval only':>10} {'ratio':>7}")
    totals = [0.0, 0.0]
    for ps in args.problem_sets:
        nb = nbio.read(next((ROOT / "solutions" / ps).glob("*.ipynb")))
        first = grade_seconds(nb, ps)  # computes and caches the references
        best = [float("inf"), float("inf")]
        for _ in range(args.repeat):
            best[0] = min(best[0], grade_seconds(nb, ps))
            with eval_only():
                best[1] = min(best[1], grade_seconds(nb, ps))
        totals = [t + b for t, b in zip(totals, best)]
        print(f"{ps:<28} {first:7.1f} {best[0]:7.1f} {best[1]:10.1f} "
              f"{best[0] / best[1]:7.2f}", flush=True)
    print(f"{'all of them':<28} {'':>7} {totals[0]:7.1f} {totals[1]:10.1f} "
          f"{totals[0] / totals[1]:7.2f}")


if __name__ == "__main__":
    main()
