"""The index's SQLite schema, its version, and forward migrations.

The version lives in ``PRAGMA user_version``. Opening an index upgrades an
older schema in one transaction, or refuses one that is newer than this code
understands, or a file that is not an imgtwin index: never a silent misread.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

SCHEMA_VERSION = 2

FILES_V2 = """
CREATE TABLE files (
    path          TEXT PRIMARY KEY,   -- absolute path
    size          INTEGER NOT NULL,   -- bytes
    mtime_ns      INTEGER NOT NULL,   -- modification time, nanoseconds since the epoch
    dev           INTEGER,            -- st_dev, st_ino and st_ctime when hashed: a replaced or
    inode         INTEGER,            -- rewritten file differs in one of them even if its
    ctime_ns      INTEGER,            -- size and mtime were put back
    content_hash  TEXT,               -- xxh3-128 of the bytes, hex
    width         INTEGER,            -- displayed size, after EXIF orientation
    height        INTEGER,
    format        TEXT,               -- Pillow format name, e.g. JPEG
    decode        TEXT,               -- how pixels were read, e.g. jpeg-draft-1/8 or full
    loader        TEXT,               -- loader and its settings, e.g. pillow-L-max512-draft64-v2
    hash          TEXT,               -- perceptual hash, lower-case hex; NULL on error
    hash_spec     TEXT,               -- algorithm and parameters, e.g. dct-64-32px-lanczos-v1
    features      BLOB,               -- matching features (trimmed hash, thumbnails), see hashing/features.py
    features_spec TEXT,               -- their definition, e.g. features-v2-...
    error_reason  TEXT,               -- stable reason code; NULL when hashed
    error_message TEXT,
    scanned_at    REAL NOT NULL,      -- when this row was written, seconds since the epoch
    vanished_at   REAL                -- set when a later scan found the file gone; NULL while it exists
)
"""

ROOTS_V2 = """
CREATE TABLE roots (
    path           TEXT PRIMARY KEY,  -- absolute path of a folder or file given to scan
    first_scan_at  REAL NOT NULL,
    last_scan_at   REAL NOT NULL,
    complete       INTEGER NOT NULL   -- 1 if the last scan of this root ran to the end
)
"""

INDEXES_V2 = (
    "CREATE INDEX files_size ON files (size)",
    "CREATE INDEX files_content_hash ON files (content_hash)",
)


# Local features for ``find --deep`` (hashing/local.py): they depend only on a
# file's bytes and their spec, so they are keyed by content hash, not by path
# (byte copies share one row; a moved or renamed file keeps its features).
# Created when missing, in any schema version: the table is an addition.
LOCAL_FEATURES = """
CREATE TABLE IF NOT EXISTS local_features (
    content_hash  TEXT NOT NULL,      -- xxh3-128 of the bytes, hex (files.content_hash)
    spec          TEXT NOT NULL,      -- their definition, e.g. local-v1-orb224-640px
    data          BLOB NOT NULL,      -- keypoints and descriptors, see hashing/local.py
    PRIMARY KEY (content_hash, spec)
) WITHOUT ROWID
"""


def ensure_local_features(conn: sqlite3.Connection) -> None:
    """The ``local_features`` table, created if this index has none yet."""
    conn.execute(LOCAL_FEATURES)


class IndexVersionError(RuntimeError):
    """The file is not an index this imgtwin can read."""


def _create(conn: sqlite3.Connection) -> None:
    conn.execute(FILES_V2)
    conn.execute(ROOTS_V2)
    for statement in INDEXES_V2:
        conn.execute(statement)


def _v1_to_v2(conn: sqlite3.Connection) -> None:
    """v1 had no device/inode/ctime, content hash, matching features, vanished marks or roots.

    Migrated rows get NULL inodes, so the next scan reads each file once more
    (a changed file could otherwise hide behind an unchanged size and mtime).
    """
    for column in ("dev INTEGER", "inode INTEGER", "ctime_ns INTEGER", "content_hash TEXT", "features BLOB",
                   "features_spec TEXT", "vanished_at REAL"):
        conn.execute(f"ALTER TABLE files ADD COLUMN {column}")
    conn.execute(ROOTS_V2)
    for statement in INDEXES_V2:
        conn.execute(statement)


# MIGRATIONS[n] upgrades a version-n schema to version n + 1.
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {1: _v1_to_v2}


def ensure_schema(conn: sqlite3.Connection, db_path: str) -> None:
    """Create, upgrade, or refuse; all inside one write transaction."""
    if conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
        ensure_local_features(conn)
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]  # again, now that we hold the lock
        tables = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise IndexVersionError(
                f"{db_path} has index schema version {version}, newer than this imgtwin understands "
                f"({SCHEMA_VERSION}); upgrade imgtwin or use another --db"
            )
        if version == 0 and tables:
            raise IndexVersionError(f"{db_path} is a SQLite file but not an imgtwin index; use another --db")
        if version == 0:
            _create(conn)
        else:
            for step in range(version, SCHEMA_VERSION):
                MIGRATIONS[step](conn)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        ensure_local_features(conn)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
