"""All three formats store what the scan produced and read back the same."""

from __future__ import annotations

import csv
import json
import os
import sqlite3
from pathlib import Path

import pytest

from imgtwin.hashing.dct import DCTHasher
from imgtwin.persistence.composite import CompositePersistence
from imgtwin.persistence.csv_file import CsvHashPersistence
from imgtwin.persistence.json_file import JsonHashPersistence
from imgtwin.persistence.rows import COLUMNS
from imgtwin.persistence.sqlite import IndexVersionError, SqliteHashPersistence, read_rows
from imgtwin.records import ErrorReason, FileError, FileResult, FileStatus, ImageHash, ProcessingMetadata

SPEC = DCTHasher(8).spec


def sample_results(root: Path) -> list[FileResult]:
    odd = str(root / "odd, \"name\"\nwith newline é.jpg")
    return [
        FileResult(ProcessingMetadata(str(root / "a.jpg"), 1234, 1_700_000_000_123_456_789, 640, 480, "JPEG",
                                      "jpeg-draft-1/2", "pillow-L-max512-draft-v1"),
                   FileStatus.HASHED, hash=ImageHash(0x8F00_0000_0000_00FF, SPEC)),
        FileResult(ProcessingMetadata(odd, 99, 1_600_000_000_000_000_000, 10, 20, "PNG", "full", "l"),
                   FileStatus.HASHED, hash=ImageHash(1, SPEC)),
        FileResult(ProcessingMetadata(str(root / "bad.png"), 7, 1_500_000_000_000_000_000), FileStatus.ERROR,
                   error=FileError(ErrorReason.TRUNCATED, "PNG data ends early")),
    ]


def test_sqlite_round_trip_and_upsert(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    db = tmp_path / "sub" / "index.db"
    results = sample_results(tmp_path)
    store = SqliteHashPersistence(str(db), clock=lambda: 42.0)
    store.store_batch(results[:2])
    store.store_batch(results[2:])
    store.finalize()
    rows = {os.path.basename(r["path"]): r for r in read_rows(str(db))}
    assert len(rows) == 3
    assert rows["a.jpg"]["hash"] == "8f000000000000ff"
    assert rows["a.jpg"]["hash_spec"] == "dct-64-32px-lanczos-v2"
    assert rows["a.jpg"]["mtime_ns"] == 1_700_000_000_123_456_789
    assert rows["a.jpg"]["decode"] == "jpeg-draft-1/2"
    assert rows["bad.png"]["hash"] is None and rows["bad.png"]["error_reason"] == "truncated"
    assert rows["a.jpg"]["scanned_at"] == 42.0
    # Scanning again replaces rows instead of adding duplicates.
    again = SqliteHashPersistence(str(db))
    again.store_batch([results[0]])
    again.finalize()
    assert len(list(read_rows(str(db)))) == 3
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_index_folder_must_exist(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no folder"):
        SqliteHashPersistence(str(tmp_path / "no" / "such" / "index.db"))
    assert not (tmp_path / "no").exists()  # a mistyped --db never creates folders


def test_sqlite_batch_is_all_or_nothing(tmp_path: Path) -> None:
    db = tmp_path / "i.db"
    store = SqliteHashPersistence(str(db))
    store.store_batch(sample_results(tmp_path)[:1])
    poisoned = sample_results(tmp_path)[1:]
    # SQLite cannot store a list: the last row fails inside the transaction, after the others were written.
    bad = FileResult(ProcessingMetadata(str(tmp_path / "c.jpg"), [1], 1), FileStatus.HASHED,  # type: ignore[arg-type]
                     hash=ImageHash(3, SPEC))
    with pytest.raises(sqlite3.ProgrammingError):
        store.store_batch([*poisoned, bad])
    store.finalize()
    assert [os.path.basename(r["path"]) for r in read_rows(str(db))] == ["a.jpg"]


def test_sqlite_refuses_foreign_or_newer_files(tmp_path: Path) -> None:
    newer = tmp_path / "newer.db"
    with sqlite3.connect(newer) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(IndexVersionError, match="newer than this imgtwin"):
        SqliteHashPersistence(str(newer))
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE t (x)")
    with pytest.raises(IndexVersionError, match="not an imgtwin index"):
        SqliteHashPersistence(str(foreign))
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(IndexVersionError):
        SqliteHashPersistence(str(garbage))


def test_json_document_round_trip(tmp_path: Path) -> None:
    out = tmp_path / "scan.json"
    store = JsonHashPersistence(str(out), SPEC, "pillow-L-max512-draft-v1")
    results = sample_results(tmp_path)
    store.store_batch(results[:1])
    assert not out.exists()  # nothing visible before finalize
    store.store_batch(results[1:])
    store.finalize()
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["tool"] == "imgtwin" and doc["version"]
    assert doc["hash"] == {"algorithm": "dct", "bits": 64, "params": "32px-lanczos-v2",
                           "loader": "pillow-L-max512-draft-v1"}
    assert [f["path"] for f in doc["files"]] == [r.path for r in results]
    assert set(doc["files"][0]) == set(COLUMNS)
    assert doc["files"][0]["hash"] == "8f000000000000ff"
    assert doc["files"][2]["hash"] is None and doc["files"][2]["error"] == "PNG data ends early"
    assert doc["files"][0]["mtime"] == pytest.approx(1_700_000_000.123457)
    assert [p.name for p in tmp_path.iterdir()] == ["scan.json"]  # no temp file left


def test_json_empty_scan_is_valid(tmp_path: Path) -> None:
    store = JsonHashPersistence(str(tmp_path / "e.json"), SPEC, "x")
    store.finalize()
    assert json.loads((tmp_path / "e.json").read_text())["files"] == []


def test_csv_round_trip_with_awkward_names(tmp_path: Path) -> None:
    out = tmp_path / "scan.csv"
    store = CsvHashPersistence(str(out))
    results = sample_results(tmp_path)
    store.store_batch(results)
    store.finalize()
    with open(out, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == list(COLUMNS)
    assert [r["path"] for r in rows] == [r.path for r in results]
    assert rows[1]["hash"] == "0000000000000001"
    assert rows[2]["error_reason"] == "truncated" and rows[2]["hash"] == ""


def test_interrupted_export_leaves_previous_file_intact(tmp_path: Path) -> None:
    out = tmp_path / "scan.json"
    out.write_text('{"previous": true}')
    store = JsonHashPersistence(str(out), SPEC, "x")
    store.store_batch(sample_results(tmp_path))
    # The process dies here: no finalize.
    assert json.loads(out.read_text()) == {"previous": True}


def test_composite_forwards_to_all(tmp_path: Path) -> None:
    json_out, csv_out, db = tmp_path / "a.json", tmp_path / "a.csv", tmp_path / "a.db"
    store = CompositePersistence(
        [SqliteHashPersistence(str(db)), JsonHashPersistence(str(json_out), SPEC, "x"), CsvHashPersistence(str(csv_out))]
    )
    store.store_batch(sample_results(tmp_path))
    store.finalize()
    assert len(json.loads(json_out.read_text())["files"]) == 3
    assert len(list(read_rows(str(db)))) == 3
    assert csv_out.read_text(encoding="utf-8").count("bad.png") == 1


def test_undecodable_file_names_do_not_break_storage(tmp_path: Path) -> None:
    weird = os.fsdecode(str(tmp_path).encode() + b"/caf\xe9.jpg")  # Latin-1 byte: not UTF-8
    result = FileResult(ProcessingMetadata(weird, 1, 1), FileStatus.HASHED, hash=ImageHash(5, SPEC))
    db, out = tmp_path / "w.db", tmp_path / "w.csv"
    for store in (SqliteHashPersistence(str(db)), CsvHashPersistence(str(out))):
        store.store_batch([result])
        store.finalize()
    assert next(read_rows(str(db)))["path"] == weird  # the very name, not a text standing for it
    assert "caf\\xe9.jpg" in out.read_text(encoding="utf-8")  # escaped only when exported
