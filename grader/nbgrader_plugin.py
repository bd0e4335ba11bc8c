"""nbgrader preprocessors that make the out-of-process grader authoritative.

Registered in ``nbgrader_config.py``.  ``nbgrader autograde`` never executes a
submission: student code runs only in the grader's sandbox, never in a kernel
with the instructor's privileges.

* ``ReadSubmission`` (autograde's exporter) reads a submission as the grader
  does; a file that is not a notebook becomes an empty one that says why, so the
  rest of the class is graded and this student's check cells fail with the reason;
* ``DeduplicateCells`` and ``RestoreCells`` replace nbgrader's
  ``DeduplicateIds`` and ``OverwriteCells`` when sanitizing: they survive copied,
  mangled and foreign cell metadata, on which nbgrader crashes (issue #1083), and
  take a check cell as released (its hidden tests removed) for unedited
  (nbgrader issue #1961);
* ``GradeOutOfProcess`` grades the notebook's answer cells in a sandbox and
  writes every check cell's output: a stream for a pass, an error for a failure,
  each message once.
  nbgrader then scores the cells from those outputs as usual.  With
  ``results_directory`` (``cnn-course grade``, ``grader.parallel``) it takes the
  verdicts Dask workers gave for the same answer cells instead of grading again;
  both grade with ``grade_notebook``;
* ``StripHiddenTests`` removes hidden test source from generated feedback;
* ``execute_timeout`` gives each cell its time limit under ``nbgrader validate``;
  ``kernel_encryption`` says whether its kernel can encrypt its traffic.

Importing this module (``nbgrader_config.py`` does, in every nbgrader app) silences
nbgrader's known harmless SQLAlchemy warnings.
"""
from __future__ import annotations

import dataclasses
import re
import traceback
import warnings

import nbformat
from nbconvert.exporters import NotebookExporter
from nbformat.notebooknode import NotebookNode
from nbgrader.api import Gradebook
from nbgrader.preprocessors import ClearHiddenTests, NbGraderPreprocessor, OverwriteCells
from sqlalchemy.exc import SAWarning
from traitlets import Bool, Float, List, Unicode

from . import layout as layouts, notebook as nbio, parallel, secret as grading_secret
from .isolation import IsolationUnavailable
from .notebook import nbgrader_meta
from .runner import DEFAULT_BUDGET_S, NotebookGrader

#: seconds an answer cell may run in the kernel under `nbgrader validate`
ANSWER_CELL_TIMEOUT = 30
#: seconds a check cell may run there: `nbgrader validate` runs the checks in the kernel,
#: and problem set 9's trains a CNN
CHECK_CELL_TIMEOUT = 300
#: notebook metadata of the stand-in for a file that is not a notebook: why it is not
UNREADABLE_KEY = "cnn_course_unreadable"
INTERNAL_ERROR = ("Internal grader error: this cell could not be graded. Your instructor has "
                  "the log and will regrade it.")


def quiet_known_warnings() -> None:
    """Silence nbgrader's harmless warnings (done on import): its gradebook adds a new
    submission to a student and an assignment while SQLAlchemy autoflushes, which warns
    for every submission autograded, and saves it all the same."""
    warnings.filterwarnings("ignore", r"Object of type <Submitted\w+> not in session, add "
                            r"operation along", SAWarning, r"nbgrader\.api$")


quiet_known_warnings()


def execute_timeout(cell) -> int:
    """The time limit of one cell under nbgrader's ``Execute`` (its ``timeout_func``)."""
    return CHECK_CELL_TIMEOUT if nbgrader_meta(cell).get("grade") else ANSWER_CELL_TIMEOUT


def kernel_encryption() -> bool:
    """Whether a kernel that ``nbgrader validate`` starts can encrypt its TCP traffic
    (``KernelManager.transport_encryption``, jupyter_client 8.10; pyzmq with CurveZMQ).
    Unencrypted, ipykernel warns on stderr that it is not."""
    import zmq
    from jupyter_client import KernelManager
    return KernelManager.class_traits(config=True).get("transport_encryption") is not None \
        and zmq.has("curve")


def _who(resources) -> str:
    """The student and notebook being graded, for the log."""
    info = resources.get("nbgrader", {})
    return (f"student {info.get('student', '?')} "
            f"({info.get('assignment', '?')}/{info.get('notebook', '?')})")


class ReadSubmission(NotebookExporter):
    """Autograde's exporter: reads a submission within the grader's bounds.

    A file that is not a notebook becomes an empty one that says why
    (``UNREADABLE_KEY``): nbgrader restores its check cells, ``GradeOutOfProcess``
    fails each with the reason, and the rest of the class is graded."""

    def from_file(self, file_stream, resources=None, **kw):
        try:
            nb = nbio.read(file_stream.name)
        except nbio.MalformedNotebook as err:
            self.log.error("grader: %s: %s", _who(resources or {}), err)
            nb = nbformat.v4.new_notebook(metadata={UNREADABLE_KEY: str(err)})
        return self.from_notebook_node(nb, resources=resources, **kw)


class DeduplicateCells(NbGraderPreprocessor):
    """Cell metadata nbgrader can use: one cell per grade id, each with a grade id.

    A cell pasted in Jupyter keeps its metadata.  The first cell of a grade id keeps
    it; a later copy becomes a plain cell marked as a copy (``nbio.COPY_KEY``), so
    a copied answer cell still runs, in notebook order, as in the student's kernel.
    """

    def preprocess(self, nb, resources):
        seen = set()
        for cell in nb.cells:
            if "nbgrader" not in cell.metadata:
                continue
            gid = nbgrader_meta(cell).get("grade_id")
            if isinstance(gid, str) and gid and gid not in seen:
                seen.add(gid)
                continue
            del cell.metadata["nbgrader"]
            if isinstance(gid, str) and gid in seen:
                cell.metadata[nbio.COPY_KEY] = gid
                self.log.warning("grader: %s: cell %r appears more than once; the copy is "
                                 "a plain cell now", _who(resources), gid)
            else:
                self.log.warning("grader: %s: a cell's nbgrader metadata has no grade id; "
                                 "it is a plain cell now", _who(resources))
        return nb, resources


def _source_metadata(source_nb) -> dict[str, dict]:
    """The nbgrader metadata of each cell of the source notebook, from the gradebook."""
    grades = {c.name: c.max_score for c in source_nb.grade_cells}
    solutions = {c.name for c in source_nb.solution_cells}
    tasks = {c.name for c in source_nb.task_cells}
    out = {}
    for cell in source_nb.source_cells:
        meta = {"grade_id": cell.name, "grade": cell.name in grades,
                "solution": cell.name in solutions, "task": cell.name in tasks,
                "locked": cell.locked, "schema_version": 3}
        if cell.name in grades:
            meta["points"] = grades[cell.name]
        out[cell.name] = meta
    return out


class RestoreCells(OverwriteCells):
    """nbgrader's ``OverwriteCells``, taking all of a cell's nbgrader metadata from the
    source (the flags too, not only the points), dropping it from cells the source does
    not have, and restoring a deleted check cell even when the cell before it is gone
    too (where nbgrader's ``add_missing_cells`` raises ``KeyError``).

    A locked cell as released is unedited: the gradebook holds the checksum of the
    source's check cell, hidden tests included, which nbgrader takes for an edit of
    every check cell (nbgrader issue #1961).  An edited one is still reported, and
    like any locked cell, restored from the source."""

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        self._who = _who(resources)
        with Gradebook(info["db_url"]) as gb:
            source_nb = gb.find_notebook(info["notebook"], info["assignment"])
            self._source = _source_metadata(source_nb)
            self._locked = {c.name: c.source for c in source_nb.source_cells if c.locked}
        clear = ClearHiddenTests(parent=self)  # as `nbgrader generate_assignment` released it
        self._released = {}
        for gid, source in self._locked.items():
            cell = NotebookNode(source=source)
            clear._remove_hidden_test_region(cell)
            self._released[gid] = cell.source
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, index):
        gid = nbgrader_meta(cell).get("grade_id")
        if gid in self._source:
            cell.metadata["nbgrader"] = dict(self._source[gid])
            if gid in self._locked and cell.source == self._released[gid]:
                cell.source = self._locked[gid]
        elif "nbgrader" in cell.metadata:
            self.log.warning("grader: %s: cell %r is not in the source notebook; it is a plain "
                             "cell now", _who(resources), gid)
            del cell.metadata["nbgrader"]
        return super().preprocess_cell(cell, resources, index)

    def report_change(self, name, attr, old, new):
        if attr == "checksum":
            self.log.warning("grader: %s: locked cell %r was edited; the source's is restored",
                             self._who, name)
        else:
            self.log.warning("grader: %s: the %s of cell %r has changed (should be: %s, got: "
                             "%s); the source's is restored", self._who, attr, name, old, new)

    def add_missing_grade_cells(self, nb, resources):
        source_nb = self.gradebook.find_notebook(self.notebook_id, self.assignment_id)
        order = [c.name for c in source_nb.source_cells]
        solutions = {c.name for c in source_nb.solution_cells}
        for grade_cell in source_nb.grade_cells:
            present = [nbgrader_meta(c).get("grade_id") for c in nb.cells]
            if grade_cell.name in present:
                continue
            self.log.warning("grader: %s: grade cell %r is missing; restored",
                             _who(resources), grade_cell.name)
            earlier = set(order[:order.index(grade_cell.name)])
            at = max((i + 1 for i, gid in enumerate(present) if gid in earlier), default=0)
            cell = self.missing_cell_transform(
                source_nb.source_cells[order.index(grade_cell.name)], grade_cell.max_score,
                is_solution=grade_cell.name in solutions)
            if nb.get("nbformat_minor", 0) >= 5:  # cells have ids (else nbformat warns)
                cell.id = nbformat.v4.new_code_cell().id
            nb.cells.insert(at, cell)
        return nb, resources


def _passed_output(text: str) -> NotebookNode:
    return NotebookNode(output_type="stream", name="stdout", text=text + "\n")


def _failed_output(text: str) -> NotebookNode:
    lines = text.splitlines() or ["check failed"]
    return NotebookNode(output_type="error", ename="CheckFailed", evalue=lines[0],
                        traceback=["\x1b[0;31mCheckFailed\x1b[0m"] + lines)


def _check_cells(nb) -> list:
    """The autograded code cells: nbgrader scores each from its outputs."""
    return [c for c in nb.cells if c.cell_type == "code" and nbgrader_meta(c).get("grade")]


@dataclasses.dataclass
class Graded:
    """The verdicts of one notebook's check cells (``runner.CellResult`` by grade id), the
    message for check cells without one, the notes for the student, and what was run."""
    results: dict
    otherwise: str
    notes: list
    #: "graded", "malformed" (the student's notebook cannot be graded: ``otherwise``
    #: says why) or "internal_error" (a grader bug; the log has the traceback)
    status: str
    problem_set: str | None = None
    #: ``parallel.program_digest`` of the answer cells run, for ``status`` "graded"
    program: str | None = None
    #: how the sandbox was built ("bubblewrap", "unisolated")
    isolation: str | None = None


def grade_notebook(nb, *, hints=(), secret: str | None, budget_s: float,
                   require_isolation: bool, log, who: str) -> Graded:
    """Grade a submission's answer cells in the sandbox: ``GradeOutOfProcess`` and the
    workers of ``cnn-course grade`` (``parallel.grade_task``) both call this.

    ``hints`` name its problem set (the nbgrader assignment and notebook ids); ``who``
    names the student in ``log``.  A notebook the student broke, or a grader bug, is this
    student's result (``status``); without the grading secret or the sandbox it raises
    (``MissingSecret``, ``IsolationUnavailable``): that is the instructor's set-up."""
    try:
        ps = layouts.identify(nb, list(hints))
        program = nbio.answers(nb, layouts.load(ps)).cells
        with NotebookGrader(nb, problem_set=ps, secret=secret, budget_s=budget_s,
                            require_isolation=require_isolation) as grader:
            for note in grader.notes:
                log.warning("grader: %s: %s", who, note)
            results = grader.grade_all(progress=lambda r: log.info(
                "grader: %s %-26s %g/%g (%.1f s)", who, r.grade_id, r.score, r.points,
                r.seconds))
            isolation = grader.target.sandbox.isolation.name
    except nbio.MalformedNotebook as err:
        log.error("grader: %s cannot be graded: %s", who, err)
        return Graded({}, f"Your notebook could not be graded: {err}.", [], "malformed")
    except (grading_secret.MissingSecret, IsolationUnavailable):
        raise  # the instructor's set-up, not this student's notebook
    except Exception:  # a grader bug must not pass anyone, nor stop the class
        log.error("internal grader error on %s:\n%s", who, traceback.format_exc())
        return Graded({}, INTERNAL_ERROR, [], "internal_error")
    return Graded(results, INTERNAL_ERROR, list(grader.notes), "graded", ps,
                  parallel.program_digest(ps, program), isolation)


class GradeOutOfProcess(NbGraderPreprocessor):
    """Writes the verdict into every check cell; a cell without one fails, saying why.

    Without the grading secret (hidden checks) or, where required, without the OS
    sandbox, it grades nobody: it raises, and nbgrader reports the error for each
    submission and records no grade, so nothing is lost and a rerun grades everyone.
    """

    secret_file = Unicode("", help="A file outside the repository that holds the grading "
                          "secret; $CNN_COURSE_GRADING_SECRET or "
                          "$CNN_COURSE_GRADING_SECRET_FILE take precedence").tag(config=True)
    budget_s = Float(DEFAULT_BUDGET_S, help="Charged seconds (CPU and sleep) one notebook "
                     "may use in all").tag(config=True)
    require_isolation = Bool(False, help="Refuse to grade without the OS sandbox "
                             "(bubblewrap); also $CNN_COURSE_REQUIRE_ISOLATION=1").tag(config=True)
    results_directory = Unicode("", help="Where `cnn-course grade` stored the verdicts its "
                                "Dask workers gave (<student>/<assignment>/<notebook>.json): a "
                                "notebook whose stored verdicts were graded from the same answer "
                                "cells, grader, secret and budget takes them; any other is "
                                "graded here").tag(config=True)

    def preprocess(self, nb, resources):
        results, otherwise, notes = self._grade(nb, resources)
        about = "".join(f"\n\nNote: {note}." for note in notes)
        for cell in _check_cells(nb):
            r = results.get(nbgrader_meta(cell)["grade_id"])
            cell.outputs = [_passed_output(r.message) if r and r.passed else
                            _failed_output((r.message if r else otherwise) + about)]
        return nb, resources

    def _grade(self, nb, resources):
        """Results by grade id, the message for check cells without one, and the notes."""
        who = _who(resources)
        if nb.metadata.get(UNREADABLE_KEY):
            return {}, ("Your notebook could not be read, so nothing in it was graded: "
                        f"{nb.metadata[UNREADABLE_KEY]}."), []
        info = resources.get("nbgrader", {})
        secret = grading_secret.load(self.secret_file or None)  # MissingSecret: see above
        hints = [info.get("assignment"), info.get("notebook")]
        graded = None
        if self.results_directory:
            graded = parallel.stored_result(self.results_directory, info, nb, hints,
                                            secret=secret, budget_s=self.budget_s)
            if graded is not None:
                self.log.info("grader: %s: graded by `cnn-course grade`", who)
        if graded is None:
            graded = grade_notebook(nb, hints=hints, secret=secret,
                                    budget_s=self.budget_s,
                                    require_isolation=self.require_isolation, log=self.log,
                                    who=who)
        unknown = [nbgrader_meta(c)["grade_id"] for c in _check_cells(nb)
                   if nbgrader_meta(c)["grade_id"] not in graded.results]
        if unknown and graded.status == "graded":
            self.log.error("grader: %s: no checks for check cells %s: is grader/layouts/ older "
                           "than the gradebook?", who, unknown)
        return graded.results, graded.otherwise, graded.notes


_HIDDEN = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS[^\n]*",
                     re.DOTALL | re.MULTILINE)


def strip_hidden(source: str) -> str:
    return _HIDDEN.sub("# (hidden tests ran here when your work was graded)", source)


class StripHiddenTests(NbGraderPreprocessor):
    # set by the HTML exporter for every preprocessor: configurable, as in nbgrader's
    # GetGrades, or generate_feedback warns that it is not
    display_data_priority = List(NbGraderPreprocessor.class_traits()[
        "display_data_priority"].default()).tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code":
            cell.source = strip_hidden(cell.source)
        return cell, resources
