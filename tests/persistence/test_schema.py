"""Schema versions: a v1 index is upgraded in place; newer ones are refused."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from imgtwin.persistence.schema import SCHEMA_VERSION
from imgtwin.persistence.sqlite import connect, read_rows

# The exact DDL imgtwin 0.1 (schema version 1) wrote: the fixture of the previous schema.
V1_DDL = """
CREATE TABLE files (
    path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, width INTEGER, height INTEGER,
    format TEXT, decode TEXT, loader TEXT, hash TEXT, hash_spec TEXT, error_reason TEXT, error_message TEXT,
    scanned_at REAL NOT NULL
);
"""


def make_v1_index(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute(V1_DDL)
        conn.execute(
            "INSERT INTO files VALUES ('/photos/a.jpg', 10, 20, 640, 480, 'JPEG', 'jpeg-draft-1/8', "
            "'pillow-L-max512-draft64-v1', '8f000000000000ff', 'dct-64-32px-lanczos-v1', NULL, NULL, 5.0)"
        )
        conn.execute("PRAGMA user_version = 1")


def test_v1_index_is_upgraded_keeping_its_rows(tmp_path: Path) -> None:
    db = tmp_path / "v1.db"
    make_v1_index(db)
    connect(str(db)).close()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {"files", "roots", "upscale_checks", "local_features", "not_duplicates",
                      "chosen_keepers", "excluded_files", "framed_pictures", "hypotheses"}
    (row,) = read_rows(str(db))
    assert row["hash"] == "8f000000000000ff" and row["width"] == 640
    assert row["inode"] is None and row["content_hash"] is None and row["vanished_at"] is None


def test_upgraded_index_rereads_files_once_then_reuses_them(tmp_path: Path) -> None:


    from imgtwin.runs.scan import ScanSettings, run_scan
    from tests.helpers import synthetic_photo

    photos = tmp_path / "photos"
    photos.mkdir()
    synthetic_photo(1).save(photos / "a.jpg")
    db = tmp_path / "v1.db"
    make_v1_index(db)
    with sqlite3.connect(db) as conn:  # the v1 row describes the real file
        stat = (photos / "a.jpg").stat()
        conn.execute("UPDATE files SET path = ?, size = ?, mtime_ns = ?", (str(photos / "a.jpg"), stat.st_size,
                                                                          stat.st_mtime_ns))
    settings = ScanSettings(roots=(str(photos),), db_path=str(db))
    assert run_scan(settings).reused == 0  # no inode in v1: read again
    assert run_scan(settings).reused == 1


# The exact DDL imgtwin 0.1 wrote for schema version 2 (paths as text, undecodable bytes escaped).
V2_DDL = (
    ("CREATE TABLE files (path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, dev INTEGER, "
    "inode INTEGER, ctime_ns INTEGER, content_hash TEXT, width INTEGER, height INTEGER, format TEXT, decode TEXT, "
    "loader TEXT, hash TEXT, hash_spec TEXT, features BLOB, features_spec TEXT, error_reason TEXT, "
    "error_message TEXT, scanned_at REAL NOT NULL, vanished_at REAL)"),
    ("CREATE TABLE roots (path TEXT PRIMARY KEY, first_scan_at REAL NOT NULL, last_scan_at REAL NOT NULL, "
    "complete INTEGER NOT NULL)"),
    "CREATE INDEX files_size ON files (size)",
    "CREATE INDEX files_content_hash ON files (content_hash)",
)


def test_v2_index_is_rekeyed_by_name_bytes_keeping_its_rows(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    latin1 = os.fsdecode(os.fsencode(str(photos)) + b"/caf\xe9.jpg")  # not UTF-8
    Path(latin1).write_bytes(b"x")
    (photos / "plain.jpg").write_bytes(b"y")
    db = tmp_path / "v2.db"
    with sqlite3.connect(db) as conn:
        for statement in V2_DDL:
            conn.execute(statement)
        rows = [(f"{photos}/caf\\xe9.jpg", "aa"), (f"{photos}/plain.jpg", "bb"), (f"{photos}/gone\\x41.jpg", "cc")]
        conn.executemany("INSERT INTO files (path, size, mtime_ns, hash, scanned_at) VALUES (?, 1, 2, ?, 3.0)", rows)
        conn.execute("INSERT INTO roots VALUES (?, 1.0, 2.0, 1)", (str(photos),))
        conn.execute("PRAGMA user_version = 2")
    connect(str(db)).close()
    by_path = {row["path"]: row["hash"] for row in read_rows(str(db))}
    # The escaped text named a file that exists: its row is now keyed by the real bytes.
    assert by_path == {latin1: "aa", str(photos / "plain.jpg"): "bb", f"{photos}/gone\\x41.jpg": "cc"}
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 3
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT typeof(path) FROM roots").fetchone()[0] == "blob"
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {"files", "roots", "upscale_checks", "local_features", "not_duplicates",
                      "chosen_keepers", "excluded_files", "framed_pictures", "hypotheses"}


def test_a_file_literally_named_like_an_escape_stays_what_it_is(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "caf\\xe9.jpg").write_bytes(b"x")  # a real backslash in the name
    Path(os.fsdecode(os.fsencode(str(photos)) + b"/caf\xe9.jpg")).write_bytes(b"y")
    db = tmp_path / "v2.db"
    with sqlite3.connect(db) as conn:
        for statement in V2_DDL:
            conn.execute(statement)
        conn.execute("INSERT INTO files (path, size, mtime_ns, scanned_at) VALUES (?, 1, 2, 3.0)",
                     (f"{photos}/caf\\xe9.jpg",))
        conn.execute("PRAGMA user_version = 2")
    assert [row["path"] for row in read_rows(str(db))] == [str(photos / "caf\\xe9.jpg")]
