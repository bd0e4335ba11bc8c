"""Run this problem set's public checks: `pytest exercises/ps06_densenet_dpn`.

Each check cell of densenet_dpn.ipynb becomes one test. Your answer cells are
run in a separate process, exactly as when your work is graded.
"""
from grader.pytest_support import notebook_tests

test_check_cell = notebook_tests(__file__, "densenet_dpn.ipynb")
