"""Run this problem set's public checks: `pytest exercises/ps09_training_transfer`.

Each check cell of training_transfer.ipynb becomes one test. Your answer cells are
run in a separate process, exactly as when your work is graded.
"""
from grader.pytest_support import notebook_tests

test_check_cell = notebook_tests(__file__, "training_transfer.ipynb")
