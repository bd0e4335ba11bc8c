"""Shared fixtures: the problem-set notebooks, source and release."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from grader import notebook as nbio

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("MPLBACKEND", "Agg")


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
