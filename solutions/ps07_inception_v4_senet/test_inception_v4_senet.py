"""Run this problem set's public checks: `pytest exercises/ps07_inception_v4_senet`.

Each check cell of inception_v4_senet.ipynb becomes one test. Your answer cells are
run in a separate process, exactly as when your work is graded.
"""
from grader.pytest_support import notebook_tests

test_check_cell = notebook_tests(__file__, "inception_v4_senet.ipynb")
