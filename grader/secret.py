"""The instructor's grading secret, and the seed of each check.

Hidden (graded) examples are drawn from a seed that only the instructor has:
with a public, derandomized grader a student could record every graded input
in advance and submit a lookup table.  The secret is read, in this order, from

* ``CNN_COURSE_GRADING_SECRET``, the secret itself;
* ``CNN_COURSE_GRADING_SECRET_FILE``, or the file ``nbgrader_config.py`` names
  (``c.GradeOutOfProcess.secret_file``), kept outside the repository.

Each check's seed is a hash of its id, its profile and (for hidden examples)
the secret: the same secret gives the same examples on any machine and after
any refactor of the grader, as long as Hypothesis is the pinned version.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

SECRET_ENV = "CNN_COURSE_GRADING_SECRET"
SECRET_FILE_ENV = "CNN_COURSE_GRADING_SECRET_FILE"


class MissingSecret(RuntimeError):
    """Hidden checks were asked for without the instructor's grading secret."""


def load(secret_file: str | os.PathLike | None = None) -> str | None:
    """The grading secret, or None when none is configured."""
    if os.environ.get(SECRET_ENV):
        return os.environ[SECRET_ENV]
    path = os.environ.get(SECRET_FILE_ENV) or secret_file
    if not path:
        return None
    path = Path(path).expanduser()
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError as err:
        raise MissingSecret(f"cannot read the grading secret file {path}: {err.strerror}. "
                            f"Create it (e.g. `python -c \"import secrets; "
                            f"print(secrets.token_hex(32))\" > {path}`).") from None
    if not text:
        raise MissingSecret(f"the grading secret file {path} is empty.")
    return text


def missing(what: str) -> MissingSecret:
    """The error for ``what`` (hidden checks) asked for without a secret: what to set."""
    return MissingSecret(
        f"{what} need the instructor's grading secret: set {SECRET_ENV}, or {SECRET_FILE_ENV} "
        "(or c.GradeOutOfProcess.secret_file in nbgrader_config.py) to a file outside the "
        "repository.")


def check_seed(check_id: str, profile: str, secret: str | None, *, required: bool) -> int:
    """The Hypothesis seed of one check under one profile."""
    if required and not secret:
        raise missing(f"hidden checks ({check_id}, profile {profile!r})")
    material = "\0".join(["cnn-course", profile, check_id, secret or ""])
    return int.from_bytes(hashlib.sha256(material.encode()).digest()[:8], "big")
