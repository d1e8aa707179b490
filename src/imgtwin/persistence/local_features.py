"""The ``local_features`` table: ``find --deep``'s keypoints, keyed by content hash and spec.

Local features depend only on a file's bytes and on how they were computed,
so they live beside the ``files`` table rather than in it: byte copies share
one row, a moved file keeps its row, and the ``files`` rows are never
rewritten to add them.  Rows of content no file has any more are harmless
(``imgtwin index prune`` leaves them; they cost their bytes only).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from typing import Self

from imgtwin.persistence.sqlite import connect, write_transaction
from imgtwin.records import FileResult, FileStatus

_CHUNK = 500  # content hashes per query (SQLite's parameter limit is 999 on old builds)


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


class LocalFeatureStore:
    """Reads and writes local features; also the deep pass's ``HashPersistence``.

    As a persistence, ``store_batch`` keeps each hashed result's ``features``
    (local feature bytes) under its content hash and ``features_spec``, one
    transaction per batch; failed files are not stored (the next ``--deep``
    run tries them again).
    """

    def __init__(self, db_path: str, *, conn: sqlite3.Connection | None = None) -> None:
        self.db_path = db_path
        self._own = conn is None
        self._conn = conn if conn is not None else connect(db_path)
        self.stored = 0
        self.failed: list[FileResult] = []

    def known(self, content_hashes: Iterable[str], spec: str) -> set[str]:
        """Those of ``content_hashes`` that have features of ``spec``."""
        wanted = sorted(set(content_hashes))
        found: set[str] = set()
        for chunk in _chunks(wanted):
            marks = ",".join("?" * len(chunk))
            rows = self._conn.execute(
                f"SELECT content_hash FROM local_features WHERE spec = ? AND content_hash IN ({marks})", (spec, *chunk)
            )
            found.update(r[0] for r in rows)
        return found

    def load(self, content_hashes: Iterable[str], spec: str) -> dict[str, bytes]:
        """Feature bytes of ``spec`` by content hash, for those that have them."""
        wanted = sorted(set(content_hashes))
        out: dict[str, bytes] = {}
        for chunk in _chunks(wanted):
            marks = ",".join("?" * len(chunk))
            rows = self._conn.execute(
                f"SELECT content_hash, data FROM local_features WHERE spec = ? AND content_hash IN ({marks})",
                (spec, *chunk),
            )
            out.update((r[0], bytes(r[1])) for r in rows)
        return out

    def put(self, rows: Iterable[tuple[str, str, bytes]]) -> None:
        """``(content_hash, spec, data)`` rows, replacing any with the same key, in one transaction."""
        with write_transaction(self._conn):
            self._conn.executemany(
                "INSERT OR REPLACE INTO local_features (content_hash, spec, data) VALUES (?, ?, ?)", rows
            )

    def store_batch(self, results: Sequence[FileResult]) -> None:
        rows = []
        for result in results:
            digest = result.metadata.content_hash
            if result.status is FileStatus.HASHED and result.features is not None and digest and result.features_spec:
                rows.append((digest, result.features_spec, result.features))
            elif result.status is FileStatus.ERROR:
                self.failed.append(result)
        if rows:
            self.put(rows)
            self.stored += len(rows)

    def count(self, spec: str | None = None) -> tuple[int, int]:
        """(rows, bytes of feature data) of ``spec``, or of every spec."""
        where, params = ("WHERE spec = ?", (spec,)) if spec else ("", ())
        rows, size = self._conn.execute(
            f"SELECT count(*), coalesce(sum(length(data)), 0) FROM local_features {where}", params
        ).fetchone()
        return int(rows), int(size)

    def finalize(self) -> None:
        if self._own:
            self._conn.close()

    def close(self) -> None:
        self.finalize()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
