"""Worker pools: the consumer stage of the pipeline.

Both pools read paths from the work channel and send ``FileResult``s to the
result channel, then send ``END``. The process pool is the default: a decoder
that crashes takes down only its worker, and one that spins past
``file_timeout`` is killed and replaced while the other workers go on. Threads
cannot be killed, so the thread pool has no per-file time limit; it exists for
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
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Protocol

from imgtwin.interfaces import Hasher, ImageLoader
from imgtwin.processing.channels import END, POLL_SECONDS, Channel
from imgtwin.processing.task import error_result, process_file
from imgtwin.records import ErrorReason, FileError

log = logging.getLogger(__name__)

# After a stop request, how long in-flight files may finish before their
# workers are killed.
CANCEL_GRACE_SECONDS = 2.0


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

    def __init__(self, workers: int, loader: ImageLoader, hasher: Hasher) -> None:
        self.workers = workers
        self.loader = loader
        self.hasher = hasher

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
            if not results.send(process_file(item, self.loader, self.hasher), cancel):
                return


def _worker_main(conn: Connection, loader: ImageLoader, hasher: Hasher) -> None:
    """Body of a worker process: one path in, one result out, until None."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
    quiet_decoder_warnings()
    silence_native_stderr()
    try:
        while (path := conn.recv()) is not None:
            conn.send(process_file(path, loader, hasher))
    except (EOFError, KeyboardInterrupt, BrokenPipeError):
        pass


@dataclass
class _Worker:
    process: multiprocessing.process.BaseProcess
    conn: Connection
    path: str | None = None
    deadline: float = 0.0


class ProcessWorkerPool:
    """``workers`` processes, each fed one path at a time over its own pipe.

    One dispatcher thread keeps every worker busy and watches deadlines, so a
    hung or crashed worker costs only its own file.
    """

    def __init__(
        self,
        workers: int,
        loader: ImageLoader,
        hasher: Hasher,
        file_timeout: float = 30.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        start_method: str | None = None,
    ) -> None:
        self.workers = workers
        self.loader = loader
        self.hasher = hasher
        self.file_timeout = file_timeout
        self.clock = clock
        if start_method is None:
            start_method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
        self.context = multiprocessing.get_context(start_method)
        self.replaced = 0

    def _start_worker(self) -> _Worker:
        parent, child = self.context.Pipe(duplex=True)
        process = self.context.Process(
            target=_worker_main, args=(child, self.loader, self.hasher), name="imgtwin-worker", daemon=True
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
        pool = [self._start_worker() for _ in range(self.workers)]
        try:
            self._dispatch(pool, work, results, cancel)
        finally:
            for worker in pool:
                self._stop_worker(worker, kill=worker.path is not None)
            results.put(END)

    def _dispatch(self, pool: list[_Worker], work: Channel, results: Channel, cancel: threading.Event) -> None:
        input_open = True
        cancel_deadline: float | None = None
        while True:
            busy = [w for w in pool if w.path is not None]
            if cancel.is_set():
                input_open = False
                if cancel_deadline is None:
                    cancel_deadline = self.clock() + CANCEL_GRACE_SECONDS
                if not busy or self.clock() > cancel_deadline:
                    return  # the pool's finally kills whatever is still busy
            if not input_open and not busy:
                return
            if input_open and len(busy) < len(pool):
                input_open = self._assign(pool, work, wait_for_work=not busy)
                busy = [w for w in pool if w.path is not None]
            if not busy:
                continue
            timeout = max(0.0, min(w.deadline for w in busy) - self.clock())
            if input_open and len(busy) < len(pool):
                timeout = min(timeout, 0.01)  # idle workers: come back soon for more work
            ready = wait([w.conn for w in busy], timeout=min(timeout, 0.5))
            for worker in busy:
                if worker.conn in ready:
                    self._collect(pool, worker, results, cancel)
            self._expire(pool, results, cancel)

    def _assign(self, pool: list[_Worker], work: Channel, wait_for_work: bool) -> bool:
        """Give paths to idle workers; False once the work channel has ended."""
        for worker in pool:
            if worker.path is not None:
                continue
            item = work.receive(timeout=POLL_SECONDS if wait_for_work else 0.0)
            if item is None:
                return True
            if item is END:
                return False
            worker.path = item
            worker.deadline = self.clock() + self.file_timeout
            worker.conn.send(item)
            wait_for_work = False
        return True

    def _collect(self, pool: list[_Worker], worker: _Worker, results: Channel, cancel: threading.Event) -> None:
        path = worker.path
        assert path is not None
        try:
            result = worker.conn.recv()
        except (EOFError, OSError):
            code = worker.process.exitcode
            log.warning("worker died on %s (exit code %s); starting a new one", path, code)
            self._replace(pool, worker)
            result = error_result(
                path, FileError(ErrorReason.WORKER_CRASHED, f"the decoder crashed (worker exit code {code})")
            )
        else:
            worker.path = None
        results.send(result, cancel)

    def _expire(self, pool: list[_Worker], results: Channel, cancel: threading.Event) -> None:
        now = self.clock()
        for worker in list(pool):
            if worker.path is not None and now > worker.deadline:
                path = worker.path
                log.warning("%s took longer than %.0f s; killing its worker", path, self.file_timeout)
                self._replace(pool, worker)
                message = f"decoding took longer than {self.file_timeout:g} s and was stopped"
                results.send(error_result(path, FileError(ErrorReason.TIMEOUT, message)), cancel)

    def _replace(self, pool: list[_Worker], worker: _Worker) -> None:
        self._stop_worker(worker, kill=True)
        pool[pool.index(worker)] = self._start_worker()
        self.replaced += 1

