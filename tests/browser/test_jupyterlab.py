"""A student's day in JupyterLab, in a real browser: Debian's Chromium driven by Playwright.

A throwaway `jupyter lab` serves a student's copy of problem set 1 (`cnn-course start`) on
127.0.0.1 with a token, with the student setup (`./course.sh setup --student`). Screenshots of
each step go to build/browser/ (git-ignored).
"""
from __future__ import annotations

import json
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, launch, throwaway_jupyter

pytestmark = pytest.mark.slow
PS, NOTEBOOK = "ps01_convolution", "convolution.ipynb"
SHOTS = ROOT / "build" / "browser"

CONV_OUTPUT_SIZE = '''\
def conv_output_size(n, kernel_size, stride=1, padding=0, dilation=1):
    span = dilation * (kernel_size - 1) + 1
    if min(kernel_size, stride, dilation) < 1 or padding < 0 or n + 2 * padding < span:
        raise ValueError("the kernel does not fit")
    return (n + 2 * padding - span) // stride + 1
'''

# The classic mistake: the kernel flipped, a true convolution (right in every other way).
FLIPPED_CONV2D = '''\
def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    pair = lambda v: (v, v) if isinstance(v, int) else tuple(v)
    (sh, sw), (dh, dw) = pair(stride), pair(dilation)
    n, c, h, w = x.shape
    o, cg, kh, kw = weight.shape
    if padding == "valid":
        padding = 0
    if padding == "same":
        th, tw = dh * (kh - 1), dw * (kw - 1)
        pads = (th // 2, th - th // 2, tw // 2, tw - tw // 2)
    else:
        ph, pw = pair(padding)
        pads = (ph, ph, pw, pw)
    x = np.pad(x, ((0, 0), (0, 0), pads[:2], pads[2:]))
    flipped = weight[:, :, ::-1, ::-1]
    oh = (x.shape[2] - dh * (kh - 1) - 1) // sh + 1
    ow = (x.shape[3] - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((n, o, oh, ow))
    per = o // groups
    for k in range(o):
        g = k // per
        for i in range(kh):
            for j in range(kw):
                patch = x[:, g * cg:(g + 1) * cg, i * dh:i * dh + sh * (oh - 1) + 1:sh,
                          j * dw:j * dw + sw * (ow - 1) + 1:sw]
                out[:, k] += np.einsum("nchw,c->nhw", patch, flipped[k, :, i, j])
    if bias is not None:
        out += np.asarray(bias)[None, :, None, None]
    return out
'''


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """`jupyter lab` on a student's course folder, with the student setup; yields its URL."""
    course = tmp_path_factory.mktemp("student")
    shutil.copy(ROOT / "nbgrader_config.py", course)  # Validate reads it from here
    subprocess.run([sys.executable, "-m", "grader.cli", "start", PS, "--dir",
                    str(course / "work")], check=True, capture_output=True)
    # `./course.sh setup --student`, in a throwaway environment: it changes the virtualenv's
    # Jupyter configuration
    env = throwaway_jupyter(course)
    subprocess.run([env["PYTHON"], "-m", "grader.student_setup", "--student"], env=env,
                   check=True, capture_output=True)
    # every cell rendered, so the test finds a cell by its text wherever it is scrolled
    tracker = Path(env["JUPYTER_CONFIG_DIR"], "lab", "user-settings", "@jupyterlab",
                   "notebook-extension", "tracker.jupyterlab-settings")
    tracker.parent.mkdir(parents=True, exist_ok=True)
    tracker.write_text(json.dumps({"windowingMode": "none"}))
    port, token = _free_port(), secrets.token_hex(16)
    log = open(course / "lab.log", "w")
    proc = subprocess.Popen(
        [env["PYTHON"], "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={course}",
         "--LabApp.news_url=None", "--allow-root"],
        cwd=course, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.5).close()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, \
                    (course / "lab.log").read_text()[-3000:]
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}", token, course
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def _cell(page, starts_with: str):
    """The code cell whose source starts with ``starts_with``."""
    cells = page.locator(".jp-Notebook .jp-CodeCell")
    for i in range(cells.count()):
        if cells.nth(i).locator(".cm-content").inner_text().startswith(starts_with):
            return cells.nth(i)
    raise AssertionError(f"no cell starts with {starts_with!r}")


def _outputs(cell) -> str:
    return cell.locator(".jp-OutputArea").inner_text()


def _paste_and_run(page, starts_with: str, source: str, runs: int):
    """Replace a cell's source as a paste does, then Shift+Enter through ``runs`` cells."""
    _cell(page, starts_with).locator(".cm-content").click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(source)
    for _ in range(runs):
        page.keyboard.press("Shift+Enter")


def _shot(page, name: str):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def test_a_students_day(chromium, lab):
    from playwright.sync_api import expect, sync_playwright

    url, token, course = lab
    with sync_playwright() as p:
        browser = launch(p, chromium)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(120_000)
            page.goto(f"{url}/lab/tree/work/{PS}/{NOTEBOOK}?token={token}")
            page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']")
            news = page.locator(".jp-Notification-Toast-Close")  # "get notified of news?"
            if news.count():
                news.first.click()

            # the instructor's UI is off for students; Validate stays
            expect(page.locator(".jp-NotebookPanel-toolbar")).to_contain_text("Validate")
            for instructor in ("Create Assignment", "Formgrader", "Assignment List",
                               "Course List"):
                assert page.get_by_text(instructor).count() == 0, instructor
            _shot(page, "1-opened")

            # Run All on the untouched release: every cell runs, every check fails, and says why
            page.locator(".jp-NotebookPanel-toolbar [data-command='notebook:restart-run-all']"
                         ).click()
            page.locator(".jp-Dialog .jp-mod-accept").click()  # "Confirm Kernel Restart"
            last = page.locator(".jp-Notebook .jp-CodeCell").last
            expect(last.locator(".jp-OutputArea")).to_contain_text("0 of 32 points passing",
                                                                   timeout=180_000)
            failed = page.locator(".jp-OutputArea-output", has_text="FAILED: ")
            assert failed.count() == 21
            assert page.locator(".jp-OutputArea-output",
                                has_text="is not implemented yet").count() >= 18
            assert page.locator(".jp-OutputArea-output", has_text="grader/").count() == 0
            failed.first.scroll_into_view_if_needed()
            _shot(page, "2-run-all")

            # a correct conv_output_size: its two checks pass
            _paste_and_run(page, "def conv_output_size", CONV_OUTPUT_SIZE, runs=3)
            check = _cell(page, 'from grader.problems.ps01_convolution import check\n'
                                'check("conv_output_size_values")')
            expect(check.locator(".jp-OutputArea")).to_contain_text("PASSED")
            errors = _cell(page, 'from grader.problems.ps01_convolution import check\n'
                                 'check("conv_output_size_errors")')
            expect(errors.locator(".jp-OutputArea")).to_contain_text("PASSED")
            _shot(page, "3-passed")

            # a flipped kernel: a small counterexample, and none of the grader's frames
            _paste_and_run(page, "def _pair(v):", FLIPPED_CONV2D, runs=2)
            basic = _cell(page, 'from grader.problems.ps01_convolution import check\n'
                                'check("conv2d_basic")')
            expect(basic.locator(".jp-OutputArea")).to_contain_text("FAILED", timeout=180_000)
            message = _outputs(basic)
            assert "failing call" in message and "Traceback" not in message, message
            assert "grader/" not in message and ".py" not in message, message
            numbers = re.findall(r"-?\d+\.\d+|-?\d+", message.split("where", 1)[-1])
            assert numbers and all(abs(float(v)) <= 100 for v in numbers), message
            basic.scroll_into_view_if_needed()
            _shot(page, "4-counterexample")

            # Validate: a dialog of short failures, no tracebacks
            page.locator(".jp-NotebookPanel-toolbar").get_by_text("Validate").click()
            dialog = page.locator(".jp-Dialog")
            expect(dialog).to_contain_text("The following cell failed", timeout=300_000)
            text = dialog.inner_text()
            assert text.count("FAILED: ") == 19, text
            assert "Traceback" not in text and "grader/" not in text
            _shot(page, "5-validate")
        finally:
            browser.close()
