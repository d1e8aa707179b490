"""The three guards of the review server, as one ASGI middleware in front of every route.

1. **Host**: the ``Host`` header must name the address the server is bound to
   (or ``localhost`` when that is a loopback address; any IP address when it is
   bound to all of them). A foreign web page that re-points its own domain
   name at 127.0.0.1 (DNS rebinding) sends its own name: refused.
2. **Token**: every request carries the random token of this run. The page's
   address carries it once (``/?token=...``); the server answers with a cookie
   that is ``HttpOnly`` (scripts cannot read it) and ``SameSite=Strict``
   (other sites' requests do not carry it), and sends the browser on to ``/``
   so the token leaves the address bar. Scripts may send it as a header.
3. **State changes** (anything but GET and HEAD) also need the token in the
   ``X-Imgtwin-Token`` header. Only the page itself knows it (it is written
   into the page, which other origins cannot read), and a foreign page cannot
   add that header to a cross-site request without a CORS preflight, which is
   refused. An ``Origin`` header, when sent, must be this server's.

Every response also gets headers that keep the page and its pictures out of
other sites' frames and scripts (CSP, nosniff, no referrer).
"""

from __future__ import annotations

import hmac
import ipaddress
import re
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

TOKEN_HEADER = "x-imgtwin-token"
COOKIE_PREFIX = "imgtwin-review-"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]


def new_token() -> str:
    return secrets.token_urlsafe(32)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _is_wildcard(host: str) -> bool:
    return host.strip("[]") in ("0.0.0.0", "::", "")


# host[:port] or [v6][:port]; ASCII only (str.isdigit would take '²'), a port of 1 to 5 digits
_HOST = re.compile(r"(?:\[([0-9a-f:.]+)\]|([a-z0-9._-]+))(?::([0-9]{1,5}))?", re.ASCII)


def _split_host(value: str) -> tuple[str, int | None] | None:
    """``host[:port]`` or ``[v6][:port]`` -> (lower-case host, port); None if malformed or the port is not 1-65535."""
    found = _HOST.fullmatch(value.strip().lower())
    if found is None:
        return None
    v6, name, port_text = found.groups()
    port = int(port_text) if port_text else None
    if port is not None and not 0 < port <= 65535:
        return None
    return v6 or name, port


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Guard:
    """The rules, for one server bound to ``host``:``port`` with ``token``."""

    token: str
    host: str
    port: int

    @property
    def cookie_name(self) -> str:
        # Cookies are not kept apart by port: two review servers on one machine need two names.
        return f"{COOKIE_PREFIX}{self.port}"

    def host_allowed(self, value: str) -> bool:
        parsed = _split_host(value)
        if parsed is None:
            return False
        name, port = parsed
        if (port or 80) != self.port:
            return False
        bound = self.host.strip("[]").lower()
        if _is_wildcard(bound):
            return name == "localhost" or _is_ip(name)
        if name == bound:
            return True
        return name == "localhost" and is_loopback(bound)

    def token_ok(self, value: str | None) -> bool:
        return bool(value) and hmac.compare_digest(value.encode(), self.token.encode())  # type: ignore[union-attr]

    def cookie_header(self) -> bytes:
        return f"{self.cookie_name}={self.token}; Path=/; HttpOnly; SameSite=Strict".encode()


def _cookies(header: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in header.split(";"):
        name, sep, value = part.strip().partition("=")
        if sep:
            out.setdefault(name, value)
    return out


class GuardMiddleware:
    """Applies ``Guard`` to every HTTP request before the app sees it."""

    def __init__(self, app: ASGIApp, guard: Guard) -> None:
        self.app = app
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[Message]],
                       send: Callable[[Message], Awaitable[None]]) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":  # no websockets here
            await send({"type": "websocket.close", "code": 1008})
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        verdict = self._check(scope, headers)
        if verdict is not None:
            await _plain(send, *verdict)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + SECURITY_HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _check(self, scope: Scope, headers: dict[str, str]) -> tuple[int, str, list[tuple[bytes, bytes]]] | None:
        """None to let the request through, else (status, text, extra headers) to answer with."""
        guard = self.guard
        if not guard.host_allowed(headers.get("host", "")):
            return 403, "Host not allowed: open the address imgtwin review printed.", []
        method, path = scope["method"], scope["path"]
        if path == "/" and method in ("GET", "HEAD") and scope.get("query_string"):
            given = parse_qs(scope["query_string"].decode("latin-1")).get("token", [None])[0]
            if given is not None:
                if not guard.token_ok(given):
                    return 403, "Wrong token: open the address imgtwin review printed.", []
                return 303, "", [(b"location", b"/"), (b"set-cookie", guard.cookie_header())]
        cookie_ok = guard.token_ok(_cookies(headers.get("cookie", "")).get(guard.cookie_name))
        bearer = headers.get("authorization", "")
        header_ok = guard.token_ok(headers.get(TOKEN_HEADER)) or (
            bearer.lower().startswith("bearer ") and guard.token_ok(bearer[7:].strip()))
        if method in ("GET", "HEAD"):
            if not (cookie_ok or header_ok):
                return 401, "This needs the token: open the address imgtwin review printed.", []
            return None
        if not header_ok:
            return 403, f"Changes need the token in the {TOKEN_HEADER} header.", []
        origin = headers.get("origin")
        if origin is not None and origin.lower() != f"http://{headers.get('host', '').lower()}":
            return 403, "Cross-origin requests are refused.", []
        return None


async def _plain(send: Callable[[Message], Awaitable[None]], status: int, text: str,
                 extra: list[tuple[bytes, bytes]]) -> None:
    body = (text + "\n").encode() if text else b""
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"), *extra, *SECURITY_HEADERS]})
    await send({"type": "http.response.body", "body": body})
