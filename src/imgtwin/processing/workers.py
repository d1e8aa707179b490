"""Worker pools: the consumer stage of the pipeline.

Both pools read items from the work channel, run their ``Task`` on each (the
scan's is ``ScanTask``: one path in, one ``FileResult`` out) and send the
results to the result channel, then send ``END``. The process pool is the
default: a decoder that crashes takes down only its worker, and one that spins
past ``file_timeout`` is killed and replaced while the other workers go on; the
same pool runs the other jobs that decode files (keeper checks). Threads cannot
be killed, so the thread pool has no per-item time limit; it exists for
embedding and for the benchmark comparing the two.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
import warnings
from collections.abc import Callable
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Protocol

from typing import Any

from imgtwin.processing.adaptive import AdaptiveConcurrency
from imgtwin.processing.channels import END, POLL_SECONDS, Channel
from imgtwin.processing.limits import limit_address_space
from imgtwin.processing.task import Task
from imgtwin.records import ErrorReason, FileError

log = logging.getLogger(__name__)

# After a stop request, how long in-flight files may finish before their
# workers are killed.
CANCEL_GRACE_SECONDS = 2.0


# Worker deaths in a row, with no file finished in between, after which the
# pool stops: then the workers themselves are broken, not the files.
MIN_CRASHES_IN_A_ROW = 8


class WorkerStartupError(RuntimeError):
    """Worker processes die before finishing any file: a broken set-up, not bad files."""


class WorkerPool(Protocol):
    """Consumes the work channel until END (or cancel), then sends END on."""

    def run(self, work: Channel, results: Channel, cancel: threading.Event) -> None: ...


def quiet_decoder_warnings() -> None:
    """Pillow warns on corrupt EXIF and large images; we report per file instead."""
    warnings.filterwarnings("ignore", module=r"PIL\..*")
    warnings.filterwarnings("ignore", category=UserWarning, message=r".*(EXIF|exif|APNG|Truncated).*")
    from PIL import Image

    warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


def silence_native_stderr() -> None:
    """libtiff and friends print warnings straight to file descriptor 2.

    In a worker process they would scribble over the progress bar; every
    problem that matters reaches the user as the file's error instead. Set
    IMGTWIN_DEBUG=1 to keep them.
    """
    if os.environ.get("IMGTWIN_DEBUG"):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)


class ThreadWorkerPool:
    """``workers`` threads in this process (Pillow releases the GIL to decode)."""

    def __init__(self, workers: int, task: Task[Any, Any]) -> None:
        self.workers = workers
        self.task = task
        self._busy = 0
        self._busy_lock = threading.Lock()

    @property
    def busy_workers(self) -> int:
        """Threads decoding a file right now (for monitoring)."""
        return self._busy

    def run(self, work: Channel, results: Channel, cancel: threading.Event) -> None:
        threads = [
            threading.Thread(target=self._work, args=(work, results, cancel), name=f"imgtwin-worker-{i}", daemon=True)
            for i in range(self.workers)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        results.put(END)

    def _work(self, work: Channel, results: Channel, cancel: threading.Event) -> None:
        while not cancel.is_set():
            item = work.receive()
            if item is None:
                continue
            if item is END:
                work.put(END)  # let the sibling threads see it too
                return
            with self._busy_lock:
                self._busy += 1
            try:
                result = self.task.run(item)
            finally:
                with self._busy_lock:
                    self._busy -= 1
            if not results.send(result, cancel):
                return


def _worker_main(conn: Connection, task: Task[Any, Any], memory_limit_mb: int = 0) -> None:
    """Body of a worker process: one item in, one result out, until None."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
    quiet_decoder_warnings()
    silence_native_stderr()
    if memory_limit_mb > 0:
        limit_address_space(memory_limit_mb * 1024 * 1024)
    try:
        while (item := conn.recv()) is not None:
            conn.send(task.run(item))
    except (EOFError, KeyboardInterrupt, BrokenPipeError):
        pass


@dataclass
class _Worker:
    process: multiprocessing.process.BaseProcess
    conn: Connection
    # Items sent and not yet answered, in order; the head is being worked on and
    # must finish by ``deadline``.
    pending: deque[Any] = field(default_factory=deque)
    deadline: float = 0.0


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
        prefetch: int = 2,
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
        self.clock = clock
        self.memory_limit_mb = memory_limit_mb
        if start_method is None:
            start_method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
        self.context = multiprocessing.get_context(start_method)
        self.replaced = 0
        self.crashes_in_a_row = 0
        self._pool: list[_Worker] = []

    @property
    def busy_workers(self) -> int:
        """Worker processes with a file in hand right now (for monitoring)."""
        return sum(1 for worker in list(self._pool) if worker.pending)

    def _start_worker(self) -> _Worker:
        parent, child = self.context.Pipe(duplex=True)
        process = self.context.Process(
            target=_worker_main,
            args=(child, self.task, self.memory_limit_mb),
            name="imgtwin-worker",
            daemon=True,
        )
        process.start()
        child.close()
        return _Worker(process, parent)

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
            timeout = min(w.deadline for w in busy) - self.clock()
            hungry = (input_open or backlog) and any(len(w.pending) < self.prefetch for w in self._fed(pool))
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

    def _top_up(self, pool: list[_Worker], work: Channel, backlog: deque[Any], input_open: bool, block: bool) -> bool:
        """Fill every worker to one path, then to ``prefetch``; False once input has ended."""
        for target in range(1, self.prefetch + 1):
            for worker in self._fed(pool):
                if len(worker.pending) >= target:
                    continue
                if backlog:
                    self._send(worker, backlog.popleft())
                    continue
                if not input_open:
                    return False
                item = work.receive(timeout=POLL_SECONDS if block else 0.0)
                block = False
                if item is None:
                    return True
                if item is END:
                    return False
                self._send(worker, item)
        return input_open

    def _send(self, worker: _Worker, path: Any) -> None:
        if not worker.pending:
            worker.deadline = self.clock() + self.file_timeout
        worker.pending.append(path)
        try:
            worker.conn.send(path)
        except OSError:
            # The worker died while decoding its current file (a prefetched
            # path arrives after the crash). Its pipe reads EOF next, and
            # _collect blames the file it was on and re-queues this one.
            pass

    def _collect(
        self, pool: list[_Worker], worker: _Worker, backlog: deque[Any], results: Channel, cancel: threading.Event
    ) -> None:
        try:
            result = worker.conn.recv()
        except (EOFError, OSError):
            code = worker.process.exitcode
            path = worker.pending[0]
            self.crashes_in_a_row += 1
            if self.crashes_in_a_row >= max(MIN_CRASHES_IN_A_ROW, 4 * self.workers):
                raise WorkerStartupError(
                    f"{self.crashes_in_a_row} worker processes in a row died (last exit code {code}) without "
                    "finishing a file; if imgtwin runs from your own script, guard its entry point with "
                    "`if __name__ == '__main__':` (worker processes import the main module), or use "
                    "--executor thread"
                )
            log.warning("worker died on %s (exit code %s); starting a new one", path, code)
            self._replace(pool, worker, backlog)
            result = self.task.failed(
                path, FileError(ErrorReason.WORKER_CRASHED, f"the decoder crashed (worker exit code {code})")
            )
        else:
            self.crashes_in_a_row = 0
            worker.pending.popleft()
            if worker.pending:
                worker.deadline = self.clock() + self.file_timeout
        if self.controller is not None:
            self.controller.record()
        results.send(result, cancel)

    def _expire(self, pool: list[_Worker], backlog: deque[Any], results: Channel, cancel: threading.Event) -> None:
        now = self.clock()
        for worker in list(pool):
            if worker.pending and now > worker.deadline:
                path = worker.pending[0]
                log.warning("%s took longer than %.0f s; killing its worker", path, self.file_timeout)
                self._replace(pool, worker, backlog)
                message = f"decoding took longer than {self.file_timeout:g} s and was stopped"
                results.send(self.task.failed(path, FileError(ErrorReason.TIMEOUT, message)), cancel)

    def _replace(self, pool: list[_Worker], worker: _Worker, backlog: deque[Any]) -> None:
        """Kill a worker and start another; the paths queued behind its file go first."""
        worker.pending.popleft()
        backlog.extendleft(reversed(worker.pending))
        worker.pending.clear()
        self._stop_worker(worker, kill=True)
        pool[pool.index(worker)] = self._start_worker()
        self.replaced += 1
