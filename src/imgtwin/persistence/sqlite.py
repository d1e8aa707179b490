"""SqliteHashPersistence: the embedded index, one transaction per batch.

SQLite's write-ahead log plus ``synchronous=FULL`` makes each committed batch
durable and the file readable after a crash or power loss at any moment; a
batch is committed whole or not at all.
"""

from __future__ import annotations

import os
import sqlite3
import time
from contextlib import contextmanager
from collections.abc import Iterator, Sequence
from typing import Any

from imgtwin.persistence.rows import text_path
from imgtwin.persistence.schema import SCHEMA_VERSION, IndexVersionError, ensure_schema
from imgtwin.records import FileResult

__all__ = ["SCHEMA_VERSION", "IndexVersionError", "SqliteHashPersistence", "connect", "read_rows", "write_transaction"]

_COLUMNS = (
    "path", "size", "mtime_ns", "dev", "inode", "ctime_ns", "content_hash", "width", "height", "format", "decode", "loader",
    "hash", "hash_spec", "features", "features_spec", "error_reason", "error_message", "scanned_at", "vanished_at",
)
_UPSERT = (
    f"INSERT INTO files ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))}) "
    f"ON CONFLICT(path) DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in _COLUMNS[1:])}"
)


def connect(db_path: str, *, check_same_thread: bool = True) -> sqlite3.Connection:
    """Open (creating or upgrading if needed) an index with the project's pragmas.

    WAL lets readers (``find``, ``index info``) run while a scan writes; the
    busy timeout makes a second writer wait for a batch instead of failing.
    """
    directory = os.path.dirname(os.path.abspath(db_path))
    os.makedirs(directory, exist_ok=True)
    conn = sqlite3.connect(db_path, timeout=30.0, isolation_level=None, check_same_thread=check_same_thread)
    try:
        conn.execute("PRAGMA busy_timeout = 30000")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        ensure_schema(conn, db_path)
    except sqlite3.DatabaseError as exc:
        conn.close()
        if isinstance(exc, sqlite3.OperationalError):  # locked, read-only, disk full...
            raise
        raise IndexVersionError(f"{db_path} is not an imgtwin index (not a SQLite database)") from exc
    except BaseException:
        conn.close()
        raise
    return conn


@contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any error: all or nothing."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _params(result: FileResult, now: float) -> tuple[Any, ...]:
    meta = result.metadata
    return (
        text_path(os.path.abspath(meta.path)),
        meta.size,
        meta.mtime_ns,
        meta.dev,
        meta.inode,
        meta.ctime_ns,
        meta.content_hash,
        meta.width,
        meta.height,
        meta.format,
        meta.decode,
        meta.loader,
        result.hash.hex if result.hash else None,
        result.hash.spec.id if result.hash else None,
        result.features,
        result.features_spec,
        result.error.reason.value if result.error else None,
        text_path(result.error.message) if result.error else None,
        now,
        None,
    )


class SqliteHashPersistence:
    """Upserts results by absolute path; each ``store_batch`` is one transaction."""

    def __init__(self, db_path: str, *, clock: Any = time.time) -> None:
        self.db_path = db_path
        self.clock = clock
        self._conn = connect(db_path)

    def store_batch(self, results: Sequence[FileResult]) -> None:
        now = self.clock()
        # Unchanged files are already stored exactly so: rewriting them would
        # make a rescan cost a write per file.
        rows = [_params(result, now) for result in results if result.reused != "unchanged"]
        if not rows:
            return
        with write_transaction(self._conn):
            self._conn.executemany(_UPSERT, rows)

    def finalize(self) -> None:
        self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        self._conn.close()

    def __enter__(self) -> SqliteHashPersistence:
        return self

    def __exit__(self, *exc: object) -> None:
        self._conn.close()


def read_rows(db_path: str) -> Iterator[dict[str, Any]]:
    """Every row of an index as a dict, in path order (for tools and tests)."""
    conn = connect(db_path)
    conn.row_factory = sqlite3.Row
    try:
        for row in conn.execute("SELECT * FROM files ORDER BY path"):
            yield dict(row)
    finally:
        conn.close()
