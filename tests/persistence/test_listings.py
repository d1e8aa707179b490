"""Listings (``imgtwin errors``, ``index info``) read small indexes, never every row with its features."""

from __future__ import annotations

from pathlib import Path

from imgtwin.hashing.dct import DCTHasher
from imgtwin.persistence.index import HashIndex
from imgtwin.persistence.sqlite import SqliteHashPersistence, read_rows
from imgtwin.records import ErrorReason, FileError, FileResult, FileStatus, ImageHash, ProcessingMetadata


def _index(db: Path, hashed: int, failed: int = 3) -> None:
    spec = DCTHasher().spec
    results = []
    for k in range(hashed):
        meta = ProcessingMetadata(f"/photos/h{k:06d}.jpg", 1000 + k, 1, loader="pillow", content_hash=f"{k:032x}")
        results.append(FileResult(meta, FileStatus.HASHED, hash=ImageHash(k, spec), features=bytes(4096)))
    reasons = [ErrorReason.TRUNCATED, ErrorReason.TIMEOUT, ErrorReason.PERMISSION]
    for k in range(failed):
        meta = ProcessingMetadata(f"/photos/e{k:03d}.jpg", 7 + k, 2)
        results.append(FileResult(meta, FileStatus.ERROR, error=FileError(reasons[k % 3], f"message {k}")))
    store = SqliteHashPersistence(str(db))
    store.store_batch(results)
    store.finalize()
    with HashIndex(str(db)) as index:
        index.conn.execute("UPDATE files SET vanished_at = 5 WHERE path IN (?, ?)",
                           (b"/photos/h000001.jpg", b"/photos/e002.jpg"))
        index.conn.commit()


def test_errors_and_info_list_what_the_rows_say(tmp_path: Path) -> None:
    db = tmp_path / "i.db"
    _index(db, 50, failed=6)
    rows = list(read_rows(str(db)))
    live_failures = sorted((r["path"], r["error_reason"], r["error_message"], r["size"], r["mtime_ns"])
                           for r in rows if r["error_reason"] and r["vanished_at"] is None)
    with HashIndex(str(db), readonly=True) as index:
        listed = [(f.path, f.reason, f.message, f.size, f.mtime_ns) for f in index.failures()]
        assert listed == live_failures and len(listed) == 5
        assert [f.path for f in index.failures("timeout")] == ["/photos/e001.jpg", "/photos/e004.jpg"]
        info = index.info()
    assert (info.files, info.hashed, info.errors, info.vanished) == (56, 50, 6, 2)
    assert info.image_bytes == sum(r["size"] for r in rows)


def _statements(db: Path, call) -> list[str]:
    seen: list[str] = []
    with HashIndex(str(db)) as index:
        index.conn.set_trace_callback(seen.append)
        call(index)
        index.conn.set_trace_callback(None)
        return [" ".join(r[3] for r in index.conn.execute("EXPLAIN QUERY PLAN " + sql)) for sql in seen
                if sql.lstrip().upper().startswith("SELECT")]


def test_no_listing_walks_the_rows(tmp_path: Path) -> None:
    db = tmp_path / "i.db"
    _index(db, 20)
    plans = _statements(db, lambda index: (list(index.failures()), list(index.failures("truncated")), index.info()))
    assert len(plans) >= 6
    for plan in plans:  # "SCAN files" alone is a walk over every row (and its features)
        assert "USING" in plan and "INDEX" in plan, plans


def _instructions(db: Path) -> int:
    steps = [0]

    def step() -> int:
        steps[0] += 1
        return 0

    with HashIndex(str(db)) as index:
        index.conn.set_progress_handler(step, 1)
        assert len(list(index.failures())) == 2  # one of the three vanished
    return steps[0]


def test_listing_failures_costs_the_same_however_many_files_were_hashed(tmp_path: Path) -> None:
    (tmp_path / "few").mkdir()
    (tmp_path / "many").mkdir()
    _index(tmp_path / "few" / "i.db", 20)
    _index(tmp_path / "many" / "i.db", 3000)
    few, many = _instructions(tmp_path / "few" / "i.db"), _instructions(tmp_path / "many" / "i.db")
    assert many <= few * 1.5 + 50, (few, many)
