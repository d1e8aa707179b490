"""MetricsReporter: counts, rates, and a real scan scraped over HTTP while it runs."""

from __future__ import annotations

import re
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

import imgtwin.runs.scan
from imgtwin.cli import main
from imgtwin.interfaces import LoadedImage
from imgtwin.loading.pillow_loader import StandardImageLoader
from imgtwin.processing.parallel import ParallelProcessingEngine
from imgtwin.records import ErrorReason, FileError, FileResult, FileStatus, ProcessingMetadata, ProcessingSummary
from imgtwin.reporting.metrics import LISTEN_BACKLOG, MetricsHTTPServer, MetricsReporter


class ScrapingLoader(StandardImageLoader):
    """The real loader, at least ``NAP`` s a file; at its ``at``-th file it scrapes ``port`` until the numbers
    show the scan under way (a file counted, the worker busy: the collector samples that twice a second),
    while it holds the only worker: a scrape mid-scan that does not depend on how fast this machine is."""

    NAP = 0.02

    def __init__(self, port: int, at: int = 3) -> None:
        super().__init__(512)
        self.port, self.at, self.calls, self.scrapes = port, at, 0, list[str]()

    def load(self, path: str) -> LoadedImage:
        self.calls += 1
        if self.calls == self.at:
            deadline = time.monotonic() + 30
            while not self.scrapes or not (value(seen := samples(self.scrapes[-1]), "imgtwin_busy_workers")
                                           and value(seen, "imgtwin_files_processed_total", status="hashed")):
                assert time.monotonic() < deadline, self.scrapes[-1:]
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=10) as response:
                    self.scrapes.append(response.read().decode())
        time.sleep(self.NAP)
        return super().load(path)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition, keyed by name and sorted labels."""
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def value(parsed: dict, name: str, **labels: str) -> float:
    return parsed.get((name, tuple(sorted(labels.items()))), 0.0)


def test_counts_by_status_reason_bytes_and_duration() -> None:
    now = [100.0]
    reporter = MetricsReporter(clock=lambda: now[0])
    reporter.report_started(4)
    ok = FileResult(ProcessingMetadata("/a.jpg", 1000, 1), FileStatus.HASHED, duration_s=0.02)
    reused = FileResult(ProcessingMetadata("/b.jpg", 500, 1), FileStatus.HASHED, reused="unchanged")
    bad = FileResult(ProcessingMetadata("/c.jpg", 300, 1), FileStatus.ERROR,
                     error=FileError(ErrorReason.TRUNCATED, "image file is truncated: 12 bytes"), duration_s=0.004)
    skipped = FileResult(ProcessingMetadata("/d.txt", 7, 1), FileStatus.SKIPPED, duration_s=0.001)
    for i, result in enumerate([ok, reused, bad, skipped], 1):
        reporter.report_result(result)
        if result.error is not None:
            reporter.report_error(result.path, str(result.error))
        now[0] += 0.5
        reporter.report_progress(i, 4)
    reporter.report_queues(3, 1, 2)
    parsed = samples(generate_latest(reporter.registry).decode())
    assert value(parsed, "imgtwin_files_processed_total", status="hashed") == 2
    assert value(parsed, "imgtwin_files_processed_total", status="error") == 1
    assert value(parsed, "imgtwin_files_processed_total", status="skipped") == 1
    assert value(parsed, "imgtwin_errors_total", reason="truncated") == 1  # the part before the first colon
    assert value(parsed, "imgtwin_bytes_read_total") == 1300  # reused and skipped files are not read
    assert value(parsed, "imgtwin_file_duration_seconds_count") == 3
    assert value(parsed, "imgtwin_files_per_second") == pytest.approx(2.0)
    assert (value(parsed, "imgtwin_work_queue_depth"), value(parsed, "imgtwin_result_queue_depth"),
            value(parsed, "imgtwin_busy_workers")) == (3, 1, 2)
    reporter.report_completed(ProcessingSummary(3, 1, 1, 2000.0))
    parsed = samples(generate_latest(reporter.registry).decode())
    assert value(parsed, "imgtwin_files_per_second") == pytest.approx(2.0)  # (3 + 1) / 2 s
    assert value(parsed, "imgtwin_scan_running") == 0


def test_each_reporter_has_its_own_registry() -> None:
    first, second = MetricsReporter(), MetricsReporter()  # would raise "Duplicated timeseries" if shared
    first.report_error("/x", "timeout: too slow")
    assert value(samples(generate_latest(second.registry).decode()), "imgtwin_errors_total", reason="timeout") == 0


def test_scan_serves_metrics_while_it_runs_and_they_match_the_summary(
    photo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (photo_dir / "cut.jpg").write_bytes((photo_dir / "img1.jpg").read_bytes()[:3000])
    port = free_port()
    loader = ScrapingLoader(port)
    monkeypatch.setattr(imgtwin.runs.scan, "build_engine", lambda settings, client=None, strips=None:
                        ParallelProcessingEngine(loader, imgtwin.runs.scan.DCTHasher(8),
                                                 features=imgtwin.runs.scan.MatchFeatureExtractor()))
    final: list[str] = []
    original_close = MetricsReporter.close

    def close_and_keep(self: MetricsReporter) -> None:
        final.append(generate_latest(self.registry).decode())
        original_close(self)

    monkeypatch.setattr(MetricsReporter, "close", close_and_keep)
    result = CliRunner().invoke(main, ["scan", str(photo_dir), "--db", str(tmp_path / "i.db"), "--no-progress",
                                       "--executor", "thread", "--workers", "1", "--metrics-port", str(port)])
    assert result.exit_code == 1, result.output
    match = re.search(r"Done: (\d+) hashed, (\d+) errors?(?: \([^)]*\))?, (\d+) skipped", result.output)
    assert match, result.output
    hashed, errors, skipped = map(int, match.groups())
    assert (hashed, errors, skipped) == (7, 1, 1)

    # Scraped during the scan, while the worker held its third file: some files done, not all, the worker busy.
    during = samples(loader.scrapes[-1])
    assert value(during, "imgtwin_scan_running") == 1 and value(during, "imgtwin_busy_workers") == 1
    counted = sum(value(during, "imgtwin_files_processed_total", status=s) for s in ("hashed", "error", "skipped"))
    assert 0 < counted < hashed + errors + skipped

    # At the end: the same numbers as the summary line.
    assert final
    end = samples(final[0])
    assert value(end, "imgtwin_files_processed_total", status="hashed") == hashed
    assert value(end, "imgtwin_files_processed_total", status="error") == errors
    assert value(end, "imgtwin_files_processed_total", status="skipped") == skipped
    assert value(end, "imgtwin_errors_total", reason="truncated") == errors
    assert value(end, "imgtwin_files_discovered") == hashed + errors + skipped
    copies = re.search(r"(\d+) byte cop(?:y|ies)", result.output)  # answered from another file: never decoded, not timed
    decoded = hashed + errors + skipped - (int(copies.group(1)) if copies else 0)
    assert value(end, "imgtwin_file_duration_seconds_count") == decoded
    assert value(end, "imgtwin_file_duration_seconds_sum") >= ScrapingLoader.NAP * loader.calls
    contents = {p.read_bytes() for p in photo_dir.rglob("*") if p.is_file() and p.suffix != ".txt"}
    read = sum(len(c) for c in contents)  # a byte copy is answered from its twin, not read by a worker
    assert value(end, "imgtwin_bytes_read_total") == read
    assert value(end, "imgtwin_files_per_second") > 0
    # The endpoint is gone once the scan has ended.
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2)


def kernel_listen_backlog(sock: socket.socket) -> int:
    """The accept-queue limit the kernel applies to a listening socket (Linux: TCP_INFO's tcpi_sacked)."""
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    return int(struct.unpack_from("8B6I", info)[8 + 5])  # 8 single bytes, then rto ato snd_mss rcv_mss unacked sacked


def scrape_raw(port: int, start: threading.Barrier, timeout: float) -> str:
    """One scrape on a socket of its own, sent the moment every other one is ready; its outcome as text."""
    with socket.socket() as sock:
        sock.settimeout(timeout)
        start.wait()
        try:
            sock.connect(("127.0.0.1", port))
            sock.sendall(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            reply = b""
            while chunk := sock.recv(65536):
                reply += chunk
        except OSError as exc:  # ConnectionResetError, TimeoutError (a connection the kernel dropped)...
            return type(exc).__name__
    if reply.startswith(b"HTTP/1.0 200") and b"imgtwin_scan_running" in reply:
        return "ok"
    return f"bad reply {reply[:40]!r}"


BURST = 200  # simultaneous scrapes: several Prometheus servers, a dashboard's panels, a retry storm
SCRAPE_TIMEOUT = 10.0  # Prometheus's default scrape_timeout


def test_endpoint_serves_a_burst_of_simultaneous_scrapes() -> None:
    """Before: a listen backlog of 5, and 90-160 of 200 simultaneous scrapes were lost (timed out after 10 s)."""
    if sys.platform.startswith("linux"):  # what the kernel was told, read back from the listening socket
        with open("/proc/sys/net/core/somaxconn") as f:
            somaxconn = int(f.read())
        server = MetricsHTTPServer("127.0.0.1", 0, CollectorRegistry())
        try:
            assert kernel_listen_backlog(server.socket) == min(LISTEN_BACKLOG, somaxconn) >= BURST
        finally:
            server.server_close()
    reporter = MetricsReporter()
    port = reporter.serve(0)  # on 127.0.0.1 unless told otherwise
    try:
        start = threading.Barrier(BURST)
        outcomes: list[str] = []
        threads = [threading.Thread(target=lambda: outcomes.append(scrape_raw(port, start, SCRAPE_TIMEOUT)))
                   for _ in range(BURST)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=SCRAPE_TIMEOUT + 30)
        assert len(outcomes) == BURST
        lost = {outcome: outcomes.count(outcome) for outcome in set(outcomes) if outcome != "ok"}
        assert not lost, f"{sum(lost.values())} of {BURST} scrapes lost: {lost}"
    finally:
        reporter.close()
    with pytest.raises(OSError):  # closed: nothing listens any more
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


@pytest.mark.slow
def test_port_in_use_is_a_one_line_fatal_error_that_leaves_nothing_behind(photo_dir: Path, tmp_path: Path) -> None:
    """Checked before the index, the log, the outputs or a local cluster are touched."""
    out = tmp_path / "out"
    out.mkdir()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for extra in ([], ["--scheduler", "local:2"]):
            done = subprocess.run(
                [sys.executable, "-m", "imgtwin", "scan", str(photo_dir), "--db", str(out / "new" / "i.db"),
                 "--log", str(out / "scan.log"), "--format", "json", "--output", str(out / "hashes.json"),
                 "--metrics-port", str(port), *extra], check=False, capture_output=True, text=True, timeout=120,
            )
            assert done.returncode == 2, done.stderr
            assert f"cannot serve metrics on 127.0.0.1:{port}" in done.stderr and "Traceback" not in done.stderr
            assert len(done.stderr.strip().splitlines()) == 1, done.stderr  # no cluster started and stopped
            assert list(out.iterdir()) == [], extra
