"""Golden failing sets, kept in reviewable JSON: ``tests/catalog/snapshots/<ps>.json``.

A test measures what the grader does and compares it with the snapshot;
``pytest --update`` (as in expecttest and syrupy) writes what it measured
instead.  Under pytest-xdist each worker leaves its updates in
``build/snapshot-updates/`` and the controlling process merges them at the end,
so no two processes write one file.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

SNAPSHOTS = Path(__file__).with_name("snapshots")
UPDATES = Path(__file__).resolve().parents[2] / "build" / "snapshot-updates"
UPDATE_HINT = ("If the change is intended, rerun the test with --update (`./course.sh test "
               "tests/test_catalog.py tests/test_nbgrader_grading.py --update`) and review the "
               "snapshot's diff.")

_loaded: dict[str, dict] = {}


def load(ps: str) -> dict:
    if ps not in _loaded:
        path = SNAPSHOTS / f"{ps}.json"
        _loaded[ps] = json.loads(path.read_text()) if path.exists() else {}
    return _loaded[ps]


class Snapshot:
    """The ``snapshot`` fixture: ``match(ps, name, value)`` asserts or records one entry."""

    def __init__(self, update: bool):
        self.update = update

    def match(self, ps: str, name: str, value: dict) -> None:
        if self.update:
            (UPDATES / ps).mkdir(parents=True, exist_ok=True)
            (UPDATES / ps / f"{name}.json").write_text(json.dumps(value))
            return
        stored = load(ps).get(name)
        assert stored is not None, f"{ps}: no snapshot of {name!r} yet. {UPDATE_HINT}"
        assert value == stored, (f"{ps}: {name} measured {value}, the snapshot says {stored}. "
                                 f"{UPDATE_HINT}")

    def prune(self, ps: str, names) -> None:
        """Under ``--update``, drop the entries of ``ps`` that are not in ``names``."""
        (UPDATES / ps).mkdir(parents=True, exist_ok=True)
        (UPDATES / ps / ".keep").write_text(json.dumps(sorted(names)))


def start_updates() -> None:
    shutil.rmtree(UPDATES, ignore_errors=True)


def merge_updates() -> list[str]:
    """Write the recorded entries into the snapshot files; returns the files written."""
    written = []
    for folder in sorted(UPDATES.glob("*")) if UPDATES.exists() else []:
        ps = folder.name
        path = SNAPSHOTS / f"{ps}.json"
        data = json.loads(path.read_text()) if path.exists() else {}
        for entry in folder.glob("*.json"):
            data[entry.stem] = json.loads(entry.read_text())
        keep = folder / ".keep"
        if keep.exists():
            data = {k: v for k, v in data.items() if k in set(json.loads(keep.read_text()))}
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(json.dumps(dict(sorted(data.items())), indent=1, sort_keys=True) + "\n")
        written.append(str(path))
    shutil.rmtree(UPDATES, ignore_errors=True)
    return written
