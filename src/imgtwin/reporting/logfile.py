"""FileProgressReporter: a plain, timestamped log of a run, for unattended scans."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TextIO

from imgtwin.records import ProcessingSummary
from imgtwin.reporting.text import counted


class FileProgressReporter:
    """Appends one line per event; progress at most every ``every`` files.

    Every error is logged (the console lists only the first ones).
    """

    def __init__(
        self,
        stream: TextIO,
        *,
        every: int = 1000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.stream = stream
        self.every = every
        self.clock = clock
        self._next = every

    @classmethod
    def open(cls, path: str, **kwargs: object) -> FileProgressReporter:
        return cls(open(path, "a", encoding="utf-8", errors="backslashreplace", buffering=1), **kwargs)  # type: ignore[arg-type]

    def _line(self, text: str) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(self.clock()))
        self.stream.write(f"{stamp} {text}\n")

    def report_started(self, total_files: int) -> None:
        self._line(f"started: {total_files} files to examine")

    def report_progress(self, completed: int, total: int) -> None:
        if completed >= self._next or completed == total:
            self._next = completed + self.every
            percent = 100 * completed / total if total else 100.0
            self._line(f"progress: {completed}/{total} ({percent:.1f}%)")

    def report_error(self, file_path: str, error: str) -> None:
        self._line(f"error: {file_path!r}: {error}")

    def report_completed(self, summary: ProcessingSummary) -> None:
        state = "stopped" if summary.cancelled else "completed"
        self._line(
            f"{state}: {summary.processed_files} hashed, {counted(summary.error_count, 'error')}, "
            f"{summary.skipped} skipped in {summary.total_processing_time_ms / 1000:.1f} s "
            f"({summary.throughput:.1f} files/s)"
        )
        self.stream.flush()


class LogRecordsTo:
    """Copies the ``imgtwin`` logger's INFO-and-above records into a run's log file.

    Events decided inside the worker pool (``--workers auto`` changes, a worker
    replaced) are not progress events, so they reach the ``--log`` file this
    way, in its timestamp format. ``close()`` detaches it (not the stream).
    """

    def __init__(self, stream: TextIO, logger_name: str = "imgtwin") -> None:
        self.logger = logging.getLogger(logger_name)
        self.handler = logging.StreamHandler(stream)
        self.handler.setLevel(logging.INFO)
        self.handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%dT%H:%M:%S"))
        self.previous_level = self.logger.level
        self.logger.addHandler(self.handler)
        if self.logger.getEffectiveLevel() > logging.INFO:
            self.logger.setLevel(logging.INFO)

    def close(self) -> None:
        self.logger.removeHandler(self.handler)
        self.logger.setLevel(self.previous_level)
