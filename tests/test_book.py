"""The HTML book (``./course.sh book``, ``book/``): it builds without a warning; internal links
land on a page and an anchor that exist; and in a real browser (Debian's Chromium, driven by
Playwright, the site served from this machine) every lecture page loads with nothing fetched from
elsewhere and no console error, its figures are images of non-zero size, its math is typeset,
and the search finds a glossary term by its Korean name.

The lectures come from the execution cache that ``tests/test_lectures.py::test_notebook_executes``
fills (``conftest`` runs this module last), so the build executes nothing that the tests already
executed.
"""

from __future__ import annotations

import functools
import re
import subprocess
import sys
import threading
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from tests.conftest import launch

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "build" / "book"
LECTURES = sorted((ROOT / "lectures").glob("*.ipynb"))
PROBLEM_SETS = sorted((ROOT / "exercises").glob("*/*.ipynb"))

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site() -> Path:
    """The book, built as ``./course.sh book`` builds it; a warning fails the build."""
    build = subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-q",
         "-c", "book", ".", str(SITE)], cwd=ROOT, capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-3000:]
    return SITE


class Page(HTMLParser):
    """The ids, links and images of one built page."""

    def __init__(self, path: Path):
        super().__init__()
        self.ids, self.links, self.images = set(), [], []
        self.feed(path.read_text(encoding="utf-8"))

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        if tag == "img":
            self.images.append(attrs.get("src", ""))


def pages(site: Path) -> list[Path]:
    return sorted(p for p in site.rglob("*.html") if "_static" not in p.parts)


def test_every_lecture_and_problem_set_is_a_page(site):
    built = {p.relative_to(site).with_suffix("").as_posix() for p in pages(site)}
    expected = {p.relative_to(ROOT).with_suffix("").as_posix() for p in LECTURES + PROBLEM_SETS}
    assert expected <= built
    assert {"book/index", "book/glossary", "lectures/sources", "search"} <= built


def test_internal_links_land_on_an_existing_page_and_anchor(site):
    parsed = {p: Page(p) for p in pages(site)}
    broken = []
    for path, page in parsed.items():
        for href in page.links:
            url = urlsplit(href)
            if url.scheme or href.startswith("mailto:"):
                continue
            target = (path.parent / unquote(url.path)).resolve() if url.path else path
            if not target.exists():
                broken.append(f"{path.relative_to(site)}: {href}")
            elif url.fragment and target.suffix == ".html":
                ids = parsed[target].ids if target in parsed else Page(target).ids
                if unquote(url.fragment) not in ids:
                    broken.append(f"{path.relative_to(site)}: {href} (no such anchor)")
    assert broken == []


def test_problem_sets_link_to_lecture_sections(site):
    """"lecture 4, §3" in a problem set is a link to that section of the lecture."""
    sections = [href for p in PROBLEM_SETS
                for href in Page(site / p.relative_to(ROOT).with_suffix(".html")).links
                if re.match(r"\.\./\.\./lectures/\d+[ab]?_\w+\.html#", href)]
    assert len(sections) >= len(PROBLEM_SETS)


@pytest.fixture(scope="module")
def served(site):
    """The site over HTTP, as readers see it (Sphinx's search fetches its index, which a
    file:// page may not)."""
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(site))
    handler.log_message = lambda *args: None
    with ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{server.server_address[1]}/"
        server.shutdown()


def test_pages_load_offline_with_figures_and_typeset_math(site, served, chromium):
    from playwright.sync_api import sync_playwright

    checked = ["index.html", "book/glossary.html", "lectures/sources.html",
               *(p.relative_to(ROOT).with_suffix(".html").as_posix() for p in LECTURES),
               PROBLEM_SETS[0].relative_to(ROOT).with_suffix(".html").as_posix()]
    problems, report = [], {}
    with sync_playwright() as p:
        browser = launch(p, chromium)
        try:
            page = browser.new_page()
            page.on("console", lambda m: problems.append(f"{page.url}: {m.type}: {m.text}")
                    if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda err: problems.append(f"{page.url}: {err}"))
            # offline: anything not in the site fails the test
            page.route(re.compile(rf"^(?!{re.escape(served)}).*"), lambda route: (
                problems.append(f"{page.url}: fetched {route.request.url}"), route.abort()))
            for path in checked:
                page.goto(served + path, wait_until="load")
                if path.startswith("lectures/") and path != "lectures/sources.html":
                    page.wait_for_function("window.MathJax && MathJax.startup && "
                                           "MathJax.startup.promise")
                    page.evaluate("MathJax.startup.promise")
                    report[path] = page.evaluate("""() => ({
                        math: document.querySelectorAll('span.math, div.math').length,
                        typeset: document.querySelectorAll('mjx-container').length,
                        errors: document.querySelectorAll('mjx-merror').length,
                        figures: [...document.querySelectorAll('.cell_output img')].map(
                            i => i.complete ? i.naturalWidth * i.naturalHeight : 0),
                    })""")
            page.goto(served + "search.html?q=스트라이드")
            page.wait_for_selector("#search-results li", timeout=30_000)
            found = page.locator("#search-results li a").all_inner_texts()
        finally:
            browser.close()
    assert problems == []
    for name, seen in report.items():
        assert seen["figures"] and all(seen["figures"]), name  # every figure drawn, none empty
        assert seen["math"] and seen["typeset"] >= seen["math"] and not seen["errors"], name
    assert "Glossary" in found
