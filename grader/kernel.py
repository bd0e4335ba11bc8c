"""Checks run from a notebook cell, inside the student's own kernel.

This is feedback while working (and what ``nbgrader validate`` runs), not the
grade: code in the kernel can patch anything.  The grade comes from
``grader.runner``, which runs the same checks against a sandbox; ``nbgrader
autograde`` never executes the notebook (see ``grader.nbgrader_plugin``).

A failing check does not raise, so Run All runs every cell: in JupyterLab it
shows a red FAILED block; under ``nbgrader validate`` (which sets
``NBGRADER_VALIDATING``) it writes the message to stderr, which nbgrader counts
as a failed cell and shows without a traceback.  Outside IPython it raises.
"""
from __future__ import annotations

import html
import os
import sys

#: (problem set, check id, profile) -> whether it passed when last run in this kernel
_verdicts: dict[tuple[str, str, str], bool] = {}

_STYLE = ("border-left: 4px solid #c62828; background: #fdecea; color: #3b0a0a; "
          "padding: 6px 12px; margin: 2px 0")


def check_in_kernel(problem_set, ps_name: str, check_id: str, profile: str,
                    namespace: dict) -> None:
    """Run one check against the notebook's namespace; ``problem_set`` is a zero-arg callable."""
    __tracebackhide__ = True  # noqa: F841 - IPython and pytest hide this frame
    import dataclasses

    from . import secret
    from .checks import PROFILES, CheckFailed
    from .target import LocalTarget
    ps = problem_set()
    chosen = dataclasses.replace(PROFILES[profile], secret=secret.load())
    result = ps[check_id].run(LocalTarget(namespace, ps.rules), chosen)
    _verdicts[ps_name, check_id, profile] = result.passed
    if result.passed:
        print(result.message)
    elif os.environ.get("NBGRADER_VALIDATING"):
        print(result.message, file=sys.stderr)
    elif _ipython() is not None:
        _show_failure(result.message)
    else:
        raise CheckFailed(result.message)


def _ipython():
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


def _show_failure(message: str) -> None:
    from IPython.display import display
    headline, _, details = message.partition("\n")
    block = (f'<div style="{_STYLE}"><b>{html.escape(headline)}</b>'
             f'<pre style="background: none; margin: 4px 0 0">{html.escape(details)}</pre></div>')
    display({"text/html": block, "text/plain": message}, raw=True)


def progress(ps_name: str) -> str:
    """How many of the problem set's points pass, from the checks run so far in this kernel."""
    from . import layout
    passing, failing, not_run, total = 0.0, [], [], 0.0
    for cell in layout.load(ps_name).graded_cells(hidden=False):
        total += cell.points
        verdicts = [_verdicts.get((ps_name, c.check_id, c.profile)) for c in cell.calls]
        if all(v is True for v in verdicts):
            passing += cell.points
        elif False in verdicts:
            failing.append(cell.grade_id)
        else:
            not_run.append(cell.grade_id)
    lines = [f"{passing:g} of {total:g} points passing."]
    if failing:
        lines.append(f"Failing ({len(failing)}): {', '.join(failing)}.")
    if not_run:
        lines.append(f"Not run yet ({len(not_run)}): {', '.join(not_run)}.")
    if not failing and not not_run:
        lines.append("Every check passes: save the notebook and submit it.")
    return "\n".join(lines)
