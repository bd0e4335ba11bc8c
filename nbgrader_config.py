"""nbgrader configuration of cnn-course.

`solutions/` is nbgrader's source folder and `exercises/` its release folder:

    nbgrader generate_assignment ps01_convolution --force   # solutions/ -> exercises/
    nbgrader autograde ps01_convolution                      # submitted/ -> autograded/
    nbgrader generate_feedback ps01_convolution              # autograded/ -> feedback/
    nbgrader export                                          # grades.csv

The gradebook is SQLite (`gradebook.db` here) unless you set a database URL:

    c.CourseDirectory.db_url = "postgresql://user:password@host/cnn_course"
"""
c = get_config()  # noqa: F821 - provided by nbgrader

c.CourseDirectory.course_id = "cnn-course"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", ".pytest_cache",
                            ".hypothesis", "feedback"]

# Grades come from the out-of-process grader: the check cells' outputs are
# replaced with its verdicts, so nothing the student's kernel does (monkeypatching,
# stderr warnings, hangs) can change a score.  See grader/nbgrader_plugin.py.
c.Autograde.autograde_preprocessors = [
    "grader.nbgrader_plugin.MarkGradedOutsideKernel",
    "nbgrader.preprocessors.Execute",
    "grader.nbgrader_plugin.GradeOutOfProcess",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
# A deleted check cell comes back and is graded like any other.
c.OverwriteCells.add_missing_cells = True
# Answer cells that never finish are interrupted after 30 s; the grader has its own
# limits. Check cells get longer: `nbgrader validate` runs the checks in the kernel.
from grader.nbgrader_plugin import execute_timeout  # noqa: E402

c.Execute.timeout_func = execute_timeout

# Feedback must not show the source of hidden tests.
c.GenerateFeedback.preprocessors = [
    "grader.nbgrader_plugin.StripHiddenTests",
    "nbgrader.preprocessors.GetGrades",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
