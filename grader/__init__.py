"""The cnn-course grader.

Checks compare a student's function with a PyTorch reference on
Hypothesis-generated inputs, with the student's code running in a separate
process.  See README.md ("How grading works") and the module docstrings:
references, strategies, cases, checks, comparisons, module_checks, probes,
target, sandbox, shortcuts, notebook, runner, nbgrader_plugin, pytest_support,
kernel.
"""

__version__ = "0.1.0"
