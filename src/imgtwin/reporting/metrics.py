"""MetricsReporter: a scan's progress as Prometheus metrics, for long unattended runs.

A progress bar tells the person at the terminal; a scrape endpoint tells the
monitoring system (files per second, errors by reason, back-pressure in the
queues, how long one decode takes). Every reporter owns its own
``CollectorRegistry``, so two scans in one process (tests, embedding) never
share or clash over metric names, and nothing leaks into the global registry.
"""

from __future__ import annotations

import socket
import time
from collections import deque
from collections.abc import Callable
from threading import Thread
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

from imgtwin.records import FileResult, FileStatus, ProcessingSummary, from_preview

PREFIX = "imgtwin"

# Decode-and-hash times: a thumbnail-sized PNG takes ~1 ms, a 24 MP JPEG
# ~50-150 ms, a 100 MP TIFF seconds; the top buckets catch files near --timeout.
DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

# files/s is measured over this many recent seconds: long enough to smooth
# per-file noise, short enough to show a slowdown while it happens.
RATE_WINDOW_SECONDS = 10.0


# Connections the kernel queues for the endpoint before it accepts them (Linux caps it at
# net.core.somaxconn, 4096 by default). prometheus_client's server keeps socketserver's 5: of 200
# simultaneous scrapes (several Prometheus servers, a dashboard's panels, a retry storm), 90-160
# were dropped by the kernel and timed out (2 cores, Linux 6.18); with 1024, none.
LISTEN_BACKLOG = 1024


class MetricsServerError(RuntimeError):
    """The metrics endpoint could not listen (port in use, bad address)."""


class MetricsHTTPServer(ThreadingWSGIServer):
    """prometheus_client's thread-per-request WSGI server, with a listen backlog for bursts of scrapes.

    prometheus_client's ``start_http_server`` takes no backlog, so the server
    is made here as it makes it; only ``request_queue_size`` differs.
    """

    request_queue_size = LISTEN_BACKLOG

    def __init__(self, host: str, port: int, registry: CollectorRegistry) -> None:
        # The family of the address (an IPv6 --metrics-host needs AF_INET6), as start_http_server finds it.
        family, _, _, _, sockaddr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
        self.address_family = family
        super().__init__((str(sockaddr[0]), port), _QuietHandler)
        self.set_app(make_wsgi_app(registry))


class _QuietHandler(WSGIRequestHandler):
    """No access log on stderr, where it would cut through the progress bar."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


class MetricsReporter:
    """A ``LiveReporter`` (``interfaces``) that keeps Prometheus metrics of one scan.

    Besides the four ``ProgressReporter`` methods it has the two hooks the
    pipeline calls on a ``LiveReporter``: ``report_result(result)`` for every
    finished file (status, bytes, duration) and ``report_queues(work_depth,
    result_depth, busy)`` a few times a second (back-pressure). Called from
    the collector thread; the HTTP server thread only reads the registry,
    which is thread-safe.
    """

    def __init__(
        self, registry: CollectorRegistry | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        self.clock = clock
        r = self.registry
        self.files = Counter(f"{PREFIX}_files_processed", "Files finished, by outcome.", ["status"], registry=r)
        self.errors = Counter(f"{PREFIX}_errors", "Files that could not be hashed, by reason.", ["reason"], registry=r)
        self.bytes_read = Counter(f"{PREFIX}_bytes_read", "Bytes of the files read (reused files not counted).",
                                  registry=r)
        self.views = Counter(f"{PREFIX}_views", "Files hashed, by the view their hashes came from: preview "
                             "(an embedded preview) or main (the picture itself).", ["view"], registry=r)
        self.files_total = Gauge(f"{PREFIX}_files_discovered", "Files found to examine in this scan.", registry=r)
        self.rate = Gauge(f"{PREFIX}_files_per_second", f"Files finished per second, over the last "
                          f"{RATE_WINDOW_SECONDS:g} s (the whole run's rate once it ends).", registry=r)
        self.work_depth = Gauge(f"{PREFIX}_work_queue_depth", "Paths waiting for a worker.", registry=r)
        self.result_depth = Gauge(f"{PREFIX}_result_queue_depth", "Results waiting to be stored.", registry=r)
        self.busy = Gauge(f"{PREFIX}_busy_workers", "Workers decoding a file right now.", registry=r)
        self.duration = Histogram(f"{PREFIX}_file_duration_seconds", "Time to read, decode and hash one file.",
                                  buckets=DURATION_BUCKETS, registry=r)
        self.running = Gauge(f"{PREFIX}_scan_running", "1 while a scan runs, 0 once it has ended.", registry=r)
        for status in FileStatus:  # present at 0 from the start, so rate() works on the first scrape
            self.files.labels(status=status.value)
        self._samples: deque[tuple[float, int]] = deque()
        self._server: MetricsHTTPServer | None = None
        self._thread: Thread | None = None

    # -- serving -------------------------------------------------------------------------------

    def serve(self, port: int, host: str = "127.0.0.1") -> int:
        """Start the ``/metrics`` endpoint; returns the port (useful with ``port=0``)."""
        try:
            self._server = MetricsHTTPServer(host, port, self.registry)
        except OSError as exc:  # the port is taken, or the address is not one of this machine's
            raise MetricsServerError(f"cannot serve metrics on {host}:{port}: {exc.strerror or exc}") from exc
        self._thread = Thread(target=self._server.serve_forever, name="imgtwin-metrics", daemon=True)
        self._thread.start()
        return int(self._server.server_port)

    def close(self) -> None:
        """Stop the endpoint (the scan is over; a scraper sees connection refused)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    # -- ProgressReporter ------------------------------------------------------------------------

    def report_started(self, total_files: int) -> None:
        self.files_total.set(total_files)
        self.running.set(1)
        self._samples.clear()
        self._samples.append((self.clock(), 0))

    def report_progress(self, completed: int, total: int) -> None:
        now = self.clock()
        self.files_total.set(total)
        self._samples.append((now, completed))
        while len(self._samples) > 2 and now - self._samples[1][0] >= RATE_WINDOW_SECONDS:
            self._samples.popleft()
        first_time, first_count = self._samples[0]
        if now > first_time:
            self.rate.set((completed - first_count) / (now - first_time))

    def report_error(self, file_path: str, error: str) -> None:
        reason = error.split(":", 1)[0].strip() or "unknown"
        self.errors.labels(reason=reason).inc()

    def report_completed(self, summary: ProcessingSummary) -> None:
        self.rate.set(summary.throughput)
        self.work_depth.set(0)
        self.result_depth.set(0)
        self.busy.set(0)
        self.running.set(0)

    # -- optional hooks --------------------------------------------------------------------------

    def report_result(self, result: FileResult) -> None:
        """One finished file: counted by status; bytes and time only if it was actually read."""
        self.files.labels(status=result.status.value).inc()
        if result.reused is None and result.status is not FileStatus.SKIPPED:
            self.bytes_read.inc(result.metadata.size if result.bytes_read is None else result.bytes_read)
        if result.reused is None and result.status is FileStatus.HASHED:
            self.views.labels(view="preview" if from_preview(result.metadata.decode) else "main").inc()
        if result.reused is None and result.duration_s is not None:
            self.duration.observe(result.duration_s)

    def report_queues(self, work_depth: int, result_depth: int, busy: int) -> None:
        self.work_depth.set(work_depth)
        self.result_depth.set(result_depth)
        self.busy.set(busy)
