"""``--deep`` for find: compute the local features that are missing, then match on them.

* :func:`compute_local_features`: a pass over the indexed files under the roots
  whose content has no local features of the current spec yet (one file per
  distinct content), decoded again at the detector's size in the process pool
  (per-file time limit, memory cap, crash isolation, Ctrl-C), stored in the
  ``local_features`` table.  The ``files`` rows are not touched, so the
  default scan's hashes and speed are exactly what they are without
  ``--deep``, and a later ``find --deep`` reuses what was computed.
* :func:`local_features_for`: the stored features of the compared files.
* :func:`deep_extra_matches`: the deep matches the global matcher did not
  make, as extra ``grouping.Matches``, and which members are derived copies
  (crops, screenshots) that must not be kept over their source.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from rich.console import Console

from imgtwin.app import ScanSettings
from imgtwin.hashing.dct import DCTHasher
from imgtwin.hashing.local import LocalFeatureExtractor, LocalFeatures, LocalSpec
from imgtwin.interfaces import ProgressReporter
from imgtwin.matching.deep import DeepMatches, DeepParams, deep_loader, deep_matches
from imgtwin.matching.grouping import Matches
from imgtwin.matching.near import FeatureTable
from imgtwin.persistence.index import HashIndex, row_path
from imgtwin.persistence.local_features import LocalFeatureStore
from imgtwin.processing.discovery import Discovered, DiscoveryOptions
from imgtwin.processing.engine import ParallelProcessingEngine
from imgtwin.processing.pipeline import ProcessingPipeline
from imgtwin.records import ProcessingSummary
from imgtwin.reporting.composite import NullReporter
from imgtwin.reporting.console import ConsoleProgressReporter

LOCAL_SPEC = LocalSpec()


class ListedFiles:
    """A ``FileSource`` of given paths (the deep pass knows its files from the index)."""

    def __init__(self, paths: Sequence[str]) -> None:
        self.paths = list(paths)

    def discover(self, roots: Sequence[str], options: DiscoveryOptions) -> Iterator[Discovered]:
        return (Discovered(p) for p in self.paths)

    def count(self, roots: Sequence[str], options: DiscoveryOptions) -> int:
        return len(self.paths)


@dataclass(frozen=True)
class LocalPass:
    """What a deep pass did: files decoded, features stored, failures."""

    needed: int
    stored: int
    failed: int
    summary: ProcessingSummary | None = None


def missing_local_features(db_path: str, roots: Sequence[str], spec: LocalSpec = LOCAL_SPEC) -> list[str]:
    """One path per distinct content under ``roots`` (hashed, live) that has no features of ``spec``."""
    by_content: dict[str, str] = {}
    with HashIndex(db_path) as index:
        for row in index.rows_under([os.path.abspath(r) for r in roots], columns="path, hash, content_hash"):
            if row["hash"] is not None and row["content_hash"] and row["content_hash"] not in by_content:
                by_content[row["content_hash"]] = row_path(row)
        known = LocalFeatureStore(db_path, conn=index.conn).known(by_content, spec.id)
    return sorted(p for digest, p in by_content.items() if digest not in known)


def compute_local_features(
    settings: ScanSettings,
    console: Console,
    cancel: threading.Event | None = None,
    spec: LocalSpec = LOCAL_SPEC,
) -> LocalPass:
    """Decode and store local features for the files under ``settings.roots`` that lack them."""
    paths = missing_local_features(settings.db_path, settings.roots, spec)
    if not paths:
        return LocalPass(0, 0, 0)
    engine = ParallelProcessingEngine(deep_loader(spec), DCTHasher(8), features=LocalFeatureExtractor(spec))
    config = settings.processing_config()
    reporter: ProgressReporter = NullReporter()
    if not settings.quiet:
        reporter = ConsoleProgressReporter(console, show_progress=settings.progress, description="Local features")
    store = LocalFeatureStore(settings.db_path)
    pipeline = ProcessingPipeline(ListedFiles(paths), engine.make_pool(config), config)
    summary = pipeline.run(paths, reporter, store, cancel or threading.Event())
    return LocalPass(len(paths), store.stored, len(store.failed), summary)


def local_features_for(db_path: str, content_hashes: Sequence[str | None], spec: LocalSpec = LOCAL_SPEC
                       ) -> list[LocalFeatures | None]:  # fmt: skip
    """The stored features of each content hash (None: none stored, or no hash)."""
    with LocalFeatureStore(db_path) as store:
        data = store.load((h for h in content_hashes if h), spec.id)
    decoded: dict[str, LocalFeatures] = {}
    out: list[LocalFeatures | None] = []
    for digest in content_hashes:
        if not digest or digest not in data:
            out.append(None)
            continue
        if digest not in decoded:
            decoded[digest] = LocalFeatures.from_bytes(data[digest])
        out.append(decoded[digest])
    return out


def deep_extra_matches(
    matches: Matches,
    table: FeatureTable,
    local: Sequence[LocalFeatures | None],
    content_hashes: Sequence[str | None],
    params: DeepParams = DeepParams(),
) -> tuple[Matches, list[tuple[int, int]], DeepMatches]:
    """``matches`` plus the deep matches it lacks; ``(source, derived)`` pairs; the deep matches.

    Byte copies share one feature record, so only the first file of each
    content is matched (the grouping makes its twins follow it).
    """
    first: dict[str, int] = {}
    unique = []
    for k, digest in enumerate(content_hashes):
        if local[k] is None:
            continue
        if digest and digest in first:
            continue
        if digest:
            first[digest] = k
        unique.append(k)
    index = np.array(unique, dtype=np.int64)
    known = {(min(a, b), max(a, b)) for a, b in zip(matches.i.tolist(), matches.j.tolist())}
    position = {k: p for p, k in enumerate(unique)}
    skip = {(min(position[a], position[b]), max(position[a], position[b])) for a, b in known
            if a in position and b in position}  # fmt: skip
    full = table.full_thumbs if table.full_thumbs is not None else table.thumbs
    found = deep_matches([local[k] for k in unique], full[index] if len(index) else None,
                         table.hashes[index] if len(index) else None, params, skip)
    found = DeepMatches(index[found.i], index[found.j], found.inliers, found.transform, found.inverse,
                        np.where(found.source >= 0, index[np.maximum(found.source, 0)], -1), found.shared,
                        found.distance)
    return matches.concat(found.matches()), found.derived, found
