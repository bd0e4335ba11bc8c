"""JupyterLab for students (`./course.sh setup --student`) or for instructors (`./course.sh setup`).

Students work on their own copy of a problem set (`cnn-course start`), without nbgrader's
exchange, so nbgrader's instructor UI (the Formgrader, the Create Assignment sidebar, the
Course List) and its Assignment List (there only "Error fetching courses!") are turned off
for them, with the Nbgrader menu that opens them; the Validate button stays.  The switches
are Jupyter's own, in this environment's configuration (sys-prefix: the virtualenv):

    jupyter labextension disable --level=sys_prefix <plugin>...   (and lock: the Plugin
        Manager cannot turn them back on)
    jupyter server extension disable --sys-prefix <extension>...

and the instructor's setup turns them back on (unlock, enable).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

LAB_PLUGINS = tuple(f"@jupyter/nbgrader:{name}" for name in (
    "formgrader", "create-assignment", "course-list", "assignment-list", "menu"))
SERVER_EXTENSIONS = tuple(f"nbgrader.server_extensions.{name}" for name in (
    "formgrader", "course_list", "assignment_list"))
#: on for students too
VALIDATE = ("@jupyter/nbgrader:validate-assignment",
            "nbgrader.server_extensions.validate_assignment")


def commands(student: bool) -> list[list[str]]:
    """The `jupyter labextension` and `jupyter server extension` commands, run with this
    Python (``python -m`` their modules) so that they configure this environment.  (At
    ``--user`` level, `jupyter server extension` cannot turn off what pip turned on in
    the environment.)"""
    lab = [sys.executable, "-m", "jupyterlab.labextensions"]
    server = [sys.executable, "-m", "jupyter_server.extension.serverextension"]
    if student:
        return [[*lab, "disable", "--level=sys_prefix", *LAB_PLUGINS],
                [*lab, "lock", "--level=sys_prefix", *LAB_PLUGINS],
                [*server, "disable", "--sys-prefix", *SERVER_EXTENSIONS]]
    return [[*lab, "unlock", "--level=sys_prefix", *LAB_PLUGINS],
            [*lab, "enable", "--level=sys_prefix", *LAB_PLUGINS],
            [*server, "enable", "--sys-prefix", *SERVER_EXTENSIONS]]


def _student_ui_found() -> bool:
    """Whether ``--student`` turned anything off here (else the instructor's setup has
    nothing to turn back on, and skips the commands, seconds each)."""
    from jupyter_server.extension.config import ExtensionConfigManager

    config = Path(sys.prefix, "etc", "jupyter")  # what --sys-prefix writes
    page = config / "labconfig" / "page_config.json"
    lab = json.loads(page.read_text()) if page.is_file() else {}
    server = ExtensionConfigManager(read_config_path=[str(config)]).get_jpserver_extensions()
    return any(lab.get(key, {}).get(p) for key in ("disabledExtensions", "lockedExtensions")
               for p in LAB_PLUGINS) or any(server.get(e) is False for e in SERVER_EXTENSIONS)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.student_setup", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--student", action="store_true", help="turn nbgrader's instructor UI off")
    who.add_argument("--instructor", action="store_true", help="turn it back on")
    args = parser.parse_args(argv)
    if args.instructor and not _student_ui_found():
        return 0
    for cmd in commands(args.student):
        proc = subprocess.run(cmd, capture_output=True, text=True)
        # `jupyter server extension` reports a failure on stderr, with exit status 0
        if proc.returncode != 0 or "Validation failed" in proc.stderr + proc.stdout:
            sys.stderr.write(proc.stdout + proc.stderr)
            print(f"{parser.prog}: failed: {' '.join(cmd[2:])}", file=sys.stderr)
            return 1
    if args.student:
        print("==> JupyterLab for students: nbgrader's Formgrader, Create Assignment, Course List "
              "and Assignment List are off, Validate is on (`./course.sh setup` turns them on)")
    else:
        print("==> JupyterLab for instructors: nbgrader's Formgrader, Create Assignment, Course "
              "List and Assignment List are on again")
    return 0


if __name__ == "__main__":
    sys.exit(main())
