"""Rescans read only what changed: answers from the index for known files.

The producer asks the cache about each discovered file before queueing it:

* **unchanged**: same size, mtime (ns), inode and ctime as the indexed row, hashed by
  the same hash definition and loader: the stored result is reused, nothing
  is read;
* **moved**: a path the index does not know, whose bytes equal those of an
  indexed file that no longer exists (same size, then same content hash):
  the stored hashes are reused for the new path without decoding;
* anything else is decoded again, including rows whose failure could have
  been passing (timeout, permission, ...) or made by another loader version.
"""

from __future__ import annotations

import os
import sqlite3
from typing import Protocol

from imgtwin.hashing.content import content_hash
from imgtwin.persistence.index import HashIndex
from imgtwin.persistence.rows import text_path
from imgtwin.records import ErrorReason, FileError, FileResult, FileStatus, HashSpec, ImageHash, ProcessingMetadata

# Failures that the same bytes and the same loader will always reproduce.
SETTLED_ERRORS = frozenset(
    {ErrorReason.NOT_AN_IMAGE.value, ErrorReason.TRUNCATED.value, ErrorReason.DECODE_ERROR.value,
     ErrorReason.TOO_LARGE.value}
)


class ResultCache(Protocol):
    """Answers for files whose result is already known; None means: read it."""

    def lookup(self, path: str) -> FileResult | None: ...

    def close(self) -> None: ...


class IndexScanCache:
    """A ResultCache over the SQLite index, for one hash definition and loader.

    Opens its own connection lazily, in the thread that first calls ``lookup``
    (the producer), so it never shares a connection with the collector.
    """

    def __init__(self, db_path: str, spec: HashSpec, loader_id: str, features_spec: str | None = None) -> None:
        self.db_path = db_path
        self.spec = spec
        self.loader_id = loader_id
        self.features_spec = features_spec
        self._index: HashIndex | None = None

    def _open(self) -> HashIndex:
        if self._index is None:
            self._index = HashIndex(self.db_path, check_same_thread=False)
        return self._index

    def close(self) -> None:
        if self._index is not None:
            self._index.close()
            self._index = None

    def lookup(self, path: str) -> FileResult | None:
        try:
            info = os.stat(path)
        except OSError:
            return None  # let the worker report it with its reason
        index = self._open()
        row = index.lookup(text_path(os.path.abspath(path)))  # stored so: see persistence.rows
        if row is not None:
            if self._unchanged(row, info) and self._settled(row):
                # A file back at a path marked vanished (moved away and back) is
                # rewritten, which clears the mark.
                return self._result(row, path, info, "unchanged" if row["vanished_at"] is None else "moved")
            return None
        return self._moved(index, path, info)

    @staticmethod
    def _unchanged(row: sqlite3.Row, info: os.stat_result) -> bool:
        return (row["size"], row["mtime_ns"], row["inode"], row["dev"], row["ctime_ns"]) == (
            info.st_size, info.st_mtime_ns, info.st_ino, info.st_dev, info.st_ctime_ns,
        )

    def _settled(self, row: sqlite3.Row) -> bool:
        if row["loader"] != self.loader_id:
            return False
        if row["hash"] is not None:
            return row["hash_spec"] == self.spec.id and row["features_spec"] == self.features_spec
        return row["error_reason"] in SETTLED_ERRORS

    def _moved(self, index: HashIndex, path: str, info: os.stat_result) -> FileResult | None:
        candidates = [
            row for row in index.same_size(info.st_size)
            if self._settled(row) and not os.path.lexists(row["path"])
        ]
        if not candidates:
            return None
        try:
            digest = content_hash(path)
        except OSError:
            return None
        for row in candidates:
            if row["content_hash"] == digest:
                return self._result(row, path, info, "moved")
        return None

    def _result(self, row: sqlite3.Row, path: str, info: os.stat_result, how: str) -> FileResult:
        metadata = ProcessingMetadata(
            path, info.st_size, info.st_mtime_ns, row["width"], row["height"], row["format"], row["decode"],
            row["loader"], info.st_dev, info.st_ino, info.st_ctime_ns, row["content_hash"],
        )
        if row["hash"] is not None:
            return FileResult(
                metadata, FileStatus.HASHED, hash=ImageHash(int(row["hash"], 16), self.spec),
                features=row["features"], features_spec=row["features_spec"], reused=how,
            )
        error = FileError(ErrorReason(row["error_reason"]), row["error_message"] or "")
        return FileResult(metadata, FileStatus.ERROR, error=error, reused=how)
