"""The proof catalog and the sample class, each submission graded once, in process.

Every mutant, alternative and sample student is graded with the full grader on
the source notebook (hidden checks included, as under `nbgrader autograde`), in the
check cells its edits can reach (``reachable_cells``; all of them under ``--update``);
the public checks' verdicts come from the same run (what `pytest exercises/`
shows).  Submissions with the same answers are graded once.  What each one
fails is compared with ``tests/catalog/snapshots/<ps>.json``; ``--update``
rewrites it.  Shrinking is off here (``explain=False``): it changes only the
messages, never which cells fail.
"""
from __future__ import annotations

import pytest

from grader import notebook as nbio
from grader.problems import AVAILABLE
from grader.runner import NotebookGrader
from tests.catalog import catalog, entries, graded_groups, measure, reachable_cells
from tests.conftest import release, solution

GROUPS = graded_groups()


def _group_id(group) -> str:
    return f"{group[0].ps[:4]}-{group[0].name}"


@pytest.mark.slow
@pytest.mark.parametrize("group", GROUPS, ids=_group_id)
def test_graded_as_the_snapshot_says(group, snapshot):
    ps = group[0].ps
    answers = group[0].answers()
    # in full to record, and for what the analysis cannot see (edits beyond answer cells)
    full = snapshot.update or any(e.submission.edit or e.submission.base != "solution"
                                  for e in group)
    measured = measure(ps, answers, None if full else reachable_cells(ps, answers))
    for entry in group:
        about = f"{entry.name} ({entry.submission.about})"
        # a wrong diagnosis is worse than none (tests/test_misconceptions.py counts the right)
        assert set(measured["diagnosed"]) <= entry.misconceptions, (
            f"{about} was diagnosed as {measured['diagnosed']}, but makes "
            f"{sorted(entry.misconceptions) or 'none of the catalogued misconceptions'}")
        if entry.role == "mutant":
            assert measured["failing_public"], f"{about} must fail a public check cell"
        elif entry.role == "hidden mutant":
            assert measured["failing"] and not measured["failing_public"], \
                f"{about} must fail hidden checks, and only those"
        elif entry.role == "alternative" or entry.submission.is_model_solution():
            assert not measured["failing"], f"{about} must get full marks"
        elif entry.submission.is_untouched_release():
            assert measured["failing"] == sorted(c.grade_id for c in
                                                 nbio.grade_cells(solution(ps))), about
        snapshot.match(ps, entry.name, measured)


def test_the_cells_graded_include_every_cell_the_snapshots_say_fails():
    """What lets the catalog grade only the cells an edit reaches (``reachable_cells``)."""
    from tests.catalog.snapshot import load
    missed = []
    for group in GROUPS:
        ps = group[0].ps
        reached = reachable_cells(ps, group[0].answers())
        missed += [(ps, e.name, sorted(set(load(ps)[e.name]["failing"]) - reached))
                   for e in group if reached is not None and e.name in load(ps)
                   and not set(load(ps)[e.name]["failing"]) <= reached]
    assert missed == []


@pytest.mark.parametrize("ps", AVAILABLE)
def test_catalog_is_large_enough(ps):
    module = catalog(ps)
    # Problem sets of functions: 15 mutants and 3 alternatives; of whole models: 8 and 2.
    mutants, alternatives = getattr(module, "REQUIRED", (15, 3))
    assert len(module.MUTANTS) >= mutants and len(module.ALTERNATIVES) >= alternatives


@pytest.mark.parametrize("ps", AVAILABLE)
def test_snapshot_lists_exactly_the_catalog(ps, snapshot):
    from tests.catalog.snapshot import load
    names = [e.name for e in entries(ps)]
    assert len(set(names)) == len(names), "names must be unique within a problem set"
    if snapshot.update:
        snapshot.prune(ps, names)
    else:
        assert sorted(load(ps)) == sorted(names)


@pytest.mark.parametrize("ps", AVAILABLE)
def test_untouched_release_scores_zero_with_not_implemented_messages(ps):
    public = {c.grade_id for c in nbio.grade_cells(release(ps))}
    with NotebookGrader(release(ps), hidden=False) as grader:
        results = grader.grade_all()
    assert {gid for gid, r in results.items() if not r.passed} == public
    for gid in public:
        message = results[gid].message
        assert "not implemented yet" in message or "Not defined yet" in message, message



_DUMP = """
import ast, json, sys
from pathlib import Path

import black

from grader import notebook as nbio
from grader.problems import AVAILABLE
from tests.catalog import entries

if sys.argv[1] == "reformat":  # black, with lines short enough to rewrap most statements
    _read = nbio.read

    def read(path):
        nb = _read(path)
        for cell in nb.cells if "solutions" in Path(path).parts else ():
            if cell.cell_type == "code" and nbio.nbgrader_meta(cell).get("solution"):
                cell.source = black.format_str(cell.source, mode=black.Mode(line_length=60))
        return nb

    nbio.read = read


def meaning(source):
    # black re-indents docstrings; what the code does is the tree without them
    try:
        tree = ast.parse(source)
    except SyntaxError:  # a release stub that is not Python yet
        return source
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and \\
                isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree)


json.dump({f"{e.ps}/{e.name}": [meaning(src) for _, src in e.answers()]
           for ps in AVAILABLE for e in entries(ps)}, sys.stdout)
"""


def test_mutants_survive_reformatting():
    """Mutants are token edits: reformatting the solution with black changes no mutant."""
    import json
    import subprocess
    import sys

    from tests.conftest import ROOT

    def dump(mode):
        proc = subprocess.run([sys.executable, "-c", _DUMP, mode], cwd=ROOT, capture_output=True,
                              text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return json.loads(proc.stdout)

    as_written, reformatted = dump("as-written"), dump("reformat")
    assert as_written.keys() == reformatted.keys()
    changed = [name for name in as_written if as_written[name] != reformatted[name]]
    assert not changed, f"these mutants change meaning when the solution is reformatted: {changed}"
