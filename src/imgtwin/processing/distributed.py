"""Scaling out: the worker pool on a Dask ``distributed`` cluster (issue #8).

``DaskWorkerPool`` keeps the pool contract of ``processing.workers`` and runs
the same ``Task`` objects as the local pools: it reads items from the work
channel, sends batches of them with the task to the cluster (``run_batch``:
``task.run`` on each), streams the results into the result channel and ends
with ``END``; a batch lost for good becomes ``task.failed`` results. It is
built by ``processing.pools.build_pool`` from a ``DaskCluster``, like every
pool. Discovery, the result cache and storage stay in this process, so the
pipeline, the index and the summary are the same as for a local scan; only
decoding and hashing move.

Dask is an optional dependency (``pip install 'imgtwin[distributed]'``): this
module imports it only when a client is made or a pool runs. A Dask cluster
runs whatever code its clients send, so the ``local:N`` cluster is private to
the scan (TLS with a certificate of its own), and a cluster given by address
is reached with the credentials of Dask's own configuration.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from imgtwin.hashing.extractor import FeatureExtractor
from imgtwin.interfaces import Hasher, ImageLoader
from imgtwin.processing.channels import END, POLL_SECONDS, Channel
from imgtwin.processing.dask_batches import BatchSizer, split_failed
from imgtwin.processing.parallel import ParallelProcessingEngine
from imgtwin.processing.pool_contract import quiet_decoder_warnings
from imgtwin.processing.source import FileSource
from imgtwin.processing.task import ManyTask, Task
from imgtwin.records import ErrorReason, FileError

if TYPE_CHECKING:
    from distributed import Client

INSTALL_HINT = "pip install 'imgtwin[distributed]'"
# Dask re-runs a task whose worker died (up to the scheduler's
# ``allowed-failures``); ``retries`` covers a task that raised.
TASK_RETRIES = 2
# How often the pool re-reads the cluster's thread count (workers come and go).
NTHREADS_REFRESH_SECONDS = 2.0
CONNECT_TIMEOUT_SECONDS = 10.0
# Dask's own names for a client's TLS credentials (environment form of distributed.comm.tls.*).
TLS_ENV_VARS = (
    "DASK_DISTRIBUTED__COMM__TLS__CA_FILE, DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT and "
    "DASK_DISTRIBUTED__COMM__TLS__CLIENT__KEY"
)
# HTTP routes of a private local cluster's scheduler and workers: none (see private_cluster).
_NO_HTTP_ROUTES: dict[str, list[str]] = {"distributed.scheduler.http.routes": [], "distributed.worker.http.routes": []}

_quieted = False


class DistributedSetupError(RuntimeError):
    """Dask is missing, or the scheduler cannot be reached: nothing was scanned."""


def _require_distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:
        raise DistributedSetupError(f"--scheduler needs Dask distributed: {INSTALL_HINT} ({exc})") from exc
    return distributed


def run_batch(task: Task[Any, Any], items: Sequence[Any]) -> tuple[list[Any], float]:
    """One Dask task: ``task`` on several items, so that scheduling costs less than decoding; and its seconds.

    The seconds are the worker's own (``dask_batches.BatchSizer`` sizes the next batches by them).
    """
    global _quieted
    if not _quieted:
        quiet_decoder_warnings()
        _quieted = True
    started = time.perf_counter()
    if isinstance(task, ManyTask):  # the scan's: the features of the batch together (``hashing.batched``)
        results = list(task.run_many(items, lambda: None))
    else:
        results = [task.run(item) for item in items]
    return results, time.perf_counter() - started


@dataclass(frozen=True)
class DaskCluster:
    """Where a Dask pool sends its batches (``client``: a ``distributed.Client``), and how many at once.

    ``batch_files`` None: sized to ``dask_batches.BATCH_SECONDS`` of work each.
    ``max_in_flight`` None: twice the cluster's threads, re-read as workers come and go.
    """

    client: Client
    batch_files: int | None = None
    max_in_flight: int | None = None

    def __post_init__(self) -> None:
        if self.batch_files is not None and self.batch_files < 1:
            raise ValueError("batch_files must be >= 1")


def parse_local(scheduler: str) -> int | None:
    """``local:N`` -> N (workers of a throw-away local cluster); None for an address."""
    if not scheduler.startswith("local:"):
        return None
    try:
        workers = int(scheduler.removeprefix("local:"))
    except ValueError:
        raise ValueError(f"{scheduler!r}: expected local:N with N a number of workers") from None
    if workers < 1:
        raise ValueError(f"{scheduler!r}: a local cluster needs at least 1 worker")
    return workers


def private_cluster(workers: int) -> Any:
    """A ``LocalCluster`` of ``workers`` processes on 127.0.0.1 that only this process can use.

    Every port it opens (scheduler, nannies, workers) is TLS and demands a
    certificate made for this run by ``Security.temporary()``: another user
    of the machine cannot connect, let alone run code as ours. The key stays
    in memory here and is handed to the worker processes through their spawn
    pipe; Dask writes it to disk only while loading it into an SSL context,
    in a folder ``tempfile`` makes private (0700) and deletes at once. The
    scheduler's and workers' HTTP servers (dashboard, ``/json``, ``/info``,
    their own ``/metrics``), which TLS does not cover, serve no routes.
    """
    distributed = _require_distributed()
    import dask

    try:
        security = distributed.Security.temporary()
    except ImportError as exc:
        raise DistributedSetupError(f"--scheduler local:N needs the cryptography package: {INSTALL_HINT} ({exc})") from exc
    try:
        with dask.config.set(_NO_HTTP_ROUTES):  # read by the scheduler and each nanny when they start
            return distributed.LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1", protocol="tls://",
                security=security, dashboard_address=None, worker_dashboard_address=None,
                # The scheduler's HTTP server starts anyway: on a free port, not on 8787 (a dashboard's).
                scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
            )
    except RuntimeError as exc:  # "Nanny failed to start.": a worker that cannot start (a bad preload, ...)
        cause: BaseException = exc
        seen = {id(exc)}
        while (earlier := cause.__cause__ or cause.__context__) is not None and id(earlier) not in seen:
            cause = earlier
            seen.add(id(cause))
        detail = f" ({type(cause).__name__}: {cause})" if cause is not exc else ""
        raise DistributedSetupError(f"cannot start the local Dask cluster: {exc}{detail}") from exc


def scheduler_address(scheduler: str) -> str:
    """The address in a scheduler file (``dask scheduler --scheduler-file``), or ``scheduler`` itself."""
    if not (scheduler.endswith(".json") and os.path.exists(scheduler)):
        return scheduler
    try:
        with open(scheduler, encoding="utf-8") as f:
            address = json.load(f)["address"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DistributedSetupError(f"{scheduler} is not a Dask scheduler file ({type(exc).__name__}: {exc})") from exc
    if not isinstance(address, str):
        raise DistributedSetupError(f"{scheduler} is not a Dask scheduler file (its address is {address!r})")
    return address


def check_credentials(address: str) -> None:
    """Dask's configuration must fit the address: say what is missing up front.

    Without a certificate Dask fails a ``tls://`` address deep inside with a
    TypeError, and refuses a ``tcp://`` one under ``require-encryption`` with
    a RuntimeError. With one, a certificate the cluster does not trust is
    refused in the handshake and reported as "cannot reach".
    """
    security = _require_distributed().Security()  # Dask's config files and DASK_* variables
    if address.startswith("tls://") and not (security.tls_ca_file and security.tls_client_cert):
        raise DistributedSetupError(
            f"the Dask scheduler {address} uses TLS: give this client the cluster's credentials in Dask's "
            f"configuration, e.g. {TLS_ENV_VARS} (see the README, Scaling out)"
        )
    if security.require_encryption and not address.startswith("tls://"):
        raise DistributedSetupError(
            f"Dask's configuration requires encryption (distributed.comm.require-encryption), "
            f"and {address} is not a tls:// address"
        )


@contextmanager
def open_client(scheduler: str) -> Iterator[Client]:
    """A client for ``tcp://`` or ``tls://HOST:PORT`` (or a scheduler file), or for a fresh ``local:N`` cluster.

    A local cluster is private to this process (``private_cluster``) and is
    closed on exit. For an address, TLS credentials come from Dask's own
    configuration (``distributed.comm.tls.*``), as for any Dask client.
    """
    distributed = _require_distributed()
    workers = parse_local(scheduler)
    cluster = None
    try:
        if workers is not None:
            cluster = private_cluster(workers)
            client = distributed.Client(cluster)  # with the cluster's credentials
        else:
            address = scheduler_address(scheduler)
            check_credentials(address)
            client = distributed.Client(address, timeout=CONNECT_TIMEOUT_SECONDS)
    except BaseException as exc:
        if cluster is not None:
            cluster.close()
        if isinstance(exc, (OSError, TimeoutError)):
            raise DistributedSetupError(f"cannot reach the Dask scheduler {scheduler}: {exc}") from exc
        raise
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


class DaskWorkerPool:
    """Runs ``task`` on a Dask cluster, in batches (``dask_batches``), ``max_in_flight`` batches at most.

    The bound is the back-pressure: discovery waits on the work channel instead
    of the scheduler holding every item. It defaults to twice the cluster's
    threads, so each worker has its next batch while it returns the last one.
    A batch is a future that completes once, so a batch re-run after a worker
    died still gives its results once. A batch that fails for good (its
    workers kept dying) is sent again one item a task, and an item that fails
    alone becomes a ``task.failed`` (``worker_crashed``) result. The per-item timeout and memory limit of the process pool
    do not apply here: Dask's nanny and worker memory limits are the cluster's
    own settings. Made by ``processing.pools.build_pool``.
    """

    def __init__(
        self, client: Client, task: Task[Any, Any], *, batch_files: int | None = None,
        max_in_flight: int | None = None,
    ) -> None:
        self.client = client
        self.task = task
        self.batches = BatchSizer(batch_files)
        self.max_in_flight = max_in_flight
        self._in_flight: dict[Any, list[Any]] = {}
        self._run_id = uuid.uuid4().hex[:12]
        self._numbers = itertools.count()
        self._limit = max_in_flight or 2
        self._limit_checked = 0.0

    @property
    def busy_workers(self) -> int:
        """Batches submitted and not yet answered (for monitoring)."""
        return len(self._in_flight)

    def _current_limit(self) -> int:
        if self.max_in_flight is not None:
            return self.max_in_flight
        now = time.monotonic()
        if now - self._limit_checked >= NTHREADS_REFRESH_SECONDS:
            self._limit_checked = now
            nthreads = self.client.nthreads()  # type: ignore[no-untyped-call]  # dask leaves it unannotated
            self._limit = max(2, 2 * sum(nthreads.values()))
        return self._limit

    def run(self, work: Channel, results: Channel, cancel: threading.Event) -> None:
        distributed = _require_distributed()
        completed = distributed.as_completed(with_results=True, raise_errors=False)
        batch: list[Any] = []
        input_open = True
        try:
            while not cancel.is_set():
                if input_open and len(self._in_flight) < self._current_limit():
                    # Wait for input only when nothing is out; otherwise just look.
                    item = work.receive(timeout=0.01 if self._in_flight else POLL_SECONDS)
                    if item is END:
                        input_open = False
                    elif item is not None:
                        batch.append(item)  # a scan's paths are absolute (prepare_roots): workers may run elsewhere
                    # A part batch goes out at the end of input, or when the workers are idle.
                    idle = item is None and not self._in_flight
                    if batch and (len(batch) >= self.batches.size() or idle or not input_open):
                        self._submit(batch, completed)
                        batch = []
                    if input_open and not completed.has_ready():
                        continue
                elif not self._in_flight:
                    return
                with completed.thread_condition:
                    if not completed.has_ready():
                        completed.thread_condition.wait(timeout=POLL_SECONDS)
                if completed.has_ready():
                    for future, value in completed.next_batch(block=False):
                        if not self._deliver(future, value, results, cancel, completed):
                            return
        finally:
            if self._in_flight:
                self.client.cancel(list(self._in_flight))  # type: ignore[no-untyped-call]  # likewise
                self._in_flight.clear()
            results.put(END)

    def _submit(self, items: list[Any], completed: Any) -> None:
        key = f"imgtwin-batch-{self._run_id}-{next(self._numbers)}"
        future = self.client.submit(run_batch, self.task, items, key=key, retries=TASK_RETRIES)
        self._in_flight[future] = items
        completed.add(future)

    def _deliver(self, future: Any, value: Any, results: Channel, cancel: threading.Event, completed: Any) -> bool:
        items = self._in_flight.pop(future, [])
        if future.status == "finished":
            batch_results: list[Any] = value[0]
            self.batches.observe(len(items), value[1])
        elif singles := split_failed(items):
            for single in singles:
                self._submit(single, completed)
            return True
        else:
            exc = value[1] if isinstance(value, tuple) and len(value) > 1 else value
            error = FileError(ErrorReason.WORKER_CRASHED, f"the Dask task failed ({type(exc).__name__}: {exc})")
            batch_results = [self.task.failed(item, error) for item in items]
        for result in batch_results:
            if not results.send(result, cancel):
                return False
        return True


class DistributedProcessingEngine(ParallelProcessingEngine):
    """``ParallelProcessingEngine`` whose decoding runs on a Dask cluster.

    ``client`` is a ``distributed.Client``. Every worker must read the files at
    the same absolute paths as this process (a shared or mounted file system);
    ``loader``, ``hasher`` and ``features`` are pickled to the workers.
    """

    def __init__(
        self,
        loader: ImageLoader,
        hasher: Hasher,
        client: Client,
        storage: FileSource | None = None,
        features: FeatureExtractor | None = None,
        *,
        batch_files: int | None = None,
        max_in_flight: int | None = None,
    ) -> None:
        super().__init__(loader, hasher, storage, features, cluster=DaskCluster(client, batch_files, max_in_flight))
        self.client = client

    def prepare_roots(self, roots: list[str]) -> list[str]:
        """Absolute: the workers see no working directory of ours."""
        return [os.path.abspath(root) for root in roots]
