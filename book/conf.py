"""Sphinx configuration of the course's HTML book: ``./course.sh book`` (see the README).

Sphinx with MyST-NB renders the lectures with their outputs, the problem sets as released, the
Sources and a glossary; the source folder is the repository root, so the notebooks are read where
they live.  Execution is cached by jupyter-cache: a rebuild re-executes only the notebooks whose
code changed (and all of them when the code they import changed: ``course_book.sources_stamp``).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import course_book  # noqa: E402

project = "cnn-course"
author = "the cnn-course authors"
copyright = "2026, the cnn-course authors"

extensions = ["myst_nb", "course_book"]
root_doc = "book/index"
include_patterns = ["book/*.md", "lectures/*.ipynb", "lectures/sources.md",
                    "exercises/*/*.ipynb"]
exclude_patterns = ["**/.ipynb_checkpoints"]

# Lectures are executed (or taken from the cache); problem sets are shown as released.
nb_execution_mode = "cache"
nb_execution_cache_path = str(course_book.CACHE)
nb_execution_excludepatterns = ["exercises/*/*.ipynb"]
nb_execution_timeout = 600
nb_execution_raise_on_error = True  # a lecture that fails must fail the build, not show a traceback
nb_merge_streams = True
# Progress bars (tqdm's widgets) show as their text: widget JavaScript would come from a CDN.
nb_ipywidgets_js = {}
nb_mime_priority_overrides = [("html", "application/vnd.jupyter.widget-view+json", None),
                              ("html", "application/vnd.jupyter.widget-state+json", None)]
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
# Lectures open with a "###" note under their title, on purpose.
suppress_warnings = ["mystnb.unknown_mime_type", "myst.header"]

html_theme = "sphinx_book_theme"
html_title = "Convolutional neural networks: the course"
html_theme_options = {"show_toc_level": 2, "use_download_button": False,
                      "use_fullscreen_button": False}
html_copy_source = False
html_show_sourcelink = False
# MathJax 3 from the pip package sphinx-mathjax-offline, copied into the site: no CDN, so the
# math renders offline. SVG output, because web fonts do not load from file:// pages.
mathjax_path = "mathjax/tex-svg-full.js"
# pydata-sphinx-theme logs an error when no light/dark mode is stored yet (file:// pages)
html_context = {"default_mode": "light"}
