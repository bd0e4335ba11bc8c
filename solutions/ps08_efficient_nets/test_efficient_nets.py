"""Run this problem set's public checks: `pytest exercises/ps08_efficient_nets`.

Each check cell of efficient_nets.ipynb becomes one test. Your answer cells are
run in a separate process, exactly as when your work is graded.
"""
from grader.pytest_support import notebook_tests

test_check_cell = notebook_tests(__file__, "efficient_nets.ipynb")
