"""The scan's worker pool kept up to answer items as they come (the review app's pictures).

``run_jobs`` runs a known list through a pool and ends; a server gets its items
one request at a time. ``PoolService`` keeps one pool running over an open work
channel and hands each result to the future ``submit`` returned, so on-demand
decoding has the scan's time limit, memory limit and crash isolation (a
decoder that spins or crashes costs its own item, the others go on) without a
second pool implementation.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import threading
from dataclasses import dataclass
from typing import Generic, TypeVar

from imgtwin.config import ProcessingConfig
from imgtwin.processing.channels import END, Channel
from imgtwin.processing.pools import build_pool
from imgtwin.processing.task import Task
from imgtwin.records import FileError

Item = TypeVar("Item")
Result = TypeVar("Result")


class ServiceStopped(Exception):
    """The service was closed, or its pool stopped, before the item's result came."""


@dataclass(frozen=True)
class Ticketed(Generic[Item, Result]):
    """``task`` on ``(ticket, item)`` pairs: each result comes back with the ticket of its item."""

    task: Task[Item, Result]

    def run(self, item: tuple[int, Item]) -> tuple[int, Result]:
        return item[0], self.task.run(item[1])

    def failed(self, item: tuple[int, Item], error: FileError) -> tuple[int, Result]:
        return item[0], self.task.failed(item[1], error)


class PoolService(Generic[Item, Result]):
    """``task`` on items submitted one at a time, in a pool started at the first and kept until ``close``.

    An item's time limit runs from when a worker starts it, not from when it was
    submitted, so a queue of thumbnails never times out the last of them.
    """

    def __init__(self, task: Task[Item, Result], config: ProcessingConfig) -> None:
        self.task = task
        self.config = config
        self._lock = threading.Lock()
        self._tickets = itertools.count()
        self._waiting: dict[int, concurrent.futures.Future[Result]] = {}
        self._work: Channel | None = None
        self._closed = False

    def submit(self, item: Item) -> concurrent.futures.Future[Result]:
        future: concurrent.futures.Future[Result] = concurrent.futures.Future()
        with self._lock:
            if self._closed:
                raise ServiceStopped("the service is closed")
            ticket = next(self._tickets)
            self._waiting[ticket] = future
            if self._work is None:
                self._work = self._start()
            self._work.put_nowait((ticket, item))  # unbounded: a request never waits for room
        return future

    def _start(self) -> Channel:
        work, results = Channel(0), Channel(0)
        cancel = threading.Event()
        # Interactive: one item per message and in hand, so a worker never sits on a queue of them.
        pool = build_pool(Ticketed(self.task), self.config, interactive=True)

        def serve() -> None:
            reason = "the service was closed"
            try:
                pool.run(work, results, cancel)
            except Exception as exc:  # noqa: BLE001 - e.g. workers that cannot start: every item waiting fails
                reason = str(exc)
            results.put(END)  # the pool puts one too, unless it failed before
            answers.join()  # every result that came is handed over first
            self._stopped(work, reason)

        def answer() -> None:
            while (done := results.get()) is not END:
                with self._lock:
                    future = self._waiting.pop(done[0], None)
                if future is not None and not future.done():
                    future.set_result(done[1])

        self._cancel = cancel
        answers = threading.Thread(target=answer, name="imgtwin-service-answers", daemon=True)
        answers.start()
        self._serving = threading.Thread(target=serve, name="imgtwin-service-pool", daemon=True)
        self._serving.start()
        return work

    def _stopped(self, work: Channel, reason: str) -> None:
        """The pool behind ``work`` has ended: fail what waits for it; the next ``submit`` starts another."""
        with self._lock:
            if self._work is work:
                self._work = None
            waiting, self._waiting = self._waiting, {}
        for future in waiting.values():
            if not future.done():
                future.set_exception(ServiceStopped(reason))

    def close(self, timeout: float = 10.0) -> None:
        """Stop the pool and wait for it: items in hand get the pool's short grace, then their workers are killed."""
        with self._lock:
            self._closed = True
            work = self._work
        if work is not None:
            self._cancel.set()
            work.put_nowait(END)
            self._serving.join(timeout)
