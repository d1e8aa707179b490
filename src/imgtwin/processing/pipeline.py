"""Producer -> bounded work channel -> worker pool -> bounded result channel -> collector.

The producer thread walks the roots; the pool's thread(s) decode and hash; the
collector, in the caller's thread, stores results in batches and reports
progress. Memory is bounded by the two channels and one batch: results are
never accumulated beyond the batch being written.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from imgtwin.config import ProcessingConfig
from imgtwin.interfaces import HashPersistence, LiveReporter, ProgressReporter
from imgtwin.processing.channels import END, POLL_SECONDS, Batch, Channel
from imgtwin.processing.copies import QUEUE, WAIT, ScanCopies
from imgtwin.processing.discovery import Discovered, DiscoveryOptions
from imgtwin.processing.incremental import ResultCache
from imgtwin.processing.pool_contract import WorkerPool
from imgtwin.processing.probe import FileProbe
from imgtwin.processing.source import FileSource
from imgtwin.processing.task import error_result
from imgtwin.records import FileResult, FileStatus, ProcessingSummary, from_preview

# How often the collector tells a reporter with a ``report_queues`` hook the
# channels' depths and the busy workers (monitoring back-pressure).
QUEUE_REPORT_SECONDS = 0.5
# Files the producer takes together: one index query of each kind, and one message of paths, per chunk.
PRODUCER_CHUNK = 64


def _chunks(items: Iterable[Discovered], size: int) -> Iterator[list[Discovered]]:
    chunk: list[Discovered] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@dataclass
class _Tally:
    completed: int = 0
    hashed: int = 0
    errors: int = 0
    skipped: int = 0
    bytes_read: int = 0
    reused: int = 0
    copies: int = 0
    previews: int = 0
    cancelled: bool = False
    batch: list[FileResult] = field(default_factory=list)
    commit_at: float = 0.0  # from then on a full batch is committed: ``commit_seconds`` after the start or last commit


class ProcessingPipeline:
    """One run of the three stages, wired by bounded channels."""

    def __init__(
        self,
        source: FileSource,
        pool: WorkerPool,
        config: ProcessingConfig,
        *,
        cache: ResultCache | None = None,
        copies: ScanCopies | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.source = source
        self.pool = pool
        self.config = config
        self.cache = cache
        self.copies = copies  # byte copies within this run, decoded once (see processing.copies)
        self.clock = clock

    def run(
        self,
        roots: Sequence[str],
        reporter: ProgressReporter,
        persistence: HashPersistence,
        cancel: threading.Event,
    ) -> ProcessingSummary:
        started = self.clock()
        options = self.config.discovery
        total = self.source.count(roots, options)
        reporter.report_started(total)
        work = Channel(self.config.channel_buffer_size, split=True)  # a chunk of paths is one message
        results = Channel(self.config.channel_buffer_size, batches=True)  # a worker's chunk is one message
        failures: list[BaseException] = []
        stop = threading.Event()  # ours: set on cancel, on a stage's crash, and at the end

        producer = threading.Thread(
            target=self._guard(self._produce, failures, stop),
            args=(roots, options, work, results, stop),
            name="imgtwin-producer",
            daemon=True,
        )
        consumers = threading.Thread(
            target=self._guard(self.pool.run, failures, stop, on_exit=lambda: results.put(END)),
            args=(work, results, stop),
            name="imgtwin-pool",
            daemon=True,
        )
        producer.start()
        consumers.start()
        tally = _Tally(commit_at=started + self.config.commit_seconds)
        try:
            self._collect(results, tally, total, reporter, persistence, cancel, stop, work)
        finally:
            if tally.batch:
                self._store(persistence, tally)
            persistence.finalize()
            stop.set()  # release the producer if it is still blocked
            producer.join(timeout=5)
            consumers.join(timeout=5)
        if failures:
            raise failures[0]
        summary = ProcessingSummary(
            processed_files=tally.hashed,
            error_count=tally.errors,
            skipped=tally.skipped,
            total_processing_time_ms=(self.clock() - started) * 1000,
            bytes_read=tally.bytes_read,
            cancelled=tally.cancelled,
            reused=tally.reused,
            copies=tally.copies,
            previews=tally.previews,
        )
        reporter.report_completed(summary)
        return summary

    def _produce(
        self, roots: Sequence[str], options: DiscoveryOptions, work: Channel, results: Channel, stop: threading.Event
    ) -> None:
        try:
            for chunk in _chunks(self.source.discover(roots, options), PRODUCER_CHUNK):
                if stop.is_set() or not self._produce_chunk(chunk, work, results, stop):
                    return
            if self.copies is not None and not self._retry_until_settled(work, stop):
                return
            work.send(END, stop)
        finally:
            if self.cache is not None:
                self.cache.close()

    def _produce_chunk(self, chunk: list[Discovered], work: Channel, results: Channel, stop: threading.Event) -> bool:
        """Answer or queue a chunk of discovered files, in order (False: stopped).

        The index is asked about the whole chunk at once, and the paths to decode go as one message; every
        file is answered or claimed before anything is sent, so no stored batch is forgotten by the copy
        check between the index's answer and the claim.
        """
        probes = [FileProbe(item.path) for item in chunk]  # the cache's and the copy check's stat and hash, once
        wanted = [k for k, item in enumerate(chunk) if item.error is None]
        known: list[FileResult | None] = [None] * len(chunk)
        if self.cache is not None and wanted:
            for k, answer in zip(wanted, self.cache.lookup_many([probes[k] for k in wanted]), strict=True):
                known[k] = answer
        paths: list[str] = []
        answers: list[FileResult] = []
        if self.copies is not None:
            while not self.copies.retry.empty():
                paths.append(self.copies.retry.get())
        for item, probe, answer in zip(chunk, probes, known, strict=True):
            if item.error is not None:
                answers.append(error_result(item.path, item.error))
            elif answer is not None:
                answers.append(answer)
            elif self.copies is None or (claim := self.copies.claim(probe.path, probe)) is QUEUE:
                paths.append(item.path)
            elif claim is not WAIT:
                assert isinstance(claim, FileResult)
                answers.append(claim)
        return work.send_all(paths, stop) and results.send_all(answers, stop)

    def _retry_until_settled(self, work: Channel, stop: threading.Event) -> bool:
        """Queue the copies whose first file failed for its path, until no copy waits (False: stopped)."""
        assert self.copies is not None
        while self.copies.outstanding():
            if stop.is_set():
                return False
            try:
                path = self.copies.retry.get(timeout=POLL_SECONDS)
            except queue.Empty:
                continue
            if not work.send(path, stop):
                return False
        return True

    def _store(self, persistence: HashPersistence, tally: _Tally) -> None:
        persistence.store_batch(tally.batch)
        tally.batch = []
        tally.commit_at = self.clock() + self.config.commit_seconds
        if self.copies is not None:
            self.copies.stored()

    def _collect(
        self,
        results: Channel,
        tally: _Tally,
        total: int,
        reporter: ProgressReporter,
        persistence: HashPersistence,
        cancel: threading.Event,
        stop: threading.Event,
        work: Channel | None = None,
    ) -> None:
        # The optional hooks of a LiveReporter (see reporting.metrics): looked up once, skipped when absent.
        live = reporter if isinstance(reporter, LiveReporter) else None
        on_result: Callable[[FileResult], None] | None = live.report_result if live else None
        on_queues: Callable[[int, int, int], None] | None = live.report_queues if live else None
        next_queue_report = self.clock()
        while True:
            if on_queues is not None and self.clock() >= next_queue_report:
                next_queue_report = self.clock() + QUEUE_REPORT_SECONDS
                busy = getattr(self.pool, "busy_workers", 0)
                on_queues(work.qsize() if work is not None else 0, results.qsize(), int(busy))
            try:
                item = results.receive()
            except KeyboardInterrupt:  # library use without a SIGINT handler
                cancel.set()
                continue
            if cancel.is_set() and not stop.is_set():
                tally.cancelled = True
                stop.set()
            if item is None:
                continue
            if item is END:
                return
            for result in item if isinstance(item, Batch) else (item,):
                self._record(result, tally, total, reporter, persistence, on_result)
                if self.copies is not None:
                    for copy in self.copies.settle(result):
                        self._record(copy, tally, total, reporter, persistence, on_result)

    def _record(
        self, item: FileResult, tally: _Tally, total: int, reporter: ProgressReporter,
        persistence: HashPersistence, on_result: Callable[[FileResult], None] | None,
    ) -> None:
        self._count(item, tally)
        if on_result is not None:
            on_result(item)
        if item.status is FileStatus.ERROR:
            assert item.error is not None
            reporter.report_error(item.path, str(item.error))
        if item.status is not FileStatus.SKIPPED:
            tally.batch.append(item)
            if len(tally.batch) >= self.config.batch_size and self.clock() >= tally.commit_at:
                self._store(persistence, tally)
        reporter.report_progress(tally.completed, max(total, tally.completed))

    @staticmethod
    def _count(result: FileResult, tally: _Tally) -> None:
        tally.completed += 1
        if result.reused == "copy":
            tally.copies += 1
            tally.bytes_read += result.metadata.size  # read to recognise it, never decoded
        elif result.reused:
            tally.reused += 1
        elif result.status is not FileStatus.SKIPPED:
            tally.bytes_read += result.metadata.size if result.bytes_read is None else result.bytes_read
        if result.status is FileStatus.HASHED:
            tally.hashed += 1
            tally.previews += not result.reused and from_preview(result.metadata.decode)
        elif result.status is FileStatus.ERROR:
            tally.errors += 1
        else:
            tally.skipped += 1

    @staticmethod
    def _guard(
        target: Callable[..., None],
        failures: list[BaseException],
        stop: threading.Event,
        on_exit: Callable[[], None] | None = None,
    ) -> Callable[..., None]:
        """Run a stage; a crash in it stops the run instead of hanging it."""

        def guarded(*args: object) -> None:
            try:
                target(*args)
            except BaseException as exc:  # noqa: BLE001 - any crash, KeyboardInterrupt too, must stop the run
                failures.append(exc)
                stop.set()
                if on_exit is not None:
                    on_exit()

        return guarded
