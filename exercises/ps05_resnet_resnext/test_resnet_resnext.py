"""Run this problem set's public checks: `pytest exercises/ps05_resnet_resnext`.

Each check cell of resnet_resnext.ipynb becomes one test. Your answer cells are
run in a separate process, exactly as when your work is graded.
"""
from grader.pytest_support import notebook_tests

test_check_cell = notebook_tests(__file__, "resnet_resnext.ipynb")
