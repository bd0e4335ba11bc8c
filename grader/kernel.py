"""Checks run from a notebook cell, inside the student's own kernel.

This is feedback while working, not the grade: code in the kernel can patch
anything.  The grade comes from ``grader.runner``, which runs the same checks
against a sandbox.  During ``nbgrader autograde`` the grade cells therefore
only print a note, and the nbgrader plugin writes the real result.
"""
from __future__ import annotations

import os

#: Set by the nbgrader plugin while it grades out of process.
OUTSIDE_KERNEL_MARKER = "CNN_COURSE_GRADED_OUTSIDE_KERNEL"


def check_in_kernel(problem_set, check_id: str, profile: str, namespace: dict) -> None:
    """Run one check against the notebook's namespace; ``problem_set`` is a zero-arg callable."""
    __tracebackhide__ = True  # noqa: F841 - IPython and pytest hide this frame
    if os.environ.get("NBGRADER_EXECUTION") == "autograde" and \
            os.environ.get(OUTSIDE_KERNEL_MARKER) == "1":
        print(f"{check_id}: graded outside this kernel; the grader replaces this output.")
        return
    from .checks import PROFILES, CheckFailed
    from .target import LocalTarget
    ps = problem_set()
    result = ps[check_id].run(LocalTarget(namespace, ps.rules), PROFILES[profile])
    if not result.passed:
        raise CheckFailed(result.message)
    print(result.message)
