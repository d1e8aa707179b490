"""SqliteHashPersistence: the embedded index, one transaction per batch.

SQLite's write-ahead log plus ``synchronous=FULL`` makes each committed batch
durable and the file readable after a crash or power loss at any moment; a
batch is committed whole or not at all.
"""

from __future__ import annotations

import os
import sqlite3
import time
import urllib.parse
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Self

from imgtwin.persistence.keys import key_path, path_key
from imgtwin.persistence.pictures import picture_rows, store_pictures
from imgtwin.persistence.rows import text_path
from imgtwin.persistence.schema import SCHEMA_VERSION, IndexVersionError, ensure_schema, inspect
from imgtwin.records import FileResult

__all__ = [
    "SCHEMA_VERSION", "IndexDamagedError", "IndexVersionError", "SqliteHashPersistence", "check_pages", "connect",
    "read_rows",
    "write_transaction",
]

_COLUMNS = (
    "path", "size", "mtime_ns", "dev", "inode", "ctime_ns", "content_hash", "width", "height", "format", "decode",
    "loader", "hash", "hash_spec", "features", "features_spec", "signals", "signals_spec", "answered_by",
    "error_reason", "error_message", "scanned_at", "vanished_at",
)
_UPSERT = (
    f"INSERT INTO files ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))}) "
    f"ON CONFLICT(path) DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in _COLUMNS[1:])}"
)


class IndexDamagedError(RuntimeError):
    """The index file is corrupt: it holds only hashes, so the fix is to delete it and scan again."""


def damaged(db_path: str, exc: sqlite3.DatabaseError) -> IndexDamagedError:
    return IndexDamagedError(
        f"the index {db_path} is damaged ({exc}); it only caches hashes: delete it (and its -wal and -shm "
        "files) and scan again, or use another --db"
    )


def check_pages(conn: sqlite3.Connection, db_path: str) -> None:
    """IndexDamagedError unless SQLite's quick check finds every page of the index sound.

    For the commands that read only a few small indexes (``index info``'s
    totals, ``errors``' failed rows) or write (``index prune``): they would
    otherwise report on, or change, a damaged file as if it were whole. It
    reads the whole file once (about a second per 600 MB).
    """
    try:
        row = conn.execute("PRAGMA quick_check(1)").fetchone()
    except sqlite3.OperationalError:
        raise
    except sqlite3.DatabaseError as exc:
        raise damaged(db_path, exc) from None
    verdict = str(row[0]) if row else "no answer from quick_check"
    if verdict != "ok":
        found = verdict.replace("*** in database main ***", "").strip().replace("\n", "; ")
        raise damaged(db_path, sqlite3.DatabaseError(f"quick check: {found}"))


def _may_write(db_path: str) -> bool:
    folder = os.path.dirname(os.path.abspath(db_path))
    if os.path.exists(db_path):
        return os.access(db_path, os.W_OK) and os.access(folder, os.W_OK)
    return os.access(folder, os.W_OK)


def _open_readonly(db_path: str, check_same_thread: bool) -> sqlite3.Connection:
    """A connection that never writes: for an index this user may read but not change.

    ``mode=ro`` still needs the WAL's shared-memory file; where that cannot be
    made (a read-only folder) and no writer left a WAL behind, the file is read
    as immutable.
    """
    uri = "file:" + urllib.parse.quote(os.path.abspath(db_path)) + "?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=check_same_thread)
        conn.execute("PRAGMA user_version").fetchone()
        return conn
    except sqlite3.OperationalError:
        wal = db_path + "-wal"
        if os.path.exists(wal) and os.path.getsize(wal) > 0:
            raise
    return sqlite3.connect(uri + "&immutable=1", uri=True, isolation_level=None,
                           check_same_thread=check_same_thread)


def connect(db_path: str, *, check_same_thread: bool = True, readonly: bool = False) -> sqlite3.Connection:
    """Open (creating or upgrading if needed) an index with the project's pragmas.

    WAL lets readers (``find``, ``index info``) run while a scan writes; the
    busy timeout makes a second writer wait for a batch instead of failing.
    A file that is not an imgtwin index is refused before anything is written
    to it. ``readonly``: the caller only reads, so an index this user may not
    write is opened read-only instead of failing (it must then be up to date).
    The folder must exist: a mistyped ``--db`` never creates folders.
    """
    folder = os.path.dirname(os.path.abspath(db_path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"no folder {folder} for the index {db_path}")
    read_only = readonly and not _may_write(db_path)
    try:
        if read_only:
            conn = _open_readonly(db_path, check_same_thread)
        else:
            conn = sqlite3.connect(db_path, timeout=30.0, isolation_level=None, check_same_thread=check_same_thread)
    except sqlite3.OperationalError as exc:
        raise IndexVersionError(f"cannot open the index {db_path}: {exc}") from None
    try:
        conn.execute("PRAGMA busy_timeout = 30000")
        version = inspect(conn, db_path)
        if read_only:
            if version != SCHEMA_VERSION:
                raise IndexVersionError(
                    f"{db_path} has index schema version {version} and must be upgraded to {SCHEMA_VERSION}, "
                    "which needs write access to it: run imgtwin once as a user who may write it"
                )
        else:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            ensure_schema(conn, db_path)
    except sqlite3.DatabaseError as exc:
        conn.close()
        if isinstance(exc, sqlite3.OperationalError):  # locked, read-only, disk full...
            raise
        if "not a database" in str(exc):
            raise IndexVersionError(f"{db_path} is not an imgtwin index (not a SQLite database)") from None
        raise damaged(db_path, exc) from None
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
        path_key(meta.path),
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
        result.signals,
        result.signals_spec,
        result.answered_by,
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
            store_pictures(self._conn, picture_rows(results))

    def finalize(self) -> None:
        self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self._conn.close()


def read_rows(db_path: str) -> Iterator[dict[str, Any]]:
    """Every row of an index as a dict, in path order, paths as ``str`` (for tools and tests)."""
    conn = connect(db_path, readonly=True)
    conn.row_factory = sqlite3.Row
    try:
        for row in conn.execute("SELECT * FROM files ORDER BY path"):
            yield {**dict(row), "path": key_path(row["path"])}
    finally:
        conn.close()
