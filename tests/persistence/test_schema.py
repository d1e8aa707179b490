"""Schema versions: a v1 index is upgraded in place; newer ones are refused."""

from __future__ import annotations

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
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {"files", "roots", "local_features"}
    (row,) = read_rows(str(db))
    assert row["hash"] == "8f000000000000ff" and row["width"] == 640
    assert row["inode"] is None and row["content_hash"] is None and row["vanished_at"] is None


def test_upgraded_index_rereads_files_once_then_reuses_them(tmp_path: Path) -> None:
    import io

    from rich.console import Console

    from imgtwin.app import ScanSettings, run_scan
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
    settings = ScanSettings(roots=(str(photos),), db_path=str(db), quiet=True)
    assert run_scan(settings, Console(file=io.StringIO())).reused == 0  # no inode in v1: read again
    assert run_scan(settings, Console(file=io.StringIO())).reused == 1
