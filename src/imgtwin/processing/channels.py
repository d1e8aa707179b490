"""Bounded channels between pipeline stages, and their end-of-stream marker.

A full channel blocks its producer: that is the back-pressure. Every blocking
call polls a cancel event so that a stop request is never stuck behind a full
or empty queue.
"""

from __future__ import annotations

import queue
import threading
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


class Channel(queue.Queue[Any]):
    """A bounded FIFO queue with cancel-aware put and get."""

    def __init__(self, capacity: int) -> None:
        super().__init__(maxsize=capacity)

    def send(self, item: Any, cancel: threading.Event | None = None) -> bool:
        """Put ``item``, waiting for room; False if cancelled before there was room."""
        while True:
            try:
                self.put(item, timeout=POLL_SECONDS)
                return True
            except queue.Full:
                if cancel is not None and cancel.is_set():
                    return False

    def receive(self, timeout: float = POLL_SECONDS) -> Any:
        """The next item, or ``None`` if nothing came within ``timeout``."""
        try:
            return self.get(timeout=timeout)
        except queue.Empty:
            return None
