"""Run-time tuning of a scan (the seed's ProcessingConfig): engine knobs only.

The walk's settings (hidden names, links, filters) are ``processing.discovery``'s
``DiscoveryOptions``; the config carries one as its ``discovery`` field.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Literal

from imgtwin.processing.discovery import DiscoveryOptions

ExecutorKind = Literal["process", "thread"]


def cpu_count() -> int:
    """Cores this process may run on (respects affinity / cgroup cpusets)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_workers() -> int:
    # One worker process per core: decoding is CPU-bound and Pillow releases the
    # GIL, so more workers than cores only add contention. The seed's "cores x 2"
    # was measured against this in benchmarks/scan_throughput.py (see
    # docs/benchmarks.md): 2x gained nothing on local disks.
    return cpu_count()


@dataclass(frozen=True, slots=True)
class ProcessingConfig:
    """How a scan runs. Every field has a measured, documented default.

    ``channel_buffer_size`` bounds both the work queue and the result queue, so
    a slow consumer pushes back on discovery instead of letting memory grow.
    ``executor`` picks worker processes (default: a file that crashes or hangs a
    decoder is contained and can be killed after ``file_timeout`` seconds) or
    threads (lighter, but a hung decode cannot be stopped).
    """

    max_concurrent_tasks: int = 0  # 0 = default_workers()
    channel_buffer_size: int = 100
    batch_size: int = 50
    # A batch is committed once it holds ``batch_size`` results *and* this long has passed since the last
    # commit: on tiny files (a thousand a second) a commit per 50 rows, each an fsync of the WAL, was a
    # transaction and a rewrite of the same index pages per 50 rows. A kill loses at most this long's files.
    commit_seconds: float = 1.0
    enable_progress_reporting: bool = True
    executor: ExecutorKind = "process"
    file_timeout: float = 30.0
    # Address space each worker process may add to its start-up size, in MiB;
    # 0 = unlimited. 4 GiB fits the largest image max_pixels admits (a 179 MP
    # 16-bit TIFF peaks near 2.5 GB in the loader) with room to spare.
    worker_memory_mb: int = 4096
    # --workers auto: vary the fed worker count at run time (processing.adaptive);
    # process executor only.
    adaptive_workers: bool = False
    # What discovery enters and passes over (hidden names, links, filters): declared in
    # processing.discovery only, carried here as one value so the engine gets it with its knobs.
    discovery: DiscoveryOptions = field(default_factory=DiscoveryOptions)

    def __post_init__(self) -> None:
        if self.max_concurrent_tasks < 0:
            raise ValueError("max_concurrent_tasks must be >= 0 (0 = one per core)")
        if self.channel_buffer_size < 1:
            raise ValueError("channel_buffer_size must be >= 1")
        if self.batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        if self.commit_seconds < 0:
            raise ValueError("commit_seconds must be >= 0")
        if self.file_timeout <= 0:
            raise ValueError("file_timeout must be > 0 seconds")
        if self.worker_memory_mb < 0:
            raise ValueError("worker_memory_mb must be >= 0 (0 = unlimited)")
        if self.executor not in ("process", "thread"):
            raise ValueError(f"executor must be 'process' or 'thread', not {self.executor!r}")
        if self.adaptive_workers and self.executor != "process":
            raise ValueError("adaptive_workers needs the process executor")

    @property
    def workers(self) -> int:
        return self.max_concurrent_tasks or default_workers()
