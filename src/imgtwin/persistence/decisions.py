"""Remembered "not duplicates" decisions: pairs of contents a person said are different pictures.

A decision is kept as pairs of content hashes (``hashing.content``), not of
paths: a file moved, renamed or copied keeps its bytes and so the decision; a
file whose bytes change is a new content, compared again. Marking a group
stores every pair of its members (the group splits completely); marking one
member stores its pairs with the others (they stay together). A pair of equal
hashes says that byte copies of that content are not to be grouped either.
Pairs recorded under another content hash definition are ignored, never misread.
"""

from __future__ import annotations

import itertools
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from imgtwin.hashing.content import CONTENT_HASH_ALGORITHM
from imgtwin.persistence.keys import key_path
from imgtwin.persistence.schema import has_table
from imgtwin.persistence.sqlite import write_transaction

#: A pair of content hashes, smaller first (``pair``).
Pair = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Decision:
    """One remembered pair, with the live indexed files that hold each content now (for people to read)."""

    hash_a: str
    hash_b: str
    decided_at: float
    paths_a: tuple[str, ...] = ()
    paths_b: tuple[str, ...] = ()

    @property
    def pair(self) -> Pair:
        return self.hash_a, self.hash_b


def pair(a: str, b: str) -> Pair:
    """The stored order of two content hashes."""
    return (a, b) if a <= b else (b, a)


def pairs_among(hashes: Sequence[str], only: Sequence[str] = ()) -> set[Pair]:
    """The pairs marking ``hashes`` as not duplicates of each other, or, with ``only``, those that set ``only``'s
    contents apart from the rest (which stay duplicates of each other)."""
    if not only:
        return {pair(a, b) for a, b in itertools.combinations(hashes, 2)}
    return {pair(a, b) for a in only for b in hashes if a != b or hashes.count(a) > 1}


def apart_pairs(conn: sqlite3.Connection) -> frozenset[Pair]:
    """Every pair decided under the current content hash definition (none in an index that predates them)."""
    if not has_table(conn, "not_duplicates"):
        return frozenset()
    rows = conn.execute("SELECT hash_a, hash_b FROM not_duplicates WHERE algorithm = ?", (CONTENT_HASH_ALGORITHM,))
    return frozenset((str(a), str(b)) for a, b in rows)


def record(conn: sqlite3.Connection, pairs: Iterable[Pair], now: float | None = None) -> int:
    """Store ``pairs`` (each ``pair``-ordered), decided now; returns how many were new. One transaction."""
    stamp = now if now is not None else time.time()
    return restore(conn, (Decision(a, b, stamp) for a, b in pairs))


def restore(conn: sqlite3.Connection, entries: Iterable[Decision]) -> int:
    """Store decisions with their own dates (an export read back); returns how many were new. One transaction."""
    with write_transaction(conn):
        before = conn.total_changes
        conn.executemany(
            "INSERT OR IGNORE INTO not_duplicates (hash_a, hash_b, algorithm, decided_at) VALUES (?, ?, ?, ?)",
            ((*pair(d.hash_a, d.hash_b), CONTENT_HASH_ALGORITHM, d.decided_at) for d in entries),
        )
        return conn.total_changes - before


def forget(conn: sqlite3.Connection, pairs: Iterable[Pair] | None) -> int:
    """Delete ``pairs`` (None: every decision); returns how many were there."""
    if not has_table(conn, "not_duplicates"):
        return 0
    with write_transaction(conn):
        before = conn.total_changes
        if pairs is None:
            conn.execute("DELETE FROM not_duplicates")
        else:
            conn.executemany("DELETE FROM not_duplicates WHERE hash_a = ? AND hash_b = ? AND algorithm = ?",
                             ((a, b, CONTENT_HASH_ALGORITHM) for a, b in pairs))
        return conn.total_changes - before


def decisions(conn: sqlite3.Connection) -> list[Decision]:
    """Every decision, oldest first, with the live files of the index that hold each content."""
    if not has_table(conn, "not_duplicates"):
        return []
    rows = conn.execute("SELECT hash_a, hash_b, decided_at FROM not_duplicates WHERE algorithm = ? "
                        "ORDER BY decided_at, hash_a, hash_b", (CONTENT_HASH_ALGORITHM,)).fetchall()
    paths: dict[str, tuple[str, ...]] = {}

    def holding(digest: str) -> tuple[str, ...]:
        if digest not in paths:  # files_hashed_content: one index probe per content
            found = conn.execute("SELECT path FROM files WHERE content_hash = ? AND hash IS NOT NULL "
                                 "AND vanished_at IS NULL ORDER BY path", (digest,))
            paths[digest] = tuple(key_path(r[0]) for r in found)
        return paths[digest]

    return [Decision(a, b, float(t), holding(a), holding(b)) for a, b, t in rows]
