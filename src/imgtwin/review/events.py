"""Server-sent events: what the scan, apply and undo threads tell the page, in order.

Why SSE and not polling: progress and per-file outcomes flow one way, from the
server to the page, as they happen; ``EventSource`` is built into every
browser, sends the cookie, reconnects by itself and resumes from the last
event id it saw, so a page that was asleep or reloaded misses nothing. Polling
would add a request per tick and up to a tick of lag to every outcome.

Events are numbered; the hub keeps the most recent ``capacity`` of them, so a
client that reconnects gets what it missed, or, if that has been dropped, a
``resync`` event telling it to fetch the state again. Publishers are plain
threads; each waiting stream is woken on its own event loop.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

KEEPALIVE_SECONDS = 15.0


@dataclass(frozen=True, slots=True)
class Event:
    id: int
    kind: str
    data: str  # JSON text

    def encode(self) -> bytes:
        return f"id: {self.id}\nevent: {self.kind}\ndata: {self.data}\n\n".encode()


class EventHub:
    """A bounded, numbered log of events that any thread may publish to."""

    def __init__(self, capacity: int = 20_000) -> None:
        self._events: deque[Event] = deque(maxlen=capacity)
        self._lock = threading.Lock()
        self._last_id = 0
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._closed = False

    @property
    def last_id(self) -> int:
        with self._lock:
            return self._last_id

    @property
    def closed(self) -> bool:
        return self._closed

    def publish(self, kind: str, data: dict[str, Any]) -> int:
        text = json.dumps(data, ensure_ascii=True, separators=(",", ":"))
        with self._lock:
            self._last_id += 1
            self._events.append(Event(self._last_id, kind, text))
            waiters = list(self._waiters)
        self._wake(waiters)
        return self._last_id

    def close(self) -> None:
        """Ends every stream (the server is stopping)."""
        with self._lock:
            self._closed = True
            waiters = list(self._waiters)
        self._wake(waiters)

    @staticmethod
    def _wake(waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]]) -> None:
        for loop, event in waiters:
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # that loop has closed
                pass

    def since(self, after: int) -> tuple[list[Event], bool]:
        """Events numbered above ``after``, and whether some of them were already dropped.

        A cursor beyond the last event (one a previous server run numbered) is a gap too: the page resyncs
        instead of waiting for events it would never be sent.
        """
        with self._lock:
            if after >= self._last_id:
                return [], after > self._last_id
            first = self._events[0].id if self._events else self._last_id + 1
            gap = after + 1 < first
            return [e for e in self._events if e.id > after], gap

    async def wait(self, after: int, timeout: float) -> None:
        """Returns when an event above ``after`` exists, the hub closes, or ``timeout`` passes."""
        event = asyncio.Event()
        waiter = (asyncio.get_running_loop(), event)
        with self._lock:
            if self._last_id > after or self._closed:
                return
            self._waiters.add(waiter)
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            pass
        finally:
            with self._lock:
                self._waiters.discard(waiter)

    async def stream(self, after: int, keepalive: float = KEEPALIVE_SECONDS) -> AsyncIterator[bytes]:
        """The SSE body: events after ``after`` as they come, comments to keep the line alive."""
        yield b"retry: 2000\n\n"
        last = after
        while not self._closed:
            events, gap = self.since(last)
            if gap:
                last = self.last_id
                yield Event(last, "resync", "{}").encode()
                continue
            for event in events:
                last = event.id
                yield event.encode()
            if not events:
                before = last
                await self.wait(last, keepalive)
                if self.last_id == before and not self._closed:
                    yield b": keepalive\n\n"
