"""SqliteHashPersistence: the embedded index, one transaction per batch.

SQLite's write-ahead log plus ``synchronous=FULL`` makes each committed batch
durable and the file readable after a crash or power loss at any moment; a
batch is committed whole or not at all.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from typing import Any

from imgtwin.persistence.rows import text_path
from imgtwin.records import FileResult

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE files (
    path          TEXT PRIMARY KEY,   -- absolute path
    size          INTEGER NOT NULL,   -- bytes
    mtime_ns      INTEGER NOT NULL,   -- modification time, nanoseconds since the epoch
    width         INTEGER,            -- displayed size, after EXIF orientation
    height        INTEGER,
    format        TEXT,               -- Pillow format name, e.g. JPEG
    decode        TEXT,               -- how pixels were read, e.g. jpeg-draft-1/8 or full
    loader        TEXT,               -- loader and its settings, e.g. pillow-L-max512-draft-v1
    hash          TEXT,               -- perceptual hash, lower-case hex; NULL on error
    hash_spec     TEXT,               -- algorithm and parameters, e.g. dct-64-32px-lanczos-v1
    error_reason  TEXT,               -- stable reason code; NULL when hashed
    error_message TEXT,
    scanned_at    REAL NOT NULL       -- when this row was written, seconds since the epoch
);
"""

_UPSERT = """
INSERT INTO files (path, size, mtime_ns, width, height, format, decode, loader, hash, hash_spec,
                   error_reason, error_message, scanned_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT(path) DO UPDATE SET
    size = excluded.size, mtime_ns = excluded.mtime_ns, width = excluded.width,
    height = excluded.height, format = excluded.format, decode = excluded.decode,
    loader = excluded.loader, hash = excluded.hash, hash_spec = excluded.hash_spec,
    error_reason = excluded.error_reason, error_message = excluded.error_message,
    scanned_at = excluded.scanned_at
"""


class IndexVersionError(RuntimeError):
    """The index was written by a newer imgtwin (or is not an imgtwin index)."""


def connect(db_path: str) -> sqlite3.Connection:
    """Open (creating if needed) an index with the project's pragmas."""
    directory = os.path.dirname(os.path.abspath(db_path))
    os.makedirs(directory, exist_ok=True)
    conn = sqlite3.connect(db_path, timeout=30.0, isolation_level=None)
    try:
        conn.execute("PRAGMA busy_timeout = 30000")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        _ensure_schema(conn, db_path)
    except sqlite3.DatabaseError as exc:
        conn.close()
        if isinstance(exc, sqlite3.OperationalError):  # locked, read-only, disk full...
            raise
        raise IndexVersionError(f"{db_path} is not an imgtwin index (not a SQLite database)") from exc
    except BaseException:
        conn.close()
        raise
    return conn


def _ensure_schema(conn: sqlite3.Connection, db_path: str) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version == SCHEMA_VERSION:
        return
    if version > SCHEMA_VERSION:
        raise IndexVersionError(
            f"{db_path} has index schema version {version}, newer than this imgtwin understands "
            f"({SCHEMA_VERSION}); upgrade imgtwin or use another --db"
        )
    tables = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
    if version == 0 and tables:
        raise IndexVersionError(f"{db_path} is a SQLite file but not an imgtwin index; use another --db")
    conn.execute("BEGIN IMMEDIATE")
    try:
        if conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
            conn.execute("COMMIT")  # another process created it meanwhile
            return
        conn.execute(_SCHEMA)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
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
        meta.width,
        meta.height,
        meta.format,
        meta.decode,
        meta.loader,
        result.hash.hex if result.hash else None,
        result.hash.spec.id if result.hash else None,
        result.error.reason.value if result.error else None,
        text_path(result.error.message) if result.error else None,
        now,
    )


class SqliteHashPersistence:
    """Upserts results by absolute path; each ``store_batch`` is one transaction."""

    def __init__(self, db_path: str, *, clock: Any = time.time) -> None:
        self.db_path = db_path
        self.clock = clock
        self._conn = connect(db_path)

    def store_batch(self, results: Sequence[FileResult]) -> None:
        now = self.clock()
        rows = [_params(result, now) for result in results]
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            self._conn.executemany(_UPSERT, rows)
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise

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
