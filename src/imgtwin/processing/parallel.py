"""ParallelProcessingEngine: the seed's core, generic over loader, hasher and storage."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from imgtwin.config import ProcessingConfig, cpu_count
from imgtwin.hashing.extractor import FeatureExtractor
from imgtwin.interfaces import Hasher, HashPersistence, ImageLoader, ProgressReporter
from imgtwin.processing.copies import ScanCopies
from imgtwin.processing.discovery import check_roots
from imgtwin.processing.incremental import ResultCache
from imgtwin.processing.pipeline import ProcessingPipeline
from imgtwin.processing.source import FileSource, LocalFileSource
from imgtwin.processing.task import ScanTask
from imgtwin.processing.workers import ProcessWorkerPool, ThreadWorkerPool, WorkerPool
from imgtwin.records import ProcessingSummary


class ParallelProcessingEngine:
    """Scans folders with injected components (constructor injection).

    ``loader``, ``hasher`` and ``features`` must be picklable for the process
    executor: they are sent once to each worker process. ``features``, when
    given, computes matching features from the same decoded pixels.
    """

    def __init__(
        self,
        loader: ImageLoader,
        hasher: Hasher,
        storage: FileSource | None = None,
        features: FeatureExtractor | None = None,
    ) -> None:
        self.loader = loader
        self.hasher = hasher
        self.storage = storage if storage is not None else LocalFileSource()
        self.features = features

    def make_pool(self, config: ProcessingConfig) -> WorkerPool:
        task = ScanTask(self.loader, self.hasher, self.features)
        if config.executor == "thread":
            return ThreadWorkerPool(config.workers, task)
        controller = None
        if config.adaptive_workers:
            from imgtwin.processing.adaptive import AdaptiveConcurrency

            controller = AdaptiveConcurrency(minimum=1, maximum=2 * cpu_count(), initial=config.workers)
        return ProcessWorkerPool(
            config.workers, task, config.file_timeout, memory_limit_mb=config.worker_memory_mb, controller=controller,
        )

    def prepare_roots(self, roots: list[str]) -> list[str]:
        """The roots as the workers must see them (local workers share our working directory)."""
        return roots

    def process_directory(
        self,
        path: str | Sequence[str],
        config: ProcessingConfig,
        reporter: ProgressReporter,
        persistence: HashPersistence,
        cancel: threading.Event | None = None,
        *,
        cache: ResultCache | None = None,
    ) -> ProcessingSummary:
        """Hash every image under ``path`` (one root or several).

        Raises ``FileNotFoundError`` / ``NotADirectoryError`` before starting if
        a root cannot be scanned; per-file problems never raise, they are
        reported and stored. Setting ``cancel`` stops the run cleanly: work in
        flight is stored and the summary says ``cancelled``. A ``cache``
        answers for files already known (see ``processing.incremental``).
        """
        roots = self.prepare_roots([path] if isinstance(path, str) else list(path))
        check_roots(roots)
        pipeline = ProcessingPipeline(self.storage, self.make_pool(config), config, cache=cache, copies=ScanCopies())
        return pipeline.run(roots, reporter, persistence, cancel or threading.Event())
