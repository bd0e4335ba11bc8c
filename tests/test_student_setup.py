"""`./course.sh setup --student`: JupyterLab without nbgrader's instructor UI, and back.

Run in a throwaway environment that imports this one's packages, with a copy of its
Jupyter configuration: what ``--sys-prefix`` writes lands there, not in ``.venv``."""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from grader.student_setup import LAB_PLUGINS, SERVER_EXTENSIONS, VALIDATE
from tests.conftest import ROOT, throwaway_jupyter


def _run(env, *args) -> str:
    proc = subprocess.run([env["PYTHON"], *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + proc.stderr)


def _state(env) -> tuple[set, dict]:
    """The lab plugins `jupyter labextension list` says are disabled, and what `jupyter
    server extension list` says of nbgrader's server extensions."""
    lab = _run(env, "-m", "jupyterlab.labextensions", "list")
    disabled = set(re.findall(r"^\s+(\S+)\s*$", lab.partition("Disabled extensions:")[2],
                              re.MULTILINE))
    server = dict(re.findall(r"^\s+(nbgrader\.server_extensions\.\w+) (enabled|disabled)",
                             _run(env, "-m", "jupyter_server.extension.serverextension",
                                  "list"), re.MULTILINE))
    return disabled, server


def test_student_setup_turns_the_instructor_ui_off_and_back_on(tmp_path):
    env = throwaway_jupyter(tmp_path)
    venv = Path(env["PYTHON"]).parents[1]
    lab_validate, server_validate = VALIDATE

    assert "Validate is on" in _run(env, "-m", "grader.student_setup", "--student")
    disabled, server = _state(env)
    assert set(LAB_PLUGINS) <= disabled and lab_validate not in disabled
    assert {e: server[e] for e in SERVER_EXTENSIONS} == dict.fromkeys(SERVER_EXTENSIONS,
                                                                       "disabled")
    assert server[server_validate] == "enabled"
    assert "labconfig" in os.listdir(venv / "etc" / "jupyter")  # there, not in .venv

    assert "on again" in _run(env, "-m", "grader.student_setup", "--instructor")
    disabled, server = _state(env)
    assert not disabled & {*LAB_PLUGINS, lab_validate}
    assert set(server.values()) == {"enabled"} and len(server) == 4
