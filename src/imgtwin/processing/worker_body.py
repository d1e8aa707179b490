"""What runs inside a worker process of the pool (``processing.workers``): chunks of items in, results out.

Kept apart from the pool's own bookkeeping, which runs in the parent.
"""

from __future__ import annotations

import signal
import time
from multiprocessing.connection import Connection
from typing import Any

from imgtwin.processing.limits import limit_address_space
from imgtwin.processing.pool_contract import quiet_decoder_warnings, silence_native_stderr
from imgtwin.processing.task import ManyTask, Task

# A worker sends the results of a chunk together, and what it has at least this often (seconds),
# so that slow files are still reported as they finish.
FLUSH_SECONDS = 0.2


def worker_main(conn: Connection, task: Task[Any, Any], memory_limit_mb: int = 0, started: Any = None) -> None:
    """Body of a worker process: a chunk of items in, their results out (in order), until None.

    Before each item it counts it in ``started`` (shared memory, no system call): the pool reads
    that to know which item is on the decoder, so a time limit or a crash costs that item alone
    although the results come back several at a time.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
    quiet_decoder_warnings()
    silence_native_stderr()
    if memory_limit_mb > 0:
        limit_address_space(memory_limit_mb * 1024 * 1024)

    def begin() -> None:
        if started is not None:
            started.value += 1

    many = task if isinstance(task, ManyTask) else None
    try:
        while (chunk := conn.recv()) is not None:
            if many is not None:  # a chunk is sized to take CHUNK_SECONDS: its results go together
                conn.send(list(many.run_many(chunk, begin)))
                continue
            done: list[Any] = []
            since = time.monotonic()
            for item in chunk:
                begin()
                done.append(task.run(item))
                if time.monotonic() - since >= FLUSH_SECONDS:
                    conn.send(done)
                    done, since = [], time.monotonic()
            if done:
                conn.send(done)
    except (EOFError, KeyboardInterrupt, BrokenPipeError):
        pass
