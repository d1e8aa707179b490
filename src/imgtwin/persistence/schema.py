"""The index's SQLite schema, its version, and forward migrations.

The version lives in ``PRAGMA user_version``. Opening an index upgrades an
older schema in one transaction, or refuses one that is newer than this code
understands, or a file that is not an imgtwin index: never a silent misread,
and a refused file is left exactly as it was (see ``inspect``).

Paths are stored as the bytes of the file's name (``os.fsencode`` of the
absolute path), so every name a file system can hold has exactly one row:
``caf\\xe9.jpg`` (Latin-1 bytes) and a file literally named ``caf\\\\xe9.jpg``
are two rows. Text for people and documents is made only when printing or
exporting (``persistence.rows.text_path``).
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Callable

SCHEMA_VERSION = 3

FILES_V3 = """
CREATE TABLE files (
    path          BLOB PRIMARY KEY,   -- absolute path: the name's bytes (os.fsencode), whatever the encoding
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
    hash_spec     TEXT,               -- algorithm and parameters, e.g. dct-64-32px-lanczos-v2
    features      BLOB,               -- matching features (trimmed hash, thumbnails), see hashing/features.py
    features_spec TEXT,               -- their definition, e.g. features-v3-...
    signals       BLOB,               -- what the keeper is chosen by (quality, colour depth, camera data),
    signals_spec  TEXT,               -- see hashing/signals.py, and its definition
    answered_by   TEXT,               -- NULL: decoded; 'content': taken from a file with the same bytes
    error_reason  TEXT,               -- stable reason code; NULL when hashed
    error_message TEXT,
    scanned_at    REAL NOT NULL,      -- when this row was written, seconds since the epoch
    vanished_at   REAL                -- set when a later scan found the file gone; NULL while it exists
)
"""

ROOTS_V3 = """
CREATE TABLE roots (
    path           BLOB PRIMARY KEY,  -- absolute path (name bytes) of a folder or file given to scan
    first_scan_at  REAL NOT NULL,
    last_scan_at   REAL NOT NULL,
    complete       INTEGER NOT NULL   -- 1 if the last scan of this root ran to the end
)
"""

INDEXES_V3 = (
    # Partial indexes, so that no lookup walks rows it cannot use (100,000
    # same-size files must not make each lookup cost 100,000 steps).
    # "Is any hashed file this size?": whether a new file's bytes are worth hashing to look for a twin.
    "CREATE INDEX files_hashed_size ON files (size) WHERE hash IS NOT NULL AND content_hash IS NOT NULL",
    # "Which hashed file has these bytes?": moved files and byte copies answered without decoding.
    "CREATE INDEX files_hashed_content ON files (content_hash, scanned_at) WHERE hash IS NOT NULL",
    # `imgtwin errors` reads only the failed rows.
    "CREATE INDEX files_errors ON files (error_reason) WHERE error_reason IS NOT NULL",
)

# The columns every imgtwin index (any version) has: a file with a ``files``
# table lacking them is some other program's database, whatever its user_version.
_CORE_COLUMNS = frozenset({"path", "size", "mtime_ns", "hash", "hash_spec", "error_reason", "scanned_at"})
_COLUMNS_BY_VERSION = {
    1: _CORE_COLUMNS,
    2: _CORE_COLUMNS | {"inode", "content_hash", "features", "vanished_at"},
    3: _CORE_COLUMNS | {"inode", "content_hash", "features", "vanished_at", "signals", "answered_by"},
}


# Tables beside ``files`` that hold what is computed from a file's bytes alone, keyed by its content
# hash (byte copies share a row; a moved or renamed file keeps its entry): made when missing, in any
# schema version, since they are additions.
AUXILIARY_TABLES = (
    # `index info` counts files, bytes and vanished files from these small b-trees, not the rows
    # (a row holds KBs of features, so reading the rows means reading the whole file).
    "CREATE INDEX IF NOT EXISTS files_all_sizes ON files (size)",
    "CREATE INDEX IF NOT EXISTS files_vanished ON files (vanished_at) WHERE vanished_at IS NOT NULL",
    # Local features for ``find --deep`` (hashing/local.py).
    """CREATE TABLE IF NOT EXISTS local_features (
        content_hash  TEXT NOT NULL,      -- xxh3-128 of the bytes, hex (files.content_hash)
        spec          TEXT NOT NULL,      -- their definition, e.g. local-v3-orb384x16-360px
        data          BLOB NOT NULL,      -- keypoints and descriptors, see hashing/local.py
        PRIMARY KEY (content_hash, spec)
    ) WITHOUT ROWID""",
    # The picture inside each scanned content's frame, or none (hashing/framed.py, persistence/pictures.py).
    """CREATE TABLE IF NOT EXISTS framed_pictures (
        content_hash  TEXT NOT NULL,      -- xxh3-128 of the bytes, hex (files.content_hash)
        spec          TEXT NOT NULL,      -- the record's definition (hashing/framed.py PICTURE_SPEC)
        data          BLOB NOT NULL,      -- empty: checked, no frame; else hashing.framed.FramedPicture bytes
        PRIMARY KEY (content_hash, spec)
    ) WITHOUT ROWID""",
    # The hashes ``find`` searches beside the pHash (turned, cropped, straightened, cut: matching/hashtable.py),
    # derived once from a row's thumbnails by the first find that reads it. ``id``: the files row's rowid; a
    # row rewritten or replaced since fails the check the data starts with (its features' CRC), so it is
    # derived again, whichever imgtwin rewrote it.
    """CREATE TABLE IF NOT EXISTS hypotheses (
        id    INTEGER PRIMARY KEY,  -- files.rowid
        data  BLOB NOT NULL         -- a 4-byte check, then 90 uint64 hashes (matching/hashtable.py)
    )""",
    # The keeper's upscale checks (matching/resolution.py).
    """CREATE TABLE IF NOT EXISTS upscale_checks (
        large_hash  TEXT NOT NULL,   -- content hashes of the two files compared (matching/resolution.py)
        small_hash  TEXT NOT NULL,
        spec        TEXT NOT NULL,   -- the check's definition
        ratio       REAL,            -- e_up / e_down; NULL: could not be told
        PRIMARY KEY (large_hash, small_hash, spec)
    ) WITHOUT ROWID""",
    # Pairs a person said are not duplicates (persistence/decisions.py): keyed by content, so a moved,
    # renamed or copied file keeps the decision and a changed file (new bytes) is compared again.
    """CREATE TABLE IF NOT EXISTS not_duplicates (
        hash_a      TEXT NOT NULL,   -- content hashes of the two files, hash_a <= hash_b (equal: copies of
        hash_b      TEXT NOT NULL,   -- these bytes are not duplicates of each other)
        algorithm   TEXT NOT NULL,   -- the content hash's definition (hashing/content.py), e.g. xxh3-128
        decided_at  REAL NOT NULL,   -- seconds since the epoch
        PRIMARY KEY (hash_a, hash_b, algorithm)
    ) WITHOUT ROWID""",
    # Keepers a person chose in the review app (persistence/review_choices.py), keyed by content: the chosen
    # content over each other content of its group, so a moved file keeps the choice and a changed one drops it.
    """CREATE TABLE IF NOT EXISTS chosen_keepers (
        keeper_hash  TEXT NOT NULL,  -- content hash of the file chosen to keep
        other_hash   TEXT NOT NULL,  -- a content it was chosen over (keeper_hash itself: the row naming the copy)
        algorithm    TEXT NOT NULL,  -- the content hash's definition (hashing/content.py)
        keeper_path  BLOB NOT NULL,  -- the chosen file's path key: which of byte copies
        decided_at   REAL NOT NULL,
        PRIMARY KEY (keeper_hash, other_hash, algorithm)
    ) WITHOUT ROWID""",
    # Files a person unticked in the review app: never acted on from it (persistence/review_choices.py).
    """CREATE TABLE IF NOT EXISTS excluded_files (
        content_hash TEXT NOT NULL,
        path         BLOB NOT NULL,  -- the path key when unticked: which of byte copies
        algorithm    TEXT NOT NULL,
        decided_at   REAL NOT NULL,
        PRIMARY KEY (content_hash, path, algorithm)
    ) WITHOUT ROWID""",
)


class IndexVersionError(RuntimeError):
    """The file is not an index this imgtwin can read."""


def has_table(conn: sqlite3.Connection, name: str) -> bool:
    """Whether the index has table ``name``: the tables made on first open are missing from an index an older
    imgtwin made, or one this user may only read."""
    row = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone()
    return row is not None


def inspect(conn: sqlite3.Connection, db_path: str) -> int:
    """The index's schema version (0: a new, empty file); raises if it is not ours.

    Reads only: a refused file is never changed (not even switched to WAL).
    """
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if version > SCHEMA_VERSION:
        raise IndexVersionError(
            f"{db_path} has index schema version {version}, newer than this imgtwin understands "
            f"({SCHEMA_VERSION}); upgrade imgtwin or use another --db"
        )
    if version == 0 and not tables:
        return 0
    foreign = IndexVersionError(f"{db_path} is a SQLite file but not an imgtwin index; use another --db")
    if version == 0 or "files" not in tables or (version >= 2 and "roots" not in tables):
        raise foreign
    columns = {row[1] for row in conn.execute("PRAGMA table_info(files)")}
    if not _COLUMNS_BY_VERSION[version] <= columns:
        raise foreign
    return int(version)


def _create(conn: sqlite3.Connection) -> None:
    conn.execute(FILES_V3)
    conn.execute(ROOTS_V3)
    for statement in (*INDEXES_V3, *AUXILIARY_TABLES):
        conn.execute(statement)


def _v1_to_v2(conn: sqlite3.Connection) -> None:
    """v1 had no device/inode/ctime, content hash, matching features, vanished marks or roots.

    Migrated rows get NULL inodes, so the next scan reads each file once more
    (a changed file could otherwise hide behind an unchanged size and mtime).
    """
    for column in ("dev INTEGER", "inode INTEGER", "ctime_ns INTEGER", "content_hash TEXT", "features BLOB",
                   "features_spec TEXT", "vanished_at REAL"):
        conn.execute(f"ALTER TABLE files ADD COLUMN {column}")
    conn.execute("CREATE TABLE roots (path TEXT PRIMARY KEY, first_scan_at REAL NOT NULL, "
                 "last_scan_at REAL NOT NULL, complete INTEGER NOT NULL)")
    conn.execute("CREATE INDEX files_size ON files (size)")
    conn.execute("CREATE INDEX files_content_hash ON files (content_hash)")


_ESCAPE = re.compile(rb"\\x([0-9a-f]{2})")


def v2_key(text: str) -> bytes:
    """The name bytes a v2 row's text path stood for.

    v2 stored names that are not UTF-8 with backslash escapes (``caf\\xe9.jpg``),
    which a file literally named so could not be told from. The literal reading
    wins when such a file exists; else the escapes are undone when that names a
    file that exists; a row matching neither stays literal (the next scan marks
    it vanished and finds the real file again).
    """
    literal = text.encode("utf-8", "surrogateescape")
    if b"\\x" not in literal or os.path.lexists(literal):
        return literal
    unescaped = _ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), literal)
    return unescaped if os.path.lexists(unescaped) else literal


def _v2_to_v3(conn: sqlite3.Connection) -> None:
    """v3 keys rows by the name's bytes and adds the keeper signals and ``answered_by``."""
    conn.create_function("imgtwin_v2_key", 1, v2_key)
    kept = ("size, mtime_ns, dev, inode, ctime_ns, content_hash, width, height, format, decode, loader, hash, "
            "hash_spec, features, features_spec, error_reason, error_message, scanned_at, vanished_at")
    conn.execute("ALTER TABLE files RENAME TO files_v2")
    conn.execute("ALTER TABLE roots RENAME TO roots_v2")
    conn.execute("DROP INDEX IF EXISTS files_size")
    conn.execute("DROP INDEX IF EXISTS files_content_hash")
    _create(conn)
    conn.execute(f"INSERT OR IGNORE INTO files (path, {kept}) SELECT imgtwin_v2_key(path), {kept} FROM files_v2")
    conn.execute("INSERT OR IGNORE INTO roots SELECT imgtwin_v2_key(path), first_scan_at, last_scan_at, complete "
                 "FROM roots_v2")
    conn.execute("DROP TABLE files_v2")
    conn.execute("DROP TABLE roots_v2")


# MIGRATIONS[n] upgrades a version-n schema to version n + 1.
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {1: _v1_to_v2, 2: _v2_to_v3}


def ensure_schema(conn: sqlite3.Connection, db_path: str) -> None:
    """Create or upgrade, inside one write transaction (call ``inspect`` first)."""
    if conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
        for statement in AUXILIARY_TABLES:
            conn.execute(statement)
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = inspect(conn, db_path)  # again, now that we hold the lock
        if version == 0:
            _create(conn)
        else:
            for step in range(version, SCHEMA_VERSION):
                MIGRATIONS[step](conn)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        for statement in AUXILIARY_TABLES:
            conn.execute(statement)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
