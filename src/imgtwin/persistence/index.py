"""Reading and maintaining the index: lookups for rescans, roots, vanished files.

The write side of a scan is ``SqliteHashPersistence``; this is everything else
that touches the same file: what a rescan may reuse, which files are gone,
what ``imgtwin index info`` shows and what ``prune`` removes. Every method
takes and returns paths as ``str`` (see ``persistence.keys``); rows keep the
raw key in ``row["path"]``, turned back into a path by ``row_path``.
Every per-file lookup is one indexed query, whatever the collection holds.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Self

from imgtwin.persistence.keys import key_path, path_key, under_root_clause
from imgtwin.persistence.schema import has_table
from imgtwin.persistence.sqlite import SCHEMA_VERSION, check_pages, connect, write_transaction
from imgtwin.records import IndexedFile

#: What a query on a damaged, locked or foreign index raises: callers outside persistence catch this name.
IndexReadError = sqlite3.Error

#: The columns of ``files`` an ``IndexedFile`` holds (``scanned_at`` is the index's own bookkeeping).
_FIELDS = ("path, size, mtime_ns, dev, inode, ctime_ns, content_hash, width, height, format, decode, loader, hash, "
           "hash_spec, features, features_spec, signals, signals_spec, answered_by, error_reason, error_message, "
           "vanished_at")
#: The same without the blobs (KBs a row): for readers that do not match pictures.
_FIELDS_NO_BLOBS = _FIELDS.replace("features, ", "NULL, ").replace("signals, ", "NULL, ")
#: What ``HashIndex.match_rows`` reads of a row, in the order of ``MatchRow``.
_MATCH_FIELDS = ("files.rowid, path, size, dev, content_hash, decode, hash_spec, features_spec, features, "
                 "error_reason, error_message, hypotheses.data")
# (row id, path key, size, dev, content hash, decode, hash spec, features spec, features, error reason, message,
# stored hypothesis hashes)
MatchRow = tuple[int, bytes, int, "int | None", "str | None", "str | None", "str | None", "str | None",
                 "bytes | None", "str | None", "str | None", "bytes | None"]
#: Row ids per query of ``files_by_id`` (SQLite's limit on parameters is 32,766; old builds: 999).
_ID_BATCH = 900


class IndexChangedError(RuntimeError):
    """A row read by its id (``HashIndex.files_by_id``) is gone or no longer what was read before: another
    process pruned or rescanned the index meanwhile; what was built on the first read would mix two states."""


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


@dataclass(frozen=True, slots=True)
class FailedFile:
    """A file the index records as unreadable (what ``imgtwin errors`` and ``Index.errors`` list).

    A listing of ``IndexedFile``'s error fields, read from the errors' own
    index without the rows' blobs; kept as the public API's shape.
    """

    path: str
    reason: str
    message: str
    size: int
    mtime_ns: int


def row_path(row: sqlite3.Row) -> str:
    """The path of an index row."""
    return key_path(row["path"])


def indexed_file(row: sqlite3.Row | tuple[Any, ...]) -> IndexedFile:
    """The record of a row selected with ``_FIELDS`` (or ``_FIELDS_NO_BLOBS``): the only place one is built."""
    (path, size, mtime_ns, dev, inode, ctime_ns, content_hash, width, height, fmt, decode, loader, hash_hex, hash_spec,
     features, features_spec, signals, signals_spec, answered_by, error_reason, error_message, vanished_at) = row
    return IndexedFile(key_path(path), size, mtime_ns, dev, inode, ctime_ns, content_hash, width, height, fmt, decode,
                       loader, hash_hex, hash_spec, features, features_spec, signals, signals_spec, answered_by,
                       error_reason, error_message, vanished_at is not None)


def is_gone(path: str) -> bool:
    """True only when the file is known not to exist; a path that cannot be looked at is not gone."""
    try:
        os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return True
    except OSError:
        return False  # permission denied on a folder above it, I/O error...: unknown, so kept
    return False


class HashIndex:
    """A connection to an index with the queries the rest of imgtwin needs.

    ``readonly``: for commands that only read; an index this user may not
    write is then opened read-only instead of refused.
    """

    def __init__(self, db_path: str, *, check_same_thread: bool = True, readonly: bool = False) -> None:
        self.db_path = db_path
        self.conn = connect(db_path, check_same_thread=check_same_thread, readonly=readonly)
        self.conn.row_factory = sqlite3.Row

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def lookup(self, path: str) -> IndexedFile | None:
        """The record of ``path`` (found gone or not), or None."""
        row = self.conn.execute(f"SELECT {_FIELDS} FROM files WHERE path = ?", (path_key(path),)).fetchone()
        return indexed_file(row) if row is not None else None

    def is_empty(self) -> bool:
        """Whether the index holds no file at all (found gone or not)."""
        return self.conn.execute("SELECT 1 FROM files LIMIT 1").fetchone() is None

    def lookup_many(self, paths: Sequence[str]) -> dict[str, IndexedFile]:
        """``lookup`` of each path (at most ``_ID_BATCH``) in one query: the records found, by path."""
        marks = ", ".join("?" * len(paths))
        rows = self.conn.execute(f"SELECT {_FIELDS} FROM files WHERE path IN ({marks})", [path_key(p) for p in paths])
        keys = {path_key(p): p for p in paths}
        return {keys[row[0]]: indexed_file(row) for row in rows}

    def hashed_sizes(self, sizes: Iterable[int]) -> set[int]:
        """Which of ``sizes`` some hashed file has (a new file of such a size may be a twin): one query, one
        index probe per size however many files share it."""
        asked = sorted(set(sizes))
        if not asked:
            return set()
        values = ", ".join(["(?)"] * len(asked))
        rows = self.conn.execute(
            f"WITH asked(size) AS (VALUES {values}) SELECT size FROM asked WHERE EXISTS (SELECT 1 FROM files "
            "INDEXED BY files_hashed_size WHERE files.size = asked.size AND hash IS NOT NULL "
            "AND content_hash IS NOT NULL)", asked)
        return {int(row[0]) for row in rows}

    def twins(self, content_hashes: Iterable[str]) -> dict[str, IndexedFile]:
        """For each content hash, the most recently hashed file with these bytes, if any: one query, one index
        probe per hash however many copies it has."""
        asked = sorted(set(content_hashes))
        if not asked:
            return {}
        values = ", ".join(["(?)"] * len(asked))
        rows = self.conn.execute(
            f"WITH asked(digest) AS (VALUES {values}) SELECT {_FIELDS} FROM files WHERE rowid IN "
            "(SELECT (SELECT rowid FROM files INDEXED BY files_hashed_content WHERE content_hash = asked.digest "
            "AND hash IS NOT NULL ORDER BY scanned_at DESC LIMIT 1) FROM asked)", asked)
        return {found.content_hash: found for found in map(indexed_file, rows) if found.content_hash}

    def rows_under(self, roots: Sequence[str], *, include_vanished: bool = False,
                   columns: str = "*") -> Iterator[sqlite3.Row]:  # fmt: skip
        """Rows inside any of ``roots``, in path order; no roots: every row."""
        where, params = under_root_clause(roots) if roots else ("1", [])
        if not include_vanished:
            where += " AND vanished_at IS NULL"
        yield from self.conn.execute(f"SELECT {columns} FROM files WHERE {where} ORDER BY path", params)

    def count_under(self, roots: Sequence[str]) -> int:
        """How many rows ``files_under(roots)`` yields."""
        where, params = under_root_clause(roots) if roots else ("1", [])
        row = self.conn.execute(f"SELECT COUNT(*) FROM files WHERE {where} AND vanished_at IS NULL", params).fetchone()
        return int(row[0])

    def files_under(self, roots: Sequence[str], *, blobs: bool = True) -> Iterator[IndexedFile]:
        """The files inside any of ``roots`` (no roots: all) not found gone, in path order.

        ``blobs=False`` leaves ``features`` and ``signals`` out (None): a row holds KBs of them.
        """
        for row in self.rows_under(roots, columns=_FIELDS if blobs else _FIELDS_NO_BLOBS):
            yield indexed_file(row)

    def match_rows(self, roots: Sequence[str]) -> Iterator[MatchRow]:
        """The live rows under ``roots`` (all: none given) in path order, as the few fields ``find`` loads of
        each (plain tuples: a record per file costs more than the rest of reading it), with each row's id,
        by which ``files_by_id`` reads the whole record again for the few files it groups."""
        where, params = under_root_clause(roots) if roots else ("1", [])
        cursor = self.conn.cursor()
        cursor.row_factory = None
        if has_table(self.conn, "hypotheses"):  # not in an index an older imgtwin made, opened read-only
            source, fields = "files LEFT JOIN hypotheses ON hypotheses.id = files.rowid", _MATCH_FIELDS
        else:
            source, fields = "files", _MATCH_FIELDS.replace("hypotheses.data", "NULL")
        yield from cursor.execute(f"SELECT {fields} FROM {source} WHERE {where} AND vanished_at IS NULL "
                                  "ORDER BY path", params)

    def store_hypotheses(self, rows: Iterable[tuple[bytes, int]]) -> bool:
        """Store (hypotheses blob, row id) pairs in one transaction; False when this index cannot be written now
        (read-only, or locked by a scan past the busy timeout): they are derived again by the next find."""
        try:
            self._in_transaction("INSERT OR REPLACE INTO hypotheses (data, id) VALUES (?, ?)", rows)
        except sqlite3.OperationalError:
            return False
        return True

    def files_by_id(self, ids: Sequence[int]) -> list[IndexedFile | None]:
        """The records of these row ids, in their order; None where a row is gone (an index changed meanwhile)."""
        found: dict[int, IndexedFile] = {}
        unique = sorted(set(ids))
        for lo in range(0, len(unique), _ID_BATCH):
            batch = unique[lo : lo + _ID_BATCH]
            marks = ", ".join("?" * len(batch))
            for row in self.conn.execute(f"SELECT rowid, {_FIELDS} FROM files WHERE rowid IN ({marks})", batch):
                found[int(row[0])] = indexed_file(tuple(row)[1:])
        return [found.get(k) for k in ids]

    def failures(self, reason: str | None = None) -> Iterator[FailedFile]:
        """Files that failed (and were not since found gone), in path order; reads only those rows."""
        where, params = "error_reason IS NOT NULL AND vanished_at IS NULL", []
        if reason is not None:
            where, params = where + " AND error_reason = ?", [reason]
        # ``+path``: sort the failed rows found by the files_errors index, rather than walk every row in path order.
        for row in self.conn.execute(
            f"SELECT path, error_reason, error_message, size, mtime_ns FROM files WHERE {where} ORDER BY +path",
            params,
        ):
            yield FailedFile(row_path(row), row["error_reason"], row["error_message"] or "", row["size"],
                             row["mtime_ns"])

    def mark_vanished(self, roots: Sequence[str], now: float | None = None) -> int:
        """Mark rows under ``roots`` whose file no longer exists; returns how many.

        A file that cannot be looked at (a folder above it became unreadable)
        is not gone: its row stays. A folder's own error row (it could not be
        listed) goes once the folder can be listed again.
        """
        gone = []
        for row in self.rows_under(roots, columns="path, error_reason"):
            path = row_path(row)
            if is_gone(path) or (row["error_reason"] is not None and _listable_folder(path)):
                gone.append(row["path"])
        self._in_transaction(
            "UPDATE files SET vanished_at = ? WHERE path = ?", ((now or time.time(), key) for key in gone)
        )
        return len(gone)

    def check(self) -> None:
        """IndexDamagedError if any page of the file is damaged (``check_pages``)."""
        check_pages(self.conn, self.db_path)

    def prune(self) -> int:
        """Delete the rows of vanished files; returns how many."""
        with write_transaction(self.conn):
            pruned = self.conn.execute("DELETE FROM files WHERE vanished_at IS NOT NULL").rowcount
            if has_table(self.conn, "hypotheses"):
                self.conn.execute("DELETE FROM hypotheses WHERE id NOT IN (SELECT rowid FROM files)")
            return int(pruned)

    def record_roots(self, roots: Sequence[str], complete: bool, now: float | None = None) -> None:
        stamp = now or time.time()
        self._in_transaction(
            "INSERT INTO roots (path, first_scan_at, last_scan_at, complete) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(path) DO UPDATE SET last_scan_at = excluded.last_scan_at, complete = excluded.complete",
            ((path_key(root), stamp, stamp, int(complete)) for root in roots),
        )

    def roots(self) -> tuple[RootInfo, ...]:
        return tuple(
            RootInfo(key_path(r["path"]), r["last_scan_at"], bool(r["complete"]))
            for r in self.conn.execute("SELECT * FROM roots ORDER BY path")
        )

    def info(self) -> IndexInfo:
        """The index's totals, each from a small index rather than the rows (a row holds KBs of features)."""

        def one(sql: str) -> Any:
            return self.conn.execute(sql).fetchone()

        files, image_bytes = one("SELECT count(*), coalesce(sum(size), 0) FROM files")  # files_all_sizes
        (hashed,) = one("SELECT count(*) FROM files WHERE hash IS NOT NULL")  # files_hashed_content
        (errors,) = one("SELECT count(*) FROM files WHERE error_reason IS NOT NULL")  # files_errors
        (vanished,) = one("SELECT count(*) FROM files WHERE vanished_at IS NOT NULL")  # files_vanished
        index_bytes = sum(
            os.path.getsize(self.db_path + suffix)
            for suffix in ("", "-wal")
            if os.path.exists(self.db_path + suffix)
        )
        return IndexInfo(self.db_path, SCHEMA_VERSION, files, hashed, errors, vanished, image_bytes, index_bytes,
                         self.roots())

    def upscale_verdicts(self, pairs: Iterable[tuple[str, str]], spec: str) -> dict[tuple[str, str], float | None]:
        """Stored upscale checks (``matching.resolution``) of (large, small) content hash pairs."""
        if not has_table(self.conn, "upscale_checks"):
            return {}
        found: dict[tuple[str, str], float | None] = {}
        for large, small in pairs:
            row = self.conn.execute(
                "SELECT ratio FROM upscale_checks WHERE large_hash = ? AND small_hash = ? AND spec = ?",
                (large, small, spec),
            ).fetchone()
            if row is not None:
                found[(large, small)] = row["ratio"]
        return found

    def store_upscale_verdicts(self, verdicts: Iterable[tuple[str, str, float | None]], spec: str) -> None:
        self._in_transaction(
            "INSERT OR REPLACE INTO upscale_checks (large_hash, small_hash, spec, ratio) VALUES (?, ?, ?, ?)",
            ((large, small, spec, ratio) for large, small, ratio in verdicts),
        )

    def _in_transaction(self, sql: str, rows: Iterable[tuple[object, ...]]) -> None:
        with write_transaction(self.conn):
            self.conn.executemany(sql, rows)


def _listable_folder(path: str) -> bool:
    if not os.path.isdir(path):
        return False
    try:
        with os.scandir(path):
            return True
    except OSError:
        return False
