"""`cnn-course report`: a class report from the gradebook and `cnn-course grade`'s results,
on a small made-up class; and the page in a real browser (headless Chromium)."""
from __future__ import annotations

import contextlib
import html
import io
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from nbgrader.api import Gradebook

from grader import checks, cli, gradebook, parallel, report
from grader.sandbox import Sandbox, SandboxTimeout
from tests.conftest import launch

ASSIGNMENT, NOTEBOOK = "ps01_convolution", "convolution"
#: grade id -> points
CELLS = {"conv2d_basic": 3, "conv2d_stride": 2, "same_padding": 1, "quiz_1x1": 1}
#: a student id that is markup (no "/": it is a folder name)
HOSTILE = '<script>alert("id")'
#: nbgrader's add_submission, not ours
pytestmark = pytest.mark.filterwarnings("ignore:Object of type:sqlalchemy.exc.SAWarning")


def _failed(gid: str, reason: str) -> str:
    """A failed check cell's message, as the checks write it."""
    return f"FAILED: {gid} [{gid}]\n{reason}"


def _budget() -> str:
    # the sandbox's own words (Sandbox._exhausted reads only budget_s)
    spent = Sandbox._exhausted(SimpleNamespace(budget_s=600.0))
    return str(checks.timed_out("`conv2d`", 10.0, spent).args[0])


def _hang() -> str:
    return str(checks.timed_out("`conv2d`", 10.0, SandboxTimeout("no answer within 10 s"),
                                "conv2d(x, w)").args[0])


CRASH = ("`conv2d` crashed the process running it: your code used more than 4096 MB of "
         "memory (all its processes together).")
#: student -> (grade ids failed, their message, stored result: seconds or a status)
CLASS = {
    "ada": ((), "", 3.0),
    "ben_crashes": (("conv2d_basic", "conv2d_stride"), CRASH, 7.5),
    "cho_budget": (("conv2d_basic", "conv2d_stride", "same_padding"), _budget(), 41.0),
    # what a student's code prints or raises may end up in a message
    HOSTILE: (("conv2d_basic",), "`conv2d` did not return within 10 s <img src=x onerror=f()>",
              2.0),
    "dee_unreadable": (tuple(CELLS), "", "malformed"),
    "eve_autograde_only": (("quiz_1x1", "conv2d_basic"), "Your values differ", None),
    "fay_flipped": (("conv2d_basic",), "Your values differ\nThis looks like: ...", 2.0),
}
#: student -> the misconception their failures were diagnosed as
DIAGNOSED = {"fay_flipped": "kernel_flipped"}


def make_class(course: Path) -> None:
    """A gradebook (course/gradebook.db, as nbgrader's default) with CLASS's scores, and
    `cnn-course grade`'s results for those that have one."""
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "cnn-course") as gb:
        gb.add_assignment(ASSIGNMENT)
        gb.add_notebook(NOTEBOOK, ASSIGNMENT)
        for gid, points in CELLS.items():
            gb.add_grade_cell(gid, NOTEBOOK, ASSIGNMENT, max_score=points, cell_type="code")
        # a written answer: left to grade by hand
        gb.add_grade_cell("written", NOTEBOOK, ASSIGNMENT, max_score=2, cell_type="markdown")
        for student, (failed, message, stored) in CLASS.items():
            gb.add_student(student)
            gb.add_submission(ASSIGNMENT, student)
            for gid, points in CELLS.items():
                grade = gb.find_grade(gid, NOTEBOOK, ASSIGNMENT, student)
                grade.auto_score = 0.0 if gid in failed else points
                grade.needs_manual_grade = False
            gb.db.commit()
            if stored is None:
                continue
            record = {"status": "malformed", "results": {},
                      "otherwise": "Your notebook could not be graded: not JSON.",
                      "seconds": 0.1, "cpu_seconds": 0.1} if stored == "malformed" else {
                "status": "graded", "seconds": stored, "cpu_seconds": stored / 2,
                "results": {gid: {"grade_id": gid, "passed": gid not in failed,
                                  "points": points, "seconds": 0.5,
                                  "message": _failed(gid, message) if gid in failed else
                                  f"PASSED: {gid}",
                                  "misconception": DIAGNOSED.get(student) if gid in failed
                                  else None} for gid, points in CELLS.items()}}
            parallel.write_result(parallel.result_path(course / parallel.RESULTS_DIR, student,
                                                       ASSIGNMENT, NOTEBOOK), record)


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    course = tmp_path_factory.mktemp("report") / "course"
    course.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        # a new gradebook is stamped by running `alembic`, found on PATH (as by nbgrader's)
        mp.setenv("PATH", cli.subprocess_env()["PATH"])
        make_class(course)
    return course


@pytest.fixture(scope="module")
def ran(course):
    """(stdout, page) of `cnn-course report ASSIGNMENT --course DIR`: nbgrader's db_url and
    the default page."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main(["report", ASSIGNMENT, "--course", str(course)]) == 0
    page = course / "reports" / f"{ASSIGNMENT}.html"
    assert f"report: {page}" in out.getvalue()
    return out.getvalue(), page.read_text(encoding="utf-8")


def test_limits_and_crashes_are_told_apart_from_wrong_answers():
    assert report.classify(_failed("a", _budget()))[0] == "budget"
    assert report.classify(_failed("a", _hang())) == (
        "time limit", "`conv2d` did not return within 10 s (an infinite loop?).")
    assert report.classify(_failed("a", CRASH))[0] == "crash"
    assert report.classify('`f` is not defined.\nAnswer cell "c" raised SandboxCrashed when '
                           "it ran:\nthe process running your code exited with code -9")[0] \
        == "crash"
    assert report.classify("Your answer cell \"c\" did not finish within 30 s")[0] == \
        "time limit"
    assert report.classify("`f` is too slow to grade: 3 examples took 95 s")[0] == "time limit"
    from grader.nbgrader_plugin import INTERNAL_ERROR
    assert report.classify(INTERNAL_ERROR)[0] == "internal error"
    # the answer's own failures are the student's, not grading's
    for message in ("Your values differ from PyTorch's", "`conv2d` raised TypeError: bad",
                    "`conv2d` is not implemented yet", "`conv2d` is not defined."):
        assert report.classify(_failed("a", message)) is None


def test_the_markers_are_the_graders_own_words():
    """A reworded message in the sandbox or the checks must fail here, not silently drop
    students from the report."""
    grader = Path(report.__file__).parent
    source = "".join(p.read_text(encoding="utf-8") for p in grader.glob("*.py")
                     if p.name != "report.py")
    for _, phrases in report.MARKERS:
        for phrase in phrases:
            assert phrase in source, phrase


def test_the_summary(ran):
    text = ran[0]
    # 7, 2, 1, 4, 0, 3 and 4 points out of 7
    assert f"{ASSIGNMENT}: 7 students, autograded score: mean 3.0/7 (43%), median 3/7; " \
        "7 written answers left to grade by hand" in text
    worst = re.findall(r"^  (\w+) +(\d+)/(\d+)", text.split("worst checks")[1], re.M)[:4]
    # a tie in the order of the grade ids
    assert worst == [("conv2d_basic", "1", "7"), ("conv2d_stride", "4", "7"),
                     ("quiz_1x1", "5", "7"), ("same_padding", "5", "7")]
    diagnosed = text.split("misconceptions diagnosed: ")[1].splitlines()
    assert diagnosed[0] == "1 (check, misconception, students)"
    assert diagnosed[1].split() == ["conv2d_basic", "the", "kernel", "is", "flipped", "(a",
                                    "true", "convolution)", "1"]
    slow = text.split("slowest submissions")[1].splitlines()[1:4]
    assert [line.split()[0] for line in slow] == ["cho_budget", "ben_crashes", "ada"]
    flagged = text.split("grading hit errors or limits: ")[1]
    assert flagged.startswith("4 students")
    # one line per student and kind: not ada, nor eve, whose result nbgrader has alone
    assert [line.split(": ")[0] for line in flagged.splitlines() if line.startswith("  ")] \
        == [f"  {HOSTILE}", "  ben_crashes", "  cho_budget", "  dee_unreadable"]
    assert f"{HOSTILE}: time limit in 1 check (conv2d_basic)" in flagged
    assert "ben_crashes: crash in 2 checks (conv2d_basic, conv2d_stride): `conv2d` crashed " \
        "the process running it" in flagged
    assert "cho_budget: budget in 3 checks" in flagged and \
        "used up its grading time (600 s in all)" in flagged
    assert "dee_unreadable: unreadable notebook: Your notebook could not be graded" in flagged


def test_the_page_is_self_contained_and_escaped(ran):
    page = ran[1]
    assert page.count("<svg") == 4  # scores, checks, misconceptions, slowest
    table = page.split("<h2>Misconceptions</h2>")[1].split("</table>")[0]
    assert "<td><code>conv2d_basic</code></td><td>the kernel is flipped (a true " \
        "convolution)</td><td>1</td>" in table
    assert "<script" not in page and "<img" not in page
    assert html.escape(HOSTILE) in page and html.escape("<img src=x") in page
    # nothing fetched: only in-page references and data: URLs
    assert not re.findall(r'(?:src|href)="(?!#|data:)', page)
    body = page.split("Errors and limits")[1]
    assert body.index(html.escape(HOSTILE)) < body.index("ben_crashes") < \
        body.index("cho_budget") < body.index("dee_unreadable")
    # the check order of the figure is the summary's: worst first
    checks_svg = page.split("Checks, worst first")[1]
    labels = [m for m in re.findall(r"<!-- (\w+) -->", checks_svg) if m in CELLS]
    assert labels[:4] == ["conv2d_basic", "conv2d_stride", "quiz_1x1", "same_padding"]


def test_without_stored_results_the_report_says_timings_are_unavailable(course, tmp_path):
    found = report.load(ASSIGNMENT, f"sqlite:///{course / 'gradebook.db'}", "cnn-course",
                        tmp_path / "no-results")
    assert "timings unavailable: no results of `cnn-course grade`" in report.summary(found)
    page = report.html_page(found)
    assert page.count("<svg") == 2 and "timings unavailable" in page
    assert "No failure was diagnosed" in page


def test_it_never_creates_a_gradebook_nor_reports_an_ungraded_assignment(course, tmp_path):
    missing = tmp_path / "gradebook.db"
    with pytest.raises(gradebook.GradebookError, match="no gradebook at"):
        report.load(ASSIGNMENT, f"sqlite:///{missing}", "cnn-course", tmp_path)
    assert not missing.exists()
    with pytest.raises(gradebook.GradebookError,
                       match="no graded submissions of ps02_convolution_zoo"):
        report.load("ps02_convolution_zoo", f"sqlite:///{course / 'gradebook.db'}",
                    "cnn-course", tmp_path)


# --- in a real browser --------------------------------------------------------------------


def test_the_page_loads_without_errors_and_its_plots_render(chromium, ran, course):
    from playwright.sync_api import sync_playwright

    url = (course / "reports" / f"{ASSIGNMENT}.html").as_uri()
    with sync_playwright() as p:
        browser = launch(p, chromium)
        try:
            page = browser.new_page()
            problems, requests = [], []
            page.on("console", lambda m: problems.append(f"{m.type}: {m.text}")
                    if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda err: problems.append(f"page error: {err}"))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(url, wait_until="load")
            plots = page.locator("figure svg")
            assert plots.count() == 4
            for i in range(4):
                box = plots.nth(i).bounding_box()
                assert box and box["width"] > 300 and box["height"] > 100, box
                # bars and axes drawn: paths (text too is drawn as paths)
                assert plots.nth(i).locator("path").count() > 20
            heading = page.locator("h1").inner_text()
        finally:
            browser.close()
    assert problems == []
    assert requests == [url]  # nothing else fetched
    assert heading == f"{ASSIGNMENT}: class report"
