"""Grade a notebook out of process: the one path to a grade.

``nbgrader autograde`` (through ``grader.nbgrader_plugin``) and
``pytest exercises/`` (through ``grader.pytest_support``) both use
``NotebookGrader``: one sandbox per notebook, each check run once and cached,
each grade cell's result made of the checks it calls.

Command line, for instructors::

    python -m grader.runner path/to/notebook.ipynb [--json]
"""
from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import sys
import time
import warnings
from pathlib import Path

from . import notebook as nbio
from .checks import PROFILES, Result
from .shortcuts import NONE
from .target import RemoteTarget


def problem_set(ps_id: str):
    """The ``ProblemSet`` defined in ``grader.problems.<ps_id>``."""
    return importlib.import_module(f"grader.problems.{ps_id}").PROBLEM_SET


@dataclasses.dataclass
class CellResult:
    grade_id: str
    passed: bool
    points: float
    message: str
    seconds: float = 0.0

    @property
    def score(self) -> float:
        return self.points if self.passed else 0.0

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


class NotebookGrader:
    """Grades the grade cells of one notebook; results are cached per check.

    ``explain=False`` skips the search for the smallest failing input: the same
    verdicts, in about half the time, with plainer messages (for proofs, not students).
    """

    def __init__(self, nb, *, call_timeout: float | None = None, cell_timeout: float = 30.0,
                 explain: bool = True):
        import torch
        # Tiny float64 references run fastest on one thread, and graders may run in parallel.
        torch.set_num_threads(1)
        self.nb = nbio.read(nb) if isinstance(nb, (str, Path)) else nb
        self.cells = nbio.grade_cells(self.nb)
        ids = {c.problem_set for cell in self.cells for c in cell.calls}
        if len(ids) > 1:
            raise ValueError(f"a notebook must use one problem set, found {sorted(ids)}")
        self.problem_set = problem_set(ids.pop()) if ids else None
        ps = self.problem_set
        rules = ps.rules if ps and ps.rules else NONE
        # Models need more time and memory per call than NumPy functions.
        self.target = RemoteTarget(nbio.answer_cells(self.nb), rules,
                                   call_timeout=call_timeout or (ps.call_timeout if ps else 10.0),
                                   cell_timeout=cell_timeout,
                                   memory_mb=ps.memory_mb if ps else 4096)
        self._results: dict[tuple[str, str], Result] = {}
        self._profiles = {name: dataclasses.replace(p, shrink=explain)
                          for name, p in PROFILES.items()}

    def run_check(self, check_id: str, profile: str) -> Result:
        check = self.problem_set[check_id]
        key = (check_id, check.profile_key(self._profiles[profile]))
        if key not in self._results:
            with warnings.catch_warnings():  # reference warnings are not the student's
                warnings.simplefilter("ignore")
                self._results[key] = check.run(self.target, self._profiles[profile])
        return self._results[key]

    def grade_cell(self, grade_id: str) -> CellResult:
        cell = next(c for c in self.cells if c.grade_id == grade_id)
        start = time.monotonic()
        results = []
        for call in cell.calls:
            results.append(self.run_check(call.check_id, call.profile))
            if not results[-1].passed:
                # The cell has failed: its hidden check would only say the same thing again,
                # after another timeout if the answer hangs.
                return CellResult(grade_id, False, cell.points, results[-1].message,
                                  time.monotonic() - start)
        return CellResult(grade_id, True, cell.points, "\n\n".join(r.message for r in results),
                          time.monotonic() - start)

    def grade_all(self, progress=None) -> dict[str, CellResult]:
        out = {}
        for cell in self.cells:
            out[cell.grade_id] = self.grade_cell(cell.grade_id)
            if progress:
                progress(out[cell.grade_id])
        return out

    def close(self):
        self.target.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.runner", description=__doc__.split(
        "\n\n")[0])
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--json", action="store_true", help="print results as JSON")
    args = parser.parse_args(argv)
    with NotebookGrader(args.notebook) as grader:
        def show(r: CellResult):
            if not args.json:
                mark = "ok  " if r.passed else "FAIL"
                print(f"{mark} {r.grade_id:<28} {r.score:g}/{r.points:g}  ({r.seconds:.1f} s)",
                      flush=True)
        results = grader.grade_all(progress=show)
    if args.json:
        print(json.dumps({k: v.to_json() for k, v in results.items()}, indent=1))
    else:
        total = sum(r.score for r in results.values())
        possible = sum(r.points for r in results.values())
        print(f"score {total:g}/{possible:g}")
    return 0 if all(r.passed for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
