"""The local_features table: keyed by content and spec, added to any index, reused."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from imgtwin.persistence.local_features import LocalFeatureStore
from imgtwin.persistence.sqlite import connect
from imgtwin.records import ErrorReason, FileError, FileResult, FileStatus, ProcessingMetadata


def result(path: str, digest: str, data: bytes | None, status: FileStatus = FileStatus.HASHED) -> FileResult:
    meta = ProcessingMetadata(path, 10, 20, content_hash=digest)
    if status is FileStatus.ERROR:
        return FileResult(meta, status, error=FileError(ErrorReason.TIMEOUT, "slow"))
    return FileResult(meta, status, features=data, features_spec="local-test")


def test_rows_are_keyed_by_content_and_spec(tmp_path: Path) -> None:
    db = str(tmp_path / "i.db")
    with LocalFeatureStore(db) as store:
        store.store_batch([result("/a.jpg", "aa", b"A"), result("/b.jpg", "bb", b"B"),
                           result("/c.jpg", "cc", None, FileStatus.ERROR)])
        assert store.stored == 2 and len(store.failed) == 1
        assert store.known(["aa", "bb", "cc", "dd"], "local-test") == {"aa", "bb"}
        assert store.known(["aa"], "local-other") == set()
        assert store.load(["aa", "dd"], "local-test") == {"aa": b"A"}
        store.put([("aa", "local-test", b"A2"), ("aa", "local-other", b"X")])
        assert store.load(["aa"], "local-test") == {"aa": b"A2"}
        assert store.count() == (3, 4) and store.count("local-test") == (2, 3)


def test_many_hashes_are_looked_up_in_chunks(tmp_path: Path) -> None:
    with LocalFeatureStore(str(tmp_path / "i.db")) as store:
        store.put((f"{k:032x}", "s", bytes([k % 256])) for k in range(1500))
        wanted = [f"{k:032x}" for k in range(0, 3000, 2)]
        assert len(store.known(wanted, "s")) == 750
        assert len(store.load(wanted, "s")) == 750


def test_the_table_is_added_to_an_index_that_lacks_it_and_files_rows_stay(tmp_path: Path) -> None:
    db = tmp_path / "i.db"
    connect(str(db)).close()
    with sqlite3.connect(db) as conn:  # an index made before the table existed
        conn.execute("DROP TABLE local_features")
        conn.execute("INSERT INTO files (path, size, mtime_ns, scanned_at) VALUES ('/x.jpg', 1, 2, 3.0)")
    connect(str(db)).close()
    with sqlite3.connect(db) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert "local_features" in tables
        assert conn.execute("SELECT path FROM files").fetchall() == [("/x.jpg",)]
