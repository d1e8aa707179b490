"""Running a batch of jobs through the scan's worker pool: same time limit, same crash isolation.

Some work after a scan decodes files again (the keeper's resolution checks, for
one). A file that made a decoder spin or crash must cost only its own job there
too, so such work goes through ``ProcessWorkerPool`` like the scan, with the
pool fed from a list instead of the file discovery.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, TypeVar

from imgtwin.config import ProcessingConfig
from imgtwin.processing.channels import END, Channel
from imgtwin.processing.task import Task
from imgtwin.processing.workers import ProcessWorkerPool, ThreadWorkerPool, WorkerPool

Item = TypeVar("Item")
Result = TypeVar("Result")


def make_pool(task: Task[Any, Any], config: ProcessingConfig, workers: int, **tuning: Any) -> WorkerPool:
    """The pool ``config`` names (processes with its time and memory limits, or threads) for ``task``.

    ``tuning``: ``ProcessWorkerPool``'s keyword arguments (``prefetch``, ``chunk``), for processes.
    """
    if config.executor == "thread":
        return ThreadWorkerPool(workers, task)
    return ProcessWorkerPool(workers, task, config.file_timeout, memory_limit_mb=config.worker_memory_mb, **tuning)


def run_jobs(task: Task[Item, Result], items: Sequence[Item], config: ProcessingConfig | None = None
             ) -> list[Result]:  # fmt: skip
    """``task`` on every item, in the pool ``config`` describes; results in the order they finished.

    A result must say which item it is for (``task.failed`` gets the item too).
    """
    if not items:
        return []
    config = config or ProcessingConfig()
    pool = make_pool(task, config, min(config.workers, len(items)))
    work, results = Channel(config.channel_buffer_size), Channel(config.channel_buffer_size)
    cancel = threading.Event()

    def feed() -> None:
        for item in items:
            if not work.send(item, cancel):
                return
        work.send(END, cancel)

    feeder = threading.Thread(target=feed, name="imgtwin-jobs", daemon=True)
    runner = threading.Thread(target=pool.run, args=(work, results, cancel), name="imgtwin-job-pool", daemon=True)
    feeder.start()
    runner.start()
    out: list[Result] = []
    try:
        while (result := results.receive()) is not END:
            if result is not None:
                out.append(result)
    finally:
        cancel.set()
        feeder.join(timeout=5)
        runner.join(timeout=5)
    return out
