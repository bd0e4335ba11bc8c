"""nbgrader configuration of cnn-course.

`solutions/` is nbgrader's source folder and `exercises/` its release folder:

    nbgrader generate_assignment ps01_convolution --force   # solutions/ -> exercises/, gradebook
    nbgrader zip_collect ps01_convolution                    # downloaded/ (LMS zip) -> submitted/
    nbgrader autograde ps01_convolution                      # submitted/ -> autograded/
    nbgrader generate_feedback ps01_convolution              # autograded/ -> feedback/
    nbgrader export                                          # grades.csv

The gradebook is SQLite (`gradebook.db` here) unless you set a database URL (the password
in ~/.pgpass, not here):

    c.CourseDirectory.db_url = "postgresql://user@host/cnn_course"
"""
c = get_config()  # noqa: F821 - provided by nbgrader

c.CourseDirectory.course_id = "cnn-course"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", ".pytest_cache",
                            ".hypothesis", "feedback"]

# Grades come from the out-of-process grader, and nothing executes the notebook: the
# student's code runs in its sandbox only, never in a kernel with the instructor's
# privileges.  Each check cell's output is the grader's verdict, so nothing the student's
# notebook does (monkeypatching, stderr warnings, hangs) can change a score.  Submissions
# are read within bounds, and copied, mangled or foreign cell metadata, on which nbgrader
# crashes, is repaired.  nbgrader's ClearOutput clears the submitted outputs first, so an
# autograded notebook shows only the verdicts.  See grader/nbgrader_plugin.py.
c.Autograde.exporter_class = "grader.nbgrader_plugin.ReadSubmission"
c.Autograde.sanitize_preprocessors = [
    "nbgrader.preprocessors.ClearOutput",
    "grader.nbgrader_plugin.DeduplicateCells",
    "nbgrader.preprocessors.OverwriteKernelspec",
    "grader.nbgrader_plugin.RestoreCells",
    "nbgrader.preprocessors.CheckCellMetadata",
]
c.Autograde.autograde_preprocessors = [
    "grader.nbgrader_plugin.GradeOutOfProcess",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
# Hidden checks draw their examples from the instructor's grading secret, kept outside the
# repository (create it once: python -c "import secrets; print(secrets.token_hex(32))" > FILE).
# $CNN_COURSE_GRADING_SECRET or $CNN_COURSE_GRADING_SECRET_FILE override it. Without it,
# autograde grades nobody and says why.
c.GradeOutOfProcess.secret_file = "~/.config/cnn-course/grading-secret"
# Student code runs in a bubblewrap sandbox; where it cannot (no bubblewrap, no user
# namespaces) grading warns loudly. Set this to refuse to grade unisolated instead.
c.GradeOutOfProcess.require_isolation = False
# Charged seconds (CPU and sleep, not waiting for a busy CPU) one notebook may use.
c.GradeOutOfProcess.budget_s = 600
# `cnn-course grade` grades the class on Dask workers first, then runs autograde with
# --GradeOutOfProcess.results_directory=<course>/.cnn-course/results: a notebook whose stored
# verdicts came from the same answer cells, grader, secret and budget takes them instead of
# being graded again. Unset (here), autograde grades every notebook itself.
# A deleted check cell comes back and is graded like any other.
c.OverwriteCells.add_missing_cells = True
# `nbgrader validate` runs the notebook in the student's kernel: answer cells that never
# finish are interrupted after 30 s, and check cells, which run the checks there, get longer.
# Its kernel encrypts its local traffic where it can (else ipykernel warns on every run).
# (Importing the plugin also silences nbgrader's harmless SQLAlchemy warnings.)
from grader.nbgrader_plugin import execute_timeout, kernel_encryption  # noqa: E402

c.Execute.timeout_func = execute_timeout
if kernel_encryption():
    c.KernelManager.transport_encryption = "auto"

# Feedback must not show the source of hidden tests.
c.GenerateFeedback.preprocessors = [
    "grader.nbgrader_plugin.StripHiddenTests",
    "nbgrader.preprocessors.GetGrades",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]

# --- Submissions downloaded from Canvas (or another LMS): `nbgrader zip_collect ASSIGNMENT`
# extracts downloaded/<assignment>/archive/*.zip into downloaded/<assignment>/extracted/ and
# copies each notebook to submitted/<student id>/<assignment>/.  Canvas names the files
# <name>_<user id>_<submission id>_<file name>, and <name>_late_<user id>_... when late:
#     smithjohn_12345_6789012_convolution.ipynb -> submitted/12345/<assignment>/convolution.ipynb
# The student id is Canvas's user id: unique (two John Smiths are two students) and the ID
# column of Canvas's gradebook, so grades.csv goes back to it.  The pattern is matched against
# the file's whole path.  "-1" (Canvas renames a resubmitted file) and " (1)" (a browser's
# second download) are dropped from the notebook's name, which must be the release's.
# Another LMS: set a named_regexp with the groups student_id and file_id (and optionally late).
c.ZipCollectApp.collector_plugin = "grader.lms.CanvasCollector"
c.FileNameCollectorPlugin.named_regexp = (
    r".*/[^/]*?(?P<late>_(?i:late))?_(?P<student_id>\d+)_\d+_"
    r"(?P<file_id>[^/]+?)(?:-\d+| \(\d+\))?\.ipynb$")
