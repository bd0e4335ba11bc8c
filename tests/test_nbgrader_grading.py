"""The real `nbgrader autograde`, for nbgrader's own plumbing.

One course folder holds problem set 1's and problem set 9's sample classes (hung
and crashing answers, edited and deleted check cells, monkeypatching, training
probes) and, for every other problem set, one notebook that bundles several
catalog mutants.  It is autograded once, with feedback; scores are read back
from the SQLite gradebook.  What every other submission scores is proven in
process (``tests/test_catalog.py``), and each bundle here must fail exactly the
cells its members fail there.
"""
from __future__ import annotations

import pytest

from grader import gradebook, notebook as nbio
from grader.cli import grade_course, make_course
from grader.problems import AVAILABLE
from grader.sample_class import sample_class
from tests.catalog import NBGRADER_CLASSES, failing, nbgrader_bundle
from tests.conftest import solution

pytestmark = pytest.mark.slow  # and one worker: see ONE_WORKER in conftest.py


def everyone(ps: str) -> list:
    return sample_class(ps) if ps in NBGRADER_CLASSES else [nbgrader_bundle(ps)]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """{(student, problem set): Row} after autograde and generate_feedback, and the course."""
    course = tmp_path_factory.mktemp("nbgrader") / "course"
    make_course(course, {ps: everyone(ps) for ps in AVAILABLE})
    grade_course(course, AVAILABLE, show=None)
    rows = {(row.student, row.assignment): row
            for row in gradebook.rows(f"sqlite:///{course / 'gradebook.db'}")}
    return rows, course


def _failing(row) -> list[str]:
    return sorted(gid for gid, (score, _) in row.cells.items() if score == 0)


@pytest.mark.parametrize("case", [(ps, s) for ps in AVAILABLE for s in everyone(ps)],
                         ids=lambda case: f"{case[0][:4]}-{case[1].student}")
def test_autograde_scores(case, graded, snapshot):
    ps, student = case
    row = graded[0][student.student, ps]
    points = {c.grade_id: c.points for c in nbio.grade_cells(solution(ps))}
    assert set(row.cells) == set(points), "every check cell is graded, deleted ones included"
    assert row.auto_max == sum(points.values())
    assert row.auto_score == sum(p for gid, p in points.items() if gid not in _failing(row))
    if hasattr(student, "members"):  # as graded in process, member by member
        assert _failing(row) == sorted(frozenset().union(
            *(failing(ps, m) for m in student.members))), student.about
    snapshot.match("nbgrader", f"{ps}-{student.student}",
                   {"failing": _failing(row), "score": f"{row.auto_score:g}/{row.auto_max:g}"})


def test_snapshot_lists_exactly_the_class(snapshot):
    from tests.catalog.snapshot import load
    names = [f"{ps}-{s.student}" for ps in AVAILABLE for s in everyone(ps)]
    if snapshot.update:
        snapshot.prune("nbgrader", names)
    else:
        assert sorted(load("nbgrader")) == sorted(names)


def test_bundles_prove_several_mutants():
    for ps in AVAILABLE:
        if ps not in NBGRADER_CLASSES:
            assert len(nbgrader_bundle(ps).members) >= 2, ps


def test_feedback_hides_hidden_tests_and_explains_failures(graded):
    html = (graded[1] / "feedback" / "cho_flipped" / "ps01_convolution" /
            "convolution.html").read_text()
    assert "BEGIN HIDDEN TESTS" not in html and "thorough" not in html
    assert "hidden tests ran here" in html
    assert "First difference at index" in html


def test_deleted_check_cell_is_restored(graded):
    nb = nbio.read(graded[1] / "autograded" / "ivan_edits_cells" / "ps01_convolution" /
                   "convolution.ipynb")
    assert {"conv2d_groups", "conv2d_stride"} <= {c.grade_id for c in nbio.grade_cells(nb)}


def test_gradebook_table_lists_every_student(graded, capsys):
    from grader.cli import main
    assert main(["gradebook", "--db", f"sqlite:///{graded[1] / 'gradebook.db'}"]) == 0
    out = capsys.readouterr().out
    for ps in AVAILABLE:
        for student in everyone(ps):
            assert student.student in out
    assert "auto score" in out


def test_feedback_names_only_the_misconceptions_a_submission_makes(graded):
    """Under nbgrader too, a diagnosis names a misconception the submission makes (its
    catalog links), and nothing else: the sample classes of problem sets 1 and 9 and
    every bundle of mutants."""
    from grader import misconceptions
    from grader.layout import load
    from tests.catalog import catalog

    named = set()
    for ps in AVAILABLE:
        links = getattr(catalog(ps), "DIAGNOSED", {})
        for student in everyone(ps):
            allowed = set()
            for name in getattr(student, "members", [student.student]):
                ids = links.get(name, ())
                allowed |= {ids} if isinstance(ids, str) else set(ids)
            nb = nbio.read(graded[1] / "autograded" / student.student / ps / load(ps).notebook)
            text = "\n".join(str(out) for c in nb.cells for out in c.get("outputs", []))
            found = {m.id for m in misconceptions.load(ps)
                     if f"This looks like: {m.name}." in text}
            assert found <= allowed, (ps, student.student, found - allowed)
            named |= {(ps, i) for i in found}
    assert ("ps01_convolution", "kernel_flipped") in named
