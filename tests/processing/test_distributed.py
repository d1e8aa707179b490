"""The Dask engine gives the local engine's results, survives a worker killed mid-scan, and lets no one else in."""

from __future__ import annotations

import json
import os
import signal
import ssl
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from imgtwin.cli import main
from imgtwin.config import ProcessingConfig
from imgtwin.hashing.dct import DCTHasher
from imgtwin.hashing.extractor import MatchFeatureExtractor
from imgtwin.interfaces import LoadedImage
from imgtwin.loading.pillow_loader import StandardImageLoader
from imgtwin.options import ScanOptions
from imgtwin.persistence.sqlite import SqliteHashPersistence, read_rows
from imgtwin.processing.jobs import run_jobs
from imgtwin.processing.parallel import ParallelProcessingEngine
from imgtwin.processing.task import ScanTask
from imgtwin.records import FileError, ProcessingSummary
from imgtwin.reporting.composite import NullReporter
from imgtwin.runs.scan import ScanSettings, run_scan
from tests.helpers import REPO, synthetic_photo

pytestmark = pytest.mark.slow  # the fast loop (pytest -m 'not slow') leaves this module out

distributed = pytest.importorskip("distributed")

COLUMNS = ("path", "hash", "hash_spec", "error_reason", "features", "features_spec")


class SlowLoader(StandardImageLoader):
    """The real loader, 0.1 s slower per file, so a scan is still running when a worker is killed.

    Module-level so Dask workers can unpickle it (they import this module).
    """

    def load(self, path: str) -> LoadedImage:
        time.sleep(0.1)
        return super().load(path)


GATE_ENV = "IMGTWIN_TEST_GATE"


class GatedLoader(StandardImageLoader):
    """The real loader, held until the file ``$IMGTWIN_TEST_GATE`` exists: the scan's cluster stays up meanwhile.

    The first call touches ``<gate>.waiting``, which tells the test that the
    workers are running tasks. Module-level so Dask workers can unpickle it.
    """

    def load(self, path: str) -> LoadedImage:
        gate = Path(os.environ[GATE_ENV])
        gate.with_suffix(".waiting").touch()
        deadline = time.monotonic() + 120
        while not gate.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        return super().load(path)


# `imgtwin` (the real CLI) in a process of its own, with GatedLoader instead of the standard loader.
SCAN_GATED = (
    "import sys, imgtwin.runs.scan\n"
    "from tests.processing.test_distributed import GatedLoader\n"
    "imgtwin.runs.scan.StandardImageLoader = GatedLoader\n"
    "from imgtwin.cli import main\n"
    "main(sys.argv[1:], prog_name='imgtwin')\n"
)


def make_photos(root: Path, count: int) -> Path:
    root.mkdir()
    for i in range(count):
        synthetic_photo(i, (160, 120)).save(root / f"p{i:03}.jpg", quality=90)
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(100))
    return root


def rows(db: Path) -> list[tuple[object, ...]]:
    return [tuple(row[c] for c in COLUMNS) for row in read_rows(str(db))]


def scan(root: Path, db: Path, **options: Any) -> ProcessingSummary:
    settings = ScanSettings(roots=(str(root),), db_path=str(db),
                            options=ScanOptions(**options))
    return run_scan(settings)


def test_local_cluster_scan_matches_the_local_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Where the run's TLS key meets the disk (ssl loads keys from files only): a spy, the real call goes on.
    loaded: list[tuple[str, int, int]] = []
    load_cert_chain = ssl.SSLContext.load_cert_chain

    def spy(self: ssl.SSLContext, certfile: str, keyfile: str | None = None, password: object = None) -> None:
        for name in filter(None, (certfile, keyfile)):
            folder = os.stat(os.path.dirname(name))
            loaded.append((name, stat.S_IMODE(folder.st_mode), folder.st_uid))
        load_cert_chain(self, certfile, keyfile, password)  # type: ignore[arg-type]

    monkeypatch.setattr(ssl.SSLContext, "load_cert_chain", spy)
    root = make_photos(tmp_path / "photos", 30)
    local = scan(root, tmp_path / "local.db", executor="thread", workers=2)
    dask = scan(root, tmp_path / "dask.db", scheduler="local:2")
    assert (dask.processed_files, dask.error_count, dask.skipped) == (30, 1, 0)
    assert (local.processed_files, local.error_count) == (dask.processed_files, dask.error_count)
    assert rows(tmp_path / "dask.db") == rows(tmp_path / "local.db")
    assert len(rows(tmp_path / "dask.db")) == 31
    # The scheduler, the nannies and the client (this process) loaded the run's key from a private folder,
    # which is gone now.
    assert loaded, "the local cluster used no TLS"
    assert {(mode, uid) for _, mode, uid in loaded} == {(0o700, os.getuid())}
    assert not any(os.path.exists(name) or os.path.exists(os.path.dirname(name)) for name, _, _ in loaded)


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


def stop_all(procs: list[subprocess.Popen[bytes]]) -> None:
    """Terminate the cluster's processes, newest first; kill those that do not stop within 10 s."""
    for proc in reversed(procs):
        if proc.poll() is None:
            proc.terminate()
    for proc in reversed(procs):
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


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
        stop_all(procs)


@dataclass(frozen=True)
class Squares:
    """A Task that is no scan: ``n`` -> ``(n, n * n)``; a negative item raises, every time it is tried."""

    def run(self, item: int) -> tuple[int, str]:
        if item < 0:
            raise RuntimeError(f"no square for {item}")
        return item, str(item * item)

    def failed(self, item: int, error: FileError) -> tuple[int, str]:
        return item, error.reason.value


def test_the_dask_pool_runs_any_task_like_the_local_pools(tmp_path: Path) -> None:
    from imgtwin.processing.distributed import DaskCluster, DistributedProcessingEngine, open_client
    from tests.processing.test_workers import run_pool

    root = make_photos(tmp_path / "photos", 5)
    paths = sorted(str(p) for p in root.iterdir())
    scan_task = ScanTask(StandardImageLoader(512), DCTHasher(8), MatchFeatureExtractor())
    local = ProcessingConfig(executor="thread", max_concurrent_tasks=2)
    with open_client("local:2") as client:
        cluster = DaskCluster(client, batch_files=2)
        engine = DistributedProcessingEngine(scan_task.loader, scan_task.hasher, client, features=scan_task.extractor,
                                             batch_files=2)
        by_engine = run_pool(engine.make_pool(local), paths)
        by_jobs = run_jobs(scan_task, paths, local, cluster=cluster)
        squares = run_jobs(Squares(), [-1, *range(5)], local, cluster=DaskCluster(client, batch_files=6))
    expected = {r.path: r for r in run_jobs(scan_task, paths, local)}
    assert {r.path: r for r in by_engine} == {r.path: r for r in by_jobs} == expected
    assert sum(r.error is not None for r in expected.values()) == 1  # broken.jpg
    # Items that are not paths travel as they are; a batch lost for good is sent again one item a task,
    # so only the item that fails alone becomes the task's own failure (the other five are computed).
    assert sorted(squares) == [(-1, "worker_crashed"), *((n, str(n * n)) for n in range(5))]


def test_cli_without_dask_says_how_to_install_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_photos(tmp_path / "photos", 1)
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    result = CliRunner().invoke(main, ["scan", "--scheduler", "local:2", "--db", str(tmp_path / "i.db"), str(root)])
    assert result.exit_code == 2
    assert "pip install 'imgtwin[distributed]'" in result.output.replace("\n", "")


def test_local_cluster_whose_workers_cannot_start_is_a_one_line_error(tmp_path: Path) -> None:
    root = make_photos(tmp_path / "photos", 1)
    env = {**os.environ, "DASK_DISTRIBUTED__WORKER__PRELOAD": '["no_such_module_for_imgtwin"]'}  # a typo'd preload
    done = subprocess.run([sys.executable, "-m", "imgtwin", "scan", str(root), "--db", str(tmp_path / "i.db"),
                           "--no-progress", "--scheduler", "local:1"], check=False, capture_output=True, text=True,
                          env=env, cwd=str(REPO), timeout=120)
    assert done.returncode == 2, done.stderr[-3000:]
    last = done.stderr.strip().splitlines()[-1]  # after Dask's own log of the worker's failure
    assert "cannot start the local Dask cluster" in last and "no_such_module_for_imgtwin" in last, last


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
