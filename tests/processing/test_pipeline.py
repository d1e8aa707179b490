"""The engine end to end on real files, with the reporter contract checked by a mock."""

from __future__ import annotations

import threading
from pathlib import Path
from unittest import mock

import pytest

from imgtwin.config import ProcessingConfig
from imgtwin.hashing.dct import DCTHasher
from imgtwin.interfaces import ProgressReporter
from imgtwin.loading.pillow_loader import StandardImageLoader
from imgtwin.processing.parallel import ParallelProcessingEngine
from imgtwin.records import FileResult, FileStatus, ProcessingSummary


class MemoryPersistence:
    """In-memory HashPersistence double that records how it was called."""

    def __init__(self) -> None:
        self.batches: list[list[FileResult]] = []
        self.finalized = 0

    def store_batch(self, results) -> None:
        self.batches.append(list(results))

    def finalize(self) -> None:
        self.finalized += 1

    @property
    def results(self) -> list[FileResult]:
        return [r for batch in self.batches for r in batch]


def engine() -> ParallelProcessingEngine:
    return ParallelProcessingEngine(StandardImageLoader(512), DCTHasher(8))


@pytest.mark.parametrize("executor", ["process", "thread"])
def test_reporter_contract_and_results(photo_dir: Path, executor: str) -> None:
    reporter = mock.create_autospec(ProgressReporter, instance=True)
    persistence = MemoryPersistence()
    config = ProcessingConfig(max_concurrent_tasks=2, batch_size=3, commit_seconds=0, executor=executor)
    summary = engine().process_directory(str(photo_dir), config, reporter, persistence)

    reporter.report_started.assert_called_once_with(8)  # 7 images + notes.txt
    progress = [c.args for c in reporter.report_progress.call_args_list]
    assert [p[0] for p in progress] == list(range(1, 9))
    assert all(total == 8 for _, total in progress)
    reporter.report_error.assert_not_called()
    reporter.report_completed.assert_called_once_with(summary)

    assert (summary.processed_files, summary.error_count, summary.skipped) == (7, 0, 1)
    assert not summary.cancelled
    assert persistence.finalized == 1
    assert [len(b) for b in persistence.batches] == [3, 3, 1]  # notes.txt is not stored
    hashes = {Path(r.path).name: r.hash.hex for r in persistence.results}
    assert hashes["img0.jpg"] == hashes["copy of img0.jpg"]
    assert len(set(hashes.values())) == 6
    assert all(r.status is FileStatus.HASHED and r.metadata.width == 640 for r in persistence.results)


@pytest.mark.parametrize("seconds,batches", [(0, [3, 3, 1]), (60, [7])])
def test_a_batch_is_committed_when_full_and_its_seconds_have_passed(
    photo_dir: Path, seconds: float, batches: list[int],
) -> None:
    persistence = MemoryPersistence()
    config = ProcessingConfig(max_concurrent_tasks=2, batch_size=3, commit_seconds=seconds, executor="thread")
    engine().process_directory(str(photo_dir), config, mock.Mock(), persistence)
    # Tiny files come a thousand a second: a transaction (and an fsync) per ``batch_size`` rows cost more
    # than the rows; a kill loses at most ``commit_seconds`` of files, redone by the next scan.
    assert [len(b) for b in persistence.batches] == batches
    assert persistence.finalized == 1


def test_errors_are_isolated_and_reported(photo_dir: Path) -> None:
    (photo_dir / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    (photo_dir / "fake.png").write_text("hello")
    reporter = mock.create_autospec(ProgressReporter, instance=True)
    persistence = MemoryPersistence()
    summary = engine().process_directory(str(photo_dir), ProcessingConfig(max_concurrent_tasks=2), reporter, persistence)
    assert (summary.processed_files, summary.error_count, summary.skipped) == (7, 2, 1)
    failed = {Path(c.args[0]).name: c.args[1] for c in reporter.report_error.call_args_list}
    assert set(failed) == {"broken.jpg", "fake.png"}
    assert failed["fake.png"].startswith("not_an_image:")
    stored_errors = [r for r in persistence.results if r.status is FileStatus.ERROR]
    assert {Path(r.path).name for r in stored_errors} == {"broken.jpg", "fake.png"}


def test_several_roots_and_file_roots(photo_dir: Path) -> None:
    persistence = MemoryPersistence()
    summary = engine().process_directory(
        [str(photo_dir / "a"), str(photo_dir / "img1.jpg")], ProcessingConfig(), mock.Mock(), persistence
    )
    assert summary.processed_files == 4
    assert {Path(r.path).name for r in persistence.results} == {"four.png", "five.webp", "copy of img0.jpg", "img1.jpg"}


@pytest.mark.slow
def test_cancel_stops_cleanly_and_keeps_finished_work(tmp_path: Path) -> None:
    from tests.helpers import synthetic_photo

    for i in range(40):
        synthetic_photo(i, (400, 300)).save(tmp_path / f"p{i:02d}.png")  # distinct: copies would need no work
    cancel = threading.Event()
    persistence = MemoryPersistence()

    reporter = mock.Mock()
    reporter.report_progress.side_effect = lambda done, total: cancel.set() if done == 5 else None
    config = ProcessingConfig(max_concurrent_tasks=2, batch_size=2, channel_buffer_size=4, executor="thread")
    summary = engine().process_directory(str(tmp_path), config, reporter, persistence, cancel)
    assert summary.cancelled
    assert 5 <= summary.processed_files < 40
    assert len(persistence.results) == summary.processed_files  # everything finished was stored
    assert persistence.finalized == 1


def test_missing_root_fails_before_starting(tmp_path: Path) -> None:
    reporter = mock.Mock()
    with pytest.raises(FileNotFoundError):
        engine().process_directory(str(tmp_path / "nope"), ProcessingConfig(), reporter, MemoryPersistence())
    reporter.report_started.assert_not_called()


def test_summary_arithmetic() -> None:
    summary = ProcessingSummary(90, 10, 5, 2000.0, bytes_read=4_000_000)
    assert summary.throughput == 50.0
    assert summary.bytes_per_second == 2_000_000.0


def test_config_validates() -> None:
    with pytest.raises(ValueError):
        ProcessingConfig(batch_size=0)
    with pytest.raises(ValueError, match="commit_seconds"):
        ProcessingConfig(commit_seconds=-1)
    with pytest.raises(ValueError):
        ProcessingConfig(executor="gpu")  # type: ignore[arg-type]
    assert ProcessingConfig(max_concurrent_tasks=3).workers == 3
    assert ProcessingConfig().workers >= 1
