"""Loading notebooks: a problem set's layout, from its source, and a submission's answers.

What is graded comes from the *source* notebook in ``solutions/``, never from a
submission: ``layout()`` reads its grade cells (points, and the calls
``check("<id>")`` / ``check("<id>", profile="thorough")`` they make after
``from grader.problems.<problem set> import check``, hidden ones included), its
locked set-up cells and the grade ids of its answer cells; ``grader.layout``
keeps that, per problem set, in reviewable JSON.

From a submission only the answer cells are taken, as *source text*, matched by
grade id (``answers()``).  ``read()`` bounds what it reads, and every way a
submission can be unusable raises ``MalformedNotebook`` with a message for the
student.
"""
from __future__ import annotations

import ast
import collections
import dataclasses
import json
from pathlib import Path

import nbformat

#: a larger file is not a notebook a student wrote (and parsing it costs memory)
MAX_NOTEBOOK_BYTES = 20 * 2**20
#: an answer cell over this many characters is not run (the largest model answer is ~3 kB);
#: parsing it for the shortcut scan would cost the grading process gigabytes
MAX_CELL_CHARS = 200_000
#: all answer cells together, copies included
MAX_ANSWER_CHARS = 2 * 2**20
#: cell metadata that marks a later copy of a cell, whose nbgrader metadata nbgrader would
#: not accept twice (see ``nbgrader_plugin.DeduplicateCells``)
COPY_KEY = "cnn_course_copy_of"


class MalformedNotebook(ValueError):
    """A submission the grader cannot grade; the message says why, for the student."""


@dataclasses.dataclass(frozen=True)
class CheckCall:
    problem_set: str
    check_id: str
    profile: str = "quick"
    #: inside ``### BEGIN HIDDEN TESTS``: run when grading, not by ``pytest exercises/``
    hidden: bool = False


@dataclasses.dataclass
class GradeCell:
    grade_id: str
    points: float
    calls: list[CheckCall]


# --- reading a file ------------------------------------------------------------------------


def read(path) -> nbformat.NotebookNode:
    """The notebook at ``path``, read within bounds; ``MalformedNotebook`` says why not."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_NOTEBOOK_BYTES:
            raise MalformedNotebook(f"the notebook file is {size / 2**20:.0f} MB; the grader "
                                    f"reads notebooks of at most {MAX_NOTEBOOK_BYTES >> 20} MB")
        data = path.read_bytes()
    except OSError as err:
        raise MalformedNotebook(f"the notebook file cannot be read ({err.strerror})") from None
    return parse(data)


def parse(data: bytes) -> nbformat.NotebookNode:
    """A notebook from the bytes of its file (UTF-8 JSON in the Jupyter format)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise MalformedNotebook(f"the notebook file is not UTF-8 text (byte {err.start} is "
                                f"{data[err.start]:#04x}); save it again from Jupyter") from None
    try:
        json.loads(text)
    except json.JSONDecodeError as err:
        raise MalformedNotebook(f"the notebook file is not valid JSON ({err.msg} at line "
                                f"{err.lineno}, column {err.colno}); save it again from "
                                "Jupyter") from None
    invalid: dict = {}
    try:
        nb = nbformat.reads(text, as_version=4, capture_validation_error=invalid)
    except Exception as err:  # noqa: BLE001 - nbformat raises many kinds on malformed input
        raise MalformedNotebook(f"the file is JSON but not a Jupyter notebook "
                                f"({_first_line(err)})") from None
    if "ValidationError" in invalid:
        raise MalformedNotebook("the notebook does not follow the Jupyter notebook format "
                                f"({_first_line(invalid['ValidationError'].message)})")
    return nb


def _first_line(err) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0][:200]


# --- cells ---------------------------------------------------------------------------------


def nbgrader_meta(cell) -> dict:
    """The cell's nbgrader metadata (empty for cells nbgrader does not manage, or mangled)."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def grade_id(cell) -> str | None:
    """The grade id a cell carries, or that of the cell it is a copy of."""
    gid = nbgrader_meta(cell).get("grade_id") or cell.get("metadata", {}).get(COPY_KEY)
    return gid if isinstance(gid, str) else None


SETUP_PREFIX = "setup"


def answer_cells(nb) -> list[tuple[str, str]]:
    """``(grade_id, source)`` of the cells that make up a *source* notebook's program, in order.

    These are the cells nbgrader treats as answers (code solution cells) and the
    locked set-up cells (grade ids starting with ``setup``) that import what the
    answers use.  Demo, plot and training cells are left out.
    """
    out = []
    for i, cell in enumerate(nb.cells):
        meta = nbgrader_meta(cell)
        if cell.cell_type != "code" or meta.get("grade"):
            continue
        gid = meta.get("grade_id") or f"cell-{i}"
        if meta.get("solution") or (meta.get("locked") and gid.startswith(SETUP_PREFIX)):
            out.append((gid, cell.source))
    return out


_HIDDEN_BEGIN, _HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"


def _hidden_lines(source: str) -> set[int]:
    """Line numbers between nbgrader's hidden-test markers."""
    hidden, inside = set(), False
    for number, line in enumerate(source.splitlines(), 1):
        text = line.strip()
        if text.startswith(_HIDDEN_BEGIN):
            inside = True
        elif text.startswith(_HIDDEN_END):
            inside = False
        elif inside:
            hidden.add(number)
    return hidden


def parse_calls(source: str) -> list[CheckCall]:
    """The ``check(...)`` calls a grade cell makes, in order."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    aliases: dict[str, str] = {}
    calls = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and \
                node.module.startswith("grader.problems."):
            for alias in node.names:
                if alias.name == "check":
                    aliases[alias.asname or "check"] = node.module.rsplit(".", 1)[1]
    hidden = _hidden_lines(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
                node.func.id in aliases and node.args and isinstance(node.args[0], ast.Constant):
            profile = "quick"
            for kw in node.keywords:
                if kw.arg == "profile" and isinstance(kw.value, ast.Constant):
                    profile = kw.value.value
            calls.append((node.lineno, CheckCall(aliases[node.func.id], node.args[0].value,
                                                 profile, node.lineno in hidden)))
    return [c for _, c in sorted(calls, key=lambda t: t[0])]


def grade_cells(nb) -> list[GradeCell]:
    """Autograded test cells that call grader checks, in notebook order."""
    out = []
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
            calls = parse_calls(cell.source)
            if calls:
                out.append(GradeCell(meta["grade_id"], float(meta.get("points", 0)), calls))
    return out


def imported_problem_sets(nb) -> set[str]:
    """The problem sets whose ``check`` a notebook's code cells import (size-bounded)."""
    return {call.problem_set for cell in nb.cells
            if cell.cell_type == "code" and len(cell.source) <= MAX_CELL_CHARS
            and "grader.problems." in cell.source for call in parse_calls(cell.source)}


# --- the layout of a problem set, from its source notebook -----------------------------------


@dataclasses.dataclass
class Layout:
    """What the grader grades in one problem set, taken from its source notebook."""
    problem_set: str
    notebook: str
    #: locked set-up cells: grade id -> source (nbgrader restores them, and so does the grader)
    setup: dict[str, str]
    #: set-up and answer cells' grade ids, in the source notebook's order
    program: list[str]
    grade_cells: list[GradeCell]

    @property
    def answers(self) -> list[str]:
        return [gid for gid in self.program if gid not in self.setup]

    def graded_cells(self, hidden: bool = True) -> list[GradeCell]:
        """The check cells, with their hidden calls or without (then cells of hidden
        calls only are left out, as in the release)."""
        out = []
        for cell in self.grade_cells:
            calls = [c for c in cell.calls if hidden or not c.hidden]
            if calls:
                out.append(GradeCell(cell.grade_id, cell.points, calls))
        return out

    def to_json(self) -> dict:
        return {"problem_set": self.problem_set, "notebook": self.notebook,
                "setup": self.setup, "program": self.program,
                "grade_cells": [{"grade_id": c.grade_id, "points": c.points,
                                 "checks": [{"check_id": k.check_id, "profile": k.profile,
                                             "hidden": k.hidden} for k in c.calls]}
                                for c in self.grade_cells]}

    @classmethod
    def from_json(cls, d: dict) -> "Layout":
        ps = d["problem_set"]
        cells = [GradeCell(c["grade_id"], float(c["points"]),
                           [CheckCall(ps, k["check_id"], k["profile"], k["hidden"])
                            for k in c["checks"]])
                 for c in d["grade_cells"]]
        return cls(ps, d["notebook"], dict(d["setup"]), list(d["program"]), cells)


def layout(source_nb, problem_set: str, notebook: str) -> Layout:
    """The layout of a problem set's source notebook (``solutions/<ps>/<notebook>``)."""
    program = answer_cells(source_nb)
    setup = {gid: src for gid, src in program if gid.startswith(SETUP_PREFIX)}
    cells = grade_cells(source_nb)
    for cell in source_nb.cells:
        meta = nbgrader_meta(cell)
        if cell.cell_type == "code" and meta.get("grade") and \
                meta["grade_id"] not in {c.grade_id for c in cells}:
            raise ValueError(f"{problem_set}: autograded cell {meta['grade_id']!r} calls no "
                             "check: the grader would have nothing to grade it with")
    others = {c.problem_set for cell in cells for c in cell.calls} - {problem_set}
    if others:
        raise ValueError(f"{problem_set}: check cells call other problem sets' checks: "
                         f"{sorted(others)}")
    return Layout(problem_set, notebook, setup, [gid for gid, _ in program], cells)


# --- a submission's answers ---------------------------------------------------------------------


@dataclasses.dataclass
class Answers:
    """What the grader runs of a submission, and what was unusual about it.

    ``cells`` are the answer cells in the submission's order, copies included
    (as "Run All" runs them), with the locked set-up cells' source from the
    layout; ``notes`` tell the student what was left out or changed."""
    cells: list[tuple[str, str]]
    notes: list[str]


def answers(nb, layout: Layout) -> Answers:
    """The answer cells of submission ``nb``, matched to ``layout`` by grade id.

    The cell type does not matter (nbgrader turns a raw or markdown answer cell
    back into code), nor do the cell's nbgrader flags: only its grade id."""
    setup, wanted = layout.setup, set(layout.answers)
    cells, notes, seen = [], [], collections.Counter()  # cells: (grade id, name, source)
    for cell in nb.cells:
        gid = grade_id(cell)
        if gid in setup and not seen[gid]:
            cells.append((gid, gid, setup[gid]))
        elif gid in wanted:
            name = gid if not seen[gid] else f"{gid} (copy {seen[gid] + 1})"
            cells.append((gid, name, _bounded(name, cell.source, notes)))
            if cell.cell_type != "code":
                notes.append(f'answer cell "{gid}" is a {cell.cell_type} cell: it was graded '
                             "as code, as nbgrader restores its type")
            if seen[gid] == 1:
                notes.append(f'answer cell "{gid}" appears more than once: every copy was run, '
                             "in notebook order")
        seen[gid] += 1
    missing = [gid for gid in layout.answers if not seen[gid]]
    if len(missing) == len(layout.answers):
        raise MalformedNotebook(f"none of the answer cells of {layout.problem_set} is in the "
                                "notebook (their nbgrader cell metadata is missing or was "
                                "changed): work in a fresh copy of the released notebook")
    notes += [f'answer cell "{gid}" is not in the notebook (deleted, or its cell metadata was '
              "lost): nothing of it was graded" for gid in missing]
    total = sum(len(src) for _, _, src in cells)
    if total > MAX_ANSWER_CHARS:
        raise MalformedNotebook(f"the answer cells hold {total / 2**20:.1f} MB of code; the "
                                f"grader runs at most {MAX_ANSWER_CHARS >> 20} MB")
    return Answers(_with_missing_setup(cells, layout, seen), notes)


def _bounded(name: str, source: str, notes: list[str]) -> str:
    """The cell's source, or a cell that raises if it is too large to grade."""
    if len(source) <= MAX_CELL_CHARS:
        return source
    message = (f'answer cell "{name}" holds {len(source) // 1000} kB of code; the grader runs '
               f"cells of at most {MAX_CELL_CHARS // 1000} kB")
    notes.append(message)
    return f"raise ValueError({message!r})\n"


def _with_missing_setup(cells, layout: Layout, seen) -> list[tuple[str, str]]:
    """``(name, source)`` of ``cells`` and of the set-up cells the submission lacks, each
    of those before the first cell that follows it in the source notebook (nbgrader does
    not restore them)."""
    order = {gid: i for i, gid in enumerate(layout.program)}
    out = list(cells)
    for gid, source in layout.setup.items():
        if not seen[gid]:
            at = next((k for k, (other, _, _) in enumerate(out) if order[other] > order[gid]),
                      len(out))
            out.insert(at, (gid, gid, source))
    return [(name, source) for _, name, source in out]
