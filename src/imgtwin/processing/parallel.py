"""ParallelProcessingEngine: the seed's core, generic over loader, hasher and storage."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from imgtwin.config import ProcessingConfig
from imgtwin.hashing.extractor import FeatureExtractor
from imgtwin.interfaces import Hasher, HashPersistence, ImageLoader, ProgressReporter
from imgtwin.processing.copies import ScanCopies
from imgtwin.processing.discovery import check_scannable
from imgtwin.processing.incremental import ResultCache
from imgtwin.processing.pipeline import ProcessingPipeline
from imgtwin.processing.pool_contract import WorkerPool
from imgtwin.processing.pools import build_pool
from imgtwin.processing.source import FileSource, ListedFiles, LocalFileSource
from imgtwin.processing.task import ScanTask
from imgtwin.records import ProcessingSummary

if TYPE_CHECKING:
    from imgtwin.processing.distributed import DaskCluster


class ParallelProcessingEngine:
    """Scans folders with injected components (constructor injection).

    ``loader``, ``hasher`` and ``features`` must be picklable for the process
    executor: they are sent once to each worker process. ``features``, when
    given, computes matching features from the same decoded pixels. With
    ``cluster`` the files are decoded on that Dask cluster instead.
    """

    def __init__(
        self,
        loader: ImageLoader,
        hasher: Hasher,
        storage: FileSource | None = None,
        features: FeatureExtractor | None = None,
        *,
        cluster: DaskCluster | None = None,
    ) -> None:
        self.loader = loader
        self.hasher = hasher
        self.storage = storage if storage is not None else LocalFileSource()
        self.features = features
        self.cluster = cluster

    def make_pool(self, config: ProcessingConfig) -> WorkerPool:
        """The pool of this engine's ``ScanTask`` (``processing.pools``: the one way pools are made)."""
        return build_pool(ScanTask(self.loader, self.hasher, self.features), config, cluster=self.cluster)

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
        check_scannable(roots)
        pipeline = ProcessingPipeline(self.storage, self.make_pool(config), config, cache=cache, copies=ScanCopies())
        return pipeline.run(roots, reporter, persistence, cancel or threading.Event())

    def process_files(
        self,
        paths: Sequence[str],
        config: ProcessingConfig,
        reporter: ProgressReporter,
        persistence: HashPersistence,
        cancel: threading.Event | None = None,
        *,
        copies: bool = True,
    ) -> ProcessingSummary:
        """Hash the files ``paths`` lists, not a walk of folders: a pass over files the index knows (the deep
        pass, the candidates' pictures). ``copies``: byte copies among them are decoded once."""
        listed = self.prepare_roots(list(paths))
        pipeline = ProcessingPipeline(ListedFiles(listed), self.make_pool(config), config,
                                      copies=ScanCopies() if copies else None)
        return pipeline.run(listed, reporter, persistence, cancel or threading.Event())
