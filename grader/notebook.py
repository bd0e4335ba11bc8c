"""Loading notebooks: the student's answer cells and the grade cells' check calls.

Answers are taken as *source text* from the cells nbgrader marks as solution
cells, never as live objects.  Grade cells are read for the calls
``check("<id>")`` / ``check("<id>", profile="thorough")`` that they make after
``from grader.problems.<problem set> import check``.
"""
from __future__ import annotations

import ast
import dataclasses

import nbformat


@dataclasses.dataclass(frozen=True)
class CheckCall:
    problem_set: str
    check_id: str
    profile: str = "quick"


@dataclasses.dataclass
class GradeCell:
    grade_id: str
    points: float
    calls: list[CheckCall]


def read(path) -> nbformat.NotebookNode:
    return nbformat.read(str(path), as_version=4)


def nbgrader_meta(cell) -> dict:
    """The cell's nbgrader metadata (empty for cells nbgrader does not manage)."""
    return cell.get("metadata", {}).get("nbgrader", {})


SETUP_PREFIX = "setup"


def answer_cells(nb) -> list[tuple[str, str]]:
    """``(grade_id, source)`` of the cells that make up the student's program, in order.

    These are the cells nbgrader treats as answers (code solution cells) and the
    locked set-up cells (grade ids starting with ``setup``) that import what the
    answers use.  Demo, plot and training cells are left out.
    """
    out = []
    for i, cell in enumerate(nb.cells):
        meta = nbgrader_meta(cell)
        if cell.cell_type != "code" or meta.get("grade"):
            continue
        grade_id = meta.get("grade_id") or f"cell-{i}"
        if meta.get("solution") or (meta.get("locked") and grade_id.startswith(SETUP_PREFIX)):
            out.append((grade_id, cell.source))
    return out


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
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
                node.func.id in aliases and node.args and isinstance(node.args[0], ast.Constant):
            profile = "quick"
            for kw in node.keywords:
                if kw.arg == "profile" and isinstance(kw.value, ast.Constant):
                    profile = kw.value.value
            calls.append((node.lineno, CheckCall(aliases[node.func.id], node.args[0].value,
                                                 profile)))
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
