"""Shared fixtures: the problem-set notebooks, source and release."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from grader import notebook as nbio, secret

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("MPLBACKEND", "Agg")
#: The tests' grading secret: the snapshots' hidden verdicts rest on it. Set here, so that
#: every grader the tests start (in process, nbgrader, pytest) draws the same examples.
TEST_SECRET = "cnn-course tests"
os.environ[secret.SECRET_ENV] = TEST_SECRET
os.environ.pop(secret.SECRET_FILE_ENV, None)


def notebook_name(ps: str) -> str:
    """The notebook of a problem set (the one *.ipynb in solutions/<ps>)."""
    return next((ROOT / "solutions" / ps).glob("*.ipynb")).name


_cache: dict = {}


def solution(ps: str):
    key = ("solutions", ps)
    if key not in _cache:
        _cache[key] = nbio.read(ROOT / "solutions" / ps / notebook_name(ps))
    return _cache[key]


def release(ps: str):
    key = ("exercises", ps)
    if key not in _cache:
        _cache[key] = nbio.read(ROOT / "exercises" / ps / notebook_name(ps))
    return _cache[key]


@pytest.fixture(scope="session")
def ps01_solution():
    return solution("ps01_convolution")


@pytest.fixture(scope="session")
def ps01_release():
    return release("ps01_convolution")


# --- snapshots (tests/catalog/snapshot.py) -----------------------------------------------


def pytest_addoption(parser):
    parser.addoption("--update", action="store_true",
                     help="rewrite tests/catalog/snapshots/ from what the tests measure")


def _controller(config) -> bool:
    return not hasattr(config, "workerinput")  # the main process, with or without xdist


def pytest_sessionstart(session):
    from tests.catalog import snapshot
    if session.config.getoption("--update") and _controller(session.config):
        snapshot.start_updates()


def pytest_sessionfinish(session, exitstatus):
    from tests.catalog import snapshot
    if session.config.getoption("--update") and _controller(session.config):
        for path in snapshot.merge_updates():
            print(f"\nupdated {path}")


@pytest.fixture(scope="session")
def snapshot(pytestconfig):
    from tests.catalog.snapshot import Snapshot
    return Snapshot(pytestconfig.getoption("--update"))


# --- pytest-xdist: which tests share a worker ----------------------------------------------

#: modules whose tests share one expensive module-scoped fixture (the nbgrader course),
#: so they run in one worker, first: they are the longest piece of work
ONE_WORKER = ("tests/test_nbgrader_grading.py", "tests/test_hostile_class.py")


#: the HTML book is built (once, in one worker) from the lectures that tests/test_lectures.py
#: executes: last
LAST = ("tests/test_book.py",)


def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda item: (item.nodeid.split("::")[0] in LAST,
                                 item.nodeid.split("::")[0] not in ONE_WORKER))


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist's, used only with -n
def pytest_xdist_make_scheduler(config, log):
    """Each test is its own unit of work, except the modules in ``ONE_WORKER`` and ``LAST``.

    (`--dist loadgroup` with `xdist_group` marks would say this, but pytest 9.2 broke
    it: pytest-xdist issue #1386.)"""
    from xdist.scheduler import LoadScopeScheduling

    config.option.loadscopereorder = False  # in collection order: ONE_WORKER first, LAST last

    class Scheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            module = nodeid.split("::")[0]
            return module if module in ONE_WORKER + LAST else nodeid

    return Scheduling(config, log)


@pytest.fixture(scope="module")
def one_thread():
    """For modules of tiny tensors: intra-op threads only add synchronisation, which costs a
    lot on a busy 2-core machine.  Restored for the other test modules afterwards."""
    from lectures import lecture_tools
    with lecture_tools.one_thread():
        yield


def warning_lines(stderr: str) -> list[str]:
    """The warnings in a process's stderr: Python's and logged ones."""
    return [line for line in stderr.splitlines() if re.search(r"Warning\b|WARNING", line)]


# --- a real browser (tests/test_report.py, tests/browser/) -----------------------------------


@pytest.fixture(scope="module")
def chromium() -> str:
    """Debian's Chromium, driven by Playwright: skipped where either is missing, unless
    CNN_COURSE_REQUIRE_BROWSER=1 (CI), where that fails."""
    why = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        why = "Playwright is not installed (pip install -e '.[dev]')"
    executable = shutil.which("chromium")
    if why is None and executable is None:
        why = "no chromium on PATH (apt-get install chromium)"
    if why and os.environ.get("CNN_COURSE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"CNN_COURSE_REQUIRE_BROWSER=1, but {why}")
    if why:
        pytest.skip(why)
    return executable


def launch(playwright, executable: str):
    """Headless Chromium; its own sandbox refuses to start as root (CI, containers)."""
    return playwright.chromium.launch(executable_path=executable,
                                      args=["--no-sandbox"] if os.geteuid() == 0 else [])


def throwaway_jupyter(tmp: Path) -> dict:
    """The environment of a throwaway virtualenv that imports this one's packages, with a
    copy of its Jupyter configuration: what ``--sys-prefix`` writes (the student setup)
    lands there, never in ``.venv``.  ``PYTHON`` is its interpreter."""
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))
    (site / "parent.pth").write_text(
        f"import site; site.addsitedir({sysconfig.get_path('purelib')!r})\n")
    shutil.copytree(Path(sys.prefix, "etc", "jupyter"), venv / "etc" / "jupyter")
    return dict(os.environ, PYTHON=str(venv / "bin" / "python"),
                PATH=f"{venv / 'bin'}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}"
                     f"{os.environ.get('PATH', '')}",
                JUPYTER_PATH=str(Path(sys.prefix, "share", "jupyter")),  # the lab extensions
                JUPYTERLAB_DIR=str(Path(sys.prefix, "share", "jupyter", "lab")),
                JUPYTER_CONFIG_DIR=str(tmp / "user"))
