"""The Dask cluster lets no one else in: a local cluster admits only its own scan; TLS by hand takes its credentials."""

from __future__ import annotations

import asyncio
import functools
import http.client
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import REPO
from tests.processing.test_distributed import GATE_ENV, SCAN_GATED, _wait_for, make_photos, rows, scan, stop_all

pytestmark = pytest.mark.slow  # the fast loop leaves this module out

distributed = pytest.importorskip("distributed")


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
    code = ("import json, sys\nfrom tests.processing.test_distributed_security import intrude\n"
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


def test_plain_address_under_required_encryption_is_a_one_line_error(tmp_path: Path) -> None:
    root = make_photos(tmp_path / "photos", 1)
    env = {**os.environ, "DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION": "True"}
    done = subprocess.run([sys.executable, "-m", "imgtwin", "scan", str(root), "--db", str(tmp_path / "i.db"),
                           "--scheduler", "tcp://127.0.0.1:9"], check=False, capture_output=True, text=True,
                          env=env, cwd=str(REPO), timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-3000:]
    assert "requires encryption" in done.stderr and "tcp://127.0.0.1:9 is not a tls:// address" in done.stderr


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
        assert done.returncode == 1 and "Done: 8 hashed, 1 error," in done.stdout, done.stdout + done.stderr
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
