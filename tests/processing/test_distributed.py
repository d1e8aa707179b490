"""The Dask engine gives the local engine's results, survives a worker killed mid-scan, and lets no one else in."""

from __future__ import annotations

import asyncio
import functools
import http.client
import json
import os
import shutil
import signal
import ssl
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable
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
from imgtwin.processing.parallel import ParallelProcessingEngine
from imgtwin.records import ProcessingSummary
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
    settings = ScanSettings(roots=(str(root),), db_path=str(db), progress=False, quiet=True,
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


def cluster_processes(pid: int) -> list[Any]:
    """``psutil.Process`` of ``pid`` and of all its children."""
    import psutil  # a dependency of distributed

    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def listening_sockets(pid: int) -> list[tuple[str, int]]:
    """(address, port) of every TCP socket that process ``pid`` or one of its children listens on."""
    import psutil

    found: set[tuple[str, int]] = set()
    for proc in cluster_processes(pid):
        try:
            connections = proc.net_connections(kind="tcp")
        except psutil.NoSuchProcess:
            continue
        found.update((c.laddr.ip, c.laddr.port) for c in connections if c.status == psutil.CONN_LISTEN)
    return sorted(found)


# Per port (as text): what each attempt got ("refused (...)", "reached ...", "ran code"; HTTP status by path).
IntruderReport = dict[str, dict[str, Any]]
# What Dask's HTTP servers (scheduler dashboard, worker diagnostics) answer without any credentials.
DASK_HTTP_PATHS = ("/json/identity.json", "/info/main/workers.html", "/metrics", "/health", "/status")


def intrude(ports: list[int], marker: str) -> IntruderReport:
    """What a process without the cluster's credentials gets from each port on 127.0.0.1.

    Per port: a Dask ``identity`` call over plain TCP and over TLS with a
    certificate of its own; a ``Client`` that tries to run code (creating the
    folder ``marker``) on the scheduler and the workers; Dask's HTTP paths.
    Run in a process of its own (``python -c``), as another local user would.
    """
    from distributed import Client, Security
    from distributed.core import rpc

    stranger = Security.temporary()  # a valid certificate, but not the cluster's

    async def identity(address: str, **kwargs: object) -> str:
        try:
            remote = rpc(address, timeout=3, **kwargs)
            try:
                reply = await asyncio.wait_for(remote.identity(), 4)
            finally:
                await remote.close_rpc()
            return f"reached {reply.get('type')}"
        except Exception as exc:  # noqa: BLE001 - any failure is a refusal; the test asserts on what got through
            return f"refused ({type(exc).__name__})"

    async def run_code(port: int) -> str:
        make = functools.partial(os.makedirs, marker, exist_ok=True)

        async def attempt() -> None:
            async with Client(f"tcp://127.0.0.1:{port}", asynchronous=True, timeout=3) as client:
                await client.run_on_scheduler(make)
                await client.run(make)

        try:
            await asyncio.wait_for(attempt(), 6)  # Client's own timeout does not cover a silent peer
            return "ran code"
        except Exception as exc:  # noqa: BLE001 - as above
            return f"refused ({type(exc).__name__})"

    def get_pages(port: int) -> dict[str, object]:
        codes: dict[str, object] = {}
        for path in DASK_HTTP_PATHS:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=3) as response:
                    codes[path] = response.status
            except urllib.error.HTTPError as exc:
                codes[path] = exc.code
            except (OSError, http.client.HTTPException) as exc:  # a Dask comm port answers no HTTP
                codes[path] = type(exc).__name__
        return codes

    async def everything() -> list[list[object]]:
        tls = {"connection_args": stranger.get_connection_args("client")}
        calls: list[Awaitable[object]] = [identity(f"tcp://127.0.0.1:{port}") for port in ports]
        calls += [identity(f"tls://127.0.0.1:{port}", **tls) for port in ports]
        calls += [run_code(port) for port in ports]
        calls += [asyncio.to_thread(get_pages, port) for port in ports]
        answers = list(await asyncio.gather(*calls))  # all at once: each silent port costs its timeout
        return [answers[i: i + len(ports)] for i in range(0, len(answers), len(ports))]

    tcp, tls, code, pages = asyncio.run(everything())
    return {str(port): {"tcp": tcp[i], "tls": tls[i], "client": code[i], "http": pages[i]}
            for i, port in enumerate(ports)}


def run_intruder(ports: list[int], marker: Path, env: dict[str, str]) -> IntruderReport:
    code = ("import json, sys\nfrom tests.processing.test_distributed import intrude\n"
            "print(json.dumps(intrude(json.loads(sys.argv[1]), sys.argv[2])))")
    done = subprocess.run([sys.executable, "-c", code, json.dumps(ports), str(marker)], check=False,
                          capture_output=True, text=True, env=env, cwd=str(REPO), timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def assert_nothing_reached(report: IntruderReport, marker: Path) -> None:
    answered = {port: got for port, got in report.items()
                if not all(str(got[kind]).startswith("refused") for kind in ("tcp", "tls", "client"))
                or 200 in got["http"].values()}
    assert not marker.exists(), f"the intruder ran code through the cluster: {answered}"
    assert not answered, answered


def test_local_cluster_admits_only_the_scan_that_started_it(tmp_path: Path) -> None:
    """While a ``local:2`` scan runs, another process finds its ports and tries them all: nothing answers."""
    root = make_photos(tmp_path / "photos", 12)
    gate, marker, db = tmp_path / "gate", tmp_path / "intruder-was-here", tmp_path / "dask.db"
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
           GATE_ENV: str(gate)}
    with open(tmp_path / "scan.log", "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-c", SCAN_GATED, "scan", str(root), "--db", str(db), "--no-progress",
             "--scheduler", "local:2"], stdout=log, stderr=subprocess.STDOUT, env=env, cwd=str(REPO))
    try:
        _wait_for(lambda: gate.with_suffix(".waiting").exists() or proc.poll() is not None, 90,
                  "the workers to start on files")
        assert proc.poll() is None, (tmp_path / "scan.log").read_text()[-3000:]
        sockets = listening_sockets(proc.pid)
        # The scheduler, 2 nannies and 2 workers (and the HTTP servers Dask always starts), all on loopback.
        assert len(sockets) >= 5, sockets
        assert {address for address, _ in sockets} == {"127.0.0.1"}, sockets
        assert 8787 not in {port for _, port in sockets}  # Dask's dashboard port is left to dashboards
        for process in cluster_processes(proc.pid):  # the key reached the workers through their spawn pipe
            assert not any("PRIVATE KEY" in text for text in [*process.cmdline(), *process.environ().values()])
        report = run_intruder([port for _, port in sockets], marker, env)
        assert_nothing_reached(report, marker)
        assert proc.poll() is None, "the scan ended before the intruder was done"
        gate.touch()
        assert proc.wait(timeout=120) == 1, (tmp_path / "scan.log").read_text()[-3000:]  # 1: the broken file
    finally:
        gate.touch()
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    local = scan(root, tmp_path / "local.db", executor="thread", workers=2)
    assert (local.processed_files, local.error_count) == (12, 1)
    assert rows(db) == rows(tmp_path / "local.db")
    log = (tmp_path / "scan.log").read_text()
    assert "Traceback" not in log and "already in use" not in log, log


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


def test_plain_address_under_required_encryption_is_a_one_line_error(tmp_path: Path) -> None:
    root = make_photos(tmp_path / "photos", 1)
    env = {**os.environ, "DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION": "True"}
    done = subprocess.run([sys.executable, "-m", "imgtwin", "scan", str(root), "--db", str(tmp_path / "i.db"),
                           "--scheduler", "tcp://127.0.0.1:9"], check=False, capture_output=True, text=True,
                          env=env, cwd=str(REPO), timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-3000:]
    assert "requires encryption" in done.stderr and "tcp://127.0.0.1:9 is not a tls:// address" in done.stderr


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


def make_credentials(folder: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate and its key, made as the README says (``openssl req -x509``)."""
    cert, key = folder / f"{name}.pem", folder / f"{name}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
                    "-subj", f"/CN={name}", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def tls_client_env(env: dict[str, str], cert: Path, key: Path, ca: Path) -> dict[str, str]:
    return {**env, "DASK_DISTRIBUTED__COMM__TLS__CA_FILE": str(ca),
            "DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT": str(cert),
            "DASK_DISTRIBUTED__COMM__TLS__CLIENT__KEY": str(key)}


def test_tls_cluster_run_by_hand_takes_the_credentials_from_dasks_config(tmp_path: Path) -> None:
    """The README's secured cluster: imgtwin scans with the right certificate, and says what is wrong otherwise."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    root = make_photos(tmp_path / "photos", 8)
    tls = tmp_path / "tls"
    tls.mkdir(mode=0o700)
    cert, key = make_credentials(tls, "cluster")
    stranger_cert, stranger_key = make_credentials(tls, "stranger")
    scheduler_file = tmp_path / "scheduler.json"
    tls_options = ["--tls-ca-file", str(cert), "--tls-cert", str(cert), "--tls-key", str(key)]
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "DASK_DISTRIBUTED__SCHEDULER__HTTP__ROUTES": "[]", "DASK_DISTRIBUTED__WORKER__HTTP__ROUTES": "[]"}
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env, "cwd": str(REPO)}
    procs: list[subprocess.Popen[bytes]] = []

    def imgtwin(scheduler: str, db: str, client_env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "imgtwin", "scan", str(root), "--db", str(tmp_path / db),
                               "--no-progress", "--scheduler", scheduler], check=False, capture_output=True,
                              text=True, env=client_env, cwd=str(REPO), timeout=120)

    try:
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_scheduler", "--protocol", "tls", "--host", "127.0.0.1",
             "--port", "0", "--dashboard-address", "127.0.0.1:0", "--no-dashboard", *tls_options,
             "--scheduler-file", str(scheduler_file)], **quiet))  # type: ignore[call-overload]
        _wait_for(lambda: scheduler_file.exists() and json.loads(scheduler_file.read_text() or "{}"), 30,
                  "the scheduler file")
        address = json.loads(scheduler_file.read_text())["address"]
        assert address.startswith("tls://127.0.0.1:")
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_worker", address, "--host", "127.0.0.1",
             "--nthreads", "1", "--dashboard-address", "127.0.0.1:0", "--no-dashboard", *tls_options], **quiet))  # type: ignore[call-overload]

        # With the cluster's certificate, in Dask's environment variables: the local scan's results.
        done = imgtwin(address, "dask.db", tls_client_env(env, cert, key, ca=cert))
        assert done.returncode == 1 and "Done: 8 hashed, 1 errors" in done.stdout, done.stdout + done.stderr
        scan(root, tmp_path / "local.db", executor="thread", workers=2)
        assert rows(tmp_path / "dask.db") == rows(tmp_path / "local.db")

        # Without credentials (here through the scheduler file): what to set, at once.
        started = time.monotonic()
        done = imgtwin(str(scheduler_file), "none.db", env)
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert f"the Dask scheduler {address} uses TLS" in done.stderr.replace("\n", "")
        assert "DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT" in done.stderr.replace("\n", "")
        assert time.monotonic() - started < 30

        # A certificate the cluster does not trust: refused in the handshake.
        done = imgtwin(address, "stranger.db", tls_client_env(env, stranger_cert, stranger_key, ca=cert))
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert f"cannot reach the Dask scheduler {address}" in done.stderr.replace("\n", "")
        assert not (tmp_path / "stranger.db").exists() and not (tmp_path / "none.db").exists()

        # The scheduler's and worker's ports, loopback only, answer nobody without the certificate.
        sockets = [s for proc in procs for s in listening_sockets(proc.pid)]
        assert len(sockets) >= 3 and {address for address, _ in sockets} == {"127.0.0.1"}, sockets
        marker = tmp_path / "intruder-was-here"
        assert_nothing_reached(run_intruder([port for _, port in sockets], marker, env), marker)
    finally:
        stop_all(procs)
