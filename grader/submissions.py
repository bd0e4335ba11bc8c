"""Build student notebooks from the solution: for the sample class, the mutation
catalog, the alternative implementations and the benchmarks.

A ``Submission`` says which answer cells differ from the model solution (or
starts from the untouched release) and may edit the notebook further, as a
student might (deleting or rewriting a check cell).
"""
from __future__ import annotations

import ast
import contextlib
import copy
import dataclasses
import io
import re
import tokenize
from typing import Callable

import nbformat

from . import notebook as nbio

_MARKERS = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*(\n|\Z)", re.MULTILINE)


def solution_answers(solution_nb) -> dict[str, str]:
    """The model answers, as a student would have typed them (no nbgrader markers)."""
    return {gid: _MARKERS.sub("", src) for gid, src in nbio.answer_cells(solution_nb)
            if not gid.startswith(nbio.SETUP_PREFIX)}


def written_answers(solution_nb) -> dict[str, str]:
    """The model's written (markdown) answers, by grade id."""
    return {nbio.nbgrader_meta(c)["grade_id"]: c.source for c in solution_nb.cells
            if c.cell_type == "markdown" and nbio.nbgrader_meta(c).get("solution")}


def mutate(answers: dict[str, str], cell: str, old: str, new: str, count: int = 1) -> dict:
    """A copy of ``answers`` with the first ``count`` occurrences of ``old`` in one cell
    replaced by ``new``; ``old`` must occur.

    ``old`` is matched as Python tokens where its text does not occur as is, so the
    edit survives reformatting of the solution (black, other line breaks and spacing,
    quotes, comments).
    """
    src = answers[cell]
    if old in src:
        edited = src.replace(old, new, count)
    else:
        edited = _replace_tokens(src, old, new, count)
        if edited is None:
            raise ValueError(f"{old!r} does not occur in answer cell {cell!r}")
    out = dict(answers)
    out[cell] = edited
    return out


_LAYOUT = {tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.COMMENT,
           tokenize.ENDMARKER}


def _tokens(text: str) -> list[tuple[int, str, int, int]]:
    """``(type, value, start, end)`` of the tokens that carry meaning, with offsets into
    ``text``; strings and numbers by value, so that ``'a'`` matches ``"a"``."""
    lines = text.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    out = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type in _LAYOUT:
                continue
            value = tok.string
            if tok.type in (tokenize.STRING, tokenize.NUMBER):
                with contextlib.suppress(ValueError, SyntaxError):
                    value = repr(ast.literal_eval(value))
            out.append((tok.type, value, starts[tok.start[0] - 1] + tok.start[1],
                        starts[tok.end[0] - 1] + tok.end[1]))
    except (tokenize.TokenError, IndentationError):
        pass  # a fragment (an open bracket): the tokens read so far
    # a trailing comma before a closing bracket is layout too (black adds them)
    return [t for t, after in zip(out, out[1:] + [None])
            if not (t[1] == "," and after and after[1] in ")]}")]


def _balance(tokens) -> int:
    return sum((t[1] == "(") - (t[1] == ")") for t in tokens)


def _replace_tokens(src: str, old: str, new: str, count: int) -> str | None:
    """Replace ``old`` matched token by token, parentheses aside (black adds and removes
    them around tuples and long expressions); the replaced span keeps ``old``'s balance
    of parentheses, so ``f(x) + 1`` never loses its ``)``."""
    pattern = _tokens(old)
    keys = [t[:2] for t in pattern if t[1] not in "()"]
    if not keys:
        return None
    # ``old`` and ``new`` usually share the layout around the tokens (indentation, a
    # final newline): the source keeps its own.
    head, tail = old[:pattern[0][2]], old[pattern[-1][3]:]
    if new.startswith(head) and new.endswith(tail) and len(new) >= len(head) + len(tail):
        new = new[len(head):len(new) - len(tail)]
    tokens = _tokens(src)
    words = [i for i, t in enumerate(tokens) if t[1] not in "()"]
    # the parentheses before the first word and after the last one (``.item()``)
    lead = [t[1] for t in pattern[:next(i for i, t in enumerate(pattern) if t[1] not in "()")]]
    trail = [t[1] for t in pattern[len(pattern) - next(
        i for i, t in enumerate(reversed(pattern)) if t[1] not in "()"):]]
    target = _balance(pattern)
    spans, k = [], 0
    while k + len(keys) <= len(words) and len(spans) < count:
        if [tokens[i][:2] for i in words[k:k + len(keys)]] != keys:
            k += 1
            continue
        first, last = words[k], words[k + len(keys) - 1]
        if [t[1] for t in tokens[last + 1:last + 1 + len(trail)]] == trail:
            last += len(trail)
        if lead and [t[1] for t in tokens[max(first - len(lead), 0):first]] == lead:
            first -= len(lead)
        while _balance(tokens[first:last + 1]) > target and last + 1 < len(tokens) and \
                tokens[last + 1][1] in "()":
            last += 1
        while _balance(tokens[first:last + 1]) < target and first > 0 and \
                tokens[first - 1][1] == "(":
            first -= 1
        if _balance(tokens[first:last + 1]) == target:
            spans.append((tokens[first][2], tokens[last][3]))
            k += len(keys)
        else:
            k += 1
    if not spans:
        return None
    for start, end in reversed(spans):
        src = src[:start] + new + src[end:]
    return src


@dataclasses.dataclass
class Submission:
    student: str
    about: str
    #: answer cell grade_id -> source; cells not listed keep the base's source
    answers: dict = dataclasses.field(default_factory=dict)
    #: "solution": start from the model answers; "release": from the untouched stubs
    base: str = "solution"
    #: further edits to the notebook (delete or rewrite cells, ...)
    edit: Callable | None = None

    def build(self, solution_nb, release_nb) -> nbformat.NotebookNode:
        nb = copy.deepcopy(release_nb)
        sources = solution_answers(solution_nb) if self.base == "solution" else {}
        sources.update(self.answers)
        written = written_answers(solution_nb) if self.base == "solution" else {}
        for cell in nb.cells:
            gid = nbio.nbgrader_meta(cell).get("grade_id")
            if gid in sources and cell.cell_type == "code":
                cell.source = sources[gid]
            elif gid in written and cell.cell_type == "markdown":
                cell.source = written[gid]  # the written answer, too
        if self.edit is not None:
            self.edit(nb)
        return nb

    def is_model_solution(self) -> bool:
        return self.base == "solution" and not self.answers and self.edit is None

    def is_untouched_release(self) -> bool:
        return self.base == "release" and not self.answers and self.edit is None


def delete_cell(nb, grade_id: str) -> None:
    nb.cells = [c for c in nb.cells if nbio.nbgrader_meta(c).get("grade_id") != grade_id]


def replace_cell_source(nb, grade_id: str, source: str) -> None:
    for c in nb.cells:
        if nbio.nbgrader_meta(c).get("grade_id") == grade_id:
            c.source = source
