"""Several reporters behind one, and a reporter that says nothing."""

from __future__ import annotations

from collections.abc import Sequence

from imgtwin.interfaces import LiveReporter, ProgressReporter
from imgtwin.records import FileResult, ProcessingSummary


class CompositeReporter:
    """Forwards every event to each reporter, in order."""

    def __init__(self, reporters: Sequence[ProgressReporter]) -> None:
        self.reporters = list(reporters)

    def report_started(self, total_files: int) -> None:
        for reporter in self.reporters:
            reporter.report_started(total_files)

    def report_progress(self, completed: int, total: int) -> None:
        for reporter in self.reporters:
            reporter.report_progress(completed, total)

    def report_error(self, file_path: str, error: str) -> None:
        for reporter in self.reporters:
            reporter.report_error(file_path, error)

    def report_completed(self, summary: ProcessingSummary) -> None:
        for reporter in self.reporters:
            reporter.report_completed(summary)

    # A LiveReporter's hooks: forwarded to the reporters that are LiveReporters.

    def report_result(self, result: FileResult) -> None:
        for reporter in self.reporters:
            if isinstance(reporter, LiveReporter):
                reporter.report_result(result)

    def report_queues(self, work_depth: int, result_depth: int, busy: int) -> None:
        for reporter in self.reporters:
            if isinstance(reporter, LiveReporter):
                reporter.report_queues(work_depth, result_depth, busy)


class NullReporter:
    """For quiet runs and library use."""

    def report_started(self, total_files: int) -> None:
        pass

    def report_progress(self, completed: int, total: int) -> None:
        pass

    def report_error(self, file_path: str, error: str) -> None:
        pass

    def report_completed(self, summary: ProcessingSummary) -> None:
        pass
