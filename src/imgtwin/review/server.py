"""The review server: Starlette routes over a ``ReviewSession``, served by uvicorn.

Routes (all behind ``security.GuardMiddleware``):

=======================  ====================================================
``GET /``                the page (``/?token=T`` sets the cookie, then ``/``)
``GET /assets/NAME``     its script and style (a fixed list, no file paths)
``GET /api/state``       phase, scan progress, busy job, groups version
``GET /api/events``      server-sent events (progress, outcomes, phases)
``GET /api/groups``      the current groups: a ``find --json`` document
``GET /api/review``      the same, with the file ids the page shows them by
``GET /api/runs``        past runs (journals) for these folders
``GET /api/jobs/N``      an apply or undo run with every outcome so far
``POST /api/scan``       scan again; ``POST /api/stop`` stops the job in hand
``POST /api/preview``    dry run of the page's decisions
``POST /api/apply``      apply them (journal, checks: as ``dedupe --yes``)
``POST /api/runs/R/undo``  undo run R
``POST /api/not-duplicates``  remember a group (or some members) as not duplicates
``GET /api/choices``     the keepers chosen and files unticked that hold for the groups shown
``POST /api/choices``    keep a group's review (keeper, unticked files; null, none: back to automatic)
``GET /files/ID/thumb``  160 px thumbnail; ``/files/ID/full``: full picture
=======================  ====================================================
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import shutil
import socket
import threading
from collections.abc import AsyncIterator
from typing import Any

import anyio
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from imgtwin._version import __version__
from imgtwin.review.catalog import NotServable
from imgtwin.review.imaging import PictureFailed, Pictures, browser_type
from imgtwin.review.inputs import RUN_ID, BodyBudget, InputError, LastResort, read_json, small_int
from imgtwin.review.security import Guard, GuardMiddleware, is_loopback
from imgtwin.review.session import Busy, ReviewSession
from imgtwin.web import REVIEW_SCRIPTS
from imgtwin.web import asset as web_asset

PICTURE_CACHE = "private, max-age=3600"
READ_CHUNK = 1 << 20

# name -> media type: the only files /assets/ serves (from ``imgtwin.web``, as the page names them)
ASSETS = {name: f"{'text/css' if name.endswith('.css') else 'text/javascript'}; charset=utf-8"
          for name in (*REVIEW_SCRIPTS, "review.css", "report.css")}


class _JSON(JSONResponse):
    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8",
                                                                                                    "surrogateescape")


def _no_store(response: Response) -> Response:
    response.headers["cache-control"] = "no-store"
    return response


def _error(status: int, message: str) -> Response:
    return _no_store(_JSON({"error": message}, status_code=status))


def create_app(session: ReviewSession, guard: Guard, pictures: Pictures, *, on_shutdown: Any = None) -> Any:
    """The ASGI app: routes behind the guard. The first scan starts with the app."""
    bodies = BodyBudget()

    async def page(request: Request) -> Response:
        text = web_asset("review.html")
        values = {"TOKEN": html.escape(guard.token), "VERSION": html.escape(__version__)}
        for key, value in values.items():
            text = text.replace(f"@{key}@", value)
        return _no_store(Response(text, media_type="text/html; charset=utf-8"))

    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        media_type = ASSETS.get(name)
        if media_type is None:
            return PlainTextResponse("not found", 404)
        response = Response(web_asset(name), media_type=media_type)
        response.headers["cache-control"] = "no-cache"
        return response

    async def state(request: Request) -> Response:
        return _no_store(_JSON(session.snapshot()))

    async def groups(request: Request) -> Response:
        body = await anyio.to_thread.run_sync(session.encoded, "groups")
        return _no_store(Response(body, media_type="application/json"))

    async def review(request: Request) -> Response:
        body = await anyio.to_thread.run_sync(session.encoded, "review")
        return _no_store(Response(body, media_type="application/json"))

    async def choices(request: Request) -> Response:
        return _no_store(_JSON(await anyio.to_thread.run_sync(session.choices.as_json, session.groups)))

    async def runs(request: Request) -> Response:
        found = await anyio.to_thread.run_sync(session.runs.runs)
        return _no_store(_JSON({"runs": [r.as_json() for r in found]}))

    async def job(request: Request) -> Response:
        job_id = small_int(request.path_params["job"])
        if job_id is None:
            return _error(400, "a job id is a number")
        found = session.jobs.get(job_id)
        if found is None:
            return _error(404, "no such job")
        return _no_store(_JSON({**found.summary(), "items": list(found.outcomes)}))

    async def events(request: Request) -> Response:
        after = small_int(request.headers.get("last-event-id") or request.query_params.get("after") or "0")
        if after is None:
            return _error(400, "the event cursor is a number")
        response = StreamingResponse(session.hub.stream(after), media_type="text/event-stream")
        response.headers["cache-control"] = "no-store"
        response.headers["x-accel-buffering"] = "no"
        return response

    async def acting(request: Request) -> Response:
        try:
            if request.url.path == "/api/scan":
                session.start_scan()
                return _no_store(_JSON({"started": "scan"}, status_code=202))
            if request.url.path == "/api/stop":
                return _no_store(_JSON({"stopping": session.stop()}))
            with bodies.hold() as take:  # held until the decisions are used: their objects weigh too
                body = await read_json(request, take)
                if request.url.path == "/api/preview":
                    return _no_store(_JSON(await anyio.to_thread.run_sync(session.preview, body)))
                if request.url.path == "/api/not-duplicates":
                    return _no_store(_JSON(await anyio.to_thread.run_sync(session.mark_apart, body)))
                if request.url.path == "/api/choices":
                    stored = await anyio.to_thread.run_sync(session.choices.store, body, session.groups)
                    return _no_store(_JSON(stored))
                started = await anyio.to_thread.run_sync(session.start_apply, body)
                return _no_store(_JSON(started.summary(), status_code=202))
        except Busy as exc:
            return _error(409, str(exc))
        except InputError as exc:
            return _error(exc.status, str(exc))

    async def undo(request: Request) -> Response:
        run_id = request.path_params["run"]
        if not RUN_ID.fullmatch(run_id):
            return _error(400, "a run id is up to 64 letters, digits, '.', '_' or '-'")
        try:
            started = await anyio.to_thread.run_sync(session.start_undo, run_id)
        except Busy as exc:
            return _error(409, str(exc))
        except InputError as exc:
            return _error(exc.status, str(exc))
        return _no_store(_JSON(started.summary(), status_code=202))

    async def picture(request: Request) -> Response:
        kind = request.path_params["kind"]
        if kind not in ("thumb", "full"):
            return PlainTextResponse("not found", 404)
        try:
            opened = session.catalog.open(request.path_params["fid"])
        except NotServable as exc:
            return PlainTextResponse(exc.reason, exc.status, headers={"cache-control": "no-store"})
        st = opened.stat
        etag = f'"{st.st_ino:x}-{st.st_size:x}-{st.st_mtime_ns:x}-{kind}"'
        headers = {"cache-control": PICTURE_CACHE, "etag": etag, "content-disposition": "inline"}
        if request.headers.get("if-none-match") == etag:
            os.close(opened.fd)
            return Response(status_code=304, headers=headers)
        media_type = None
        if kind == "full":
            media_type = browser_type(os.pread(opened.fd, 16, 0))
        if media_type is not None:  # the file itself, read through the descriptor that was checked
            headers["content-length"] = str(st.st_size)
            return StreamingResponse(_read_fd(opened.fd, st.st_size), media_type=media_type, headers=headers)
        os.close(opened.fd)
        try:  # decoded by a worker, from the name opened if it still leads to the file checked (st)
            if kind == "thumb":
                made = await pictures.thumbnail(opened.path, st)
                media_type = "image/jpeg"
            else:
                made = await pictures.full(opened.path, st)
                media_type = "image/png"
        except PictureFailed as exc:
            return PlainTextResponse(f"cannot show this file: {exc}", exc.status, headers={"cache-control": "no-store"})
        return FileResponse(made, media_type=media_type, headers=headers)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        session.start_scan()
        try:
            yield
        finally:
            session.hub.close()
            await anyio.to_thread.run_sync(session.close)
            await anyio.to_thread.run_sync(pictures.workers.close)  # waits for its workers to end
            if on_shutdown is not None:
                on_shutdown()

    routes = [
        Route("/", page),
        Route("/assets/{name}", asset),
        Route("/api/state", state),
        Route("/api/groups", groups),
        Route("/api/review", review),
        Route("/api/runs", runs),
        Route("/api/choices", choices),
        Route("/api/choices", acting, methods=["POST"]),
        Route("/api/jobs/{job}", job),
        Route("/api/events", events),
        Route("/api/scan", acting, methods=["POST"]),
        Route("/api/stop", acting, methods=["POST"]),
        Route("/api/preview", acting, methods=["POST"]),
        Route("/api/apply", acting, methods=["POST"]),
        Route("/api/not-duplicates", acting, methods=["POST"]),
        Route("/api/runs/{run}/undo", undo, methods=["POST"]),
        Route("/files/{fid}/{kind}", picture),
    ]
    return LastResort(GuardMiddleware(Starlette(routes=routes, lifespan=lifespan), guard))


async def _read_fd(fd: int, size: int) -> AsyncIterator[bytes]:
    """``size`` bytes of ``fd`` (as announced in Content-Length, even if the file grows meanwhile)."""
    try:
        offset = 0
        while offset < size:
            chunk = await anyio.to_thread.run_sync(os.pread, fd, min(READ_CHUNK, size - offset), offset)
            if not chunk:
                raise OSError("the file shrank while it was sent")
            offset += len(chunk)
            yield chunk
    finally:
        os.close(fd)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host``:``port`` (0: a free port); OSError if that is not possible."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
        sock.listen(128)
        sock.set_inheritable(True)
    except BaseException:
        sock.close()
        raise
    return sock


def url_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


class _Uvicorn(uvicorn.Server):
    """uvicorn, telling the session at the first Ctrl-C so that open event streams end and jobs stop."""

    def __init__(self, config: uvicorn.Config, session: ReviewSession) -> None:
        super().__init__(config)
        self.session = session

    def handle_exit(self, sig: int, frame: Any) -> None:
        self.session.hub.close()
        self.session.stop(everything=True)
        super().handle_exit(sig, frame)


class ReviewServer:
    """A bound review server: ``url`` to open, ``run()`` to serve until Ctrl-C (or ``stop()``)."""

    def __init__(self, session: ReviewSession, pictures: Pictures, *, host: str, port: int,
                 token: str, workdir: str | None = None) -> None:
        self.session = session
        self.sock = bind(host, port)
        self.host = host
        self.port = self.sock.getsockname()[1]
        self.guard = Guard(token, host, self.port)
        self.workdir = workdir
        self.app = create_app(session, self.guard, pictures, on_shutdown=self._cleanup)
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="on", ws="none",
                                http="h11", server_header=False, timeout_graceful_shutdown=5)
        self.server = _Uvicorn(config, session)

    @property
    def origin(self) -> str:
        return f"http://{url_host(self.host)}:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.origin}/?token={self.guard.token}"

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)

    def run(self) -> None:
        """Serve until Ctrl-C; the job in hand is stopped cleanly first."""
        try:
            self.server.run(sockets=[self.sock])
        except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it handled, once it has shut down
            pass
        finally:
            self.sock.close()

    def start_in_thread(self) -> threading.Thread:
        """For tests and embedding: serve in a thread; ``stop()`` ends it."""
        thread = threading.Thread(target=self.run, name="imgtwin-review-server", daemon=True)
        thread.start()
        while not self.server.started and thread.is_alive():
            threading.Event().wait(0.02)
        self._thread = thread
        return thread

    def stop(self, timeout: float = 60) -> None:
        """Stops serving as Ctrl-C does (the job in hand first); waits for a ``start_in_thread`` server."""
        self.session.hub.close()
        self.session.stop(everything=True)
        self.server.should_exit = True
        thread = getattr(self, "_thread", None)
        if thread is not None:
            thread.join(timeout)

    def _cleanup(self) -> None:
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

