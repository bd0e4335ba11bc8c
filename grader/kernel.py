"""Checks run from a notebook cell, inside the student's own kernel.

This is feedback while working (and what ``nbgrader validate`` runs), not the
grade: code in the kernel can patch anything.  The grade comes from
``grader.runner``, which runs the same checks against a sandbox; ``nbgrader
autograde`` never executes the notebook (see ``grader.nbgrader_plugin``).
"""
from __future__ import annotations


def check_in_kernel(problem_set, check_id: str, profile: str, namespace: dict) -> None:
    """Run one check against the notebook's namespace; ``problem_set`` is a zero-arg callable."""
    __tracebackhide__ = True  # noqa: F841 - IPython and pytest hide this frame
    import dataclasses

    from . import secret
    from .checks import PROFILES, CheckFailed
    from .target import LocalTarget
    ps = problem_set()
    chosen = dataclasses.replace(PROFILES[profile], secret=secret.load())
    result = ps[check_id].run(LocalTarget(namespace, ps.rules), chosen)
    if not result.passed:
        raise CheckFailed(result.message)
    print(result.message)
