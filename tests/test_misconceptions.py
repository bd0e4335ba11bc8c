"""Misconceptions (``grader.misconceptions``): each is linked to the catalog entries that
make it, the diagnosis names it for them and for no other submission, and it reaches
every place a student reads feedback.

The diagnoses are measured with the rest of the catalog (``tests/test_catalog.py``,
which also fails on any wrong diagnosis) and kept in its snapshots; the accuracy is
counted here from them, and listed in ``build/misconceptions.md``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from grader import misconceptions as M
from grader.problems import AVAILABLE
from grader.runner import problem_set
from tests.catalog import catalog, entries, snapshot

REPORT = Path(__file__).resolve().parents[1] / "build" / "misconceptions.md"
#: the share of the entries linked to one misconception whose diagnosis names it
ACCURACY = 0.9


def _linked(ps: str) -> dict[str, frozenset]:
    return {e.name: e.misconceptions for e in entries(ps) if e.misconceptions}


@pytest.mark.parametrize("ps", AVAILABLE)
def test_every_misconception_is_linked_to_catalog_entries(ps):
    ids = [m.id for m in M.load(ps)]
    assert len(set(ids)) == len(ids), "ids must be unique within a problem set"
    linked = _linked(ps)
    assert set().union(*linked.values()) == set(ids), (
        "every misconception needs a catalog entry that makes it (DIAGNOSED), and every "
        "link a misconception")
    assert set(getattr(catalog(ps), "DIAGNOSED", {})) <= {e.name for e in entries(ps)} | {
        s.student for s in _sample_class(ps)}


def _sample_class(ps):
    from grader.sample_class import sample_class
    return sample_class(ps)


@pytest.mark.parametrize("ps", AVAILABLE)
def test_misconceptions_attach_to_checks_that_keep_their_evidence(ps):
    checks = problem_set(ps).checks  # ProblemSet refuses a kind a check cannot diagnose
    for mistake in M.load(ps):
        assert mistake.hint.rstrip().endswith(".") and "lecture" in mistake.hint, mistake.id
        assert all(mistake in checks[c].misconceptions for c in mistake.checks)


def test_calling_changes_only_the_named_arguments():
    def f(a, b=2, *, c=3):
        return a, b, c
    assert M.calling(f, b=0)(1) == (1, 0, 3)
    assert M.calling(f, c=lambda given: given["a"] + given["b"])(1, b=5) == (1, 5, 6)


def test_hints_cite_sections_that_exist():
    """"Reread lecture 4, §10" must name a real section (the book links it)."""
    from book.course_book import LECTURE_REF, lecture_sections

    sections = lecture_sections()
    cited = {(m.group(1), m.group(3)) for ps in AVAILABLE for mistake in M.load(ps)
             for m in LECTURE_REF.finditer(mistake.hint) if m.group(3)}
    assert len(cited) > 30 and cited - sections == set()


def test_diagnosis_accuracy_on_the_catalogs():
    """At least 90% of the entries linked to one misconception are diagnosed as it; the
    rest, and every other entry, get no diagnosis (test_catalog fails on a wrong one)."""
    rows, named, silent = [], 0, []
    for ps in AVAILABLE:
        snap = snapshot.load(ps)
        for entry in entries(ps):
            diagnosed = set(snap.get(entry.name, {}).get("diagnosed", ()))
            assert diagnosed <= entry.misconceptions, (ps, entry.name, diagnosed)
            if len(entry.misconceptions) == 1 and entry.role != "student":
                (wanted,) = entry.misconceptions
                ok = diagnosed == {wanted}
                named += ok
                if not ok:
                    silent.append(f"{ps}/{entry.name}")
                rows.append(f"| {ps} | {entry.name} | {wanted} | {'named' if ok else 'silent'} |")
    total = len(rows)
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(
        f"# Diagnosis on the catalogs: {named} of {total} named, {total - named} silent, "
        "0 wrong\n\n| problem set | entry | misconception | diagnosis |\n|---|---|---|---|\n"
        + "\n".join(rows) + "\n")
    assert named >= ACCURACY * total, f"only {named} of {total}; silent: {silent}"


# --- the mechanism ------------------------------------------------------------------------


def _wrong(id, function):
    return M.WrongFunction(id, id, ("c",), "Reread lecture 1.", functions={"f": function})


def test_diagnose_names_one_candidate_and_says_nothing_for_two_or_none():
    double = _wrong("double", lambda x: 2 * x)
    also_double = _wrong("also_double", lambda x: x + x)
    square = _wrong("square", lambda x: x * x)
    broken = _wrong("broken", lambda x: 1 / 0)

    def agrees(m):
        return m.functions["f"](3) == 6
    assert M.diagnose([double, square, broken], agrees) is double
    assert M.diagnose([double, also_double, square], agrees) is None
    assert M.diagnose([square, broken], agrees) is None


def test_observations_keep_few_right_and_the_latest_wrong():
    seen = M.Observations()
    for i in range(20):
        seen.add(i, correct=i % 2 == 0)
    assert seen.right == [0, 2, 4, 6, 8, 10] and seen.wrong == [9, 11, 13, 15, 17, 19]
    assert list(seen) == seen.right + seen.wrong
    assert seen and not M.Observations(), "only a wrong output can be diagnosed"


def test_a_diagnosis_never_changes_the_verdict_and_needs_every_output_explained():
    from grader.checks import PROFILES, PropertyCheck
    from grader.misconceptions import ps01_convolution as P1
    from grader.references import conv2d_single
    from grader.strategies import conv2d_single_args
    from grader.target import LocalTarget

    check = PropertyCheck("conv2d_single", "t", function="conv2d_single",
                          reference=conv2d_single, strategy=conv2d_single_args(),
                          misconceptions=tuple(m for m in P1.MISCONCEPTIONS
                                               if "conv2d_single" in m.checks))

    def flipped(image, kernel):
        return conv2d_single(image, kernel[::-1, ::-1].copy())

    def flipped_and_shifted(image, kernel):  # two mistakes: no one misconception explains both
        return flipped(image, kernel) + 1.0

    profile = PROFILES["quick"]
    result = check.run(LocalTarget({"conv2d_single": flipped}), profile)
    assert not result.passed and result.misconception == "kernel_flipped"
    assert result.message.rstrip().endswith(P1.MISCONCEPTIONS[0].explain())
    other = check.run(LocalTarget({"conv2d_single": flipped_and_shifted}), profile)
    assert not other.passed and other.misconception is None and "looks like" not in other.message
