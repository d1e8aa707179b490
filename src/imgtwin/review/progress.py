"""The scan's progress as the page shows it: files done, rate, ETA, errors so far.

``PageProgressReporter`` is a ``ProgressReporter`` (the scan's collector calls
it once per file) that keeps a snapshot and publishes it at most
``interval`` seconds apart, so a fast rescan of files the index already knows
does not send an event per file. Each failed file is published at once.
The clock is injected so rate and ETA can be tested without sleeping.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from imgtwin.records import ProcessingSummary
from imgtwin.reporting.reasons import reason_of
from imgtwin.reporting.text import printable

RATE_WINDOW_SECONDS = 10.0
RECENT_ERRORS = 50


class Publisher(Protocol):
    def publish(self, kind: str, data: dict[str, Any]) -> int: ...


class PageProgressReporter:
    """Progress of one scan, for the page; called from the scan's collector thread."""

    def __init__(
        self, publish: Publisher, *, interval: float = 0.25, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.hub = publish
        self.interval = interval
        self.clock = clock
        self._lock = threading.Lock()
        self.total = 0
        self.done = 0
        self.errors = 0
        self.recent_errors: deque[dict[str, str]] = deque(maxlen=RECENT_ERRORS)
        self.started = clock()
        self._samples: deque[tuple[float, int]] = deque()
        self._next_publish = 0.0
        self.finished = False
        self.ended: float | None = None

    def report_started(self, total_files: int) -> None:
        with self._lock:
            self.total = total_files
            self.started = self.clock()
            self._samples.append((self.started, 0))
        self._publish(force=True)

    def report_progress(self, completed: int, total: int) -> None:
        now = self.clock()
        with self._lock:
            self.done, self.total = completed, max(total, completed)
            self._samples.append((now, completed))
            while len(self._samples) > 2 and self._samples[1][0] < now - RATE_WINDOW_SECONDS:
                self._samples.popleft()
        self._publish()

    def report_error(self, file_path: str, error: str) -> None:
        _, _, message = error.partition(":")
        entry = {"path": printable(file_path), "reason": reason_of(error), "message": printable(message.strip())}
        with self._lock:
            self.errors += 1
            self.recent_errors.append(entry)
        self.hub.publish("scan-error", entry)

    def report_completed(self, summary: ProcessingSummary) -> None:
        with self._lock:
            self.finished = True
            self.ended = self.clock()
        self._publish(force=True)

    def rate(self) -> float | None:
        """Files per second over the last ``RATE_WINDOW_SECONDS``; None before two samples."""
        with self._lock:
            if len(self._samples) < 2:
                return None
            (t0, n0), (t1, n1) = self._samples[0], self._samples[-1]
        return (n1 - n0) / (t1 - t0) if t1 > t0 else None

    def snapshot(self) -> dict[str, Any]:
        rate = self.rate()
        if self.finished and self.ended is not None and self.ended > self.started:
            rate = self.done / (self.ended - self.started)  # the whole run's, once it is over
        with self._lock:
            left = max(0, self.total - self.done)
            return {
                "total": self.total,
                "done": self.done,
                "errors": self.errors,
                "rate": round(rate, 1) if rate is not None else None,
                "eta_s": round(left / rate, 1) if rate and not self.finished else None,
                "elapsed_s": round((self.ended or self.clock()) - self.started, 1),
                "recent_errors": list(self.recent_errors),
            }

    def _publish(self, force: bool = False) -> None:
        now = self.clock()
        if not force and now < self._next_publish:
            return
        self._next_publish = now + self.interval
        snapshot = self.snapshot()
        snapshot.pop("recent_errors")  # sent one by one as scan-error events
        self.hub.publish("progress", snapshot)
