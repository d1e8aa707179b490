from __future__ import annotations

import io
from unittest import mock

from rich.console import Console

from imgtwin.records import ProcessingSummary
from imgtwin.reporting.composite import CompositeReporter, NullReporter
from imgtwin.reporting.console import ConsoleProgressReporter, RateColumn
from imgtwin.reporting.logfile import FileProgressReporter


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def console_to_string() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=100, force_terminal=False, color_system=None), out


def test_console_shows_count_rate_eta_and_lists_failures() -> None:
    console, out = console_to_string()
    clock = FakeClock()
    reporter = ConsoleProgressReporter(console, get_time=clock, max_errors_listed=2)
    reporter.report_started(200)
    for done in range(1, 101):
        clock.now += 0.05  # 20 files per second
        reporter.report_progress(done, 200)
    task = reporter._progress.tasks[0]
    assert task.completed == 100 and task.total == 200
    assert round(task.speed) == 20
    assert round(task.time_remaining) == 5  # 100 files left at 20/s
    reporter.report_error("b.jpg", "truncated: JPEG data ends early")
    reporter.report_error("a.jpg", "decode_error: bad")
    reporter.report_error("c.jpg", "timeout: slow")
    reporter.report_completed(ProcessingSummary(97, 3, 0, 5000.0))
    text = out.getvalue()
    assert "100/200" in text
    # The bar's last figures are the summary's (one rate, one duration, one clock), as the scan prints them.
    assert "20.0 images/s in 5.0 s" in text and "ETA" not in text.splitlines()[0]
    assert "3 file(s) could not be read:" in text
    assert text.index("a.jpg: decode_error: bad") < text.index("b.jpg: truncated")  # sorted by path
    assert "c.jpg" not in text and "... and 1 more" in text


def test_the_running_rate_is_the_average_since_the_start() -> None:
    console, _ = console_to_string()
    clock = FakeClock()
    reporter = ConsoleProgressReporter(console, get_time=clock)
    reporter.report_started(100)
    clock.now += 1.0
    reporter.report_progress(40, 100)  # a fast start...
    clock.now += 3.0
    reporter.report_progress(50, 100)  # ...then slow files: 50 in 4 s, whatever the last window says
    rate = RateColumn().render(reporter._progress.tasks[0]).plain
    assert rate == "12.5 files/s"


def test_console_without_progress_prints_only_failures() -> None:
    console, out = console_to_string()
    reporter = ConsoleProgressReporter(console, show_progress=False)
    reporter.report_started(3)
    reporter.report_progress(3, 3)
    reporter.report_completed(ProcessingSummary(3, 0, 0, 10.0))
    assert out.getvalue() == ""


def test_log_file_records_every_error_and_throttles_progress() -> None:
    stream = io.StringIO()
    clock = FakeClock()
    reporter = FileProgressReporter(stream, every=10, clock=clock)
    reporter.report_started(25)
    for done in range(1, 26):
        reporter.report_progress(done, 25)
    reporter.report_error("x\ny.jpg", "truncated: early")
    reporter.report_completed(ProcessingSummary(24, 1, 0, 2500.0))
    lines = stream.getvalue().splitlines()
    assert [line.split(" ", 1)[1] for line in lines] == [
        "started: 25 files to examine",
        "progress: 10/25 (40.0%)",
        "progress: 20/25 (80.0%)",
        "progress: 25/25 (100.0%)",
        "error: 'x\\ny.jpg': truncated: early",
        "completed: 24 hashed, 1 error, 0 skipped in 2.5 s (10.0 files/s)",
    ]


def test_composite_forwards_every_event_in_order() -> None:
    first, second = mock.Mock(), mock.Mock()
    reporter = CompositeReporter([first, second])
    summary = ProcessingSummary(1, 0, 0, 1.0)
    reporter.report_started(1)
    reporter.report_progress(1, 1)
    reporter.report_error("p", "e")
    reporter.report_completed(summary)
    expected = [mock.call.report_started(1), mock.call.report_progress(1, 1), mock.call.report_error("p", "e"),
                mock.call.report_completed(summary)]
    assert first.mock_calls == expected and second.mock_calls == expected
    NullReporter().report_completed(summary)
