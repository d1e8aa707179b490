"""Rescans read only what changed: answers from the index for known files.

The producer asks the cache about each discovered file before queueing it:

* **unchanged**: same size, mtime (ns), inode and ctime as the indexed row, hashed by
  the same hash definition and loader: the stored result is reused, nothing
  is read;
* **moved** or **copy**: a path the index does not know, whose bytes equal those
  of an indexed file (same size, then the same content hash): the stored hashes
  are reused for the new path without decoding; ``moved`` when that file is
  gone, ``copy`` when it is still there (backups of backups are where people
  run this tool, and a byte copy never needs decoding twice);
* anything else is decoded again, including rows whose failure could have
  been passing (timeout, permission, ...) or made by another loader version.

The producer asks for a chunk of files at once (``lookup_many``): one query for
their paths, one for which of their sizes some hashed file has, one for the
files with their bytes, each an indexed probe per file, so a scan stays linear
in the number of files whatever their sizes (100,000 files of one size included)
and pays SQLite's fixed cost per statement once a chunk instead of twice a file.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Protocol

from imgtwin.persistence.index import HashIndex, is_gone
from imgtwin.persistence.pictures import has_picture
from imgtwin.processing.probe import FileProbe
from imgtwin.processing.task import failure_of
from imgtwin.records import (
    ErrorReason,
    FileError,
    FileResult,
    FileStatus,
    HashSpec,
    ImageHash,
    IndexedFile,
    ProcessingMetadata,
)

# Failures that the same bytes and the same loader will always reproduce.
SETTLED_ERRORS = frozenset(
    {ErrorReason.NOT_AN_IMAGE.value, ErrorReason.TRUNCATED.value, ErrorReason.DECODE_ERROR.value,
     ErrorReason.TOO_LARGE.value}
)


class ResultCache(Protocol):
    """Answers for files whose result is already known; None means: read it."""

    def lookup(self, path: str, probe: FileProbe | None = None) -> FileResult | None:
        """``probe``: the file's stat and content hash, taken once for this and the copy check."""
        ...

    def lookup_many(self, probes: Sequence[FileProbe]) -> list[FileResult | None]:
        """``lookup`` of each file, in order, answered together."""
        ...

    def close(self) -> None: ...


class IndexScanCache:
    """A ResultCache over the SQLite index, for one hash definition, loader and feature set.

    Opens its own connection lazily, in the thread that first calls ``lookup``
    (the producer), so it never shares a connection with the collector.
    """

    def __init__(
        self, db_path: str, spec: HashSpec, loader_id: str | frozenset[str], features_spec: str | None = None,
        signals_spec: str | None = None, picture_spec: str | None = None,
    ) -> None:
        self.db_path = db_path
        self.spec = spec
        # Several ids where the loader makes rows more than one way (a preview, or the main image).
        self.loader_ids = frozenset({loader_id}) if isinstance(loader_id, str) else loader_id
        self.features_spec = features_spec
        self.signals_spec = signals_spec
        self.picture_spec = picture_spec  # a row is settled only with its content's framed picture of this spec
        self._index: HashIndex | None = None
        self._fresh = False  # the index held no file when this scan began

    def _open(self) -> HashIndex:
        if self._index is None:
            self._index = HashIndex(self.db_path, check_same_thread=False)
            # A scan yields each path once, so a fresh index never knows the path asked for: a query per
            # file saved (a third of the producer's; copies are still looked up, by size then content).
            self._fresh = self._index.is_empty()
        return self._index

    def close(self) -> None:
        if self._index is not None:
            self._index.close()
            self._index = None

    def lookup(self, path: str, probe: FileProbe | None = None) -> FileResult | None:
        return self.lookup_many([probe or FileProbe(path)])[0]

    def lookup_many(self, probes: Sequence[FileProbe]) -> list[FileResult | None]:
        answers: list[FileResult | None] = [None] * len(probes)
        stats: dict[int, os.stat_result] = {}
        for k, probe in enumerate(probes):
            try:
                stats[k] = probe.stat()
            except OSError:
                pass  # let the worker report it with its reason
        if not stats:
            return answers
        index = self._open()
        rows = {} if self._fresh else index.lookup_many([probes[k].path for k in stats])
        unknown: list[int] = []
        for k, info in stats.items():
            row = rows.get(probes[k].path)
            if row is None:
                unknown.append(k)
            elif self._unchanged(row, info) and self._settled(row):
                # A file back at a path marked vanished (moved away and back) is rewritten, which clears the mark.
                answers[k] = self._result(row, probes[k].path, info, "unchanged" if not row.vanished else "moved")
        for k, answer in self._twins(index, [(probes[k], stats[k]) for k in unknown]).items():
            answers[unknown[k]] = answer
        return answers

    @staticmethod
    def _unchanged(row: IndexedFile, info: os.stat_result) -> bool:
        return (row.size, row.mtime_ns, row.inode, row.dev, row.ctime_ns) == (
            info.st_size, info.st_mtime_ns, info.st_ino, info.st_dev, info.st_ctime_ns,
        )

    def _settled(self, row: IndexedFile) -> bool:
        if row.loader not in self.loader_ids:
            return False
        if row.hash is not None:
            return (row.hash_spec, row.features_spec, row.signals_spec) == (
                self.spec.id, self.features_spec, self.signals_spec) and self._has_picture(row)
        return row.error_reason in SETTLED_ERRORS

    def _has_picture(self, row: IndexedFile) -> bool:
        """An index made before framed pictures were recorded (or by another definition) lacks them: decoded
        again, never read as unframed (``persistence.pictures``)."""
        if self.picture_spec is None or not row.content_hash:
            return True
        return has_picture(self._open().conn, row.content_hash, self.picture_spec)

    def _twins(self, index: HashIndex, files: list[tuple[FileProbe, os.stat_result]]) -> dict[int, FileResult]:
        """The results of indexed files with the same bytes, for paths the index does not know (by position)."""
        sizes = index.hashed_sizes(info.st_size for _, info in files if info.st_size)
        digests: dict[int, str] = {}
        for k, (probe, info) in enumerate(files):
            if info.st_size in sizes:
                try:
                    digests[k] = probe.digest()
                except OSError:
                    pass
        twins = index.twins(digests.values())
        found: dict[int, FileResult] = {}
        for k, digest in digests.items():
            probe, info = files[k]
            twin = twins.get(digest)
            # The newest row with these bytes; an older definition's row is read again, like any stale row.
            if twin is not None and twin.size == info.st_size and self._settled(twin):
                found[k] = self._result(twin, probe.path, info, "moved" if is_gone(twin.path) else "copy")
        return found

    def _result(self, row: IndexedFile, path: str, info: os.stat_result, how: str) -> FileResult:
        metadata = ProcessingMetadata(
            path, info.st_size, info.st_mtime_ns, row.width, row.height, row.format, row.decode,
            row.loader, info.st_dev, info.st_ino, info.st_ctime_ns, row.content_hash,
        )
        answered = "content" if how in ("moved", "copy") else row.answered_by
        if row.hash is not None:
            return FileResult(
                metadata, FileStatus.HASHED, hash=ImageHash(int(row.hash, 16), self.spec),
                features=row.features, features_spec=row.features_spec, signals=row.signals,
                signals_spec=row.signals_spec, reused=how, answered_by=answered,
            )
        error = FileError(ErrorReason(row.error_reason), row.error_message or "")
        return failure_of(metadata, error, reused=how, answered_by=answered)
