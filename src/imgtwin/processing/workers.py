"""The process pool: the consumer stage of the pipeline, and the default.

It reads items from the work channel, runs its ``Task`` on each (the scan's is
``ScanTask``: one path in, one ``FileResult`` out) in worker processes, and
sends the results to the result channel, then ``END``. A decoder that crashes
takes down only its worker, and one that spins past ``file_timeout`` is killed
and replaced while the other workers go on; the same pool runs the other jobs
that decode files (keeper checks, thumbnails). The contract every pool keeps is
in ``pool_contract.py``; the thread pool, which cannot kill a spinning decoder,
in ``thread_pool.py``.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import TYPE_CHECKING, Any, cast

from imgtwin.processing.adaptive import AdaptiveConcurrency
from imgtwin.processing.channels import END, POLL_SECONDS, Channel
from imgtwin.processing.mainless import main_hidden, needs_main
from imgtwin.processing.pool_contract import (
    WorkerStartupError,
    preload_modules,
)
from imgtwin.processing.task import Task
from imgtwin.processing.worker_body import worker_main
from imgtwin.records import ErrorReason, FileError

if TYPE_CHECKING:
    from multiprocessing.context import ForkContext, ForkServerContext, SpawnContext

log = logging.getLogger(__name__)

# After a stop request, how long in-flight files may finish before their
# workers are killed.
CANCEL_GRACE_SECONDS = 2.0


# Worker deaths in a row, with no file finished in between, after which the
# pool stops: then the workers themselves are broken, not the files.
MIN_CRASHES_IN_A_ROW = 8


# Work per message the pool aims at: items that take less than this are sent several at a time.
CHUNK_SECONDS = 0.1
# Chunks a worker process holds (the next ready while it answers the last), and items per chunk at most.
PREFETCH = 2
CHUNK = 32
# Allowed to a new worker process to start (import its decoders) on top of its first item's limit.
STARTUP_SECONDS = 30.0


@dataclass
class _Worker:
    process: multiprocessing.process.BaseProcess
    conn: Connection
    started: Any  # shared counter: items this worker has begun
    # Items sent and not yet answered, in order; the one on the decoder (``current``)
    # must finish by ``deadline``.
    pending: deque[Any] = field(default_factory=deque)
    deadline: float = 0.0
    answered: int = 0  # results received
    seen: int = 0  # ``started`` when last looked at
    last_answer: float | None = None  # when it last answered while busy (None: idle since)

    def current(self, started: int | None = None) -> int:
        """Index in ``pending`` of the item being worked on (those before it are done, not yet sent)."""
        begun = self.started.value if started is None else started
        return min(max(begun - self.answered - 1, 0), max(len(self.pending) - 1, 0))


class ProcessWorkerPool:
    """``workers`` processes, each fed over its own pipe.

    One dispatcher thread keeps every worker busy and watches deadlines, so a
    hung or crashed worker costs only its own file. Each worker holds up to
    ``prefetch`` paths, so it starts its next file while the dispatcher is
    still handling the last result (one path at a time left workers idle for
    a GIL switch per file). ``memory_limit_mb`` caps each worker's address
    space above its start-up size (0: no cap), so a decoder that asks for
    gigabytes gets MemoryError (``too_large``) instead of the machine's memory.
    """

    def __init__(
        self,
        workers: int,
        task: Task[Any, Any],
        file_timeout: float = 30.0,
        *,
        prefetch: int = PREFETCH,
        chunk: int = CHUNK,
        clock: Callable[[], float] = time.monotonic,
        start_method: str | None = None,
        memory_limit_mb: int = 0,
        controller: AdaptiveConcurrency | None = None,
    ) -> None:
        # With a controller (--workers auto), ``controller.maximum`` workers are
        # started and only the first ``controller.active`` are fed; the others
        # finish what they hold and wait, so a change costs no process start.
        self.controller = controller
        self.workers = controller.maximum if controller is not None else workers
        self.task = task
        self.file_timeout = file_timeout
        self.prefetch = prefetch
        # Items per message: a chunk is a worker's unit of work. Tiny files cost their round trips
        # more than their decoding; the time limit and crash isolation stay per item (_Worker.current).
        self.chunk = chunk
        self._item_seconds: float | None = None
        self.clock = clock
        self.memory_limit_mb = memory_limit_mb
        if start_method is None:
            start_method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
        # typeshed types get_context(str) as BaseContext, which lacks Process; every real context has it.
        self.context = cast("SpawnContext | ForkServerContext | ForkContext", multiprocessing.get_context(start_method))
        if start_method == "forkserver":  # no effect once the fork server runs: the first pool's task decides
            cast("ForkServerContext", self.context).set_forkserver_preload(preload_modules(task))
        self.replaced = self.crashes_in_a_row = 0
        self._pool: list[_Worker] = []
        self._hide_main: bool | None = None  # known at the first start (processing.mainless)

    @property
    def busy_workers(self) -> int:
        """Worker processes with a file in hand right now (for monitoring)."""
        return sum(1 for worker in list(self._pool) if worker.pending)

    def _start_worker(self) -> _Worker:
        parent, child = self.context.Pipe(duplex=True)
        started = self.context.RawValue("q", 0)
        process = self.context.Process(
            target=worker_main,
            args=(child, self.task, self.memory_limit_mb, started),
            name="imgtwin-worker",
            daemon=True,
        )
        if self._hide_main is None:
            self._hide_main = not needs_main(self.task)
        with main_hidden(self._hide_main):  # a script without a main guard is not run again in the worker
            process.start()
        child.close()
        return _Worker(process, parent, started)

    def _stop_worker(self, worker: _Worker, kill: bool) -> None:
        if kill:
            worker.process.kill()
        else:
            try:
                worker.conn.send(None)
            except OSError:
                pass
        worker.process.join(timeout=5)
        if worker.process.is_alive():
            worker.process.kill()
            worker.process.join()
        worker.conn.close()

    def run(self, work: Channel, results: Channel, cancel: threading.Event) -> None:
        pool: list[_Worker] = []
        self._pool = pool
        try:
            first = self._first_item(work, cancel)
            if first is not None:
                # Started only now: a rescan that finds nothing to decode pays no start-up.
                pool.extend(self._start_worker() for _ in range(self.workers))
                self._dispatch(pool, work, results, cancel, deque([first]))
        finally:
            for worker in pool:
                self._stop_worker(worker, kill=bool(worker.pending))
            results.put(END)

    @staticmethod
    def _first_item(work: Channel, cancel: threading.Event) -> Any:
        while not cancel.is_set():
            item = work.receive()
            if item is END:
                return None
            if item is not None:
                return item
        return None

    def _dispatch(
        self, pool: list[_Worker], work: Channel, results: Channel, cancel: threading.Event, backlog: deque[Any]
    ) -> None:
        """Keep workers fed from ``backlog`` (paths to send first) and the work channel."""
        input_open = True
        cancel_deadline: float | None = None
        while True:
            if cancel.is_set():
                input_open = False
                backlog.clear()
                if cancel_deadline is None:
                    cancel_deadline = self.clock() + CANCEL_GRACE_SECONDS
                if not any(w.pending for w in pool) or self.clock() > cancel_deadline:
                    return  # run() kills whatever is still busy
            if input_open or backlog:
                idle = not any(w.pending for w in pool)
                input_open = self._top_up(pool, work, backlog, input_open, block=idle)
            busy = [w for w in pool if w.pending]
            if not busy:
                if not input_open and not backlog:
                    return
                continue
            self._watch(busy)
            timeout = min(w.deadline for w in busy) - self.clock()
            hungry = (input_open or backlog) and any(len(w.pending) <= self._low_water for w in self._fed(pool))
            if hungry:
                timeout = min(timeout, 0.01)  # more work may arrive any moment
            ready = wait([w.conn for w in busy], timeout=max(0.0, min(timeout, 0.5)))
            for worker in busy:
                if worker.conn in ready:
                    self._collect(pool, worker, backlog, results, cancel)
            self._expire(pool, backlog, results, cancel)
            self._adapt()

    def _fed(self, pool: list[_Worker]) -> list[_Worker]:
        """The workers that get new paths: all, or the controller's ``active`` first ones."""
        return pool if self.controller is None else pool[: self.controller.active]

    def _adapt(self) -> None:
        if self.controller is not None and (change := self.controller.update()) is not None:
            log.info("%s", change)

    def _time_items(self, worker: _Worker, count: int) -> None:
        """Seconds per item (moving average), from the gaps between a busy worker's answers."""
        now = self.clock()
        if worker.last_answer is not None and count and worker.answered > count:  # not its start-up
            each = (now - worker.last_answer) / count
            self._item_seconds = each if self._item_seconds is None else 0.8 * self._item_seconds + 0.2 * each
        worker.last_answer = now if worker.pending else None

    @property
    def _chunk(self) -> int:
        """Items per message: one for slow items (fair shares to the end), up to ``chunk`` for tiny ones."""
        if self._item_seconds is None:
            return 1
        return max(1, min(self.chunk, int(CHUNK_SECONDS / max(self._item_seconds, 1e-6))))

    @property
    def _low_water(self) -> int:
        """A worker holding this many items or fewer gets another chunk (``prefetch`` chunks in all)."""
        return (self.prefetch - 1) * self._chunk

    def _watch(self, busy: list[_Worker]) -> None:
        """A worker that began another item has until ``file_timeout`` from now for it."""
        now = self.clock()
        for worker in busy:
            started = worker.started.value
            if started != worker.seen:
                worker.seen = started
                worker.deadline = now + self.file_timeout

    def _top_up(self, pool: list[_Worker], work: Channel, backlog: deque[Any], input_open: bool, block: bool) -> bool:
        """Give every worker a chunk, then up to ``prefetch`` chunks; False once input has ended."""
        chunk = self._chunk
        for target in range(1, self.prefetch + 1):
            for worker in self._fed(pool):
                if len(worker.pending) > (target - 1) * chunk:
                    continue
                items: list[Any] = []
                while len(items) < chunk:
                    if backlog:
                        items.append(backlog.popleft())
                        continue
                    if not input_open:
                        break
                    # Wait (once, and only with nothing in hand) for the first item; never for the rest.
                    item = work.receive(timeout=POLL_SECONDS if block and not items else 0.0)
                    block = False
                    if item is None:
                        break
                    if item is END:
                        input_open = False
                        break
                    items.append(item)
                if target > 1 and len(items) < chunk and input_open:
                    # This worker has a chunk in hand: it waits for a full one (a chunk is the unit a task may
                    # do faster together), and a part is kept for whoever runs dry first.
                    backlog.extendleft(reversed(items))
                    return input_open
                if items:
                    self._send(worker, *items)
                if not input_open and not backlog:
                    return False
                if len(items) < chunk:
                    return input_open  # nothing more to hand out now
        return input_open

    def _send(self, worker: _Worker, *items: Any) -> None:
        if not worker.pending:
            # A new process imports its decoders first: that is no file's time (``_watch`` starts the
            # clock when it begins the item), but a start that never ends must still be noticed.
            grace = STARTUP_SECONDS if worker.started.value == 0 else 0.0
            worker.deadline = self.clock() + self.file_timeout + grace
            worker.last_answer = self.clock()
        worker.pending.extend(items)
        try:
            worker.conn.send(list(items))
        except OSError:
            # The worker died while decoding its current file (a prefetched
            # chunk arrives after the crash). Its pipe reads EOF next, and
            # _collect blames the file it was on and re-queues these.
            pass

    def _collect(
        self, pool: list[_Worker], worker: _Worker, backlog: deque[Any], results: Channel, cancel: threading.Event
    ) -> None:
        try:
            done = worker.conn.recv()
        except (EOFError, OSError):
            worker.process.join(timeout=1.0)  # its pipe closes a moment before it is reaped: wait for the exit code
            code = worker.process.exitcode
            index = worker.current()  # the process is gone: its counter says which item it died on
            path = worker.pending[index]
            self.crashes_in_a_row += 1
            if self.crashes_in_a_row >= max(MIN_CRASHES_IN_A_ROW, 4 * self.workers):
                raise WorkerStartupError(
                    f"{self.crashes_in_a_row} worker processes in a row died (last exit code {code}) without "
                    "finishing a file; if imgtwin runs from your own script, guard its entry point with "
                    "`if __name__ == '__main__':` (worker processes import the main module), or use "
                    "--executor thread"
                )
            log.warning("worker died on %s (exit code %s); starting a new one", path, code)
            self._replace(pool, worker, backlog, index)
            done = [self.task.failed(
                path, FileError(ErrorReason.WORKER_CRASHED, f"the decoder crashed (worker exit code {code})")
            )]
        else:
            self.crashes_in_a_row = 0
            for _ in done:
                worker.pending.popleft()
            worker.answered += len(done)
            self._time_items(worker, len(done))
            if worker.pending:
                worker.deadline = self.clock() + self.file_timeout
        if self.controller is not None:
            self.controller.record(len(done))
        results.send_all(done, cancel)

    def _expire(self, pool: list[_Worker], backlog: deque[Any], results: Channel, cancel: threading.Event) -> None:
        now = self.clock()
        for worker in list(pool):
            if worker.pending and now > worker.deadline:
                if worker.started.value != worker.seen:
                    continue  # it went on to another item since: not stuck (_watch moves the deadline)
                index = worker.current(worker.seen)  # the item the deadline was set for
                path = worker.pending[index]
                log.warning("%s took longer than %.0f s; killing its worker", path, self.file_timeout)
                self._replace(pool, worker, backlog, index)
                message = f"decoding took longer than {self.file_timeout:g} s and was stopped"
                results.send(self.task.failed(path, FileError(ErrorReason.TIMEOUT, message)), cancel)

    def _replace(self, pool: list[_Worker], worker: _Worker, backlog: deque[Any], index: int = 0) -> None:
        """Kill a worker and start another; its other paths go first (done ones too: their results died with it).

        ``index``: the position in ``pending`` of the item that cost the worker its life.
        """
        del worker.pending[index]
        backlog.extendleft(reversed(worker.pending))
        worker.pending.clear()
        self._stop_worker(worker, kill=True)
        pool[pool.index(worker)] = self._start_worker()
        self.replaced += 1
