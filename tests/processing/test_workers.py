"""The process pool contains crashes and hangs; back-pressure bounds the queues."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from imgtwin.hashing.dct import DCTHasher
from imgtwin.processing.channels import END, Channel
from imgtwin.processing.task import ScanTask
from imgtwin.processing.thread_pool import ThreadWorkerPool
from imgtwin.processing.workers import ProcessWorkerPool
from imgtwin.records import ErrorReason, FileStatus
from tests.helpers import MisbehavingLoader, synthetic_photo


def run_pool(pool, paths: list[str], results: Channel | None = None) -> list:
    """The messages ``pool`` sends for ``paths`` (into ``results``, or a plain channel: one result each)."""
    work, results = Channel(100), results if results is not None else Channel(100)
    for path in paths:
        work.put(path)
    work.put(END)
    pool.run(work, results, threading.Event())
    out = []
    while (item := results.get()) is not END:
        out.append(item)
    return out


@pytest.mark.slow
def test_hung_and_crashing_files_cost_only_themselves(tmp_path: Path) -> None:
    paths = []
    for i in range(6):
        synthetic_photo(i, (200, 150)).save(tmp_path / f"ok{i}.jpg")
        paths.append(str(tmp_path / f"ok{i}.jpg"))
    for name in ("hang.jpg", "crash.jpg"):
        synthetic_photo(9).save(tmp_path / name)
    paths[2:2] = [str(tmp_path / "hang.jpg"), str(tmp_path / "crash.jpg")]
    pool = ProcessWorkerPool(2, ScanTask(MisbehavingLoader(512), DCTHasher()), file_timeout=3.0)
    started = time.monotonic()
    results = {Path(r.path).name: r for r in run_pool(pool, paths)}
    elapsed = time.monotonic() - started
    assert results["hang.jpg"].error.reason is ErrorReason.TIMEOUT
    assert results["crash.jpg"].error.reason is ErrorReason.WORKER_CRASHED
    assert all(results[f"ok{i}.jpg"].status is FileStatus.HASHED for i in range(6))
    assert pool.replaced == 2
    assert elapsed < 20  # the hang cost about its 3 s budget, not an hour


def test_thread_pool_processes_everything(tmp_path: Path) -> None:
    paths = []
    for i in range(5):
        synthetic_photo(i, (100, 80)).save(tmp_path / f"{i}.png")
        paths.append(str(tmp_path / f"{i}.png"))
    results = run_pool(ThreadWorkerPool(3, ScanTask(MisbehavingLoader(512), DCTHasher())), paths)
    assert sorted(r.path for r in results) == sorted(paths)


def test_channel_applies_back_pressure_and_honours_cancel() -> None:
    channel = Channel(2)
    cancel = threading.Event()
    assert channel.send(1, cancel) and channel.send(2, cancel)
    blocked_result: list[bool] = []
    sender = threading.Thread(target=lambda: blocked_result.append(channel.send(3, cancel)))
    sender.start()
    time.sleep(0.3)
    assert sender.is_alive()  # full: the producer waits
    cancel.set()
    sender.join(timeout=2)
    assert blocked_result == [False]
    assert channel.qsize() == 2


@pytest.mark.slow
def test_workers_that_keep_dying_stop_the_run_with_a_clear_error(tmp_path: Path) -> None:
    from imgtwin.config import ProcessingConfig
    from imgtwin.processing.parallel import ParallelProcessingEngine
    from imgtwin.processing.pool_contract import WorkerStartupError
    from imgtwin.reporting.composite import NullReporter
    from tests.processing.test_pipeline import MemoryPersistence

    for i in range(12):
        synthetic_photo(i, (64, 48)).save(tmp_path / f"crash{i:02d}.jpg")
    persistence = MemoryPersistence()
    engine = ParallelProcessingEngine(MisbehavingLoader(512), DCTHasher())
    with pytest.raises(WorkerStartupError, match="__main__"):
        engine.process_directory(str(tmp_path), ProcessingConfig(max_concurrent_tasks=2), NullReporter(), persistence)
    assert persistence.finalized == 1  # what was collected is still stored
    assert len(persistence.results) < 12


@pytest.mark.slow
def test_paths_sent_to_a_worker_that_just_crashed_are_not_lost(tmp_path: Path) -> None:
    # One worker and crashes alternating with good files, so that prefetched
    # paths keep landing on the pipe of a worker that has just died.
    paths = []
    for i in range(14):
        name = f"crash{i:02d}.jpg" if i % 2 else f"ok{i:02d}.jpg"
        synthetic_photo(i, (64, 48)).save(tmp_path / name)
        paths.append(str(tmp_path / name))
    results = {Path(r.path).name: r for r in run_pool(ProcessWorkerPool(1, ScanTask(MisbehavingLoader(512), DCTHasher())), paths)}
    assert sorted(results) == sorted(Path(p).name for p in paths)
    for name, result in results.items():
        expected = ErrorReason.WORKER_CRASHED if name.startswith("crash") else None
        assert (result.error.reason if result.error else None) is expected, name


def test_sending_to_a_dead_worker_does_not_break_the_dispatcher() -> None:
    # The race above, made deterministic: the worker is gone before the send.
    pool = ProcessWorkerPool(1, ScanTask(MisbehavingLoader(512), DCTHasher()))
    worker = pool._start_worker()
    worker.process.kill()
    worker.process.join()
    try:
        pool._send(worker, "/nowhere/next.jpg")  # must not raise BrokenPipeError
        assert list(worker.pending) == ["/nowhere/next.jpg"]  # kept, to be re-queued on EOF
    finally:
        pool._stop_worker(worker, kill=True)


@pytest.mark.slow
def test_chunks_of_tiny_files_keep_the_time_limit_and_crashes_per_file(tmp_path: Path) -> None:
    # Tiny files go to the workers several per message and come back several per message; a hang or
    # a crash in the middle of a chunk still costs only that file, and the files done before it in the
    # same chunk (whose results died with the worker) are decoded again, not lost or blamed.
    paths = []
    for i in range(40):
        name = {7: "hang.png", 21: "crash.png"}.get(i, f"ok{i:02d}.png")
        synthetic_photo(i, (48, 32)).save(tmp_path / name)
        paths.append(str(tmp_path / name))
    pool = ProcessWorkerPool(2, ScanTask(MisbehavingLoader(512), DCTHasher()), file_timeout=2.0, chunk=8)
    pool._item_seconds = 0.001  # as measured on tiny files: whole chunks from the start
    assert pool._chunk == 8
    results = run_pool(pool, paths)
    assert sorted(r.path for r in results) == sorted(paths)  # each file once
    by_name = {Path(r.path).name: r for r in results}
    assert by_name["hang.png"].error.reason is ErrorReason.TIMEOUT
    assert by_name["crash.png"].error.reason is ErrorReason.WORKER_CRASHED
    assert all(r.status is FileStatus.HASHED for n, r in by_name.items() if n.startswith("ok"))
    assert pool.replaced == 2
