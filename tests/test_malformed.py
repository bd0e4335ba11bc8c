"""Hostile and broken submissions: the grader, not the submission, defines the checks.

Points, check ids and check cells come from the problem set's layout
(``grader/layouts/``, generated from ``solutions/``); of a submission only the
answer cells are used.  A notebook that cannot be graded gives a clear message
and exit code 2 from ``python -m grader.runner``, and under nbgrader fails every
check cell of that student, with the reason, while the class is graded.
"""
from __future__ import annotations

import copy
import json
import logging
import re
import uuid

import nbformat
import pytest

from grader import _wire, layout as layouts, notebook as nbio, runner, secret
from grader.nbgrader_plugin import (UNREADABLE_KEY, DeduplicateCells, GradeOutOfProcess,
                                    ReadSubmission)
from grader.pytest_support import notebook_tests
from grader.submissions import Submission, solution_answers
from tests.conftest import release, solution

PS = "ps01_convolution"
LAYOUT = layouts.load(PS)
POSSIBLE = sum(c.points for c in LAYOUT.grade_cells)


def _correct():
    return Submission("x", "model solution").build(solution(PS), release(PS))


def _cell(nb, grade_id):
    return next(c for c in nb.cells if nbio.nbgrader_meta(c).get("grade_id") == grade_id)


def _index(nb, grade_id):
    return next(i for i, c in enumerate(nb.cells)
                if nbio.nbgrader_meta(c).get("grade_id") == grade_id)


def _paste(cell):
    """A copy of ``cell`` as Jupyter pastes it: metadata and all, with a new cell id."""
    new = copy.deepcopy(cell)
    new["id"] = uuid.uuid4().hex[:8]
    return new


def _as_type(cell, cell_type):
    cell.cell_type = cell_type
    cell.pop("outputs", None)
    cell.pop("execution_count", None)


def _strip(nb):
    for c in nb.cells:
        c.metadata.pop("nbgrader", None)
    return nb


def _write(tmp_path, nb_or_bytes, folder=PS, name="convolution.ipynb"):
    path = tmp_path / folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(nb_or_bytes, bytes):
        path.write_bytes(nb_or_bytes)
    else:
        nbformat.write(nb_or_bytes, path)
    return path


def _run(capsys, *argv):
    rc = runner.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def _grade(nb, *grade_ids, **options):
    with runner.NotebookGrader(nb, explain=False, **options) as grader:
        return {gid: grader.grade_cell(gid) for gid in grade_ids}, grader.notes


# --- the layout -----------------------------------------------------------------------------


def test_layouts_are_not_stale():
    stale = layouts.stale()
    assert not stale, ("grader/layouts/ differs from solutions/: run `python -m grader.layout "
                       "--update`, review and commit.\n" + "\n".join(stale))


def test_layout_holds_the_source_points_checks_and_hidden_calls():
    assert [(c.grade_id, c.points, c.calls) for c in LAYOUT.grade_cells] == \
        [(c.grade_id, c.points, c.calls) for c in nbio.grade_cells(solution(PS))]
    assert LAYOUT.answers == [g for g, _ in nbio.answer_cells(solution(PS))
                              if not g.startswith(nbio.SETUP_PREFIX)]
    public = {c.grade_id for c in LAYOUT.graded_cells(hidden=False)}
    assert public == {c.grade_id for c in nbio.grade_cells(release(PS))}
    assert "conv2d_all" not in public  # hidden checks only
    assert all(not k.hidden for c in LAYOUT.graded_cells(hidden=False) for k in c.calls)


# --- forged check cells -----------------------------------------------------------------------


def _forge(nb):
    """Every check cell prints "ok" and is worth 1000 points; one calls another check, one
    is markdown, one is deleted, and a new check cell offers a bonus."""
    for cell in nb.cells:
        meta = nbio.nbgrader_meta(cell)
        if meta.get("grade") and cell.cell_type == "code":
            meta["points"], cell.source = 1000, "print('ok')"
            meta["grade_id"] = meta["grade_id"].replace("quiz_1x1", "quiz_one")
    _cell(nb, "conv2d_basic").source = ("from grader.problems.ps01_convolution import check\n"
                                        'check("same_padding")')
    _as_type(_cell(nb, "conv2d_bias"), "markdown")
    del nb.cells[_index(nb, "conv2d_groups")]
    bonus = nbformat.v4.new_code_cell("print('bonus')")
    bonus.metadata["nbgrader"] = {"grade": True, "grade_id": "bonus", "points": 1000,
                                  "locked": True, "solution": False}
    nb.cells.append(bonus)
    return nb


def test_forged_points_and_check_ids_get_the_release_points(tmp_path, capsys):
    untouched = Submission("x", "release", base="release").build(solution(PS), release(PS))
    rc, out, _ = _run(capsys, _write(tmp_path, _forge(untouched)), "--json")
    results = json.loads(out)
    assert rc == 1
    assert list(results) == [c.grade_id for c in LAYOUT.grade_cells]
    assert sum(r["points"] for r in results.values()) == POSSIBLE
    assert not any(r["passed"] for r in results.values())


def test_public_runs_the_public_checks_only_and_hidden_ones_need_the_secret(
        tmp_path, capsys, monkeypatch):
    untouched = Submission("x", "release", base="release").build(solution(PS), release(PS))
    rc, out, _ = _run(capsys, _write(tmp_path, untouched), "--json", "--public")
    assert rc == 1
    assert list(json.loads(out)) == [c.grade_id for c in LAYOUT.graded_cells(hidden=False)]
    monkeypatch.delenv(secret.SECRET_ENV)
    rc, out, err = _run(capsys, _write(tmp_path, _correct()))
    assert rc == 2 and "need the instructor's grading secret" in err and "--public" in err


# --- files that are not notebooks ------------------------------------------------------------


@pytest.mark.parametrize("data, says", [
    (b'{"cells": [', "not valid JSON (Expecting value at line 1, column 12)"),
    (b'{"cells": []}\xff', "not UTF-8 text (byte 13 is 0xff)"),
    (b"[]", "JSON but not a Jupyter notebook"),
    (b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type": "code"}]}',
     "JSON but not a Jupyter notebook (The notebook is invalid and is missing an expected "
     "key: metadata)"),
    (b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type": "code", '
     b'"id": "a", "source": 5, "metadata": {}, "outputs": [], "execution_count": null}]}',
     "does not follow the Jupyter notebook format (5 is not valid under any of the given "
     "schemas)"),
], ids=["invalid-json", "not-utf8", "json-list", "cell-without-fields", "source-not-text"])
def test_a_file_that_is_not_a_notebook_cannot_be_graded(tmp_path, capsys, data, says):
    rc, out, err = _run(capsys, _write(tmp_path, data))
    assert rc == 2 and out == ""
    assert "cannot grade" in err and says in err


def test_a_huge_notebook_file_is_not_read(tmp_path, capsys):
    path = _write(tmp_path, b"")
    with open(path, "wb") as fh:
        fh.truncate(nbio.MAX_NOTEBOOK_BYTES + 1)  # sparse: no disk used
    rc, _, err = _run(capsys, path)
    assert rc == 2 and "the grader reads notebooks of at most 20 MB" in err


def test_a_missing_file_cannot_be_graded(tmp_path, capsys):
    rc, _, err = _run(capsys, tmp_path / PS / "convolution.ipynb")
    assert rc == 2 and err.strip().endswith("convolution.ipynb: no such file")


# --- which problem set ----------------------------------------------------------------------


def test_the_problem_set_comes_from_folder_file_name_imports_or_the_flag(tmp_path):
    nb = _correct()
    assert layouts.identify(nb, layouts.path_hints(tmp_path / PS / "x.ipynb")) == PS
    assert layouts.identify(nb, layouts.path_hints(tmp_path / "a" / "convolution.ipynb")) == PS
    assert layouts.identify(nb, layouts.path_hints(tmp_path / "a" / "mine.ipynb")) == PS
    for cell in nb.cells:
        cell.source = cell.source.replace("grader.problems", "elsewhere")
    with pytest.raises(nbio.MalformedNotebook, match="--problem-set"):
        layouts.identify(nb, layouts.path_hints(tmp_path / "a" / "mine.ipynb"))


def test_stripped_metadata_says_no_answer_cell_was_found(tmp_path, capsys):
    nb = _strip(_correct())
    rc, _, err = _run(capsys, _write(tmp_path, nb))
    assert rc == 2 and "none of the answer cells of ps01_convolution" in err
    for cell in nb.cells:  # nor does the flag help, once nothing names the problem set
        cell.source = cell.source.replace("grader.problems", "elsewhere")
    rc, _, err = _run(capsys, _write(tmp_path, nb, folder="inbox", name="mine.ipynb"))
    assert rc == 2 and "cannot tell which problem set" in err
    rc, _, err = _run(capsys, _write(tmp_path, nb, folder="inbox", name="mine.ipynb"),
                      "--problem-set", PS)
    assert rc == 2 and "none of the answer cells" in err


def test_an_unknown_problem_set_flag_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        runner.main([str(_write(tmp_path, _correct())), "--problem-set", "ps99_nothing"])
    assert exit_.value.code == 2 and "invalid choice" in capsys.readouterr().err


# --- answer cells: copies, types, sizes ------------------------------------------------------


def test_copies_of_an_answer_cell_all_run_in_notebook_order():
    nb = _correct()
    at = _index(nb, "conv2d_answer")
    original = nb.cells[at].source
    nb.cells[at].source = "def conv2d(*args, **kwargs):\n    return None\n"
    nb.cells.insert(at + 2, _paste(nb.cells[at]))
    nb.cells[at + 2].source = original  # the later copy wins, as when the notebook runs
    nb.cells.insert(3, _paste(_cell(nb, "setup")))  # a copied set-up cell
    answers = nbio.answers(nb, LAYOUT)
    assert [name for name, _ in answers.cells][:6] == [
        "setup", "conv_output_size_answer", "same_padding_answer", "conv2d_single_answer",
        "conv2d_answer", "conv2d_answer (copy 2)"]
    results, notes = _grade(nb, "conv2d_basic")
    assert results["conv2d_basic"].passed
    assert any("appears more than once" in n for n in notes)


def test_copies_marked_by_nbgrader_sanitizing_still_run():
    nb = _correct()
    at = _index(nb, "conv2d_answer")
    nb.cells.insert(at + 1, _paste(nb.cells[at]))
    nb.cells[at + 1].source = "BROKEN = True\n"
    _cell(nb, "same_padding").metadata["nbgrader"] = ["mangled"]
    nb, _ = DeduplicateCells().preprocess(nb, {"nbgrader": {"student": "pat"}})
    assert nb.cells[at + 1].metadata[nbio.COPY_KEY] == "conv2d_answer"
    assert "nbgrader" not in nb.cells[at + 1].metadata
    assert "nbgrader" not in _cell_by_source(nb, 'check("same_padding")').metadata
    names = [name for name, _ in nbio.answers(nb, LAYOUT).cells]
    assert names.count("conv2d_answer (copy 2)") == 1


def _cell_by_source(nb, text):
    return next(c for c in nb.cells if text in c.source)


def test_answer_cells_of_another_type_are_graded_as_code():
    nb = _correct()
    _as_type(_cell(nb, "same_padding_answer"), "raw")
    _as_type(_cell(nb, "conv2d_single_answer"), "markdown")
    results, notes = _grade(nb, "same_padding", "conv2d_single")
    assert all(r.passed for r in results.values())
    assert any('"same_padding_answer" is a raw cell' in n for n in notes)


def test_a_deleted_answer_cell_is_noted_and_a_deleted_setup_cell_restored():
    nb = _correct()
    del nb.cells[_index(nb, "flatten_size_answer")]
    del nb.cells[_index(nb, "setup")]
    answers = nbio.answers(nb, LAYOUT)
    assert answers.cells[0] == ("setup", LAYOUT.setup["setup"])
    assert any('"flatten_size_answer" is not in the notebook' in n for n in answers.notes)


def test_a_huge_answer_cell_is_replaced_by_one_that_says_so():
    nb = _correct()
    cell = _cell(nb, "conv2d_answer")
    cell.source += "#" * (10 * 2**20)
    answers = nbio.answers(nb, LAYOUT)
    assert max(len(src) for _, src in answers.cells) < 10_000  # never parsed by the grader
    results, notes = _grade(nb, "conv2d_basic", "same_padding")
    assert not results["conv2d_basic"].passed and results["same_padding"].passed
    assert re.search(r'answer cell "conv2d_answer" holds 10\d\d\d kB of code; the grader runs '
                     "cells of at most 200 kB", results["conv2d_basic"].message)
    assert any("200 kB" in n for n in notes)


def test_many_large_copies_make_the_notebook_ungradable():
    nb = _correct()
    at = _index(nb, "conv2d_answer")
    nb.cells[at].source = "x = 1\n" + "#" * (nbio.MAX_CELL_CHARS - 10)
    nb.cells[at + 1:at + 1] = [_paste(nb.cells[at]) for _ in range(12)]
    with pytest.raises(nbio.MalformedNotebook, match="MB of code"):
        nbio.answers(nb, LAYOUT)


# --- values too large to send -----------------------------------------------------------------


def test_an_int_too_large_to_write_fails_its_quiz_cell_only():
    nb = _correct()
    quiz = _cell(nb, "quiz_answers")
    quiz.source = quiz.source.replace("quiz_1x1_depth = 128", "quiz_1x1_depth = 10**5000")
    assert "10**5000" in quiz.source
    results, _ = _grade(nb, "quiz_1x1", "quiz_5x5")
    assert not results["quiz_1x1"].passed and results["quiz_5x5"].passed
    assert "not an int within range" in results["quiz_1x1"].message


def test_the_wire_describes_huge_ints_both_ways():
    assert _wire.decode(_wire.encode(-(2**8000))) == -(2**8000)
    assert isinstance(_wire.decode(_wire.encode(10**5000)), _wire.Opaque)
    # a sandbox that lifted its own digit limit cannot make the grader parse 10**5000
    assert isinstance(_wire.decode({"__int__": "9" * 5001}), _wire.Opaque)


# --- pytest exercises/ ------------------------------------------------------------------------


def test_pytest_fails_each_check_cell_of_a_malformed_notebook(tmp_path):
    path = _write(tmp_path, b"{")
    test = notebook_tests(str(path.parent / "test_convolution.py"), path.name)
    ids = test.pytestmark[0].args[1]
    assert ids == [c.grade_id for c in LAYOUT.graded_cells(hidden=False)]
    with pytest.raises(pytest.fail.Exception, match="convolution.ipynb cannot be graded: the "
                                                    "notebook file is not valid JSON"):
        test("conv2d_basic")


# --- nbgrader: the plugin's side ---------------------------------------------------------------


RESOURCES = {"nbgrader": {"student": "mallory", "assignment": PS, "notebook": "convolution"}}


def _failures(nb) -> list[str]:
    return [c.outputs[0].traceback[1] for c in nb.cells if c.cell_type == "code"
            and nbio.nbgrader_meta(c).get("grade") and c.outputs[0].output_type == "error"]


def test_plugin_fails_every_check_cell_of_an_ungradable_notebook_and_names_the_student(caplog):
    nb = copy.deepcopy(release(PS))
    for cell in nb.cells:  # answer cells lost their metadata, check cells were restored
        if nbio.nbgrader_meta(cell).get("solution"):
            del cell.metadata["nbgrader"]
    with caplog.at_level(logging.INFO, logger="traitlets"):
        nb, _ = GradeOutOfProcess().preprocess(nb, copy.deepcopy(RESOURCES))
    failures = _failures(nb)
    assert len(failures) == len(LAYOUT.grade_cells)
    assert all(f.startswith("Your notebook could not be graded: none of the answer cells")
               for f in failures)
    assert "student mallory (ps01_convolution/convolution) cannot be graded" in caplog.text


def test_plugin_names_the_student_on_an_internal_error(monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("a grader bug")
    monkeypatch.setattr("grader.nbgrader_plugin.NotebookGrader", broken)
    with caplog.at_level(logging.INFO, logger="traitlets"):
        nb, _ = GradeOutOfProcess().preprocess(copy.deepcopy(release(PS)),
                                               copy.deepcopy(RESOURCES))
    assert "internal grader error on student mallory (ps01_convolution/convolution)" in \
        caplog.text
    assert all(f.startswith("Internal grader error") for f in _failures(nb))
    assert len(_failures(nb)) == len(LAYOUT.grade_cells)


def test_plugin_reads_an_unreadable_file_as_an_empty_notebook_that_says_why(tmp_path, caplog):
    path = _write(tmp_path, b"\xff\xfe{")
    with caplog.at_level(logging.INFO, logger="traitlets"):
        text, _ = ReadSubmission().from_filename(str(path), copy.deepcopy(RESOURCES))
    nb = nbformat.reads(text, as_version=4)
    assert nb.cells == [] and "not UTF-8 text" in nb.metadata[UNREADABLE_KEY]
    assert "student mallory" in caplog.text
    nb.cells = copy.deepcopy(release(PS).cells)  # as nbgrader restores the check cells
    nb, _ = GradeOutOfProcess().preprocess(nb, copy.deepcopy(RESOURCES))
    assert all(f.startswith("Your notebook could not be read, so nothing in it was graded: "
                            "the notebook file is not UTF-8 text") for f in _failures(nb))


# --- the real nbgrader ------------------------------------------------------------------------


def _paste_cells(nb):
    """Copy-pastes an answer cell below its check cells, and a check cell and the set-up
    cell too: nbgrader alone crashes on each (issue #1083)."""
    at = _index(nb, "conv2d_answer")
    nb.cells.insert(at + 3, _paste(nb.cells[at]))
    nb.cells.insert(_index(nb, "conv2d_basic") + 1, _paste(_cell(nb, "conv2d_basic")))
    nb.cells.insert(3, _paste(_cell(nb, "setup")))


def _mangle(nb):
    """Forges points, check cells and flags, and turns cells into other types."""
    _forge(nb)
    _cell(nb, "conv2d_stride").metadata.nbgrader["points"] = "lots"
    _cell(nb, "conv2d_padding").metadata.nbgrader["grade"] = False
    _cell(nb, "conv2d_param_count").metadata["nbgrader"] = 7
    _as_type(_cell(nb, "same_padding_answer"), "raw")


_BIG_QUIZ = {"quiz_answers": solution_answers(solution(PS))["quiz_answers"].replace(
    "quiz_1x1_depth = 128", "quiz_1x1_depth = 10**5000")}
CLASS = [Submission("ada_complete", "the model solution"),
         Submission("mallory_forges", "correct answers; forged check cells and metadata",
                    edit=_mangle),
         Submission("nora_strips", "correct answers; all nbgrader metadata removed",
                    edit=_strip),
         Submission("pat_pastes", "correct answers; copy-pasted cells", edit=_paste_cells),
         Submission("quinn_json", "invalid JSON (written below)"),
         Submission("rex_bigint", "a quiz answer of 10**5000", answers=_BIG_QUIZ)]


@pytest.mark.slow
def test_nbgrader_grades_a_class_with_malformed_submissions(tmp_path):
    from grader import gradebook
    from grader.cli import grade_course, make_course
    course = tmp_path / "course"
    make_course(course, {PS: CLASS})
    (course / "submitted" / "quinn_json" / PS / "convolution.ipynb").write_text('{"cells": [')
    grade_course(course, [PS], show=None)  # raises if nbgrader exits non-zero
    rows = {r.student: r for r in gradebook.rows(f"sqlite:///{course / 'gradebook.db'}")}
    failing = {s: sorted(g for g, (score, _) in r.cells.items() if score == 0)
               for s, r in rows.items()}
    every = sorted(c.grade_id for c in LAYOUT.grade_cells)
    assert all(r.auto_max == POSSIBLE for r in rows.values())
    assert failing == {"ada_complete": [], "mallory_forges": [], "nora_strips": every,
                       "pat_pastes": [], "quinn_json": every, "rex_bigint": ["quiz_1x1"]}
    for student in rows:  # feedback for everyone; autograded notebooks hold only verdicts
        assert (course / "feedback" / student / PS / "convolution.html").exists()
        nb = nbio.read(course / "autograded" / student / PS / "convolution.ipynb")
        assert all(not c.outputs for c in nb.cells
                   if c.cell_type == "code" and not nbio.nbgrader_meta(c).get("grade"))
    html = (course / "feedback" / "quinn_json" / PS / "convolution.html").read_text()
    assert "Your notebook could not be read" in html and "not valid JSON" in html
