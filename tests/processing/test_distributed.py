"""The Dask engine gives the local engine's results, and survives a worker killed mid-scan."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

from imgtwin.app import ScanSettings, run_scan
from imgtwin.cli import main
from imgtwin.config import ProcessingConfig
from imgtwin.hashing.dct import DCTHasher
from imgtwin.hashing.extractor import MatchFeatureExtractor
from imgtwin.interfaces import LoadedImage
from imgtwin.loading.pillow_loader import StandardImageLoader
from imgtwin.processing.engine import ParallelProcessingEngine
from imgtwin.persistence.sqlite import SqliteHashPersistence, read_rows
from imgtwin.records import ProcessingSummary
from imgtwin.reporting.composite import NullReporter
from tests.helpers import REPO, synthetic_photo

distributed = pytest.importorskip("distributed")

COLUMNS = ("path", "hash", "hash_spec", "error_reason", "features", "features_spec")


class SlowLoader(StandardImageLoader):
    """The real loader, 0.1 s slower per file, so a scan is still running when a worker is killed.

    Module-level so Dask workers can unpickle it (they import this module).
    """

    def load(self, path: str) -> LoadedImage:
        time.sleep(0.1)
        return super().load(path)


def make_photos(root: Path, count: int) -> Path:
    root.mkdir()
    for i in range(count):
        synthetic_photo(i, (160, 120)).save(root / f"p{i:03}.jpg", quality=90)
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(100))
    return root


def rows(db: Path) -> list[tuple[object, ...]]:
    return [tuple(row[c] for c in COLUMNS) for row in read_rows(str(db))]


def scan(root: Path, db: Path, **overrides: object) -> ProcessingSummary:
    settings = ScanSettings(roots=(str(root),), db_path=str(db), progress=False, quiet=True, **overrides)
    return run_scan(settings, Console(file=io.StringIO()))


def test_local_cluster_scan_matches_the_local_engine(tmp_path: Path) -> None:
    root = make_photos(tmp_path / "photos", 30)
    local = scan(root, tmp_path / "local.db", executor="thread", workers=2)
    dask = scan(root, tmp_path / "dask.db", scheduler="local:2")
    assert (dask.processed_files, dask.error_count, dask.skipped) == (30, 1, 0)
    assert (local.processed_files, local.error_count) == (dask.processed_files, dask.error_count)
    assert rows(tmp_path / "dask.db") == rows(tmp_path / "local.db")
    assert len(rows(tmp_path / "dask.db")) == 31


def _wait_for(condition: object, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what}")
        time.sleep(0.05)


class _KillAfter(NullReporter):
    """Kills one worker process once ``after`` files are done (from the collector thread)."""

    def __init__(self, victim: subprocess.Popen[bytes], after: int) -> None:
        self.victim = victim
        self.after = after
        self.killed_at: int | None = None
        self.total = 0

    def report_started(self, total_files: int) -> None:
        self.total = total_files

    def report_progress(self, completed: int, total: int) -> None:
        if self.killed_at is None and completed >= self.after:
            self.victim.send_signal(signal.SIGKILL)
            self.killed_at = completed


def test_killed_worker_loses_no_file_and_duplicates_none(tmp_path: Path) -> None:
    from imgtwin.processing.distributed import DistributedProcessingEngine

    root = make_photos(tmp_path / "photos", 60)
    scheduler_file = tmp_path / "scheduler.json"
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env, "cwd": str(REPO)}
    procs: list[subprocess.Popen[bytes]] = []
    try:
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
             "--no-dashboard", "--scheduler-file", str(scheduler_file)], **quiet))  # type: ignore[call-overload]
        _wait_for(lambda: scheduler_file.exists() and json.loads(scheduler_file.read_text() or "{}"), 30,
                  "the scheduler file")
        for _ in range(2):
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_worker", "--scheduler-file", str(scheduler_file),
                 "--nthreads", "1", "--no-nanny", "--host", "127.0.0.1", "--no-dashboard"],
                **quiet))  # type: ignore[call-overload]
        with distributed.Client(scheduler_file=str(scheduler_file), timeout=30) as client:
            client.wait_for_workers(2, timeout=30)
            engine = DistributedProcessingEngine(
                SlowLoader(512), DCTHasher(8), client, features=MatchFeatureExtractor(), batch_files=4
            )
            reporter = _KillAfter(procs[1], after=12)
            summary = engine.process_directory(
                str(root), ProcessingConfig(), reporter, SqliteHashPersistence(str(tmp_path / "dask.db"))
            )
            assert reporter.killed_at is not None and reporter.killed_at < 61, "the kill came too late"
            assert procs[1].wait(timeout=10) == -signal.SIGKILL
            _wait_for(lambda: len(client.scheduler_info()["workers"]) == 1, 30, "the scheduler to drop the worker")
        local = tmp_path / "local.db"
        ParallelProcessingEngine(StandardImageLoader(512), DCTHasher(8), features=MatchFeatureExtractor()).process_directory(
            str(root), ProcessingConfig(executor="thread", max_concurrent_tasks=2), NullReporter(),
            SqliteHashPersistence(str(local)),
        )
        # Each file once in the summary and in the index, with the local engine's hashes.
        assert (summary.processed_files, summary.error_count, summary.skipped) == (60, 1, 0)
        assert rows(tmp_path / "dask.db") == rows(local)
        assert len(rows(local)) == 61
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in reversed(procs):
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def test_cli_without_dask_says_how_to_install_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_photos(tmp_path / "photos", 1)
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    result = CliRunner().invoke(main, ["scan", "--scheduler", "local:2", "--db", str(tmp_path / "i.db"), str(root)])
    assert result.exit_code == 2
    assert "pip install 'imgtwin[distributed]'" in result.output.replace("\n", "")


def test_cli_rejects_a_bad_local_cluster_and_an_unreachable_scheduler(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("imgtwin.processing.distributed.CONNECT_TIMEOUT_SECONDS", 1.0)
    root = make_photos(tmp_path / "photos", 1)
    result = CliRunner().invoke(main, ["scan", "--scheduler", "local:x", str(root)])
    assert result.exit_code == 2 and "local:N" in result.output
    result = CliRunner().invoke(
        main, ["scan", "--scheduler", "tcp://127.0.0.1:9", "--db", str(tmp_path / "i.db"), str(root)]
    )
    assert result.exit_code == 2
    assert "cannot reach the Dask scheduler" in result.output.replace("\n", "")
