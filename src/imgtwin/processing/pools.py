"""The one place a worker pool is built: local processes, threads, or a Dask cluster, for any ``Task``.

The scan engine, ``run_jobs``, ``PoolService`` and the Dask engine all get
their pool here, so a rule about pools (the time and memory limits of worker
processes, ``--workers auto``, how many workers a short list gets, the
batches sent to a cluster) has one home and every caller follows it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from imgtwin.config import ProcessingConfig, cpu_count
from imgtwin.processing.pool_contract import WorkerPool
from imgtwin.processing.task import Task
from imgtwin.processing.thread_pool import ThreadWorkerPool
from imgtwin.processing.workers import CHUNK, PREFETCH, ProcessWorkerPool

if TYPE_CHECKING:
    from imgtwin.processing.distributed import DaskCluster


def build_pool(
    task: Task[Any, Any],
    config: ProcessingConfig,
    *,
    items: int | None = None,
    interactive: bool = False,
    cluster: DaskCluster | None = None,
) -> WorkerPool:
    """The pool that runs ``task``: on ``cluster`` when given, else the executor ``config`` names.

    ``items``: how many items a known list holds (no more workers than that, and
    no ``--workers auto``: a short list gains nothing from it). ``interactive``:
    items come one at a time to be answered at once (a server's), so each worker
    gets one item per message and holds no queue of them.
    """
    if cluster is not None:
        from imgtwin.processing.distributed import DaskWorkerPool  # Dask only when asked for

        return DaskWorkerPool(cluster.client, task, batch_files=cluster.batch_files, max_in_flight=cluster.max_in_flight)
    workers = config.workers if items is None else min(config.workers, items)
    if config.executor == "thread":
        return ThreadWorkerPool(workers, task)
    controller = None
    if config.adaptive_workers and items is None and not interactive:
        from imgtwin.processing.adaptive import AdaptiveConcurrency

        controller = AdaptiveConcurrency(minimum=1, maximum=2 * cpu_count(), initial=workers)
    return ProcessWorkerPool(
        workers, task, config.file_timeout, memory_limit_mb=config.worker_memory_mb, controller=controller,
        prefetch=1 if interactive else PREFETCH, chunk=1 if interactive else CHUNK,
    )
