"""The deep pass of ``find --deep`` and ``scan --deep``: compute the local features that are missing.

* :func:`compute_local_features`: a pass over the indexed files under the roots
  whose content has no local features of the current spec yet (one file per
  distinct content), decoded again at the detector's size in the process pool
  (per-file time limit, memory cap, crash isolation, Ctrl-C), stored in the
  ``local_features`` table.  The ``files`` rows are not touched, so the
  default scan's hashes and speed are exactly what they are without
  ``--deep``, and a later ``find --deep`` reuses what was computed.

* The inner pictures of framed files (a screenshot's photo): the files whose
  scan found a picture inside a frame (``hashing.framed``) are decoded once
  more, larger, and the picture is described on its own
  (``local.inner_features``), stored under ``LocalSpec.inner_id``; with
  ``--deep`` matching tries it where the whole file does not fit
  (``matching.deep.verify_candidates``).

* :class:`FeaturesOnDemand`: the features of just the files whose pairs
  ``find`` escalates (``matching.escalate``); with ``--deep`` the deep pass
  has stored them all, and nothing is decoded again.

Matching on them is ``matching.deep_extra``'s and ``matching.escalate``'s.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace

from imgtwin.hashing.dct import DCTHasher
from imgtwin.hashing.framed import PICTURE_SPEC
from imgtwin.hashing.local import InnerFeatureExtractor, LocalFeatureExtractor, LocalFeatures, LocalSpec
from imgtwin.loading.pillow_loader import StandardImageLoader
from imgtwin.matching.deep_extra import LOCAL_SPEC, local_features_for
from imgtwin.persistence.index import HashIndex, IndexReadError
from imgtwin.persistence.local_features import LocalFeatureStore
from imgtwin.persistence.pictures import framed_records
from imgtwin.persistence.schema import IndexVersionError
from imgtwin.processing.parallel import ParallelProcessingEngine
from imgtwin.records import ProcessingSummary
from imgtwin.runs.context import RunContext
from imgtwin.runs.scan import ScanSettings

__all__ = ["LOCAL_SPEC", "FeaturesOnDemand", "LocalPass", "compute_local_features", "deep_loader", "inner_loader",
           "local_features_of", "missing_inner_features", "missing_local_features"]


def deep_loader(spec: LocalSpec) -> StandardImageLoader:
    """The deep pass's decode: JPEGs drafted to at least 3/4 of ``spec.side`` on the short side.

    That leaves at least the detector's pixel budget (``local.detection_image``)
    for 4:3 pictures and close to it for squarer ones. No colour copy: keypoints are found on grey pixels.
    """
    return StandardImageLoader(max_dimension=2 * spec.side, decode_size=max(8, 3 * spec.side // 4), colour=False)


def inner_loader(spec: LocalSpec) -> StandardImageLoader:
    """The decode of a framed file for its inner picture's features (``local.inner_features``): four times the
    detector's side on the long side, JPEGs drafted to at least twice it on the short side. A photo on a tenth of
    a desktop screenshot then keeps about the detector's pixel budget (360 x 270), as its original does."""
    return StandardImageLoader(max_dimension=4 * spec.side, decode_size=2 * spec.side, colour=False)


@dataclass(frozen=True)
class LocalPass:
    """What a deep pass did: files decoded, features stored, failures."""

    needed: int
    stored: int
    failed: int
    summary: ProcessingSummary | None = None
    inner: LocalPass | None = None  # the framed files' inner pictures (``missing_inner_features``)


def missing_local_features(db_path: str, roots: Sequence[str], spec: LocalSpec = LOCAL_SPEC) -> list[str]:
    """One path per distinct content under ``roots`` (hashed, live) that has no features of ``spec``."""
    return _missing(db_path, roots, spec.id, framed_only=False)


def missing_inner_features(db_path: str, roots: Sequence[str], spec: LocalSpec = LOCAL_SPEC) -> list[str]:
    """One path per distinct content under ``roots`` whose scan found a picture inside a frame
    (``hashing.framed``: a few percent of a library) and that has no inner record of ``spec`` yet."""
    return _missing(db_path, roots, spec.inner_id, framed_only=True)


def _missing(db_path: str, roots: Sequence[str], spec_id: str, framed_only: bool) -> list[str]:
    """One path per distinct content under ``roots`` (hashed, live; framed only: one the scan found framed)
    without a record of ``spec_id``."""
    by_content: dict[str, str] = {}
    with HashIndex(db_path) as index:
        framed = framed_records(index.conn, PICTURE_SPEC) if framed_only else None
        if framed is not None and not framed:
            return []
        for file in index.files_under([os.path.abspath(r) for r in roots], blobs=False):
            digest = file.content_hash
            if file.hash is not None and digest and digest not in by_content and (framed is None or digest in framed):
                by_content[digest] = file.path
        known = LocalFeatureStore(db_path, conn=index.conn).known(by_content, spec_id)
    return sorted(p for digest, p in by_content.items() if digest not in known)


def compute_local_features(
    settings: ScanSettings,
    run: RunContext | None = None,
    spec: LocalSpec = LOCAL_SPEC,
) -> LocalPass:
    """Decode and store local features for the files under ``settings.roots`` that lack them.

    ``run``: its cancel token stops the pass after the files in flight; its console shows it unless quiet.
    """
    run = run or RunContext()
    whole = local_features_of(settings, missing_local_features(settings.db_path, settings.roots, spec), run, spec)
    if run.cancel.is_set():
        return whole
    inner = local_features_of(settings, missing_inner_features(settings.db_path, settings.roots, spec), run, spec,
                              inner=True)
    return replace(whole, inner=inner)


def local_features_of(settings: ScanSettings, paths: Sequence[str], run: RunContext | None = None,
                      spec: LocalSpec = LOCAL_SPEC, inner: bool = False) -> LocalPass:  # fmt: skip
    """Decode and store the local features of ``paths`` (one per distinct content), whatever the roots:
    the deep pass's files, or the few the default ``find`` escalates (``runs.escalate``); ``inner``: the records
    of their inner pictures instead (``local.inner_features``, framed files only)."""
    run = run or RunContext()
    if not paths:
        return LocalPass(0, 0, 0)
    if inner:
        engine = ParallelProcessingEngine(inner_loader(spec), DCTHasher(8), features=InnerFeatureExtractor(spec))
    else:
        engine = ParallelProcessingEngine(deep_loader(spec), DCTHasher(8), features=LocalFeatureExtractor(spec))
    config = settings.options.processing_config(progress=run.shows_progress)
    store = LocalFeatureStore(settings.db_path)
    # One path per distinct content already: no byte copies to look for.
    summary = engine.process_files(paths, config, run.pass_reporter("Framed pictures" if inner else "Local features"),
                                   store, run.cancel, copies=False)
    return LocalPass(len(paths), store.stored, len(store.failed), summary)


class FeaturesOnDemand:
    """``find``'s ``matching.escalate.LocalSource``: the index's local features of the files asked
    for, computed first (``local_features_of``, in the worker pool) for those that have none, and kept in the
    index, so a later run or ``--deep`` reuses them. Once the run is cancelled, nothing more is decoded.

    :meth:`prefetch` starts that computation in a thread, so that the pool decodes while the main process still
    finds other pairs (``matching.partial``: seconds on one core); the next call waits for it.
    """

    def __init__(self, settings: ScanSettings, run: RunContext, spec: LocalSpec = LOCAL_SPEC,
                 inner: bool = False) -> None:
        self.settings, self.run, self.spec = settings, run, spec
        self.inner = inner  # with the inner pictures' features the deep pass stored (``--deep``)
        self.computed: LocalPass | None = None
        self._pending: threading.Thread | None = None
        self._failure: BaseException | None = None
        self._mirrored: FeaturesOnDemand | None = None

    def mirrored(self) -> FeaturesOnDemand:
        """The same source for the features of the files' mirror images (``LocalSpec.mirrored``): computed for
        the few files of pairs whose pictures are mirror images of each other (``matching.escalate``)."""
        if self._mirrored is None:
            self._mirrored = FeaturesOnDemand(self.settings, self.run, replace(self.spec, mirrored=True))
        return self._mirrored

    def prefetch(self, paths: Sequence[str], content_hashes: Sequence[str]) -> None:
        """Start computing the missing features of ``paths`` (one per content hash) in the background."""
        self._wait()
        self._pending = threading.Thread(target=self._background, args=(list(paths), list(content_hashes)),
                                         name="imgtwin-local-features", daemon=True)
        self._pending.start()

    def __call__(self, paths: Sequence[str], content_hashes: Sequence[str]) -> list[LocalFeatures | None]:
        try:
            self._wait()
            self._compute(paths, content_hashes)
            return local_features_for(self.settings.db_path, content_hashes, self.spec, self.inner)
        except (IndexReadError, IndexVersionError):  # an index this user may only read: the pairs stay undecided
            return [None] * len(content_hashes)

    def _compute(self, paths: Sequence[str], content_hashes: Sequence[str]) -> None:
        with LocalFeatureStore(self.settings.db_path) as store:
            known = store.known(content_hashes, self.spec.id)
        missing = [p for p, digest in zip(paths, content_hashes) if digest and digest not in known]
        if missing and not self.run.cancel.is_set():
            self.computed = local_features_of(self.settings, missing, self.run, self.spec)

    def _background(self, paths: list[str], content_hashes: list[str]) -> None:
        try:
            self._compute(paths, content_hashes)
        except BaseException as exc:  # noqa: BLE001 - raised again in the caller's thread (_wait)
            self._failure = exc

    def _wait(self) -> None:
        """Wait for the prefetch in flight; its failure is raised here, in the caller's thread."""
        if self._pending is not None:
            self._pending.join()
            self._pending = None
        failure, self._failure = self._failure, None
        if failure is not None:
            raise failure
