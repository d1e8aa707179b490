"""Reading and maintaining the index: lookups for rescans, roots, vanished files.

The write side of a scan is ``SqliteHashPersistence``; this is everything else
that touches the same file: what a rescan may reuse, which files are gone,
what ``imgtwin index info`` shows and what ``prune`` removes.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from imgtwin.persistence.sqlite import SCHEMA_VERSION, connect, write_transaction


@dataclass(frozen=True, slots=True)
class RootInfo:
    path: str
    last_scan_at: float
    complete: bool


@dataclass(frozen=True, slots=True)
class IndexInfo:
    path: str
    schema_version: int
    files: int
    hashed: int
    errors: int
    vanished: int
    image_bytes: int
    index_bytes: int
    roots: tuple[RootInfo, ...]


def under_root_clause(roots: Sequence[str]) -> tuple[str, list[str]]:
    """SQL matching paths equal to or inside any root, using the primary key's order."""
    clauses, params = [], []
    for root in roots:
        prefix = root if root.endswith(os.sep) else root + os.sep
        # Every path below ``prefix`` sorts between it and the prefix with its
        # last separator bumped to the next character ('/' + 1 == '0').
        clauses.append("(path = ? OR (path >= ? AND path < ?))")
        params += [root.rstrip(os.sep) or os.sep, prefix, prefix[:-1] + chr(ord(os.sep) + 1)]
    return "(" + " OR ".join(clauses) + ")", params


class HashIndex:
    """A connection to an index with the queries the rest of imgtwin needs."""

    def __init__(self, db_path: str, *, check_same_thread: bool = True) -> None:
        self.db_path = db_path
        self.conn = connect(db_path, check_same_thread=check_same_thread)
        self.conn.row_factory = sqlite3.Row

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> HashIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def lookup(self, abs_path: str) -> sqlite3.Row | None:
        return self.conn.execute("SELECT * FROM files WHERE path = ?", (abs_path,)).fetchone()

    def same_size(self, size: int) -> list[sqlite3.Row]:
        return self.conn.execute(
            "SELECT * FROM files WHERE size = ? AND content_hash IS NOT NULL AND hash IS NOT NULL", (size,)
        ).fetchall()

    def rows_under(self, roots: Sequence[str], *, include_vanished: bool = False) -> Iterator[sqlite3.Row]:
        """Rows inside any of ``roots`` (absolute), in path order; no roots: every row."""
        where, params = under_root_clause(roots) if roots else ("1", [])
        if not include_vanished:
            where += " AND vanished_at IS NULL"
        yield from self.conn.execute(f"SELECT * FROM files WHERE {where} ORDER BY path", params)

    def mark_vanished(self, roots: Sequence[str], now: float | None = None) -> int:
        """Mark rows under ``roots`` whose file no longer exists; returns how many."""
        gone = [row["path"] for row in self.rows_under(roots) if not os.path.lexists(row["path"])]
        self._in_transaction(
            "UPDATE files SET vanished_at = ? WHERE path = ?", ((now or time.time(), path) for path in gone)
        )
        return len(gone)

    def prune(self) -> int:
        """Delete the rows of vanished files; returns how many."""
        with write_transaction(self.conn):
            return self.conn.execute("DELETE FROM files WHERE vanished_at IS NOT NULL").rowcount

    def record_roots(self, roots: Sequence[str], complete: bool, now: float | None = None) -> None:
        stamp = now or time.time()
        self._in_transaction(
            "INSERT INTO roots (path, first_scan_at, last_scan_at, complete) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(path) DO UPDATE SET last_scan_at = excluded.last_scan_at, complete = excluded.complete",
            ((root, stamp, stamp, int(complete)) for root in roots),
        )

    def info(self) -> IndexInfo:
        files, hashed, errors, vanished, image_bytes = self.conn.execute(
            "SELECT count(*), count(hash), count(error_reason), count(vanished_at), coalesce(sum(size), 0) "
            "FROM files"
        ).fetchone()
        roots = tuple(
            RootInfo(r["path"], r["last_scan_at"], bool(r["complete"]))
            for r in self.conn.execute("SELECT * FROM roots ORDER BY path")
        )
        index_bytes = sum(
            os.path.getsize(self.db_path + suffix)
            for suffix in ("", "-wal")
            if os.path.exists(self.db_path + suffix)
        )
        return IndexInfo(self.db_path, SCHEMA_VERSION, files, hashed, errors, vanished, image_bytes, index_bytes, roots)

    def _in_transaction(self, sql: str, rows: Iterable[tuple[object, ...]]) -> None:
        with write_transaction(self.conn):
            self.conn.executemany(sql, rows)
