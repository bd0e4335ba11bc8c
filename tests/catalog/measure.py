"""Measure the exact failing sets of a catalog: `python -m tests.catalog.measure <ps>`.

Grades every mutant and alternative alone, then every nbgrader bundle, with the
full grader: the notebook is built on the source notebook, so hidden checks
(and hidden-only cells) run, as they do under `nbgrader autograde`.  Prints OK
where the measured set equals the declared one, DIFF with the differences
otherwise.  A tool for writing catalogs; the tests prove the same sets.
"""
from __future__ import annotations

import sys
import time

from grader.runner import NotebookGrader
from tests.catalog import catalog, nbgrader_alternatives, nbgrader_cases
from tests.conftest import solution


def measure(ps: str) -> bool:
    module, same = catalog(ps), True
    for sub in (module.MUTANTS + module.ALTERNATIVES + nbgrader_cases(ps)
                + nbgrader_alternatives(ps)):
        start = time.perf_counter()
        with NotebookGrader(sub.build(solution(ps), solution(ps))) as grader:
            failing = {gid for gid, r in grader.grade_all().items() if not r.passed}
        ok = failing == set(sub.failing)
        same &= ok
        print(f"{'OK  ' if ok else 'DIFF'} {sub.student}: measured {sorted(failing)}"
              + ("" if ok else f"; declared only {sorted(set(sub.failing) - failing)}, "
                               f"extra {sorted(failing - set(sub.failing))}")
              + f" ({time.perf_counter() - start:.0f} s)", flush=True)
    return same


if __name__ == "__main__":
    sys.exit(0 if all([measure(ps) for ps in sys.argv[1:]]) else 1)
