"""The operating-system boundary around the sandbox worker.

Student code runs in ``grader._worker``.  ``Bubblewrap`` starts that worker
with bubblewrap (``bwrap``, the Debian package ``bubblewrap``; the tool
Flatpak uses) in new user, PID, mount, IPC, UTS, cgroup and network
namespaces, as an unprivileged user with no capabilities.  What the worker
sees is built from nothing:

* read-only: the system libraries (``/usr``), the interpreter's prefix, the
  installed packages, and the ``grader`` package alone, never the course
  folder (``solutions/``, the gradebook, other students' files) or the venv
  itself.  The worker runs with ``python -S``, so no ``.pth`` file runs;
* absent: the problem set's forbidden libraries.  An empty folder covers each
  of their files (``torch/``, ``functorch/``, ``torch-*.dist-info``...), so
  there is no code left to import, whatever the student does to the import
  blocker;
* writable: a size-limited ``/tmp`` scratch (and ``/dev/shm``), lost when the
  sandbox ends;
* a fresh ``/proc`` that shows only the sandbox's own processes, so no signal
  can reach the grading process, and no network at all.

Killing ``bwrap`` kills its PID namespace, so nothing the student starts
outlives the sandbox.  ``Unisolated`` runs the worker as a plain process where
namespaces are unavailable (macOS, locked-down containers): grading warns, and
``require_isolation()`` refuses it.
"""
from __future__ import annotations

import functools
import importlib.metadata
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Protocol

#: The folder that holds the ``grader`` package, which the worker imports.
PACKAGE_ROOT = Path(__file__).resolve().parent.parent
#: Set to 1 (or pass ``--require-isolation``) to refuse grading without the OS sandbox.
REQUIRE_ENV = "CNN_COURSE_REQUIRE_ISOLATION"

#: Where the sandbox sees the grader package and the installed packages.
_LIB = "/sandbox/lib"
_SITE = "/sandbox/site"
SCRATCH = "/tmp"


class IsolationUnavailable(RuntimeError):
    """Grading was told to require the OS sandbox, and it cannot be built here."""


class Isolation(Protocol):
    """How the worker process is started."""

    name: str
    #: the worker's working directory and scratch, as the worker sees it
    scratch: str
    #: in its own PID namespace, whose ids ``command`` has bwrap report (``info_fd``)
    namespaced: bool

    def command(self, argv: list[str], hidden: frozenset[str], info_fd: int | None) -> list[str]:
        """The command line that runs ``argv`` (a Python command) with the ``hidden``
        site-packages entries absent (``torch``, ``sklearn/datasets/data``); bwrap writes its
        namespaces' ids to ``info_fd``."""

    def pythonpath(self) -> str:
        """The worker's PYTHONPATH, as the worker sees the folders."""


def _site_packages() -> list[Path]:
    return [Path(p) for p in sys.path if p.endswith("site-packages") and os.path.isdir(p)]


@functools.lru_cache(maxsize=None)
def hidden_entries(modules: tuple[str, ...]) -> frozenset[str]:
    """The top-level site-packages entries of the distributions that provide ``modules``
    (``torch`` hides ``torch/``, ``functorch/``, ``torchgen/`` and its ``dist-info``).
    The course's own distribution (``grader`` is blocked from-scratch) is never hidden."""
    providers = importlib.metadata.packages_distributions()
    out = set(modules)
    for module in modules:
        for dist_name in providers.get(module, ()):
            if dist_name == "cnn-course":
                continue
            files = importlib.metadata.distribution(dist_name).files or ()
            out.update(f.parts[0] for f in files if f.parts and f.parts[0] != "..")
    return frozenset(out)


class Bubblewrap:
    """Namespaces through ``bwrap``: a few milliseconds per sandbox, no daemon."""

    name = "bubblewrap"
    scratch = SCRATCH
    namespaced = True

    def __init__(self, bwrap: str, scratch_mb: int = 256):
        self.bwrap = bwrap
        self.scratch_mb = scratch_mb

    def command(self, argv, hidden, info_fd=None):
        size = str(self.scratch_mb * 1024 * 1024)
        prefix = os.path.realpath(sys.base_prefix)
        cmd = [self.bwrap, "--unshare-all", "--unshare-user", "--uid", "65534", "--gid", "65534",
               "--cap-drop", "ALL", "--disable-userns", "--die-with-parent", "--new-session",
               "--ro-bind", "/usr", "/usr"]
        for link in ("bin", "lib", "lib32", "lib64", "sbin"):
            if os.path.islink(f"/{link}"):
                cmd += ["--symlink", os.readlink(f"/{link}"), f"/{link}"]
        if not prefix.startswith("/usr/"):
            cmd += ["--ro-bind", prefix, prefix]
        cmd += ["--proc", "/proc", "--dev", "/dev",
                "--size", size, "--tmpfs", SCRATCH, "--size", size, "--tmpfs", "/dev/shm",
                "--ro-bind", str(PACKAGE_ROOT / "grader"), f"{_LIB}/grader"]
        for i, site in enumerate(_site_packages()):
            # One bind per folder, then an empty mount over each forbidden entry: binding
            # the allowed entries one by one would cost 0.2 s per sandbox.
            cmd += ["--ro-bind", str(site), f"{_SITE}{i}"]
            for entry in sorted(e for e in hidden if os.path.lexists(site / e)):
                inside = f"{_SITE}{i}/{entry}"
                cmd += ["--tmpfs", inside, "--remount-ro", inside] if (site / entry).is_dir() \
                    else ["--ro-bind", "/dev/null", inside]
        if info_fd is not None:
            cmd += ["--info-fd", str(info_fd)]
        # bwrap builds the view on a tmpfs: read-only too, so only the scratch is writable
        cmd += ["--remount-ro", "/", "--chdir", SCRATCH, "--"]
        return cmd + [_interpreter(), "-S", "-s", *argv]

    def pythonpath(self) -> str:
        return os.pathsep.join([_LIB] + [f"{_SITE}{i}" for i in range(len(_site_packages()))])


def _interpreter() -> str:
    return os.path.realpath(sys.executable)


class Unisolated:
    """A plain child process: what grading falls back to without namespaces."""

    name = "none"
    namespaced = False

    def __init__(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="grader-sandbox-")
        self.scratch = self._tmp.name

    def command(self, argv, hidden, info_fd=None):
        # -s: no user site-packages; the forbidden libraries are only blocked (shortcuts.install)
        return [sys.executable, "-s", *argv]

    def pythonpath(self) -> str:
        return str(PACKAGE_ROOT)


@functools.lru_cache(maxsize=None)
def _bwrap_problem() -> str | None:
    """Why bubblewrap cannot build the sandbox here, or None when it can."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return ("bubblewrap is not installed (Debian/Ubuntu: `apt-get install bubblewrap`; "
                "./course.sh installs it when run as root)")
    probe = Bubblewrap(bwrap).command(["-c", "pass"], frozenset(), None)
    try:
        proc = subprocess.run(probe, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"bubblewrap could not start: {err}"
    if proc.returncode != 0:
        detail = proc.stderr.strip().splitlines()[-1:] or [f"exit {proc.returncode}"]
        return ("bubblewrap cannot create namespaces here (are unprivileged user namespaces "
                f"disabled?): {detail[0]}")
    return None


def require_isolation() -> bool:
    return os.environ.get(REQUIRE_ENV, "") not in ("", "0")


def choose(scratch_mb: int = 256, require: bool = False) -> Isolation:
    """Bubblewrap when it works here; otherwise a loud warning and no isolation, or
    ``IsolationUnavailable`` when isolation is required (``require`` or the environment)."""
    problem = _bwrap_problem()
    if problem is None:
        return Bubblewrap(shutil.which("bwrap"), scratch_mb)
    if require or require_isolation():
        raise IsolationUnavailable(f"grading requires the OS sandbox, and {problem}.")
    _warn_once(problem)
    return Unisolated()


@functools.lru_cache(maxsize=None)
def _warn_once(problem: str) -> None:
    warnings.warn(f"UNISOLATED GRADING: {problem}. The notebook's code runs with your "
                  "privileges: fine for your own work, not for a class, whose code could read "
                  f"and change your files. Set {REQUIRE_ENV}=1 (or pass --require-isolation) "
                  "to refuse to grade like this.", RuntimeWarning, stacklevel=3)
    print(f"cnn-course WARNING: unisolated grading: {problem}.", file=sys.stderr)
