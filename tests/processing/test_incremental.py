"""Rescans read only what changed, recognise moves, and mark what vanished."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from imgtwin.persistence.index import HashIndex, row_path
from imgtwin.persistence.sqlite import read_rows
from imgtwin.records import ProcessingSummary
from imgtwin.runs.scan import ScanSettings, run_scan
from tests.helpers import synthetic_photo


def scan(root: Path, db: Path, **overrides: object) -> ProcessingSummary:
    settings = ScanSettings(roots=(str(root),), db_path=str(db), **overrides)
    return run_scan(settings)


def rows(db: Path) -> dict[str, dict]:
    return {os.path.basename(r["path"]): r for r in read_rows(str(db))}


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "photos"
    (root / "sub").mkdir(parents=True)
    for i in range(5):
        synthetic_photo(i, (320, 240)).save(root / f"p{i}.jpg", quality=90)
    synthetic_photo(9, (320, 240)).save(root / "sub" / "p9.png")
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(100))
    return root


def test_unchanged_rescan_reads_nothing_and_writes_nothing(tree: Path, tmp_path: Path) -> None:
    db = tmp_path / "i.db"
    first = scan(tree, db)
    assert (first.processed_files, first.error_count, first.reused) == (6, 1, 0)
    before = rows(db)
    second = scan(tree, db)
    assert (second.processed_files, second.error_count, second.reused) == (6, 1, 7)
    assert second.bytes_read == 0
    assert rows(db) == before  # same rows, same scanned_at: nothing rewritten


@pytest.mark.slow
def test_touched_replaced_and_deleted_files(tree: Path, tmp_path: Path) -> None:
    db = tmp_path / "i.db"
    scan(tree, db)
    before = rows(db)
    os.utime(tree / "p0.jpg", ns=(1_000_000_000, 1_000_000_000))  # touched: same bytes, new mtime
    synthetic_photo(42, (320, 240)).save(tree / "p1.jpg")  # replaced by another picture
    (tree / "p2.jpg").unlink()
    summary = scan(tree, db)
    assert summary.reused == 4  # p3, p4, p9, broken.jpg
    after = rows(db)
    assert after["p0.jpg"]["scanned_at"] > before["p0.jpg"]["scanned_at"]
    assert after["p0.jpg"]["hash"] == before["p0.jpg"]["hash"]
    assert after["p1.jpg"]["hash"] != before["p1.jpg"]["hash"]
    assert after["p2.jpg"]["vanished_at"] is not None
    assert after["p3.jpg"] == before["p3.jpg"]
    with HashIndex(str(db)) as index:
        assert index.info().vanished == 1
        assert index.prune() == 1
    assert "p2.jpg" not in rows(db)


@pytest.mark.slow
def test_rewritten_file_with_size_and_mtime_put_back_is_read_again(tree: Path, tmp_path: Path) -> None:
    db = tmp_path / "i.db"
    scan(tree, db)
    before = rows(db)["p3.jpg"]
    stat = (tree / "p3.jpg").stat()
    with open(tree / "p3.jpg", "r+b") as f:  # same inode, same size, other bytes
        f.seek(stat.st_size - 50)
        f.write(b"\x00" * 10)
    os.utime(tree / "p3.jpg", ns=(stat.st_atime_ns, stat.st_mtime_ns))
    summary = scan(tree, db)
    assert summary.reused == 6
    after = rows(db)["p3.jpg"]
    assert after["content_hash"] != before["content_hash"]
    assert (after["inode"], after["mtime_ns"], after["size"]) == (before["inode"], before["mtime_ns"], before["size"])


@pytest.mark.slow
def test_moved_files_are_recognised_by_content_without_decoding(tree: Path, tmp_path: Path) -> None:
    db = tmp_path / "i.db"
    scan(tree, db)
    before = rows(db)
    shutil.move(tree / "sub", tree / "renamed")
    (tree / "p4.jpg").rename(tree / "p4-renamed.jpg")
    summary = scan(tree, db)
    assert summary.reused == 7 and summary.bytes_read == 0
    after = rows(db)
    assert after["p4-renamed.jpg"]["hash"] == before["p4.jpg"]["hash"]
    assert after["p4-renamed.jpg"]["content_hash"] == before["p4.jpg"]["content_hash"]
    assert after["p4.jpg"]["vanished_at"] is not None
    live = {r["path"] for r in read_rows(str(db)) if r["vanished_at"] is None}
    assert str(tree / "renamed" / "p9.png") in live and str(tree / "sub" / "p9.png") not in live
    # Moved back: the old rows come back to life.
    (tree / "p4-renamed.jpg").rename(tree / "p4.jpg")
    scan(tree, db)
    assert rows(db)["p4.jpg"]["vanished_at"] is None
    assert rows(db)["p4-renamed.jpg"]["vanished_at"] is not None


@pytest.mark.slow
def test_new_loader_or_hash_settings_invalidate_exactly_the_rows_they_affect(tree: Path, tmp_path: Path) -> None:
    db = tmp_path / "i.db"
    scan(tree, db)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE files SET loader = 'pillow-L-max512-draft64-v1' WHERE CAST(path AS TEXT) LIKE '%p0.jpg'")
        conn.execute("UPDATE files SET hash_spec = 'dct-64-32px-lanczos-v0' WHERE CAST(path AS TEXT) LIKE '%p1.jpg'")
    summary = scan(tree, db)
    assert summary.reused == 5  # only p0 and p1 were read again
    after = rows(db)
    assert after["p0.jpg"]["loader"] == "pillow-L-max512-draft64-v4"
    assert after["p1.jpg"]["hash_spec"] == "dct-64-32px-lanczos-v2"
    # A different loader setting re-reads everything.
    assert scan(tree, db, max_dimension=256).reused == 0


@pytest.mark.slow
def test_passing_failures_are_retried_settled_ones_are_not(tree: Path, tmp_path: Path) -> None:
    db = tmp_path / "i.db"
    scan(tree, db)
    assert rows(db)["broken.jpg"]["error_reason"] == "decode_error"
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE files SET hash = NULL, error_reason = 'timeout' WHERE CAST(path AS TEXT) LIKE '%p0.jpg'")
    summary = scan(tree, db)
    assert summary.reused == 6  # broken.jpg stays settled; p0 (timeout) is read again
    assert rows(db)["p0.jpg"]["hash"] is not None


@pytest.mark.slow
def test_several_roots_share_one_index(tree: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    synthetic_photo(7).save(other / "x.jpg")
    db = tmp_path / "i.db"
    scan(tree, db)
    scan(other, db)
    (tree / "p0.jpg").unlink()
    scan(other, db)  # scanning one root never marks another root's files vanished
    assert rows(db)["p0.jpg"]["vanished_at"] is None
    with HashIndex(str(db)) as index:
        assert {r.path for r in index.info().roots} == {str(tree), str(other)}
        assert [os.path.basename(row_path(r)) for r in index.rows_under([str(other)])] == ["x.jpg"]
        assert len(list(index.rows_under([str(tree)]))) == 7


@pytest.mark.slow
def test_a_byte_copy_of_an_indexed_file_is_answered_without_decoding(tree: Path, tmp_path: Path) -> None:
    db = tmp_path / "i.db"
    scan(tree, db)
    backup = tree / "backup"
    backup.mkdir()
    shutil.copy2(tree / "p1.jpg", backup / "p1.jpg")
    summary = scan(tree, db)
    assert (summary.reused, summary.copies) == (7, 1)  # the seven known files, and the copy not decoded
    copy = {row["path"]: row for row in read_rows(str(db))}[str(backup / "p1.jpg")]
    original = rows(db)["p1.jpg"]
    assert copy["answered_by"] == "content" and original["answered_by"] is None
    assert (copy["hash"], copy["features"], copy["decode"]) == (original["hash"], original["features"],
                                                              original["decode"])


# --- every per-file lookup is linear: SQLite's own instruction count, not a timer ----------------------------

def _store_same_size(db: Path, count: int, size: int, *, hashed: bool, same_bytes: bool) -> None:
    from imgtwin.hashing.dct import DCTHasher
    from imgtwin.persistence.sqlite import SqliteHashPersistence
    from imgtwin.records import ErrorReason, FileError, FileResult, FileStatus, ImageHash, ProcessingMetadata

    spec = DCTHasher().spec
    results = []
    for k in range(count):
        meta = ProcessingMetadata(f"/elsewhere/f{k:06d}.bmp", size, 1, loader="other",
                                  content_hash="ab" * 16 if same_bytes else f"{k:032x}")
        if hashed:
            results.append(FileResult(meta, FileStatus.HASHED, hash=ImageHash(k, spec)))
        else:
            results.append(FileResult(meta, FileStatus.ERROR, error=FileError(ErrorReason.NOT_AN_IMAGE, "empty file")))
    store = SqliteHashPersistence(str(db))
    store.store_batch(results)
    store.finalize()


def _instructions_for_one_new_file(tmp_path: Path, count: int, size: int, **kind: bool) -> int:
    from imgtwin.hashing.dct import DCTHasher
    from imgtwin.processing.incremental import IndexScanCache

    folder = tmp_path / f"n{count}-{size}"
    folder.mkdir()
    db = folder / "i.db"
    _store_same_size(db, count, size, **kind)
    new = folder / "new.bmp"
    new.write_bytes(b"\x01" * size)
    cache = IndexScanCache(str(db), DCTHasher().spec, "pillow", "f")
    cache.lookup(str(tmp_path))  # opens the connection
    steps = [0]

    def count_step() -> int:
        steps[0] += 1
        return 0

    assert cache._index is not None
    cache._index.conn.set_progress_handler(count_step, 1)  # called once per SQLite VM instruction
    assert cache.lookup(str(new)) is None
    cache.close()
    return steps[0]


@pytest.mark.parametrize("size,kind", [
    (4096, {"hashed": True, "same_bytes": False}),  # same-size BMPs from one camera
    (4096, {"hashed": True, "same_bytes": True}),  # thousands of copies of one small file
    (0, {"hashed": False, "same_bytes": False}),  # a folder of empty .jpg files
    (4096, {"hashed": False, "same_bytes": False}),  # same-size files that all failed
])
def test_a_lookup_costs_the_same_whatever_many_files_share_its_size(tmp_path: Path, size: int,
                                                                    kind: dict[str, bool]) -> None:
    few = _instructions_for_one_new_file(tmp_path, 20, size, **kind)
    many = _instructions_for_one_new_file(tmp_path, 4000, size, **kind)
    assert many <= few * 1.5 + 50, (few, many)  # was linear in the files of that size: quadratic scans
