"""Read scores back from nbgrader's gradebook (SQLite by default, any SQLAlchemy URL).

nbgrader's ``Gradebook`` creates what it opens: an SQLite file that is not there, the tables
of an empty database.  ``rows`` reads only a gradebook that exists (``check``), and says in
one line (``GradebookError``) what is wrong with a URL, a missing file or a server it cannot
reach.  SQLAlchemy and nbgrader are imported when needed, so that ``cnn-course --help`` is
fast.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

#: seconds to wait for a database server before saying it cannot be reached
CONNECT_TIMEOUT_S = 10


class GradebookError(RuntimeError):
    """A gradebook that cannot be used: the message says why, in one line."""


@dataclasses.dataclass
class Row:
    student: str
    assignment: str
    auto_score: float
    auto_max: float
    manual_pending: int
    cells: dict  # grade_id -> (score, max)


def shown_url(db_url: str) -> str:
    """A database URL as it may be printed: without its password."""
    from sqlalchemy.engine import make_url
    try:
        url = make_url(db_url)
    except Exception:  # noqa: BLE001 - not a URL: nothing in it to hide
        return db_url
    return db_url if url.password is None else url.render_as_string(hide_password=True)


def _first_line(err: BaseException) -> str:
    """The driver's own message (``orig``) without SQLAlchemy's SQL and background link."""
    err = getattr(err, "orig", None) or err
    lines = [ln.strip() for ln in str(err).strip().splitlines() if ln.strip()]
    return (lines[0] if lines else type(err).__name__)[:300]


def sqlite_path(db_url: str) -> Path | None:
    """The file of an ``sqlite:///`` URL, or None for another database (or in memory)."""
    from sqlalchemy.engine import make_url
    url = make_url(db_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


def check(db_url: str, *, must_exist: bool = True) -> None:
    """Raise ``GradebookError`` unless ``db_url`` is a database URL SQLAlchemy can use and,
    with ``must_exist``, names a gradebook that is there: an SQLite file (never created), or
    a database server that answers and holds nbgrader's tables.  Without ``must_exist``, an
    SQLite file may be missing (nbgrader creates it) but its folder must exist, and a server
    must answer."""
    from sqlalchemy import create_engine, inspect
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

    example = "e.g. sqlite:///gradebook.db or postgresql://user@host/cnn_course"
    try:
        url = make_url(db_url)
    except (ArgumentError, ValueError):
        raise GradebookError(f"{db_url!r} is not a database URL ({example})") from None
    shown = shown_url(db_url)
    path = sqlite_path(db_url)
    if path is not None:
        if path.is_dir():
            raise GradebookError(f"the gradebook {path} is a folder, not an SQLite file")
        if must_exist and not path.exists():
            raise GradebookError(f"no gradebook at {path} (an SQLite file): check the path, "
                                 "or create it with `cnn-course build` or `nbgrader "
                                 "generate_assignment`")
        if not path.parent.is_dir():
            raise GradebookError(f"no folder {path.parent} for the gradebook {path}")
        if not must_exist:
            return
    connect_args = {}
    if url.get_backend_name() == "postgresql":
        connect_args["connect_timeout"] = CONNECT_TIMEOUT_S
    try:
        engine = create_engine(url, connect_args=connect_args)
    except NoSuchModuleError:
        raise GradebookError(f"{shown}: SQLAlchemy knows no database {url.drivername!r} "
                             f"({example})") from None
    except ImportError as err:
        raise GradebookError(f"{shown}: the database driver is not installed "
                             f"({_first_line(err)})") from None
    except (ArgumentError, SQLAlchemyError, ValueError, TypeError) as err:
        raise GradebookError(f"{shown} is not a usable database URL: {_first_line(err)}") \
            from None
    try:
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names()) if must_exist else set()
    except SQLAlchemyError as err:
        raise GradebookError(f"cannot connect to the gradebook {shown}: "
                             f"{_first_line(err)}") from None
    finally:
        engine.dispose()
    if must_exist and not {"assignment", "student"} <= tables:
        raise GradebookError(f"{shown} is not an nbgrader gradebook (it has none of nbgrader's "
                             "tables): create it with `cnn-course build` or `nbgrader "
                             "generate_assignment`")


def rows(db_url: str, course_id: str = "cnn-course") -> list[Row]:
    """Every submission's scores; ``GradebookError`` if the gradebook is not there."""
    from nbgrader.api import Gradebook
    from sqlalchemy.exc import SQLAlchemyError

    check(db_url, must_exist=True)
    out = []
    try:
        with Gradebook(db_url, course_id) as gb:
            for assignment in gb.assignments:
                for sub in gb.assignment_submissions(assignment.name):
                    cells, auto, auto_max, pending = {}, 0.0, 0.0, 0
                    for nb in sub.notebooks:
                        for grade in nb.grades:
                            if grade.cell_type != "code":  # written answers: graded by hand
                                pending += int(grade.needs_manual_grade)
                                continue
                            score = grade.score or 0.0
                            cells[grade.name] = (score, grade.max_score)
                            auto += score
                            auto_max += grade.max_score
                    out.append(Row(sub.student.id, assignment.name, auto, auto_max, pending,
                                   cells))
    except SQLAlchemyError as err:
        raise GradebookError(f"cannot read the gradebook {shown_url(db_url)}: "
                             f"{_first_line(err)}") from None
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
