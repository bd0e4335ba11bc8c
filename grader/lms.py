"""Submissions from an LMS: what `nbgrader zip_collect` needs beyond a file-name pattern
(see nbgrader_config.py, which sets this collector and Canvas's pattern)."""
from __future__ import annotations

import datetime

from nbgrader.plugins import FileNameCollectorPlugin


class CanvasCollector(FileNameCollectorPlugin):
    """Canvas's file names say that a submission is late, not when it came: a late one is
    recorded (submitted/.../timestamp.txt) as handed in one second after the assignment's due
    date in the gradebook (`nbgrader db assignment add ASSIGNMENT --duedate=...`), so that
    nbgrader flags it late and applies c.LateSubmissionPlugin.penalty_method to it.  On-time
    ones get no timestamp, as nbgrader's own collect gives none to files without one."""

    def collect(self, submitted_file):
        info = super().collect(submitted_file)
        if info and info.pop("late", None):
            duedate = self.duedate()
            if duedate is None:
                self.log.warning("%s is late, but the assignment has no due date in the gradebook "
                                 "(nbgrader db assignment add ASSIGNMENT --duedate=...): it is "
                                 "collected as on time", submitted_file)
            else:
                info["timestamp"] = duedate + datetime.timedelta(seconds=1)
        return info

    def duedate(self):
        """The assignment's due date (UTC) in the gradebook, or None."""
        if not hasattr(self, "_duedate"):
            from nbgrader.api import Gradebook, MissingEntry
            coursedir = self.parent.coursedir
            with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
                try:
                    self._duedate = gb.find_assignment(coursedir.assignment_id).duedate
                except MissingEntry:
                    self._duedate = None
        return self._duedate
