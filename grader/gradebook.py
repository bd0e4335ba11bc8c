"""Read scores back from nbgrader's gradebook (SQLite by default, any SQLAlchemy URL)."""
from __future__ import annotations

import dataclasses

from nbgrader.api import Gradebook


@dataclasses.dataclass
class Row:
    student: str
    assignment: str
    auto_score: float
    auto_max: float
    manual_pending: int
    cells: dict  # grade_id -> (score, max)


def rows(db_url: str, course_id: str = "cnn-course") -> list[Row]:
    out = []
    with Gradebook(db_url, course_id) as gb:
        for assignment in gb.assignments:
            for sub in gb.assignment_submissions(assignment.name):
                cells, auto, auto_max, pending = {}, 0.0, 0.0, 0
                for nb in sub.notebooks:
                    for grade in nb.grades:
                        if grade.cell_type != "code":  # written answers are graded by hand
                            pending += int(grade.needs_manual_grade)
                            continue
                        score = grade.score or 0.0
                        cells[grade.name] = (score, grade.max_score)
                        auto += score
                        auto_max += grade.max_score
                out.append(Row(sub.student.id, assignment.name, auto, auto_max, pending, cells))
    return sorted(out, key=lambda r: (r.assignment, r.student))


def format_table(table: list[Row], notes: dict | None = None) -> str:
    """The gradebook as text; ``notes`` maps (student, assignment) to a remark."""
    notes = notes or {}
    header = f"{'student':<24} {'assignment':<18} {'auto score':>11}  {'%':>5}  {'to grade':>8}  notes"
    lines = [header, "-" * len(header)]
    for r in table:
        pct = 100 * r.auto_score / r.auto_max if r.auto_max else 0
        lines.append(f"{r.student:<24} {r.assignment:<18} {r.auto_score:>5g}/{r.auto_max:<5g} "
                     f"{pct:5.0f}%  {r.manual_pending:>8}  {notes.get((r.student, r.assignment), '')}")
    return "\n".join(lines)
