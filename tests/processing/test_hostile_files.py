"""Files that hang, bloat, vanish, change or are locked cost only themselves, with the right reason."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from imgtwin.hashing.dct import DCTHasher
from imgtwin.loading.pillow_loader import StandardImageLoader
from imgtwin.processing.discovery import DiscoveryOptions, discover
from imgtwin.processing.task import ScanTask, process_file
from imgtwin.processing.workers import ProcessWorkerPool
from imgtwin.records import ErrorReason, FileResult, FileStatus
from tests.helpers import needs_root_to_drop, run_as_nobody, synthetic_photo
from tests.hostile_files import ChangingLoader, VanishingLoader, blank_png, slow_progressive_jpeg
from tests.processing.test_workers import run_pool


def by_name(results: list[FileResult]) -> dict[str, FileResult]:
    return {Path(r.path).name: r for r in results}


@pytest.mark.slow
def test_pathological_progressive_jpeg_is_stopped_by_the_time_budget(tmp_path: Path) -> None:
    (tmp_path / "scans.jpg").write_bytes(slow_progressive_jpeg(4096, 5000))  # ~10 s of decoding, ~170 KB
    synthetic_photo(1, (200, 150)).save(tmp_path / "ok.jpg")
    pool = ProcessWorkerPool(1, ScanTask(StandardImageLoader(512), DCTHasher()), file_timeout=1.5)
    started = time.monotonic()
    results = by_name(run_pool(pool, [str(tmp_path / "scans.jpg"), str(tmp_path / "ok.jpg")]))
    assert results["scans.jpg"].error.reason is ErrorReason.TIMEOUT
    assert results["ok.jpg"].status is FileStatus.HASHED  # the replacement worker went on
    assert time.monotonic() - started < 8


@pytest.mark.slow
def test_worker_memory_limit_turns_a_huge_allocation_into_too_large(tmp_path: Path) -> None:
    (tmp_path / "huge.png").write_bytes(blank_png(8000, 6000))  # 150 KB file, 144 MB of pixels
    synthetic_photo(2, (1600, 1200)).save(tmp_path / "photo.jpg")
    synthetic_photo(3, (800, 600)).save(tmp_path / "photo.png")
    paths = [str(tmp_path / n) for n in ("huge.png", "photo.jpg", "photo.png")]
    limited = by_name(run_pool(ProcessWorkerPool(1, ScanTask(StandardImageLoader(512), DCTHasher()), memory_limit_mb=128), paths))
    free = by_name(run_pool(ProcessWorkerPool(1, ScanTask(StandardImageLoader(512), DCTHasher()), memory_limit_mb=0), paths))
    assert limited["huge.png"].error.reason is ErrorReason.TOO_LARGE
    assert free["huge.png"].status is FileStatus.HASHED
    for name in ("photo.jpg", "photo.png"):  # the limit does not disturb normal decoding
        assert limited[name].hash == free[name].hash is not None


def test_file_deleted_during_load_is_vanished(tmp_path: Path) -> None:
    synthetic_photo(4, (120, 90)).save(tmp_path / "going.jpg")
    result = process_file(str(tmp_path / "going.jpg"), VanishingLoader(512), DCTHasher())
    assert result.status is FileStatus.ERROR and result.error.reason is ErrorReason.VANISHED


def test_file_written_during_load_is_changed_during_scan(tmp_path: Path) -> None:
    synthetic_photo(5, (120, 90)).save(tmp_path / "busy.jpg")
    result = process_file(str(tmp_path / "busy.jpg"), ChangingLoader(512), DCTHasher())
    assert result.status is FileStatus.ERROR and result.error.reason is ErrorReason.CHANGED


def test_fifo_named_like_an_image_is_never_opened_and_link_loops_end(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.jpg")  # opening it for reading would block forever
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "up").symlink_to(tmp_path, target_is_directory=True)
    (tmp_path / "self.jpg").symlink_to(tmp_path / "self.jpg")  # a link to itself: ELOOP
    for follow in (False, True):
        items = {Path(i.path).name: i.error for i in discover([str(tmp_path)], DiscoveryOptions(follow_symlinks=follow))}
        assert items["pipe.jpg"].reason is ErrorReason.NOT_A_REGULAR_FILE
        assert ("self.jpg" in items) is follow and (not follow or items["self.jpg"] is not None)
    result = process_file(str(tmp_path / "pipe.jpg"), StandardImageLoader(512), DCTHasher())
    assert result.error.reason is ErrorReason.NOT_A_REGULAR_FILE


def _as_nobody(tree: Path) -> dict[str, tuple[str, str | None]]:
    """Discover and process ``tree`` as 'nobody' (``run_as_nobody``): the kernel refuses the reads."""
    loader, hasher = StandardImageLoader(512), DCTHasher()
    process_file(str(tree / "ok.jpg"), loader, hasher)  # import every plugin before dropping privileges

    def scan() -> dict[str, tuple[str, str | None]]:
        out: dict[str, tuple[str, str | None]] = {}
        for item in discover([str(tree)], DiscoveryOptions()):
            result = process_file(item.path, loader, hasher) if item.error is None else None
            error = item.error or (result.error if result else None)
            out[os.path.relpath(item.path, tree)] = (
                result.status.value if result else "error", error.reason.value if error else None
            )
        return out

    return run_as_nobody(scan)


@needs_root_to_drop
def test_unreadable_files_and_folders_are_permission_errors_for_a_normal_user() -> None:
    tree = Path(tempfile.mkdtemp(prefix="imgtwin-perm-", dir="/tmp"))
    try:
        tree.chmod(0o755)
        synthetic_photo(6, (100, 80)).save(tree / "ok.jpg")
        synthetic_photo(7, (100, 80)).save(tree / "secret.jpg")
        (tree / "locked").mkdir()
        synthetic_photo(8, (100, 80)).save(tree / "locked" / "inner.jpg")
        (tree / "ok.jpg").chmod(0o644)
        (tree / "secret.jpg").chmod(0o600)  # root's, unreadable to others
        (tree / "locked").chmod(0o700)
        seen = _as_nobody(tree)
    finally:
        (tree / "locked").chmod(0o755)
        shutil.rmtree(tree)
    assert seen["ok.jpg"] == ("hashed", None)
    assert seen["secret.jpg"] == ("error", "permission")
    assert seen["locked"] == ("error", "permission")
