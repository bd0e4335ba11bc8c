"""The release (exercises/) as students may have used it: what regenerating it from
solutions/ would destroy.  `cnn-course build` and `demo` refuse to go on over it.

Only the standard library at import: nbformat and nbgrader come in when a notebook is read."""
from __future__ import annotations

import fnmatch
import os
import subprocess
from pathlib import Path

from .problems import AVAILABLE

#: what nbgrader leaves out of a release (nbgrader_config.py's c.CourseDirectory.ignore):
#: caches and checkpoints, never a student's work
RELEASE_IGNORE = (".ipynb_checkpoints", "*.pyc", "__pycache__", ".pytest_cache", ".hypothesis",
                  "feedback")


def shown(path: Path) -> str:
    """``path`` as the user typed it, more or less: relative to the current folder when
    inside it."""
    path = Path(os.path.abspath(path))
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def ignored(rel: Path) -> bool:
    return any(fnmatch.fnmatch(part, pattern) for part in rel.parts
               for pattern in RELEASE_IGNORE)


def files(folder: Path) -> list[Path]:
    """The files under ``folder`` that a release is made of, relative to it."""
    return sorted(p.relative_to(folder) for p in folder.rglob("*")
                  if p.is_file() and not ignored(p.relative_to(folder)))


def _solution_meta(cell) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def release_stub(source_nb):
    """The notebook ``nbgrader generate_assignment`` releases for the source notebook
    ``source_nb``, as far as its answer cells go: nbgrader's ``ClearSolutions`` replaces each
    solution with the stub (``raise NotImplementedError()``, ``YOUR ANSWER HERE``)."""
    import copy

    from nbgrader.preprocessors import ClearSolutions

    nb, _ = ClearSolutions().preprocess(copy.deepcopy(source_nb), {})
    return nb


def committed(root: Path, path: Path):
    """The notebook at ``path`` as committed in ``root``'s git repository (HEAD), or None."""
    import nbformat

    try:
        rel = path.resolve().relative_to(root.resolve()).as_posix()
        proc = subprocess.run(["git", "-C", str(root), "show", f"HEAD:{rel}"],
                              capture_output=True, timeout=60)
        if proc.returncode != 0:
            return None
        return nbformat.reads(proc.stdout.decode("utf-8"), as_version=4)
    except Exception:  # noqa: BLE001 - not a repository, no git, not committed: no such copy
        return None


def edited_cells(released, references) -> list[str]:
    """What the notebook ``released`` holds that none of the ``references`` (the release as
    nbgrader would write it now, and as committed) has: answer cells (nbgrader solution
    cells) whose text differs from the stub, and cells someone added (ids the references do
    not have).  Whitespace at either end of a cell does not count, nor an emptied cell."""
    answers: dict[str, set[str]] = {}
    ids = set()
    for ref in references:
        for cell in ref.cells:
            ids.add(cell.get("id"))
            meta = _solution_meta(cell)
            if meta.get("solution"):
                answers.setdefault(meta.get("grade_id"), set()).add(cell.get("source", "").strip())
    out = []
    for number, cell in enumerate(released.cells, 1):
        text, meta = str(cell.get("source", "")).strip(), _solution_meta(cell)
        if meta.get("solution"):  # emptied, it holds nothing either
            if text and text not in answers.get(meta.get("grade_id"), set()):
                out.append(f"answer cell {meta.get('grade_id')}")
        elif text and cell.get("id") not in ids:
            out.append(f"cell {number} (added)")
    return out


def unsaved_work(root: Path, release: Path, committed=committed) -> list[str]:
    """What regenerating ``release`` from ``root``'s ``solutions/`` would destroy, one line
    per file: a notebook whose answer cells differ from the stubs or that has cells of its
    own, a notebook that cannot be read (it might), and any file the release does not have
    (nbgrader deletes the problem set's folder first).  ``committed(root, path)`` gives the
    committed release of a notebook, whose cells also count as the stubs (the solutions may
    have changed since)."""
    import nbformat

    lines = []
    for ps in AVAILABLE:
        src, dest = root / "solutions" / ps, release / ps
        if not dest.is_dir():
            continue
        generated = set(files(src)) if src.is_dir() else set()
        for rel in files(dest):
            where = shown(dest / rel)
            if rel not in generated:
                lines.append(f"{where} is not part of the release, and regenerating "
                             f"{shown(release)}/ would delete it")
                continue
            if rel.suffix != ".ipynb":
                continue
            try:
                released = nbformat.read(dest / rel, as_version=4)
            except Exception as err:  # noqa: BLE001 - whatever it holds, it is not a release
                lines.append(f"{where} cannot be read as a notebook ({type(err).__name__}), "
                             "so it may hold your work")
                continue
            references = [release_stub(nbformat.read(src / rel, as_version=4))]
            edits = edited_cells(released, references)
            if edits:
                old = committed(root, dest / rel)
                if old is not None:
                    edits = edited_cells(released, references + [old])
            if edits:
                lines.append(f"{where} has edits ({', '.join(edits)}) that regenerating "
                             f"{shown(release)}/ would destroy")
    return lines
