"""One module per problem set; each defines ``PROBLEM_SET`` and ``check``.

Problem sets only *call* the machinery: checks come from ``grader.checks``,
inputs from ``grader.strategies``, expected values from ``grader.references``.
"""

AVAILABLE = ("ps01_convolution",)
