"""Run this problem set's public checks: `pytest exercises/ps04_vgg_googlenet`.

Each check cell of vgg_googlenet.ipynb becomes one test. Your answer cells are
run in a separate process, exactly as when your work is graded.
"""
from grader.pytest_support import notebook_tests

test_check_cell = notebook_tests(__file__, "vgg_googlenet.ipynb")
