"""Byte copies within one scan are decoded once; a failure passes on only where the bytes decide it."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from imgtwin.cli import main
from imgtwin.config import ProcessingConfig
from imgtwin.hashing.dct import DCTHasher
from imgtwin.interfaces import LoadedImage
from imgtwin.loading.pillow_loader import StandardImageLoader
from imgtwin.persistence.sqlite import read_rows
from imgtwin.processing.copies import QUEUE, WAIT, ScanCopies
from imgtwin.processing.parallel import ParallelProcessingEngine
from imgtwin.processing.task import process_file
from imgtwin.records import ErrorReason, FileStatus
from imgtwin.reporting.composite import NullReporter
from imgtwin.runs.scan import ScanSettings, run_scan
from tests.helpers import synthetic_photo
from tests.hostile_files import slow_progressive_jpeg
from tests.processing.test_pipeline import MemoryPersistence


def scan(root: Path, db: Path):
    settings = ScanSettings(roots=(str(root),), db_path=str(db))
    return run_scan(settings)


def test_copies_across_folders_are_decoded_once_and_take_the_first_files_hashes(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    (root / "2019").mkdir(parents=True)
    for i in range(3):
        synthetic_photo(i, (320, 240)).save(root / "2019" / f"p{i}.jpg", quality=90)
    (root / "2019" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(300))
    for backup in ("backup", "backup/of-backup"):
        shutil.copytree(root / "2019", root / backup / "2019")  # backups of backups
    shutil.copy2(root / "2019" / "p0.jpg", root / "renamed.jpeg")
    db = tmp_path / "i.db"
    summary = scan(root, db)
    # 4 distinct contents decoded; the other 9 files are copies of them.
    assert (summary.processed_files, summary.error_count, summary.copies, summary.reused) == (10, 3, 9, 0)
    rows = list(read_rows(str(db)))
    by_content: dict[str | None, list[dict]] = {}
    for row in rows:
        by_content.setdefault(row["content_hash"] or row["error_message"], []).append(row)
    assert len(rows) == 13 and len(by_content) == 4
    for group in by_content.values():
        decoded = [r for r in group if r["answered_by"] is None]
        assert len(decoded) == 1, [r["path"] for r in group]
        first = decoded[0]
        for row in group:
            assert (row["hash"], row["features"], row["signals"], row["width"], row["error_reason"]) == (
                first["hash"], first["features"], first["signals"], first["width"], first["error_reason"])
            info = os.stat(row["path"])
            assert (row["size"], row["mtime_ns"], row["inode"]) == (info.st_size, info.st_mtime_ns, info.st_ino)
    broken = [r for r in rows if r["path"].endswith("broken.jpg")]
    assert len(broken) == 3 and len({(r["error_reason"], r["error_message"]) for r in broken}) == 1
    assert sum(r["answered_by"] == "content" for r in broken) == 2
    # A rescan reads nothing: the copies' rows are as good as decoded ones.
    again = scan(root, db)
    assert (again.reused, again.copies, again.bytes_read) == (13, 0, 0)


@pytest.mark.slow
def test_a_timeout_is_recorded_for_each_waiting_copy_after_one_time_limit(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "scan.jpg").write_bytes(slow_progressive_jpeg(4096, 5000))  # ~10 s of decoding
    for name in ("b", "c"):
        (tmp_path / name).mkdir()
        shutil.copy2(tmp_path / "a" / "scan.jpg", tmp_path / name / "scan.jpg")
    synthetic_photo(1, (200, 150)).save(tmp_path / "ok.jpg")
    engine = ParallelProcessingEngine(StandardImageLoader(512), DCTHasher())
    store = MemoryPersistence()
    started = time.monotonic()
    summary = engine.process_directory(str(tmp_path), ProcessingConfig(max_concurrent_tasks=1, file_timeout=1.5),
                                       NullReporter(), store)
    assert time.monotonic() - started < 6  # one time limit, not three
    results = {os.path.relpath(r.path, tmp_path): r for r in store.results}
    assert (summary.error_count, summary.copies) == (3, 2)
    for name in ("a/scan.jpg", "b/scan.jpg", "c/scan.jpg"):
        assert results[name].error.reason is ErrorReason.TIMEOUT
    assert [results[n].answered_by for n in ("a/scan.jpg", "b/scan.jpg", "c/scan.jpg")] == [None, "content",
                                                                                          "content"]
    assert results["ok.jpg"].status is FileStatus.HASHED


class _VanishingFirst(StandardImageLoader):
    """Deletes files under a folder named ``going`` once read (a user tidying up during the scan)."""

    def load(self, path: str) -> LoadedImage:
        loaded = super().load(path)
        if os.path.basename(os.path.dirname(path)) == "going":
            os.remove(path)
        return loaded


def test_a_failure_of_the_first_files_path_is_not_passed_on_the_copy_is_decoded(tmp_path: Path) -> None:
    for folder in ("going", "kept", "kept2"):
        (tmp_path / folder).mkdir()
    synthetic_photo(3, (320, 240)).save(tmp_path / "going" / "p.jpg")
    for folder in ("kept", "kept2"):
        shutil.copy2(tmp_path / "going" / "p.jpg", tmp_path / folder / "p.jpg")
    engine = ParallelProcessingEngine(_VanishingFirst(512), DCTHasher())
    store = MemoryPersistence()
    summary = engine.process_directory(str(tmp_path), ProcessingConfig(max_concurrent_tasks=1, executor="thread"),
                                       NullReporter(), store)
    results = {os.path.relpath(r.path, tmp_path): r for r in store.results}
    assert results["going/p.jpg"].error.reason is ErrorReason.VANISHED
    assert results["kept/p.jpg"].status is FileStatus.HASHED and results["kept/p.jpg"].answered_by is None
    assert results["kept2/p.jpg"].answered_by == "content"
    assert results["kept2/p.jpg"].hash == results["kept/p.jpg"].hash
    assert (summary.processed_files, summary.error_count, summary.copies) == (2, 1, 1)


def test_only_files_of_a_size_already_seen_are_hashed_by_the_producer(tmp_path: Path) -> None:
    synthetic_photo(1, (200, 150)).save(tmp_path / "one.jpg")
    synthetic_photo(2, (300, 150)).save(tmp_path / "two.jpg")
    shutil.copy2(tmp_path / "one.jpg", tmp_path / "three.jpg")
    copies = ScanCopies()
    assert copies.claim(str(tmp_path / "one.jpg")) is QUEUE
    assert copies.claim(str(tmp_path / "two.jpg")) is QUEUE
    assert copies.claim(str(tmp_path / "three.jpg")) is WAIT
    result = process_file(str(tmp_path / "one.jpg"), StandardImageLoader(512), DCTHasher())
    assert copies.settle(process_file(str(tmp_path / "two.jpg"), StandardImageLoader(512), DCTHasher())) == []
    (copy,) = copies.settle(result)
    assert copy.path == str(tmp_path / "three.jpg") and copy.hash == result.hash and copy.reused == "copy"
    assert not copies.outstanding()
    # Results the index answers for (stored two batches ago) are forgotten: memory stays bounded.
    copies.stored()
    copies.stored()
    assert copies._owners == {} and copies._sizes == {}


def test_the_scan_summary_counts_byte_copies(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    root.mkdir()
    synthetic_photo(1, (320, 240)).save(root / "a.jpg")
    shutil.copy2(root / "a.jpg", root / "b.jpg")
    result = CliRunner().invoke(main, ["scan", str(root), "--db", str(tmp_path / "i.db"), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "1 byte copy of another file, not decoded" in result.output
    assert "Done: 2 hashed, 0 errors" in result.output


@pytest.mark.slow
def test_a_non_image_with_the_bytes_of_a_broken_image_is_skipped_not_failed(tmp_path: Path) -> None:
    # notes.jpg is a failure (not_an_image); notes.txt, the same bytes under a name that is no image's,
    # is skipped as any text file is, whether its answer comes from this scan or from the index.
    root = tmp_path / "photos"
    root.mkdir()
    (root / "notes.jpg").write_text("not a picture\n")
    (root / "notes.txt").write_text("not a picture\n")
    db = tmp_path / "i.db"
    first = scan(root, db)
    assert (first.error_count, first.skipped) == (1, 1)
    assert [os.path.basename(r["path"]) for r in read_rows(str(db)) if r["error_reason"]] == ["notes.jpg"]
    (root / "later.txt").write_text("not a picture\n")  # a copy of an indexed failure, in a rescan
    again = scan(root, db)
    assert again.error_count == 1 and again.skipped >= 1
    assert [os.path.basename(r["path"]) for r in read_rows(str(db)) if r["error_reason"]] == ["notes.jpg"]
