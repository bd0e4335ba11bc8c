"""The Sphinx extension of the course's book (``book/conf.py``), and the cache it shares with the
tests.

- ``course-glossary``: one glossary of every lecture's Korean/English table, searchable, each term
  linked to the lectures that use it;
- "lecture 4, §10" anywhere in the book becomes a link to that section;
- MathJax is copied into the site, so math renders offline;
- the executed lectures are cached (jupyter-cache); ``tests/test_lectures.py`` adds each notebook
  it executes to the same cache (``cache_executed``), so a build after the tests executes nothing.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from collections import defaultdict
from pathlib import Path

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
LECTURES = ROOT / "lectures"
CACHE = ROOT / "build" / "jupyter_cache"
STAMP = CACHE / "sources.sha256"

#: "Lecture 4a", "lecture 11, §2.1": which lecture, and which section
LECTURE_REF = re.compile(r"\b[Ll]ecture (\d+)([ab]?)(?:, §(\d+(?:\.\d+)*))?")
SECTION_NUMBER = re.compile(r"^(\d+(?:\.\d+)*)\.?\s")
LECTURE_TITLE = re.compile(r"^Lecture (\d+)([ab]?)\b")


# --- the execution cache ---------------------------------------------------------------------


def sources_stamp() -> str:
    """A hash of the code the lectures import. jupyter-cache keys a notebook by its own code
    cells only, so a change here must empty the cache."""
    digest = hashlib.sha256()
    files = [*LECTURES.glob("*.py"), *LECTURES.glob("results/*"), *ROOT.glob("grader/**/*.py")]
    for path in sorted(p for p in files if p.is_file()):
        digest.update(path.relative_to(ROOT).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def fresh_cache() -> Path:
    """The cache folder, emptied first if the lectures' code changed since it was filled."""
    stamp = sources_stamp()
    if STAMP.exists() and STAMP.read_text() != stamp:
        shutil.rmtree(CACHE, ignore_errors=True)  # two test workers may both find it stale
    CACHE.mkdir(parents=True, exist_ok=True)
    STAMP.write_text(stamp)
    return CACHE


def cache_executed(nb, path: Path, seconds: float) -> None:
    """Store an executed lecture as the book's build would have (``myst_nb``'s cache mode)."""
    import copy

    import nbformat
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    # The cache keys on the code cells' sources and metadata: the metadata as stored, not
    # with the timings nbclient adds.
    nb = copy.deepcopy(nb)
    for cell, stored in zip(nb.cells, nbformat.read(path, as_version=4).cells, strict=True):
        cell.metadata = stored.metadata
    cache = get_cache(str(fresh_cache()))
    cache.cache_notebook_bundle(CacheBundleIn(nb, str(path), data={"execution_seconds": seconds}),
                                check_validity=False, overwrite=True)


# --- the glossary ----------------------------------------------------------------------------


def glossary_rows(path: Path) -> list[tuple[str, str, str]]:
    """(Korean, English, meaning) for each row of a lecture's "Glossary" table."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    _, found, glossary = text.partition("## Glossary")
    rows = []
    for line in glossary.splitlines() if found else []:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and not set(cells[0]) <= set("- ") and not cells[0].startswith("한국어"):
            rows.append((cells[0], cells[1], cells[2]))
    return rows


def lecture_sections() -> set[tuple[str, str]]:
    """("4", "3.1") for each numbered heading of each lecture ("### 3.1 The idea" in 04a)."""
    import nbformat

    found = set()
    for path in LECTURES.glob("*.ipynb"):
        number = lecture_name(path).rstrip("ab")
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "markdown":
                found |= {(number, m.group(1)) for line in cell.source.splitlines()
                          if (m := SECTION_NUMBER.match(line.lstrip("#").strip() + " "))
                          and line.startswith("##")}
    return found


def lecture_name(path: Path) -> str:
    """"4a" for ``04a_convolution_zoo.ipynb``."""
    return path.name.split("_")[0].lstrip("0")


class Syllabus(SphinxDirective):
    """The README's syllabus (one place for it), its links made relative to the book's root."""

    def run(self) -> list[nodes.Node]:
        readme = ROOT / "README.md"
        self.env.note_dependency(str(readme))
        text = readme.read_text(encoding="utf-8")
        table = text.split("## Syllabus\n", 1)[1].split("\n## ", 1)[0]
        table = re.sub(r"\]\((lectures|exercises)/", r"](/\1/", table)
        container = nodes.container()
        self.state.nested_parse(StringList(table.splitlines()), self.content_offset, container)
        return container.children


class CourseGlossary(SphinxDirective):
    """Every lecture's glossary in one Sphinx glossary: each entry is found by the search under
    its English and its Korean names, and links the lectures that define it."""

    def run(self) -> list[nodes.Node]:
        entries: dict[str, dict] = {}
        korean_terms: dict[str, dict] = {}  # a Korean term goes with its first English one
        for path in sorted(LECTURES.glob("*.ipynb")):
            self.env.note_dependency(str(path))
            for korean, english, meaning in glossary_rows(path):
                entry = korean_terms.get(korean) or entries.setdefault(english.lower(), {
                    "english": english, "korean": [], "meaning": meaning, "lectures": []})
                if korean not in korean_terms:
                    korean_terms[korean] = entry
                    entry["korean"].append(korean)
                if path not in entry["lectures"]:
                    entry["lectures"].append(path)
        lines = ["```{glossary}", ":sorted:", ""]
        for entry in entries.values():
            lines.append(entry["english"])
            lines.extend(k for k in entry["korean"] if k.lower() != entry["english"].lower())
            where = ", ".join(f"{{doc}}`lecture {lecture_name(p)} </lectures/{p.stem}>`"
                              for p in entry["lectures"])
            lines += [f"  {entry['meaning']} ({where})", ""]
        lines.append("```")
        container = nodes.container()
        self.state.nested_parse(StringList(lines), self.content_offset, container)
        return container.children


# --- "lecture 4, §10" as links ---------------------------------------------------------------


def collect_sections(app, doctree) -> None:
    """Remember each lecture's number and the ids of its numbered sections."""
    docname = app.env.docname
    if not docname.startswith("lectures/"):
        return
    sections = {}
    for section in doctree.findall(nodes.section):
        title = section.next_node(nodes.title).astext()
        if match := LECTURE_TITLE.match(title):
            app.env.course_lectures = getattr(app.env, "course_lectures", {})
            app.env.course_lectures[docname] = match.group(1)
        elif match := SECTION_NUMBER.match(title):
            sections[match.group(1)] = section["ids"][0]
    app.env.course_sections = getattr(app.env, "course_sections", {})
    app.env.course_sections[docname] = sections


def purge(app, env, docname) -> None:
    for attr in ("course_lectures", "course_sections"):
        getattr(env, attr, {}).pop(docname, None)


def link_lecture_references(app, doctree, fromdocname) -> None:
    """Turn "lecture N" and "lecture N, §M" in running text into links (not in code, titles or
    existing links)."""
    by_number = defaultdict(list)
    for docname, number in sorted(getattr(app.env, "course_lectures", {}).items()):
        by_number[number].append(docname)
    sections = getattr(app.env, "course_sections", {})
    skip = (nodes.literal, nodes.literal_block, nodes.reference, nodes.title, nodes.math,
            nodes.math_block, nodes.raw, nodes.term)
    for text in list(doctree.findall(nodes.Text)):
        parent = text.parent
        if any(isinstance(n, skip) for n in _ancestors(parent)):
            continue
        pieces, last = [], 0
        for match in LECTURE_REF.finditer(text):
            number, part, section = match.groups()
            docs = [d for d in by_number.get(number, []) if not part or d.startswith(
                f"lectures/{int(number):02d}{part}")]
            target = next((d for d in docs if section in sections.get(d, {})), None) \
                if section else (docs[0] if docs else None)
            if target is None and section:
                logger.warning(f"{match.group(0)}: lecture {number} has no section §{section}",
                               location=parent)
            if target is None or target == fromdocname and not section:
                continue
            uri = app.builder.get_relative_uri(fromdocname, target)
            if section:
                uri = uri.split("#")[0] + "#" + sections[target][section]
            pieces += [nodes.Text(text[last:match.start()]),
                       nodes.reference(match.group(0), match.group(0), refuri=uri,
                                       internal=True)]
            last = match.end()
        if pieces:
            pieces.append(nodes.Text(text[last:]))
            parent.replace(text, pieces)


def _ancestors(node):
    while node is not None:
        yield node
        node = node.parent


# --- the site --------------------------------------------------------------------------------


def prepare(app) -> None:
    fresh_cache()


def finish(app, exception) -> None:
    """MathJax into the site, and ``index.html`` at its root (the root document is
    ``book/index``)."""
    if exception is not None or app.builder.format != "html":
        return
    from importlib.metadata import distribution

    mathjax = distribution("sphinx-mathjax-offline").locate_file(
        "sphinx-mathjax-offline/static/mathjax")
    target = Path(app.outdir) / "_static" / "mathjax"
    if not (target / app.config.mathjax_path.split("/")[-1]).exists():
        shutil.copytree(mathjax, target, dirs_exist_ok=True,  # the CHTML fonts are not needed
                        ignore=shutil.ignore_patterns("*.woff", "chtml*", "*speech*"))
    (Path(app.outdir) / "index.html").write_text(
        '<!DOCTYPE html><meta charset="utf-8"><title>cnn-course</title>'
        '<meta http-equiv="refresh" content="0; url=book/index.html">'
        '<a href="book/index.html">The course</a>\n', encoding="utf-8")


def setup(app):
    app.add_directive("course-syllabus", Syllabus)
    app.add_directive("course-glossary", CourseGlossary)
    app.connect("builder-inited", prepare)
    app.connect("doctree-read", collect_sections)
    app.connect("env-purge-doc", purge)
    app.connect("doctree-resolved", link_lecture_references)
    app.connect("build-finished", finish)
    return {"parallel_read_safe": False, "parallel_write_safe": True}
