"""A scan run: builds the engine and its collaborators from settings, and runs it into the index.

With ``runs.find`` and ``runs.deep``, the one place that knows concrete
classes; everything else receives its collaborators through constructors
(the seed's ``from_app``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from imgtwin.hashing.dct import DCTHasher
from imgtwin.hashing.extractor import MatchFeatureExtractor
from imgtwin.interfaces import HashPersistence, ImageLoader, ProgressReporter
from imgtwin.loading.pillow_loader import StandardImageLoader
from imgtwin.loading.preview_loader import PreviewFirstLoader
from imgtwin.loading.strips import StripStore
from imgtwin.options import ScanOptions
from imgtwin.persistence.composite import CompositePersistence
from imgtwin.persistence.csv_file import CsvHashPersistence
from imgtwin.persistence.index import HashIndex
from imgtwin.persistence.json_file import JsonHashPersistence
from imgtwin.persistence.location import DB_ENV_VAR, default_db_path
from imgtwin.persistence.lock import IndexWriteLock
from imgtwin.persistence.sqlite import SqliteHashPersistence, connect
from imgtwin.processing.discovery import check_roots
from imgtwin.processing.incremental import IndexScanCache
from imgtwin.processing.parallel import ParallelProcessingEngine
from imgtwin.processing.source import LocalFileSource
from imgtwin.records import ProcessingSummary
from imgtwin.reporting.composite import CompositeReporter, NullReporter
from imgtwin.reporting.console import ConsoleProgressReporter
from imgtwin.reporting.logfile import FileProgressReporter, LogRecordsTo
from imgtwin.runs.context import RunContext

__all__ = ["DB_ENV_VAR", "ScanSettings", "build_engine", "default_db_path", "opened_engine", "run_scan"]

if TYPE_CHECKING:
    from distributed import Client


class Closeable(Protocol):
    def close(self) -> None: ...


@dataclass(frozen=True, kw_only=True)
class ScanSettings:
    """One scan: its ``ScanOptions`` (which files, how: defined once, in ``options.py``) and the run's own
    fields: roots, index and extra output files. What it shows, and where its metrics go, is the
    ``RunContext``'s.
    """

    roots: tuple[str, ...]
    options: ScanOptions = field(default_factory=ScanOptions)
    db_path: str = field(default_factory=default_db_path)
    output_format: Literal["json", "csv"] | None = None
    output_path: str | None = None
    max_dimension: int = 512
    log_path: str | None = None

    @classmethod
    def of(cls, roots: Sequence[str], db_path: str, options: ScanOptions, **run: Any) -> ScanSettings:
        """The settings for a scan of ``roots`` into ``db_path`` with ``options``; ``run``: the fields above."""
        return cls(roots=tuple(roots), db_path=db_path, options=options, **run)


def build_engine(settings: ScanSettings, client: Client | None = None, strips: StripStore | None = None
                 ) -> ParallelProcessingEngine:  # fmt: skip
    """The local engine, or with a Dask ``client`` the one that decodes on its cluster; ``strips``: where its
    decodes keep rows for the keeper's checks (``loading.strips``)."""
    main = StandardImageLoader(settings.max_dimension, strips=strips)
    loader: ImageLoader = PreviewFirstLoader(main) if settings.options.previews else main
    hasher, features = DCTHasher(8), MatchFeatureExtractor()
    source = LocalFileSource(settings.options.file_filter)
    if client is not None:
        from imgtwin.processing.distributed import DistributedProcessingEngine  # Dask only when asked for

        return DistributedProcessingEngine(loader, hasher, client, source, features)
    return ParallelProcessingEngine(loader, hasher, source, features)


def build_persistence(settings: ScanSettings, engine: ParallelProcessingEngine) -> HashPersistence:
    persistences: list[HashPersistence] = [SqliteHashPersistence(settings.db_path)]
    if settings.output_format == "json" and settings.output_path:
        persistences.append(JsonHashPersistence(settings.output_path, engine.hasher.spec, engine.loader.decode_id))
    elif settings.output_format == "csv" and settings.output_path:
        persistences.append(CsvHashPersistence(settings.output_path))
    return persistences[0] if len(persistences) == 1 else CompositePersistence(persistences)


def build_reporter(settings: ScanSettings, run: RunContext) -> tuple[ProgressReporter, list[Closeable]]:
    """The run's reporter (its metrics sink, its console unless quiet, the log file), and the resources (log
    files) to close after the run."""
    reporters: list[ProgressReporter] = []
    resources: list[Closeable] = []
    if run.metrics is not None:
        reporters.append(run.metrics)
    if not run.quiet:
        reporters.append(ConsoleProgressReporter(run.console, show_progress=run.progress))
    if settings.log_path:
        try:
            log_reporter = FileProgressReporter.open(settings.log_path)
        except BaseException:
            for resource in resources:
                resource.close()
            raise
        reporters.append(log_reporter)
        resources.append(LogRecordsTo(log_reporter.stream))  # worker-count changes, worker deaths
        resources.append(log_reporter.stream)
    if not reporters:
        return NullReporter(), resources
    return (reporters[0] if len(reporters) == 1 else CompositeReporter(reporters)), resources


def run_scan(settings: ScanSettings, run: RunContext | None = None) -> ProcessingSummary:
    """Scan into the index: reuse what it knows, then mark files that are gone.

    Holds the index's write lock for the whole run. ``run``: its cancel token,
    its console and output choice, its metrics sink, and a reporter that gets
    every progress event besides those (the review app's page).
    """
    run = run or RunContext()
    check_roots(settings.roots)  # before any output file is created
    with opened_engine(settings) as engine:
        return _scan_with(settings, engine, run)


@contextmanager
def opened_engine(settings: ScanSettings, strips: StripStore | None = None) -> Iterator[ParallelProcessingEngine]:
    """``build_engine``'s engine for ``settings``, with its Dask client (``options.scheduler``) open while it is
    used: a local:N cluster lives for this run only. ``strips``: local workers only (a cluster's do not share
    this machine's folders)."""
    if settings.options.scheduler is None:
        yield build_engine(settings, strips=strips)
        return
    from imgtwin.processing.distributed import open_client  # Dask only when asked for

    with open_client(settings.options.scheduler) as client:
        yield build_engine(settings, client)


def _scan_with(settings: ScanSettings, engine: ParallelProcessingEngine, run: RunContext) -> ProcessingSummary:
    connect(settings.db_path).close()  # create, upgrade or refuse the index before anything else is made
    with IndexWriteLock(settings.db_path):
        reporter, resources = build_reporter(settings, run)
        if run.reporter is not None:
            extra = run.reporter
            reporter = extra if isinstance(reporter, NullReporter) else CompositeReporter([reporter, extra])
        try:
            persistence = build_persistence(settings, engine)
            features_spec = engine.features.spec if engine.features is not None else None
            signals_spec = engine.features.signals_spec if engine.features is not None else None
            picture_spec = engine.features.picture_spec if engine.features is not None else None
            loader_ids = getattr(engine.loader, "reuses", frozenset({engine.loader.decode_id}))
            cache = IndexScanCache(settings.db_path, engine.hasher.spec, loader_ids, features_spec, signals_spec,
                                   picture_spec)
            config = settings.options.processing_config(progress=run.shows_progress)
            summary = engine.process_directory(list(settings.roots), config, reporter, persistence, run.cancel,
                                               cache=cache)
        finally:
            for resource in resources:
                resource.close()
        roots = [os.path.abspath(root) for root in settings.roots]
        with HashIndex(settings.db_path) as index:
            if not summary.cancelled:
                index.mark_vanished(roots)
            index.record_roots(roots, complete=not summary.cancelled)
    return summary
