"""Pictures for the page: thumbnails, and full-resolution images a browser can show.

Browsers show JPEG, PNG, WebP and GIF themselves: those are sent as their own
bytes. HEIC, TIFF, camera RAW, PSD, BMP, JPEG 2000... are decoded by the same
loader as a scan (EXIF orientation, HEIF and RAW plug-ins, the pixel limit) and
sent as a lossless PNG, so that comparing two copies shows their real
differences. Thumbnails are ``reporting.thumbnails.make_thumbnail``'s.

Decoding happens in worker processes with a memory limit and a time limit per
picture: a decoder that crashes or spins costs that picture, never the server.
Results are cached in a private folder of this server run (removed at exit),
so pictures of a personal collection do not linger on disk.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import multiprocessing
import os
import signal
import threading
from multiprocessing.pool import Pool
from typing import Any

from imgtwin.reporting.thumbnails import make_thumbnail, thumbnail_name

# Formats every current browser decodes, by their signature, with the type to send.
BROWSER_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp"}
FULL_MAX_SIDE = 16_384  # browsers refuse larger bitmaps; bigger pictures are box-reduced to fit
WORKER_MEMORY_MB = 4096  # a full-resolution decode needs more than a thumbnail's
PICTURE_TIMEOUT_S = 60.0


def browser_type(head: bytes) -> str | None:
    """The MIME type of a file a browser can show as it is, from its first bytes; else None."""
    if head.startswith(b"\xff\xd8\xff"):
        return BROWSER_TYPES["JPEG"]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return BROWSER_TYPES["PNG"]
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return BROWSER_TYPES["GIF"]
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return BROWSER_TYPES["WEBP"]
    return None


def _init_worker() -> None:
    """The server handles Ctrl-C; decoder noise and memory are contained."""
    from imgtwin.processing.limits import limit_address_space
    from imgtwin.processing.workers import quiet_decoder_warnings, silence_native_stderr

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    quiet_decoder_warnings()
    silence_native_stderr()
    limit_address_space(WORKER_MEMORY_MB * 1024 * 1024)


def convert_full(source: str, target: str) -> bool:
    """``source`` upright at full resolution as a PNG at ``target``; False if it cannot be read."""
    from imgtwin.loading.pillow_loader import StandardImageLoader

    loader = StandardImageLoader(FULL_MAX_SIDE, decode_size=FULL_MAX_SIDE, mode="RGB")
    try:
        image = loader.load(source).image
        if image.mode != "RGB":  # float and 16-bit grey come back as "F"
            image = image.convert("L").convert("RGB")
        temp = f"{target}.{os.getpid()}.tmp"
        image.save(temp, "PNG", compress_level=1)  # fast; the bytes only cross the loopback
        os.replace(temp, target)
    except Exception:  # noqa: BLE001 - any failure means "cannot show it", never a stopped server
        return False
    return True


class PictureFailed(Exception):
    """The picture could not be made (unreadable, too slow, worker crashed)."""


class DecodeWorkers:
    """A small pool of decoding processes; one that overruns the time limit is killed with the pool.

    ``multiprocessing.Pool`` is used for its public ``terminate()``: a spinning
    decoder cannot be interrupted any other way. Pictures in flight in the
    killed pool fail (the page shows a placeholder) and the next one gets a
    fresh pool.
    """

    def __init__(self, workers: int = 0, timeout: float = PICTURE_TIMEOUT_S) -> None:
        self.workers = workers or min(4, os.cpu_count() or 1)
        self.timeout = timeout
        self._lock = threading.Lock()
        self._pool: Pool | None = None
        self._pending: set[concurrent.futures.Future[Any]] = set()

    def _get_pool(self) -> Pool:
        if self._pool is None:
            method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
            self._pool = multiprocessing.get_context(method).Pool(self.workers, initializer=_init_worker)
        return self._pool

    def submit(self, fn: Any, *args: Any) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def finished(value: Any, fail: bool = False) -> None:
            with self._lock:
                self._pending.discard(future)
            try:
                if fail:
                    future.set_exception(PictureFailed(str(value)))
                else:
                    future.set_result(value)
            except concurrent.futures.InvalidStateError:  # already failed by a restart
                pass

        with self._lock:
            pool = self._get_pool()
            self._pending.add(future)
            pool.apply_async(fn, args, callback=finished, error_callback=lambda e: finished(e, True))
        return future

    async def run(self, fn: Any, *args: Any) -> Any:
        future = self.submit(fn, *args)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), self.timeout)
        except TimeoutError:
            self.restart()
            raise PictureFailed(f"took longer than {self.timeout:.0f} s") from None

    def restart(self) -> None:
        """Kill the workers (a decoder may be spinning); every picture in flight fails."""
        with self._lock:
            pool, self._pool = self._pool, None
            pending, self._pending = self._pending, set()
        if pool is not None:
            pool.terminate()
            threading.Thread(target=pool.join, daemon=True).start()
        for future in pending:
            try:
                future.set_exception(PictureFailed("the decoding worker was stopped"))
            except concurrent.futures.InvalidStateError:
                pass

    def close(self) -> None:
        self.restart()


class Pictures:
    """Thumbnails and browser-ready full pictures, made on demand and cached for this run."""

    def __init__(self, cache_dir: str, workers: DecodeWorkers) -> None:
        self.cache_dir = cache_dir
        self.workers = workers
        self._making: dict[str, asyncio.Future[Any]] = {}  # target -> the request making it
        os.makedirs(cache_dir, mode=0o700, exist_ok=True)

    def _fresh(self, target: str, source_mtime_ns: int) -> bool:
        try:
            return os.stat(target).st_mtime_ns >= source_mtime_ns
        except OSError:
            return False

    async def _made(self, fn: Any, source: str, target: str, source_mtime_ns: int) -> str:
        if self._fresh(target, source_mtime_ns):
            return target
        making = self._making.get(target)
        if making is None:  # one decode per picture, however many requests wait for it
            making = asyncio.ensure_future(self.workers.run(fn, source, target))
            self._making[target] = making
            making.add_done_callback(lambda _: self._making.pop(target, None))
        if not await asyncio.shield(making):
            raise PictureFailed("cannot be decoded")
        return target

    async def thumbnail(self, source: str, source_mtime_ns: int) -> str:
        target = os.path.join(self.cache_dir, thumbnail_name(source))
        return await self._made(make_thumbnail, source, target, source_mtime_ns)

    async def full(self, source: str, source_mtime_ns: int) -> str:
        target = os.path.join(self.cache_dir, thumbnail_name(source)[:-4] + ".full.png")
        return await self._made(convert_full, source, target, source_mtime_ns)
