"""A class report for the instructor: ``cnn-course report ASSIGNMENT``.

    cnn-course report ps01_convolution        # writes reports/ps01_convolution.html

One self-contained HTML page (the figures are inline SVG; no script, nothing fetched) and a
text summary: the score histogram, the pass rate of every check (worst first), the slowest
submissions, and the students whose grading hit errors or limits.

Scores come from nbgrader's gradebook, so they are the ones students get.  Timings, errors
and limits come from the results ``cnn-course grade`` stores
(``<course>/.cnn-course/results``, see ``grader.parallel``); a class graded by ``nbgrader
autograde`` alone has none, and the report says its timings are unavailable.
"""
from __future__ import annotations

import collections
import dataclasses
import html
import io
import statistics
import warnings
from pathlib import Path

from . import gradebook, parallel

#: How a failed check's message says that grading, not the answer, stopped it: the first
#: kind whose phrase is in the message.  The phrases are those of grader.sandbox,
#: grader.checks and grader.nbgrader_plugin: tests/test_report.py fails when one is reworded.
MARKERS = (
    # sandbox.BudgetExhausted: the notebook's whole budget_s is spent
    ("budget", ("used up its grading time",)),
    # SandboxCrashed in a call (checks), or its own words when an answer cell crashed
    # (target.describe_cell_errors): a non-zero exit, too much memory, too many processes
    ("crash", ("crashed the process running it", "the process running your code exited",
               "your code used more than", "your code started more than")),
    # checks.timed_out (one call), the sandbox's cell_timeout (an answer cell at top level),
    # checks.search (a check's own Profile.budget_s)
    ("time limit", ("did not return within", "did not finish within", "is too slow to grade")),
    # nbgrader_plugin.INTERNAL_ERROR: a grader bug
    ("internal error", ("Internal grader error",)),
)
#: a stored result whose notebook could not be graded at all
MALFORMED = "unreadable notebook"
#: what the figures and the summary show of the longest lists
SLOWEST, WORST = 10, 5
#: CSS colours: failing, doubtful, fine
RED, ORANGE, GREEN, BLUE = "#c0392b", "#e67e22", "#27ae60", "#2e86c1"


@dataclasses.dataclass
class Issue:
    kind: str   # a kind of MARKERS, or MALFORMED
    check: str  # the grade id it failed; "" for the whole notebook
    text: str   # the line of the message that says so


@dataclasses.dataclass
class Student:
    id: str
    score: float
    max_score: float
    passed: dict  # grade id -> full marks (autograded cells only)
    #: on the worker, all of the assignment's notebooks; None without a stored result
    seconds: float | None = None
    cpu_seconds: float | None = None
    issues: list = dataclasses.field(default_factory=list)
    #: grade id -> the misconception its failure was diagnosed as (``grader.misconceptions``)
    diagnosed: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class ClassReport:
    assignment: str
    students: list
    to_grade: int  # written answers left for a human
    results_dir: Path

    @property
    def timed(self) -> bool:
        return any(s.seconds is not None for s in self.students)


# --- reading ------------------------------------------------------------------------------


def classify(message: str) -> tuple[str, str] | None:
    """The kind of limit or error that stopped a check (``MARKERS``) and the line of
    ``message`` naming it; None when the answer itself failed (wrong values, exceptions)."""
    for kind, phrases in MARKERS:
        for line in message.splitlines():
            if any(p in line for p in phrases):
                return kind, line.strip()
    return None


def issues(record: dict) -> list[Issue]:
    """The errors and limits a stored result of ``cnn-course grade`` shows."""
    if record.get("status") != "graded":
        # only "graded" and "malformed" are stored; "otherwise" says why
        first = (record.get("otherwise") or record.get("message") or "").splitlines()
        return [Issue(MALFORMED, "", first[0] if first else str(record.get("status")))]
    out = []
    for gid, result in (record.get("results") or {}).items():
        found = None if result.get("passed") else classify(result.get("message") or "")
        if found:
            out.append(Issue(found[0], gid, found[1]))
    return out


def load(assignment: str, db_url: str, course_id: str, results_dir: Path) -> ClassReport:
    """The gradebook's scores of ``assignment`` and the stored results under
    ``results_dir`` (``<student>/<assignment>/<notebook>.json``), where there are any."""
    rows = [r for r in gradebook.rows(db_url, course_id) if r.assignment == assignment]
    if not rows:
        raise gradebook.GradebookError(
            f"no graded submissions of {assignment} in the gradebook "
            f"{gradebook.shown_url(db_url)}: grade them first (`cnn-course grade {assignment}`)")
    students = []
    for row in rows:
        student = Student(row.student, row.auto_score, row.auto_max,
                          {gid: score >= top for gid, (score, top) in row.cells.items()})
        folder = Path(results_dir) / row.student / assignment
        # sorted: the same page from the same results
        records = [r for r in map(parallel.read_result, sorted(folder.glob("*.json"))) if r]
        if records:
            student.seconds = sum(float(r.get("seconds") or 0) for r in records)
            student.cpu_seconds = sum(float(r.get("cpu_seconds") or 0) for r in records)
            student.issues = [i for r in records for i in issues(r)]
            student.diagnosed = {gid: result["misconception"] for r in records
                                 for gid, result in (r.get("results") or {}).items()
                                 if result.get("misconception")}
        students.append(student)
    return ClassReport(assignment, students, sum(r.manual_pending for r in rows),
                       Path(results_dir))


# --- what the report shows ----------------------------------------------------------------


def pass_rates(report: ClassReport) -> list[tuple[str, int, int]]:
    """(grade id, students with full marks, students) of every check, worst first."""
    counts: dict[str, list[int]] = {}
    for s in report.students:
        for gid, ok in s.passed.items():
            c = counts.setdefault(gid, [0, 0])
            c[0] += ok
            c[1] += 1
    return sorted(((gid, ok, n) for gid, (ok, n) in counts.items()),
                  key=lambda t: (t[1] / t[2], t[0]))


def slowest(report: ClassReport, n: int = SLOWEST) -> list[Student]:
    timed = [s for s in report.students if s.seconds is not None]
    return sorted(timed, key=lambda s: (-s.seconds, s.id))[:n]


def flagged(report: ClassReport) -> list[tuple[Student, list[tuple[str, list[Issue]]]]]:
    """The students whose grading hit errors or limits, with their issues by kind."""
    out = []
    for s in sorted(report.students, key=lambda s: s.id):
        kinds: dict[str, list[Issue]] = {}
        for issue in s.issues:
            kinds.setdefault(issue.kind, []).append(issue)
        if kinds:
            out.append((s, list(kinds.items())))
    return out


def _describe(kind: str, found: list[Issue]) -> str:
    """As "time limit in 4 checks (a, b, c, ...): <the first message>"."""
    checks = [i.check for i in found if i.check]
    names = ", ".join(checks[:3]) + (", ..." if len(checks) > 3 else "")
    where = f" in {len(checks)} check{'s' * (len(checks) != 1)} ({names})" if checks else ""
    return f"{kind}{where}: {found[0].text}"


def _plain(text: str, width: int = 0) -> str:
    """A student's string for a terminal or a plot: no control characters, at most
    ``width`` characters."""
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if not width or len(text) <= width else text[:width - 1] + "…"


def _no_timings(report: ClassReport) -> str:
    return (f"timings unavailable: no results of `cnn-course grade` in {report.results_dir} "
            "(graded with nbgrader autograde alone?)")


def misconceptions(report: ClassReport) -> list[tuple[str, str, int]]:
    """(grade id, misconception's name, students) of every diagnosis, most frequent first."""
    from . import misconceptions as M
    names = {m.id: m.name for m in M.load(report.assignment)}
    counts = collections.Counter((gid, names.get(mid, mid)) for s in report.students
                                 for gid, mid in s.diagnosed.items())
    return sorted(((gid, name, n) for (gid, name), n in counts.items()),
                  key=lambda row: (-row[2], row[0], row[1]))


def headline(report: ClassReport) -> str:
    scores = [s.score for s in report.students]
    top, mean = report.students[0].max_score, statistics.mean(scores)
    return (f"{report.assignment}: {len(scores)} students, autograded score: mean {mean:.1f}"
            f"/{top:g} ({100 * mean / top if top else 0:.0f}%), median "
            f"{statistics.median(scores):g}/{top:g}"
            + (f"; {report.to_grade} written answers left to grade by hand"
               if report.to_grade else ""))


def summary(report: ClassReport) -> str:
    """The report as text, for the terminal."""
    lines = [headline(report)]
    lines.append("worst checks (students with full marks):")
    for gid, ok, n in pass_rates(report)[:WORST]:
        lines.append(f"  {_plain(gid, 40):<40} {ok:>4}/{n:<4} {100 * ok / n:4.0f}%")
    diagnosed = misconceptions(report)
    lines.append(f"misconceptions diagnosed: {len(diagnosed) or 'none'}"
                 + (" (check, misconception, students)" if diagnosed else ""))
    for gid, name, n in diagnosed[:2 * WORST]:
        lines.append(f"  {_plain(gid, 32):<32} {_plain(name, 56):<56} {n:>4}")
    if report.timed:
        lines.append("slowest submissions (seconds on the worker: wall clock, CPU):")
        for s in slowest(report, WORST):
            lines.append(f"  {_plain(s.id, 40):<40} {s.seconds:7.1f} s {s.cpu_seconds:7.1f} s")
        bad = flagged(report)
        lines.append(f"grading hit errors or limits: {len(bad) or 'no'} student"
                     f"{'s' * (len(bad) != 1)}")
        for s, kinds in bad:
            for kind, found in kinds:
                lines.append(f"  {_plain(s.id, 40)}: {_plain(_describe(kind, found), 160)}")
    else:
        lines.append(_no_timings(report))
    return "\n".join(lines)


# --- figures ------------------------------------------------------------------------------


def _svg(fig, name: str) -> str:
    """``fig`` as an inline <svg> element.  Text is drawn as paths, so a student's id is
    never markup, and not parsed as mathtext either (``$`` in an id); the hash salt keeps
    the page the same from run to run and each figure's ids its own."""
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "path", "text.parse_math": False,
                                "svg.hashsalt": f"cnn-course report {name}"}), \
            warnings.catch_warnings():
        # a name in a script DejaVu Sans lacks: drawn as boxes, which is enough here
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        fig.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue()
    return text[text.index("<svg"):]  # no XML declaration or DOCTYPE inside HTML


def _figure(width: float, height: float):
    from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend

    fig = Figure(figsize=(width, height), layout="constrained")
    return fig, fig.add_subplot()


def score_histogram(report: ClassReport) -> str:
    import numpy as np
    from matplotlib.ticker import MaxNLocator

    scores = [s.score for s in report.students]
    top = report.students[0].max_score or 1
    fig, ax = _figure(7, 3)
    # one bin per point up to 40 points, so that a score is never split across bins; extra
    # credit beyond the top would fall outside every bin
    bins = np.linspace(0, top, int(min(max(top, 1), 40)) + 1)
    ax.hist(np.clip(scores, 0, top), bins=bins, color=BLUE, edgecolor="white")
    for value, style, label in ((statistics.mean(scores), "-", "mean"),
                                (statistics.median(scores), "--", "median")):
        ax.axvline(value, color="black", linestyle=style, linewidth=1,
                   label=f"{label} {value:.1f}")
    ax.set(xlim=(0, top), xlabel=f"score (out of {top:g})", ylabel="students")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(loc="upper left")
    return _svg(fig, "scores")


def pass_rate_chart(rates: list[tuple[str, int, int]]) -> str:
    fig, ax = _figure(7, 0.8 + 0.28 * len(rates))
    y = range(len(rates))
    pct = [100 * ok / n for _, ok, n in rates]
    ax.barh(y, pct, color=[RED if p < 50 else ORANGE if p < 80 else GREEN for p in pct])
    for i, (_, ok, n) in enumerate(rates):
        ax.text(pct[i] + 1, i, f"{ok}/{n}", va="center", fontsize=8)
    ax.set_yticks(list(y), [_plain(gid, 40) for gid, _, _ in rates], fontsize=8)
    ax.invert_yaxis()  # worst at the top
    # room on the right for "n/N" beside a full bar
    ax.set(xlim=(0, 112), xticks=range(0, 101, 20), xlabel="% of students with full marks")
    return _svg(fig, "checks")


def misconception_chart(rows: list[tuple[str, str, int]]) -> str:
    from matplotlib.ticker import MaxNLocator

    fig, ax = _figure(7, 0.8 + 0.28 * len(rows))
    y = range(len(rows))
    ax.barh(y, [n for _, _, n in rows], color=ORANGE)
    ax.set_yticks(list(y), [_plain(f"{name} ({gid})", 60) for gid, name, _ in rows], fontsize=8)
    ax.invert_yaxis()  # most frequent at the top
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set(xlabel="students")
    return _svg(fig, "misconceptions")


def slowest_chart(students: list[Student]) -> str:
    from matplotlib.patches import Patch

    fig, ax = _figure(7, 1 + 0.3 * len(students))
    y = range(len(students))
    ax.barh(y, [s.seconds for s in students],
            color=[RED if s.issues else BLUE for s in students])
    ax.set_yticks(list(y), [_plain(s.id, 32) for s in students], fontsize=8)
    ax.invert_yaxis()
    ax.set(xlabel="seconds on the worker (wall clock)")
    if any(s.issues for s in students):
        ax.legend(handles=[Patch(color=RED, label="hit errors or limits")], loc="lower right",
                  fontsize=8)
    return _svg(fig, "slowest")


# --- the page -----------------------------------------------------------------------------

#: self-contained: no script may run and nothing may be fetched, whatever a name contains
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto;
       padding: 0 1rem; color: #222; }
figure { margin: 1rem 0; }
figure svg { max-width: 100%; height: auto; }
figcaption, .note { color: #555; font-size: 0.9rem; }
li { margin: 0.3rem 0; }
code { white-space: pre-wrap; }
table { border-collapse: collapse; font-size: 0.9rem; }
td, th { border-bottom: 1px solid #ddd; padding: 0.2rem 0.6rem; text-align: left; }
"""


def _section(title: str, body: str) -> str:
    return f"<section>\n<h2>{html.escape(title)}</h2>\n{body}\n</section>"


def html_page(report: ClassReport) -> str:
    """The report as one self-contained HTML page.  Every string from the gradebook or
    the results (student ids, grade ids, messages) is escaped."""
    e = html.escape
    rates = pass_rates(report)
    sections = [
        _section("Scores", f"<figure>{score_histogram(report)}<figcaption>Autograded score "
                 f"of each of the {len(report.students)} students.</figcaption></figure>"),
        _section("Checks, worst first", f"<figure>{pass_rate_chart(rates)}<figcaption>"
                 "Share of students with full marks on each check.</figcaption></figure>"),
    ]
    diagnosed = misconceptions(report)
    if diagnosed:
        table = "".join(f"<tr><td><code>{e(gid)}</code></td><td>{e(name)}</td>"
                        f"<td>{n}</td></tr>" for gid, name, n in diagnosed)
        sections.append(_section("Misconceptions", (
            f"<figure>{misconception_chart(diagnosed)}<figcaption>Students whose failure of a "
            "check was diagnosed as a known misconception.</figcaption></figure>"
            "<table><tr><th>check</th><th>misconception</th><th>students</th></tr>"
            f"{table}</table>")))
    else:
        sections.append(_section("Misconceptions", '<p class="note">No failure was diagnosed '
                                 "as a known misconception.</p>"))
    if report.timed:
        top = slowest(report)
        sections.append(_section("Slowest submissions", f"<figure>{slowest_chart(top)}"
                                 f"<figcaption>The {len(top)} longest to grade.</figcaption>"
                                 "</figure>"))
        items = "".join(f"<li><b>{e(s.id)}</b><ul>" + "".join(
            f"<li><code>{e(_describe(kind, found))}</code></li>" for kind, found in kinds)
            + "</ul></li>" for s, kinds in flagged(report))
        sections.append(_section("Errors and limits", f"<ul>{items}</ul>" if items else
                                 "<p>No student's grading hit an error or a limit.</p>"))
    else:
        sections.append(_section("Timings, errors and limits",
                                 f'<p class="note">{e(_no_timings(report))}</p>'))
    body = "\n".join(sections)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>{e(report.assignment)}: class report</title>
<style>{STYLE}</style>
</head>
<body>
<h1>{e(report.assignment)}: class report</h1>
<p>{e(headline(report))}</p>
{body}
</body>
</html>
"""


def write(report: ClassReport, out: Path) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html_page(report), encoding="utf-8")
    return out
