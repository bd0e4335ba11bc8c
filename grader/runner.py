"""Grade a notebook out of process: the one path to a grade.

``nbgrader autograde`` (through ``grader.nbgrader_plugin``) and
``pytest exercises/`` (through ``grader.pytest_support``) both use
``NotebookGrader``: one sandbox per notebook, each check run once and cached,
each grade cell's result made of the checks it calls.

Command line, for instructors::

    python -m grader.runner path/to/notebook.ipynb [--json] [--problem-set ps01_convolution]
                            [--public] [--secret-file FILE] [--budget SECONDS]
                            [--require-isolation]

It exits 0 when every check cell passes, 1 when one fails, and 2 when the
notebook cannot be graded at all (not a notebook, none of its answer cells, or
hidden checks without the grading secret).
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

from . import layout as layouts, notebook as nbio, secret as grading_secret
from .checks import PROFILES, Result
from .isolation import IsolationUnavailable
from .problems import AVAILABLE
from .shortcuts import NONE
from .target import RemoteTarget

#: seconds of charged time one notebook may use in all (see grader.sandbox)
DEFAULT_BUDGET_S = 600.0


def problem_set(ps_id: str):
    """The ``ProblemSet`` defined in ``grader.problems.<ps_id>``."""
    return importlib.import_module(f"grader.problems.{ps_id}").PROBLEM_SET


_problem_set = problem_set  # for NotebookGrader, whose argument of that name hides it


@dataclasses.dataclass
class CellResult:
    grade_id: str
    passed: bool
    points: float
    message: str
    seconds: float = 0.0
    #: the misconception its failure was diagnosed as (``grader.misconceptions``), or None
    misconception: str | None = None

    @property
    def score(self) -> float:
        return self.points if self.passed else 0.0

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


class NotebookGrader:
    """Grades the grade cells of one notebook; results are cached per check.

    ``explain=False`` skips the search for the smallest failing input: the same
    verdicts, in about half the time, with plainer messages (for proofs, not students).
    ``hidden=False`` leaves the hidden checks out, as ``pytest exercises/`` does.
    ``diagnose=False`` never names a misconception (``grader.misconceptions``): for the
    benchmark of what the diagnosis costs.
    ``problem_set`` names the problem set when the notebook's path, file name and
    imports do not.  A notebook that cannot be graded raises ``MalformedNotebook``.
    """

    def __init__(self, nb, *, problem_set: str | None = None, hidden: bool = True,
                 call_timeout: float | None = None, cell_timeout: float = 30.0,
                 explain: bool = True, secret: str | None = None,
                 budget_s: float = DEFAULT_BUDGET_S, require_isolation: bool = False,
                 diagnose: bool = True):
        import torch
        # Tiny float64 references run fastest on one thread, and graders may run in parallel.
        torch.set_num_threads(1)
        # The checks, points and check cells come from the problem set's layout; of the
        # notebook, only the answer cells are used.
        self.nb = nbio.read(nb) if isinstance(nb, (str, Path)) else nb
        hints = layouts.path_hints(Path(nb)) if isinstance(nb, (str, Path)) else ()
        self.layout = layouts.load(problem_set or layouts.identify(self.nb, hints))
        answers = nbio.answers(self.nb, self.layout)
        #: what was unusual about the notebook (missing or copied answer cells, ...)
        self.notes = answers.notes
        self.cells = self.layout.graded_cells(hidden)
        # ``secret`` None: from the environment (see grader.secret); hidden checks need one,
        # and it is better to say so before any student code runs
        secret = secret if secret is not None else grading_secret.load()
        if secret is None and any(PROFILES[c.profile].hidden for cell in self.cells
                                  for c in cell.calls):
            raise grading_secret.missing("this notebook's hidden checks")
        self.problem_set = _problem_set(self.layout.problem_set)
        ps = self.problem_set
        rules = ps.rules if ps and ps.rules else NONE
        # Models need more time and memory per call than NumPy functions.
        self.target = RemoteTarget(answers.cells, rules,
                                   call_timeout=call_timeout or (ps.call_timeout if ps else 10.0),
                                   cell_timeout=cell_timeout,
                                   memory_mb=ps.memory_mb if ps else 4096, budget_s=budget_s,
                                   hide=ps.sandbox_hides if ps else (),
                                   require_isolation=require_isolation)
        self._results: dict[tuple[str, str], Result] = {}
        self._profiles = {name: dataclasses.replace(p, shrink=explain, secret=secret,
                                                    diagnose=diagnose)
                          for name, p in PROFILES.items()}

    def run_check(self, check_id: str, profile: str, hidden_follows: bool = False) -> Result:
        """One check's result under ``profile`` (a name), run once per notebook.
        ``hidden_follows``: a hidden run of the check comes next (``Profile.hidden_follows``)."""
        check = self.problem_set[check_id]
        chosen = self._profiles[profile]
        if hidden_follows:
            # a whole public run that passed (feedback's, run first) passed the shorter one
            whole = self._results.get((check_id, check.profile_key(chosen)))
            if whole is not None and whole.passed:
                return whole
            chosen = dataclasses.replace(chosen, hidden_follows=True)
        key = (check_id, check.profile_key(chosen))
        if key not in self._results:
            with warnings.catch_warnings():  # reference warnings are not the student's
                warnings.simplefilter("ignore")
                self._results[key] = check.run(self.target, chosen)
        return self._results[key]

    def grade_cell(self, grade_id: str) -> CellResult:
        cell = next(c for c in self.cells if c.grade_id == grade_id)
        start = time.monotonic()
        results = []
        for i, call in enumerate(cell.calls):
            follows = not self._profiles[call.profile].hidden and any(
                c.check_id == call.check_id and self._profiles[c.profile].hidden
                for c in cell.calls[i + 1:])
            results.append(self.run_check(call.check_id, call.profile, follows))
            if not results[-1].passed:
                # The cell has failed: its hidden check would only say the same thing again,
                # after another timeout if the answer hangs.
                return CellResult(grade_id, False, cell.points, results[-1].message,
                                  time.monotonic() - start, results[-1].misconception)
        if [c.check_id for c in cell.calls] == [results[0].check_id] * 2 and \
                [self._profiles[c.profile].hidden for c in cell.calls] == [False, True]:
            # the public examples, then the hidden ones (grader/layouts/): one line says both
            message = self.problem_set[results[0].check_id].passed(results[0].examples,
                                                                  results[1].examples)
        else:
            message = "\n\n".join(r.message for r in results)
        return CellResult(grade_id, True, cell.points, message, time.monotonic() - start)

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
    parser.add_argument("--problem-set", choices=AVAILABLE, metavar="PROBLEM_SET",
                        help="the notebook's problem set (default: from its folder, file name "
                             "or imports)")
    parser.add_argument("--public", action="store_true",
                        help="only the public checks, as `pytest exercises/` runs them (no "
                             "grading secret needed)")
    parser.add_argument("--secret-file", type=Path, metavar="FILE",
                        help=f"the instructor's grading secret (default: ${grading_secret.SECRET_ENV}"
                             f" or the file ${grading_secret.SECRET_FILE_ENV} names)")
    parser.add_argument("--budget", type=float, default=DEFAULT_BUDGET_S, metavar="SECONDS",
                        help="CPU and sleep time the notebook may use in all (default: "
                             "%(default)g)")
    parser.add_argument("--require-isolation", action="store_true",
                        help="refuse to grade without the OS sandbox (bubblewrap)")
    args = parser.parse_args(argv)

    def cannot(err) -> int:
        print(f"cannot grade {args.notebook}: {err}", file=sys.stderr)
        return 2

    # before the grader starts (it imports PyTorch): a path that is no notebook file
    if not args.notebook.exists():
        return cannot("no such file")
    if not args.notebook.is_file():
        return cannot("not a file (give the path of a notebook, .ipynb)")
    if not args.budget > 0:  # nan too
        return cannot(f"--budget must be a positive number of seconds, not {args.budget:g}")
    try:
        secret = grading_secret.load(args.secret_file)
        grader = NotebookGrader(args.notebook, problem_set=args.problem_set,
                                hidden=not args.public, secret=secret, budget_s=args.budget,
                                require_isolation=args.require_isolation)
    except grading_secret.MissingSecret as err:
        return cannot(f"{err} (--public runs the public checks only)")
    except (nbio.MalformedNotebook, IsolationUnavailable) as err:
        return cannot(err)
    for note in grader.notes:
        print(f"note: {note}", file=sys.stderr)
    with grader:
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
