"""Shared fixtures: the problem-set notebooks and a way to grade built submissions."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from grader import notebook as nbio

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def ps01_solution():
    return nbio.read(ROOT / "solutions" / "ps01_convolution" / "convolution.ipynb")


@pytest.fixture(scope="session")
def ps01_release():
    return nbio.read(ROOT / "exercises" / "ps01_convolution" / "convolution.ipynb")
