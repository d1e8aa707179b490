"""ConsoleProgressReporter: a live progress bar, then the list of failures."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn, TimeRemainingColumn
from rich.text import Text

from imgtwin.records import ProcessingSummary
from imgtwin.reporting.reasons import format_reason_counts, reason_of
from imgtwin.reporting.text import printable


class RateColumn(ProgressColumn):
    """Files per second since the scan started; once done, the summary's own rate and duration.

    The average over the whole run, not a moving window, so that the last
    figure the bar shows is the one the summary line prints (both from
    ``ProcessingSummary``, the pipeline's clock).
    """

    def render(self, task: Task) -> Text:
        summary = task.fields.get("summary")
        if isinstance(summary, ProcessingSummary):
            return Text(f"{summary.throughput:.1f} images/s in {summary.total_processing_time_ms / 1000:.1f} s",
                        style="progress.data.speed")
        elapsed = task.elapsed
        if not elapsed or not task.completed:
            return Text("-- files/s", style="progress.data.speed")
        return Text(f"{task.completed / elapsed:.1f} files/s", style="progress.data.speed")


class RemainingColumn(TimeRemainingColumn):
    """``ETA 0:01:23`` while running; nothing once the summary is in (the rate column says how long it took)."""

    def render(self, task: Task) -> Text:
        if task.fields.get("summary") is not None:
            return Text("")
        return Text.assemble("ETA ", super().render(task))


class ConsoleProgressReporter:
    """Progress bar with count, rate and ETA; failed files listed at the end,
    then one line of counts per error reason.

    ``console`` and ``get_time`` are injected so tests can capture the exact
    output and drive the clock.
    """

    def __init__(
        self,
        console: Console | None = None,
        *,
        show_progress: bool = True,
        max_errors_listed: int = 50,
        get_time: Callable[[], float] = time.monotonic,
        description: str = "Hashing",
    ) -> None:
        self.console = console or Console(stderr=True)
        self.show_progress = show_progress
        self.max_errors_listed = max_errors_listed
        self.errors: list[tuple[str, str]] = []
        self.errors_seen = 0
        self.reasons: Counter[str] = Counter()
        self._progress = Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            RateColumn(),
            RemainingColumn(),
            console=self.console,
            get_time=get_time,
            transient=False,
            disable=not show_progress,
        )
        self._task = self._progress.add_task(description, total=None, start=False)

    def report_started(self, total_files: int) -> None:
        self._progress.update(self._task, total=total_files)
        self._progress.start_task(self._task)
        self._progress.start()

    def report_progress(self, completed: int, total: int) -> None:
        if not self.show_progress:
            return  # a hidden bar's update still costs a lock and a speed sample: per file on tiny files
        self._progress.update(self._task, completed=completed, total=total)

    def report_error(self, file_path: str, error: str) -> None:
        self.errors_seen += 1
        self.reasons[reason_of(error)] += 1
        if len(self.errors) < self.max_errors_listed:
            self.errors.append((file_path, error))

    def report_completed(self, summary: ProcessingSummary) -> None:
        self._progress.update(self._task, summary=summary)
        self._progress.stop()
        if not self.errors:
            return
        self.console.print(f"[bold red]{self.errors_seen} file(s) could not be read:[/]")
        for path, error in sorted(self.errors):
            self.console.print(
                f"  {printable(path)}: {printable(error)}", markup=False, highlight=False, soft_wrap=True
            )
        hidden = self.errors_seen - len(self.errors)
        if hidden:
            self.console.print(f"  ... and {hidden} more (use --log FILE or `imgtwin errors` for the full list)")
        self.console.print(format_reason_counts(self.reasons), markup=False, highlight=False, soft_wrap=True)
