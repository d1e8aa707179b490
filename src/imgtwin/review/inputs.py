"""What the review server reads from a request, checked before anything uses it.

A request is refused with a 4xx answer and one line saying why, never a 500:
numbers (job ids, event cursors) are a few ASCII digits; JSON bodies are
bounded in size and nesting before they are parsed; and the bytes of all the
bodies being read at once are bounded too, so that many large requests at the
same time cannot exhaust memory (each is counted from its Content-Length, or as
its chunks come when it has none). ``LastResort`` turns an error nobody
expected into one line in the log instead of a traceback.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import anyio
from starlette.requests import ClientDisconnect, Request

from imgtwin.review.security import ASGIApp, Message, Scope

MAX_BODY_BYTES = 16 * 1024 * 1024  # the decisions for 150,000 groups
MAX_BODIES_BYTES = 4 * MAX_BODY_BYTES  # all the bodies being read at once
MAX_DEPTH = 16  # the page's bodies nest 4 deep
MAX_DIGITS = 15  # ids and cursors: far beyond any real one, far below int()'s own limits
RUN_ID = re.compile(r"[0-9A-Za-z_.-]{1,64}", re.ASCII)
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")

log = logging.getLogger("imgtwin.review")
_PARSING = threading.Lock()


class InputError(ValueError):
    """A request the server cannot use; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def small_int(text: str | None) -> int | None:
    """``text`` as a number if it is 1 to ``MAX_DIGITS`` ASCII digits; else None (not ``isdigit``: '²' is one)."""
    if text is None or not 0 < len(text) <= MAX_DIGITS or not (text.isascii() and text.isdecimal()):
        return None
    return int(text)


def is_id(value: Any) -> bool:
    """Whether a JSON value is an id or version: an integer (not a bool) of at most ``MAX_DIGITS`` digits."""
    return type(value) is int and 0 <= value < 10**MAX_DIGITS


def nesting_ok(data: bytes | bytearray, limit: int = MAX_DEPTH) -> bool:
    """Whether the brackets of JSON text ``data`` are balanced and nest at most ``limit`` deep.

    Each pass removes the innermost bracket pairs (in C: fast on 16 MiB), so
    a body of 200,000 ``[`` is refused before ``json.loads`` recurses into it.
    """
    brackets = _STRING.sub(b"", data).translate(None, _NOT_BRACKETS)
    for _ in range(limit):
        if not brackets:
            return True
        shorter = brackets.replace(b"[]", b"").replace(b"{}", b"")
        if len(shorter) == len(brackets):
            return False  # unbalanced or mismatched: not JSON
        brackets = shorter
    return not brackets


def parse_json(data: bytes | bytearray) -> Any:
    """The JSON value of a request body (empty: None); ``InputError`` (400) if it is not one."""
    if not data.strip():
        return None
    with _PARSING:  # one at a time: parsing takes several times the body's bytes for a while
        if not nesting_ok(data):
            raise InputError(f"the request is not JSON, or nests deeper than {MAX_DEPTH} levels")
        try:
            return json.loads(data)
        except (ValueError, RecursionError):  # JSONDecodeError, bad UTF-8, an integer of 5,000 digits
            raise InputError("the request is not JSON") from None


class BodyBudget:
    """Bytes of request bodies held at once: ``per_request`` for one, ``total`` for all of them."""

    def __init__(self, per_request: int = MAX_BODY_BYTES, total: int = MAX_BODIES_BYTES) -> None:
        self.per_request = per_request
        self.total = total
        self.held = 0  # only the event loop's thread changes it

    @contextmanager
    def hold(self) -> Iterator[Callable[[int], None]]:
        """A ``take(size)`` that reserves up to ``size`` bytes for this request, until the block ends.

        ``InputError`` 413 past ``per_request``, 503 when the other requests hold the rest.
        """
        mine = 0

        def take(size: int) -> None:
            nonlocal mine
            if size <= mine:
                return
            if size > self.per_request:
                raise InputError(f"the request is larger than {self.per_request // 2**20} MiB", 413)
            if self.held + size - mine > self.total:
                raise InputError("the server is reading other large requests: try again in a moment", 503)
            self.held += size - mine
            mine = size

        try:
            yield take
        finally:
            self.held -= mine


async def read_json(request: Request, take: Callable[[int], None]) -> Any:
    """The request's JSON body, its bytes reserved with ``take`` (from ``BodyBudget.hold``) as they come."""
    length = request.headers.get("content-length")
    if length is not None:
        size = small_int(length)  # None: h11 lets only digits through, so more of them than any real body
        take(10**MAX_DIGITS if size is None else size)  # a body too large is refused before a byte of it is read
    body = bytearray()
    try:
        async for chunk in request.stream():
            take(len(body) + len(chunk))
            body += chunk
    except ClientDisconnect:
        raise InputError("the request ended before its body") from None
    return await anyio.to_thread.run_sync(parse_json, body)  # 16 MiB take a while: not on the event loop


class LastResort:
    """The outermost layer: an error no route expected is one log line (and a 500), never a traceback."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[Message]],
                      send: Callable[[Message], Awaitable[None]]) -> None:
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as exc:  # noqa: BLE001 - the one place that reports what nothing else expected
            log.error("imgtwin review: %s %s failed: %s: %.200s", scope.get("method", ""),
                      scope.get("path", "")[:200], type(exc).__name__, exc)
            if scope["type"] == "http" and not started:
                body = b'{"error":"internal error"}'
                await send({"type": "http.response.start", "status": 500, "headers": [
                    (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
