"""What the grader grades in each problem set, generated from ``solutions/``.

    python -m grader.layout            # exit 1 if grader/layouts/ differs from solutions/
    python -m grader.layout --update   # rewrite grader/layouts/ from solutions/

``grader/layouts/<problem set>.json`` holds the layout of the problem set's
source notebook (``grader.notebook.layout``): every check cell with its points
and the checks it calls, hidden ones included, the locked set-up cells and the
answer cells' grade ids.  The grader takes all of that from here and only the
answer cells from a submission, so a student who edits points, check ids or
check cells changes nothing.  The files ship with the grader (a course's
students have no ``solutions/``); a test fails when they are stale.
"""
from __future__ import annotations

import argparse
import functools
import json
import sys
from pathlib import Path

from . import notebook as nbio
from .problems import AVAILABLE

LAYOUTS = Path(__file__).resolve().parent / "layouts"
SOLUTIONS = Path(__file__).resolve().parents[1] / "solutions"


@functools.lru_cache(maxsize=None)
def load(ps: str) -> nbio.Layout:
    """The layout of problem set ``ps``, as generated into ``grader/layouts/``."""
    if ps not in AVAILABLE:
        raise ValueError(f"unknown problem set {ps!r}; the course has {', '.join(AVAILABLE)}")
    return nbio.Layout.from_json(json.loads((LAYOUTS / f"{ps}.json").read_text()))


def identify(nb=None, hints=()) -> str:
    """The problem set a notebook belongs to: the first of ``hints`` that names one (an
    nbgrader assignment id, a folder name ``ps01_convolution``, a notebook file name
    ``convolution.ipynb``), else the one its check cells import.  (A student who edits the
    imports can only get a notebook graded as another problem set, and fail it.)"""
    by_name = {**{load(ps).notebook: ps for ps in AVAILABLE},
               **{Path(load(ps).notebook).stem: ps for ps in AVAILABLE},
               **{ps: ps for ps in AVAILABLE}}
    for hint in hints:
        if hint in by_name:
            return by_name[hint]
    imported = nbio.imported_problem_sets(nb) & set(AVAILABLE) if nb is not None else set()
    if len(imported) == 1:
        return imported.pop()
    raise nbio.MalformedNotebook("cannot tell which problem set this notebook belongs to (its "
                                 "folder, file name and check cells name none); name it "
                                 "with --problem-set")


def path_hints(path: Path) -> list[str]:
    """What a notebook's path says about its problem set: nbgrader keeps submissions in
    ``<student>/<problem set>/<notebook>.ipynb``."""
    return [path.resolve().parent.name, path.name]


def generate(ps: str) -> nbio.Layout:
    """The layout of problem set ``ps``, from its source notebook in ``solutions/``."""
    notebooks = sorted((SOLUTIONS / ps).glob("*.ipynb"))
    if len(notebooks) != 1:
        raise SystemExit(f"grader.layout: solutions/{ps} must hold one notebook, "
                         f"found {len(notebooks)} (is this a checkout with solutions/?)")
    return nbio.layout(nbio.read(notebooks[0]), ps, notebooks[0].name)


def render(layout: nbio.Layout) -> str:
    return json.dumps(layout.to_json(), indent=1, ensure_ascii=False) + "\n"


def stale() -> list[str]:
    """The layout files that differ from what ``solutions/`` generates."""
    out = []
    for ps in AVAILABLE:
        path = LAYOUTS / f"{ps}.json"
        if not path.exists() or path.read_text() != render(generate(ps)):
            out.append(f"{path.relative_to(LAYOUTS.parents[1])}: differs from solutions/{ps}")
    out += [f"{p.relative_to(LAYOUTS.parents[1])}: not a problem set of the course"
            for p in sorted(LAYOUTS.glob("*.json")) if p.stem not in AVAILABLE]
    return out


def update() -> None:
    LAYOUTS.mkdir(exist_ok=True)
    for p in LAYOUTS.glob("*.json"):
        if p.stem not in AVAILABLE:
            p.unlink()
    for ps in AVAILABLE:
        (LAYOUTS / f"{ps}.json").write_text(render(generate(ps)))
    load.cache_clear()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.layout",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--update", action="store_true",
                        help="rewrite grader/layouts/ from solutions/")
    args = parser.parse_args(argv)
    if args.update:
        update()
        print(f"wrote {len(AVAILABLE)} layouts to {LAYOUTS}")
        return 0
    lines = stale()
    for line in lines:
        print("stale:", line)
    print("grader/layouts/ is up to date" if not lines else
          "grader/layouts/ is stale: run `python -m grader.layout --update`, review and commit")
    return 1 if lines else 0


if __name__ == "__main__":
    sys.exit(main())
