"""The ``framed_pictures`` table: each scanned content's framed picture (``hashing.framed``), by spec.

Kept beside ``files`` rather than in its features (issue 24): an index made by
an imgtwin without it stays readable by both, and a file is *checked* when its
content has a row of the current spec, so an older index's files are decoded
again on the next scan (``processing.incremental``) instead of being read as
unframed.  A row's data is empty for a file checked and found unframed (most
files; about 80 bytes each), else the record.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence

from imgtwin.persistence.schema import has_table
from imgtwin.records import FileResult, FileStatus


def picture_rows(results: Iterable[FileResult]) -> list[tuple[str, str, bytes]]:
    """``(content_hash, spec, data)`` of the decoded results that looked for a framed picture."""
    return [(r.metadata.content_hash, r.picture_spec, r.picture) for r in results
            if r.status is FileStatus.HASHED and r.picture is not None and r.picture_spec and r.metadata.content_hash]


def store_pictures(conn: sqlite3.Connection, rows: Sequence[tuple[str, str, bytes]]) -> None:
    """Writes ``rows`` in the caller's transaction, replacing those with the same key."""
    if rows:
        conn.executemany("INSERT OR REPLACE INTO framed_pictures (content_hash, spec, data) VALUES (?, ?, ?)", rows)


def has_picture(conn: sqlite3.Connection, content_hash: str, spec: str) -> bool:
    """Whether the content was checked for a framed picture of ``spec`` (an old index has no table: no)."""
    try:
        row = conn.execute("SELECT 1 FROM framed_pictures WHERE content_hash = ? AND spec = ?",
                           (content_hash, spec)).fetchone()
    except sqlite3.OperationalError:
        if has_table(conn, "framed_pictures"):
            raise
        return False
    return row is not None


def framed_records(conn: sqlite3.Connection, spec: str) -> dict[str, bytes]:
    """Every non-empty record of ``spec`` by content hash: a few percent of an index's contents, read in one pass
    rather than asked for by the content hash of each of a million files."""
    if not has_table(conn, "framed_pictures"):
        return {}
    rows = conn.execute("SELECT content_hash, data FROM framed_pictures WHERE spec = ? AND length(data) > 0", (spec,))
    return {r[0]: bytes(r[1]) for r in rows}
