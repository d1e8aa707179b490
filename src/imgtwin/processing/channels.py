"""Bounded channels between pipeline stages, and their end-of-stream marker.

A full channel blocks its producer: that is the back-pressure. Every blocking
call polls a cancel event so that a stop request is never stuck behind a full
or empty queue.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Sequence
from typing import Any, final

POLL_SECONDS = 0.1


@final
class EndOfStream:
    """Marks that a stage will send nothing more."""

    _instance: EndOfStream | None = None

    def __new__(cls) -> EndOfStream:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "END"


END = EndOfStream()


@final
class Batch(tuple[Any, ...]):
    """Several results in one message of a ``Channel(batches=True)``, in order (see ``Channel.send_all``)."""

    __slots__ = ()


class Channel(queue.Queue[Any]):
    """A bounded FIFO queue with cancel-aware put and get.

    ``batches``: its reader takes a ``Batch`` of items as those items in order, so that ``send_all``
    may send them as one message (a lock, a wake-up and a get for a chunk of results instead of one
    each: on tiny files the scan's main process spent more on its queues than on its index). Its
    capacity then counts messages, each at most a chunk of results.

    ``split``: ``send_all`` sends one ``Batch`` too, but ``receive`` hands out its items one at a time, so
    readers that know nothing of batches (the pools reading paths) pay one message per chunk all the same.
    """

    def __init__(self, capacity: int, *, batches: bool = False, split: bool = False) -> None:
        super().__init__(maxsize=capacity)
        self.batches = batches or split
        self.split = split
        self._taken: deque[Any] = deque()  # split: the rest of the last Batch received
        self._taking = threading.Lock()

    def send(self, item: Any, cancel: threading.Event | None = None) -> bool:
        """Put ``item``, waiting for room; False if cancelled before there was room."""
        while True:
            try:
                self.put(item, timeout=POLL_SECONDS)
                return True
            except queue.Full:
                if cancel is not None and cancel.is_set():
                    return False

    def send_all(self, items: Sequence[Any], cancel: threading.Event | None = None) -> bool:
        """``send`` of each item, in order: one ``Batch`` where the reader takes them (False: cancelled)."""
        if self.batches and len(items) > 1:
            return self.send(Batch(items), cancel)
        return all(self.send(item, cancel) for item in items)

    def receive(self, timeout: float = POLL_SECONDS) -> Any:
        """The next item, or ``None`` if nothing came within ``timeout``."""
        if not self.split:
            return self._wait_for(timeout)
        # Readers in several threads take a Batch's items in order, each once; none waits past its timeout.
        if not self._taking.acquire(timeout=timeout):
            return None
        try:
            if not self._taken:
                item = self._wait_for(timeout)
                if not isinstance(item, Batch):
                    return item
                self._taken.extend(item)
            return self._taken.popleft()
        finally:
            self._taking.release()

    def _wait_for(self, timeout: float) -> Any:
        try:
            return self.get(timeout=timeout)
        except queue.Empty:
            return None
