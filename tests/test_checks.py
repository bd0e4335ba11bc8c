"""Checks: readable failures, strict types, determinism, and the in-kernel path."""
from __future__ import annotations

import contextlib
import dataclasses
import io
import linecache
import re

import numpy as np
import pytest

from grader.checks import PROFILES, CheckFailed
from grader.messages import show_array, show_call
from grader.problems.ps01_convolution import PROBLEM_SET
from grader.shortcuts import FROM_SCRATCH
from grader.target import LocalTarget, RemoteTarget, Target
from tests.catalog.ps01_convolution import ANSWERS

QUICK = PROFILES["quick"]


def _remote(**replace):
    cells = [("setup", "import numpy as np")] + list({**ANSWERS, **replace}.items())
    return RemoteTarget(cells, FROM_SCRATCH)


def _run(check_id, **replace):
    target = _remote(**replace)
    try:
        return PROBLEM_SET[check_id].run(target, QUICK)
    finally:
        target.close()


def _conv_returning(expr: str) -> str:
    return ANSWERS["conv2d_answer"] + f"\n\n_real = conv2d\n\ndef conv2d(*a, **k):\n    return {expr}\n"


def test_both_targets_offer_what_checks_use():
    remote = RemoteTarget([], FROM_SCRATCH)  # starts no process until asked
    try:
        assert isinstance(remote, Target) and isinstance(LocalTarget({}), Target)
    finally:
        remote.close()


FLIPPED = ANSWERS["conv2d_answer"].replace(
    'np.einsum("ncijhw,ocij->nohw", xs, ws)', 'np.einsum("ncijhw,ocij->nohw", xs, ws[..., ::-1, ::-1])')


def _printed_values(message: str) -> list[str]:
    """The entries of every array a message prints in full."""
    rows = re.findall(r"\[\[?([-0-9. e+]*)\]", message)
    return [v for row in rows for v in row.split()]


def test_failure_message_shows_shrunk_call_expected_actual_and_index():
    r = _run("conv2d_basic", conv2d_answer=FLIPPED)
    assert not r.passed
    for part in ("conv2d without stride", "Smallest failing call found:", "conv2d(x, weight)",
                 "x = array of shape", "Expected (PyTorch):", "Yours:", "First difference at index",
                 "This looks like: the kernel is flipped (a true convolution)."):
        assert part in r.message, r.message
    # shrunk: the counterexample is tiny, so it is printed in full
    assert "too large to print" not in r.message
    # and in small integers, which a student can check by hand
    values = _printed_values(r.message.split("Expected (PyTorch):")[0])
    assert values and all(re.fullmatch(r"-?[0-9]", v) for v in values), r.message


def test_a_fixed_example_is_a_failing_call_not_the_smallest():
    # conv2d_single's first example is the lecture's 5x5 image, never shrunk
    short = ANSWERS["conv2d_single_answer"].replace(
        "image.shape[0] - kh + 1, image.shape[1] - kw + 1",
        "image.shape[0] - kh, image.shape[1] - kw")
    r = _run("conv2d_single", conv2d_single_answer=short)
    assert not r.passed and "A failing call:\nconv2d_single(image, kernel)" in r.message, r.message
    assert "mallest" not in r.message and "shape (5, 5)" in r.message


def test_without_shrinking_the_call_is_a_failing_call():
    target = _remote(conv2d_answer=FLIPPED)
    try:
        r = PROBLEM_SET["conv2d_basic"].run(target, dataclasses.replace(QUICK, shrink=False))
    finally:
        target.close()
    assert not r.passed and "A failing call:\nconv2d(x, weight" in r.message, r.message
    assert "mallest" not in r.message


def test_arrays_print_aligned_as_labelled_2d_slices():
    x = np.array([[[[0, 0.5], [-10, 2]], [[1, -1], [3, 0]]]])
    assert show_array(x) == (
        "array of shape (1, 2, 2, 2), dtype float64:\n"
        "    [0, 0, :, :] = [[  0.    0.5]\n"
        "                    [-10.    2. ]]\n"
        "    [0, 1, :, :] = [[  1.   -1. ]\n"
        "                    [  3.    0. ]]")
    # whole numbers print as such; every slice's columns line up with the others'
    w = np.arange(-3.0, 9.0).reshape(3, 1, 2, 2)
    assert show_array(w, indent="  ") == (
        "array of shape (3, 1, 2, 2), dtype float64:\n"
        "  [0, 0, :, :] = [[-3 -2]\n"
        "                  [-1  0]]\n"
        "  [1, 0, :, :] = [[ 1  2]\n"
        "                  [ 3  4]]\n"
        "  [2, 0, :, :] = [[ 5  6]\n"
        "                  [ 7  8]]")
    labels = [line.split("=")[0] for line in show_array(np.zeros((1, 11, 1, 1))).splitlines()[1:]]
    assert labels[0] == "    [0,  0, :, :] " and labels[-1] == "    [0, 10, :, :] "
    # in a call: no blank lines, no trailing spaces
    call = show_call("conv2d", lambda x, weight: None, (x, w), {})
    assert all(line.strip() and line == line.rstrip() for line in call.splitlines()), call
    # at most two axes: NumPy's layout, as before
    assert show_array(np.array([[1.5, -2.0], [0.25, 4.0]])) == (
        "array of shape (2, 2), dtype float64:\n    [[ 1.5  -2.  ]\n     [ 0.25  4.  ]]")
    assert show_array(np.array([np.nan, 1.0])).endswith("[nan  1.]")


@pytest.mark.parametrize("expr, words", [
    ("_real(*a, **k).tolist()", "must return a numpy.ndarray, but returned list"),
    ("_real(*a, **k).astype(np.float32)", "dtype float32"),
    ("_real(*a, **k)[:, :, :1]", "shape"),
    ("type('Eq', (), {'__eq__': lambda s, o: True})()", "must return a numpy.ndarray"),
    ("np.asarray(_real(*a, **k), dtype=object)", "must return a numpy.ndarray"),
])
def test_wrong_type_dtype_shape_and_fake_equality_are_rejected(expr, words):
    r = _run("conv2d_basic", conv2d_answer=_conv_returning(expr))
    assert not r.passed and words in r.message, r.message


def test_a_crash_fails_with_the_students_own_traceback():
    r = _run("conv2d_basic", conv2d_answer=_conv_returning("[][1]"))
    assert not r.passed
    assert "raised IndexError" in r.message and 'cell "conv2d_answer"' in r.message


def test_exact_checks_reject_floats_and_bools():
    bad = ANSWERS["param_count_answer"].replace(
        "return in_features * out_features + (out_features if bias else 0)",
        "return float(in_features * out_features + (out_features if bias else 0))")
    r = _run("linear_param_count", param_count_answer=bad)
    assert not r.passed and "must return an int" in r.message


def test_quiz_failures_do_not_reveal_the_answer():
    bad = ANSWERS["quiz_answers"].replace("quiz_1x1_params = conv2d_param_count(64, 128, 1)",
                                          "quiz_1x1_params = 8192")
    r = _run("quiz_1x1", quiz_answers=bad)
    assert not r.passed and "8192" in r.message and "8320" not in r.message


def test_grading_is_deterministic():
    wrong = ANSWERS["max_pool2d_answer"].replace("constant_values=-np.inf", "constant_values=0.0")
    first = _run("max_pool2d_padding", max_pool2d_answer=wrong)
    second = _run("max_pool2d_padding", max_pool2d_answer=wrong)
    assert not first.passed
    assert (first.passed, first.message) == (second.passed, second.message)


def test_hang_is_reported_without_waiting_for_every_example():
    hang = _conv_returning("next(i for i in iter(int, 1) if i)")  # spins, allocates nothing
    r = _run("conv2d_basic", conv2d_answer=hang)
    assert not r.passed and "did not return within" in r.message
    # one call's limit (10 s of CPU; the wall clock allows 4x on a busy machine), not 30
    assert r.seconds < 45


# --- the in-kernel path: feedback while the student works ----------------------


def _namespace(**replace):
    ns: dict = {}
    exec("import numpy as np", ns)
    for source in {**ANSWERS, **replace}.values():
        exec(source, ns)
    return ns


def _cells_as_ipython_runs_them(**replace):
    """The answers run as IPython runs cells: each under its own file name, kept in linecache."""
    ns: dict = {}
    exec("import numpy as np", ns)
    for gid, source in {**ANSWERS, **replace}.items():
        filename = f"<ipython cell {gid}>"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        exec(compile(source, filename, "exec"), ns)
    return ns


@pytest.mark.parametrize("error", [
    "[][1]",  # the student's own bug: a traceback through their helper
    "_blocked()",  # a blocked import: a shortcut, in the kernel too
])
def test_the_kernel_and_the_grade_give_the_same_message(error):
    answer = ANSWERS["conv2d_answer"] + (
        "\n\ndef _blocked():\n    raise ImportError('importing torch is not allowed here: no')\n"
        f"\n\ndef _helper():\n    return {error}\n\n\ndef conv2d(*a, **k):\n    return _helper()\n")
    grade = _run("conv2d_basic", conv2d_answer=answer)
    kernel = PROBLEM_SET["conv2d_basic"].run(
        LocalTarget(_cells_as_ipython_runs_them(conv2d_answer=answer), FROM_SCRATCH), QUICK)
    assert not grade.passed and "in _helper" in grade.message, grade.message

    def where_left_out(message):  # the kernel cannot know the cell's grade id
        return re.sub(r'(cell|File) "[^"]*"', "<cell>", message)
    assert where_left_out(kernel.message) == where_left_out(grade.message)


def test_in_kernel_check_passes_and_prints_nothing_to_stderr():
    ns = _namespace()
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        PROBLEM_SET["conv2d_stride"].run(LocalTarget(ns, FROM_SCRATCH), QUICK)
        exec("from grader.problems.ps01_convolution import check\ncheck('conv2d_stride')", ns)
    assert "PASSED" in out.getvalue() and err.getvalue() == ""


def test_in_kernel_check_raises_a_readable_failure():
    ns = _namespace(conv2d_answer=_conv_returning("_real(*a, **k) + 1"))
    with pytest.raises(CheckFailed, match="First difference at index"):
        exec("from grader.problems.ps01_convolution import check\ncheck('conv2d_basic')", ns)


def test_in_kernel_tripwires_catch_library_calls():
    import torch
    import torch.nn.functional as F
    ns = _namespace()
    ns.update(torch=torch, F=F)
    exec("def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):\n"
         "    t = lambda a: None if a is None else torch.as_tensor(a)\n"
         "    return F.conv2d(t(x), t(weight), t(bias), stride, padding, dilation, groups).numpy()\n",
         ns)
    r = PROBLEM_SET["conv2d_basic"].run(LocalTarget(ns, FROM_SCRATCH), QUICK)
    assert not r.passed and "shortcut" in r.message
    assert F.conv2d.__name__ == "conv2d"  # restored afterwards


def test_a_cell_passing_its_public_and_hidden_checks_says_so_in_one_line():
    from grader.runner import NotebookGrader
    from tests.conftest import solution
    with NotebookGrader(solution("ps01_convolution")) as grader:
        r = grader.grade_cell("same_padding")
    assert r.passed and re.fullmatch(
        r"PASSED: same_padding matches PyTorch's padding='same' \[same_padding\] "
        r"\(\d+ examples, then \d+ hidden ones\)", r.message), r.message
