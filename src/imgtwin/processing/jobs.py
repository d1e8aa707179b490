"""Running a batch of jobs through the scan's worker pool: same time limit, same crash isolation.

Some work after a scan decodes files again (a report's thumbnails, for one; the
keeper's upscale checks keep one ``processing.service`` pool for their rounds).
A file that made a decoder spin or crash must cost only its own job there too,
so such work goes through the scan's kind of pool (``processing.pools``), fed
from a list instead of the file discovery.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, TypeVar

from imgtwin.config import ProcessingConfig
from imgtwin.processing.channels import END, Channel
from imgtwin.processing.pools import build_pool
from imgtwin.processing.task import Task

if TYPE_CHECKING:
    from imgtwin.processing.distributed import DaskCluster

Item = TypeVar("Item")
Result = TypeVar("Result")


def run_jobs(task: Task[Item, Result], items: Sequence[Item], config: ProcessingConfig | None = None,
             *, cluster: DaskCluster | None = None) -> list[Result]:  # fmt: skip
    """``task`` on every item, in the pool ``config`` describes (or on ``cluster``); results in the order they finished.

    A result must say which item it is for (``task.failed`` gets the item too).
    """
    if not items:
        return []
    config = config or ProcessingConfig()
    pool = build_pool(task, config, items=len(items), cluster=cluster)
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
