"""Running a batch of jobs through the scan's worker pool: same time limit, same crash isolation.

Some work after a scan decodes files again (the keeper's resolution checks, for
one). A file that made a decoder spin or crash must cost only its own job there
too, so such work goes through ``ProcessWorkerPool`` like the scan, with the
pool fed from a list instead of the file discovery.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TypeVar

from imgtwin.config import ProcessingConfig
from imgtwin.processing.channels import END, Channel
from imgtwin.processing.task import Task
from imgtwin.processing.workers import ProcessWorkerPool, ThreadWorkerPool, WorkerPool

Item = TypeVar("Item")
Result = TypeVar("Result")


def run_jobs(task: Task[Item, Result], items: Sequence[Item], config: ProcessingConfig = ProcessingConfig()
             ) -> list[Result]:  # fmt: skip
    """``task`` on every item, in the pool ``config`` describes; results in the order they finished.

    A result must say which item it is for (``task.failed`` gets the item too).
    """
    if not items:
        return []
    pool: WorkerPool
    if config.executor == "thread":
        pool = ThreadWorkerPool(min(config.workers, len(items)), task)
    else:
        pool = ProcessWorkerPool(min(config.workers, len(items)), task, config.file_timeout,
                                 memory_limit_mb=config.worker_memory_mb)
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
