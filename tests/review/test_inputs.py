"""Every input the review server reads is checked before use: a malformed Host, body, id or cursor gets a 4xx
(or 503) and one line, never a 500 or a traceback, and never changes a file. Real requests to a real server."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from imgtwin.review import ReviewServer
from imgtwin.review.inputs import MAX_BODIES_BYTES, MAX_BODY_BYTES, BodyBudget, InputError, nesting_ok
from imgtwin.review.security import Guard
from tests.actions.conftest import snapshot
from tests.review.conftest import client

Served = tuple[ReviewServer, Path]
FUZZ_REQUESTS = 400


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture(scope="module")
def logged(served: Served) -> Iterator[Records]:
    """What the server logs at WARNING and above: uvicorn writes "Exception in ASGI application" there."""
    records = Records()
    loggers = [logging.getLogger(name) for name in ("uvicorn.error", "imgtwin.review")]
    for logger in loggers:
        logger.addHandler(records)
    yield records
    for logger in loggers:
        logger.removeHandler(records)


@pytest.fixture
def untouched(served: Served, logged: Records) -> Iterator[None]:
    """The test changes no file of the library, runs no apply, and makes the server log nothing."""
    server, root = served
    before, logged.lines[:] = snapshot(root), []
    yield
    assert snapshot(root) == before
    with client(server) as http:
        assert http.get("/api/runs").json()["runs"] == []
        assert http.get("/api/state").json()["job"] is None
    assert logged.lines == []


def decisions(server: ReviewServer) -> dict[str, Any]:
    """A valid request to trash the second member of the first group."""
    with client(server) as http:
        data = http.get("/api/review").json()
    group, ids = data["document"]["groups"][0], data["ids"][0]
    return {"version": data["version"], "action": "trash",
            "groups": [{"id": group["id"], "keep": ids[0], "act": [ids[1]]}]}


def refused(response: httpx.Response, *statuses: int) -> None:
    assert response.status_code in statuses, (response.status_code, response.text[:300])
    assert "Traceback" not in response.text and len(response.text) < 1000


def test_host_is_parsed_strictly() -> None:
    guard = Guard("t", "127.0.0.1", 8000)
    for host in ("127.0.0.1:²", "127.0.0.1:" + "9" * 5000, "127.0.0.1:08000x", "127.0.0.1:0", "127.0.0.1:65536",
                 "127.0.0.1:-8000", "127.0.0.1: 8000", "127.0.0.1:", "١٢٧.0.0.1:8000", "127.0.0.1:８０００", ""):
        assert not guard.host_allowed(host), host
    assert guard.host_allowed("127.0.0.1:8000") and guard.host_allowed("localhost:8000")
    assert Guard("t", "::1", 65535).host_allowed("[::1]:65535")


def test_malformed_host_headers_are_refused_before_anything(served: Served, untouched: None) -> None:
    server, _ = served
    with client(server) as http:
        for host in (b"127.0.0.1:\xc2\xb2", b"127.0.0.1:" + b"9" * 5000, b"127.0.0.1:0", b"127.0.0.1:99999",
                     b"\xff\xfe", b"[::1", f"127.0.0.1:{server.port}0".encode()):
            refused(http.get("/api/state", headers={b"host": host}), 403)
            refused(http.post("/api/apply", headers={b"host": host}, content=b"{}"), 403)


def test_bodies_that_are_not_decisions_are_refused(served: Served, untouched: None) -> None:
    server, _ = served
    good = decisions(server)
    group = good["groups"][0]
    bad: list[bytes | dict[str, Any]] = [
        b"[" * 200_000, b"{" * 50 + b"}" * 50, b'{"version": ' + b"9" * 5000 + b"}", b"\xff\xfe{}", b"", b"null",
        b'{"a": "\\ud800"}', b"[]" * 1000, json.dumps({**good, "groups": "[" * 100}).encode(),
        {**good, "groups": [{**group, "act": [[1]]}]}, {**good, "groups": [{**group, "act": [{"a": 1}]}]},
        {**good, "groups": [{**group, "keep": [group["keep"]]}]}, {**good, "groups": [{**group, "id": True}]},
        {**good, "groups": [{**group, "id": 10**30}]}, {**good, "version": True}, {**good, "version": 1.0},
        {**good, "action": ["trash"]}, {**good, "action": "x" * 100_000},
        {**good, "action": "move", "move_to": "/tmp/a\0b"}, {**good, "action": "move", "move_to": "/" + "a" * 5000},
        {**good, "groups": [group, group]}, {**good, "groups": [{**group, "act": [group["keep"]]}]},
    ]
    with client(server) as http:
        for body in bad:
            content = body if isinstance(body, bytes) else json.dumps(body).encode()
            for path in ("/api/preview", "/api/apply"):
                refused(http.post(path, content=content), 400, 409)


def test_numbers_in_addresses_are_bounded_ascii_digits(served: Served, untouched: None) -> None:
    server, _ = served
    with client(server) as http:
        for after in ("²", "9" * 5000, "-1", "1e3", " 1", "0x10"):
            refused(http.get("/api/events", params={"after": after}), 400)
            if not after.startswith(" "):  # a header value cannot start with one
                refused(http.get("/api/events", headers={b"last-event-id": after.encode()}), 400)
        for job in ("%C2%B2", "9" * 5000, "-1", "1.0", "%00"):
            refused(http.get(f"/api/jobs/{job}"), 400)
        refused(http.get("/api/jobs/999"), 404)
        for run in ("%00", "a" * 65, "%C2%B2", "..", "x%2Fy"):
            refused(http.post(f"/api/runs/{run}/undo"), 400, 404)
        refused(http.post("/api/runs/0123abcd/undo"), 404)


def raw_request(server: ReviewServer, head: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    sock.sendall(head)
    return sock


def headers_for(server: ReviewServer, path: str, extra: str) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nx-imgtwin-token: {server.guard.token}\r\n"
            f"content-type: application/json\r\n{extra}\r\n").encode()


def status_of(sock: socket.socket) -> int:
    answer = b""
    while b"\r\n" not in answer:
        chunk = sock.recv(4096)
        assert chunk, answer
        answer += chunk
    return int(answer.split(b" ")[1])


def test_a_body_larger_than_the_cap_is_refused_before_it_is_read(served: Served, untouched: None) -> None:
    server, _ = served
    with raw_request(server, headers_for(server, "/api/apply", f"content-length: {MAX_BODY_BYTES + 1}\r\n")) as sock:
        assert status_of(sock) == 413  # not a byte of the body sent
    with raw_request(server, headers_for(server, "/api/apply", f"content-length: {'9' * 18}\r\n")) as sock:
        assert status_of(sock) == 413
    chunk = b"x" * (1 << 20)
    with raw_request(server, headers_for(server, "/api/preview", "transfer-encoding: chunked\r\n")) as sock:
        for _ in range(MAX_BODY_BYTES // len(chunk) + 1):  # no length: counted as the chunks come
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        assert status_of(sock) == 413


def test_bodies_in_flight_together_are_bounded(served: Served, untouched: None) -> None:
    server, _ = served
    held = [raw_request(server, headers_for(server, "/api/apply", f"content-length: {MAX_BODY_BYTES}\r\n"))
            for _ in range(MAX_BODIES_BYTES // MAX_BODY_BYTES)]  # announced, never sent: their bytes are reserved
    try:
        with client(server) as http:
            deadline = time.monotonic() + 10
            while (response := http.post("/api/preview", content=b"{}")).status_code != 503:
                assert time.monotonic() < deadline, response.status_code  # the held requests reach the server
                time.sleep(0.05)
            refused(response, 503)
    finally:
        for sock in held:
            sock.close()
    with client(server) as http:  # their reservations end with their connections
        deadline = time.monotonic() + 10
        while (response := http.post("/api/preview", content=b"{}")).status_code == 503:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        refused(response, 400)


def test_body_budget_and_nesting_rules() -> None:
    budget = BodyBudget(per_request=10, total=15)
    with budget.hold() as first, budget.hold() as second:
        first(10)
        first(4)  # already held
        with pytest.raises(InputError) as caught:
            first(11)
        assert caught.value.status == 413
        with pytest.raises(InputError) as caught:
            second(6)
        assert caught.value.status == 503
        second(5)
        assert budget.held == 15
    assert budget.held == 0
    assert nesting_ok(b'{"a": [[1], {"b": "]]]]"}]}', 3) and not nesting_ok(b"[[[[]]]]", 3)
    assert not nesting_ok(b"[" * 200_000) and not nesting_ok(b"[}") and nesting_ok(b'"[[[["')


# ---- the fuzz: seeded, so a failure is the same on every run --------------------------------------------------

JUNK_VALUES: list[Any] = [None, True, False, -1, 1.5, 10**20, "", "\0", "²", "x" * 5000, [], [[1]], {}, {"a": [1]},
                          [None] * 50, "../../etc/passwd"]
JUNK_TEXT = ["²", "9" * 5000, "%00", "%ff", "-1", "..", "a" * 300, "%C2%B2", "1e9", "0x1", "%2e%2e%2f"]


def _paths(rng: random.Random) -> tuple[str, str]:
    junk = rng.choice(JUNK_TEXT)
    return rng.choice([
        ("GET", f"/api/events?after={junk}"), ("GET", f"/api/jobs/{junk}"), ("POST", f"/api/runs/{junk}/undo"),
        ("GET", f"/files/{junk}/thumb"), ("GET", f"/files/{junk}/{junk}"), ("GET", f"/assets/{junk}"),
        ("GET", f"/?token={junk}"), ("GET", "/api/state"), ("GET", "/api/runs"), ("POST", "/api/stop"),
        ("POST", "/api/preview"), ("POST", "/api/apply"), ("POST", "/api/preview"), ("POST", "/api/apply"),
    ])


def _body(rng: random.Random, good: dict[str, Any], dry_run: bool) -> bytes:
    """``good`` broken in one random way; only a dry run gets changes that may leave it valid (spaces, repeats)."""
    text = json.dumps(good).encode()
    way = rng.randrange(6 if dry_run else 4)
    if way == 0:  # one field given a value of the wrong type or range
        body = json.loads(text)
        group = body["groups"][0]
        target, key = rng.choice([(body, "version"), (body, "action"), (body, "groups"), (group, "id"),
                                   (group, "keep"), (group, "act"), (group["act"], 0)])
        target[key] = rng.choice(JUNK_VALUES)
        return json.dumps(body).encode()
    if way == 1:
        return text[:rng.randrange(len(text))]
    if way == 2:  # one byte changed to another that is not white space
        at = rng.randrange(len(text))
        byte = rng.choice([b for b in range(256) if b != text[at] and b not in b" \t\r\n"])
        return text[:at] + bytes([byte]) + text[at + 1:]
    if way == 3:
        return rng.choice([rng.randbytes(rng.randrange(1, 200)), b"[" * rng.randrange(1, 300_000),
                           b"9" * rng.randrange(4000, 6000), b'{"a":' * 5000, "²".encode()])
    at = rng.randrange(len(text))
    if way == 4:
        return text[:at] + rng.randbytes(rng.randrange(1, 8)) + text[at:]
    return text[:at] + text[rng.randrange(at + 1):]


def _headers(rng: random.Random, server: ReviewServer) -> dict[bytes, bytes]:
    headers: dict[bytes, bytes] = {b"x-imgtwin-token": server.guard.token.encode()}
    for _ in range(rng.randrange(3)):
        name = rng.choice([b"host", b"x-imgtwin-token", b"origin", b"cookie", b"last-event-id", b"content-type",
                           b"authorization", b"if-none-match"])
        headers[name] = rng.choice([t.encode() for t in JUNK_TEXT] + [
            b"\xff\xc2\xb2", f"127.0.0.1:{server.port}".encode(), b"127.0.0.1:\xc2\xb2",
            f"http://127.0.0.1:{server.port}".encode(), b"Bearer " + b"\xff" * 40, b"; ".join([b"a=b"] * 100)])
    return headers


def test_fuzzed_requests_get_no_500_and_change_nothing(served: Served, untouched: None) -> None:
    server, _ = served
    good = decisions(server)
    rng = random.Random(21)
    statuses: dict[int, int] = {}
    with client(server, token=False) as http:
        for n in range(FUZZ_REQUESTS):
            method, path = _paths(rng)
            content = _body(rng, good, dry_run=path != "/api/apply") if method == "POST" else None
            with http.stream(method, path, content=content, headers=_headers(rng, server)) as response:
                status = response.status_code  # an event stream is closed here, unread
                if not path.startswith("/api/events"):
                    response.read()
            assert status != 500 and status < 600, (n, method, path, content and content[:200], status)
            statuses[status] = statuses.get(status, 0) + 1
    assert {400, 403, 404} <= set(statuses), statuses  # the fuzz reached the checks past the guard


def test_an_unexpected_error_is_one_log_line_not_a_traceback(caplog: pytest.LogCaptureFixture) -> None:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.routing import Route

    from imgtwin.review.inputs import LastResort

    async def fails(request: Request) -> Any:
        raise RuntimeError("no route expects this " + "x" * 5000)

    async def ask() -> httpx.Response:
        transport = httpx.ASGITransport(app=LastResort(Starlette(routes=[Route("/", fails)])))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            return await http.get("/")

    with caplog.at_level(logging.WARNING):
        response = asyncio.run(ask())
    assert response.status_code == 500 and "x" * 300 not in response.text
    assert [r.levelno for r in caplog.records] == [logging.ERROR]
    line = caplog.records[0].getMessage()
    assert "RuntimeError: no route expects this" in line and "\n" not in line and len(line) < 400
    assert caplog.records[0].exc_info is None  # no traceback printed with it


def test_a_cursor_beyond_the_last_event_gets_a_resync(served: Served, untouched: None) -> None:
    server, _ = served
    last = server.session.hub.last_id
    with client(server) as http, http.stream("GET", "/api/events", params={"after": str(last + 10**9)}) as response:
        lines = response.iter_lines()
        assert next(lines).startswith("retry:") and next(lines) == ""
        assert next(lines) == f"id: {last}" and next(lines) == "event: resync"  # not a wait for event 10**9
