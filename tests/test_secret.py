"""The grading secret: hidden examples only the instructor can draw, the same ones every time."""
from __future__ import annotations

import dataclasses
import importlib.metadata
import time
from pathlib import Path

import pytest
from hypothesis import strategies as st

from grader import secret
from grader.checks import PROFILES, search

ROOT = Path(__file__).resolve().parents[1]


def drawn(check_id: str, profile, n: int = 8) -> list:
    seen = []
    search(check_id, "f", st.integers(0, 10**9), [], n, profile, seen.append, time.monotonic)
    return seen


def test_public_examples_are_fixed_and_hidden_ones_follow_the_secret():
    quick, thorough = PROFILES["quick"], PROFILES["thorough"]
    assert drawn("conv2d_shapes", quick) == drawn("conv2d_shapes", quick)
    assert drawn("conv2d_shapes", quick) != drawn("conv2d_values", quick)
    a = dataclasses.replace(thorough, secret="instructor A")
    b = dataclasses.replace(thorough, secret="instructor B")
    assert drawn("conv2d_shapes", a) == drawn("conv2d_shapes", a)
    assert drawn("conv2d_shapes", a) != drawn("conv2d_shapes", b)
    # the public seed does not depend on the secret: students' feedback stays stable
    assert secret.check_seed("x", "quick", None, required=False) == \
        secret.check_seed("x", "quick", None, required=False)


def test_hidden_checks_without_the_secret_say_what_to_do():
    with pytest.raises(secret.MissingSecret, match=secret.SECRET_FILE_ENV):
        PROFILES["thorough"].seed("conv2d_shapes")


def test_the_secret_is_read_from_the_environment_or_a_file(tmp_path, monkeypatch):
    monkeypatch.delenv(secret.SECRET_ENV, raising=False)
    monkeypatch.delenv(secret.SECRET_FILE_ENV, raising=False)
    assert secret.load() is None
    path = tmp_path / "grading-secret"
    path.write_text("s3cret\n")
    assert secret.load(path) == "s3cret"
    with pytest.raises(secret.MissingSecret, match="cannot read"):
        secret.load(tmp_path / "missing")
    monkeypatch.setenv(secret.SECRET_FILE_ENV, str(path))
    assert secret.load() == "s3cret"
    monkeypatch.setenv(secret.SECRET_ENV, "from env")
    assert secret.load(path) == "from env"


def test_hypothesis_is_the_pinned_version():
    """A regrade gives the same scores only with the Hypothesis that drew the examples."""
    pins = dict(line.split("==") for line in (ROOT / "constraints.txt").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    assert importlib.metadata.version("hypothesis") == pins["hypothesis"]
