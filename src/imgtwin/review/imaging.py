"""Pictures for the page: thumbnails, and full-resolution images a browser can show.

Browsers show JPEG, PNG, WebP and GIF themselves: those are sent as their own
bytes. HEIC, TIFF, camera RAW, PSD, BMP, JPEG 2000... are decoded by the same
loader as a scan (EXIF orientation, HEIF and RAW plug-ins, the pixel limit) and
sent as a lossless PNG, so that comparing two copies shows their real
differences. Thumbnails are ``reporting.thumbnails.make_thumbnail``'s.

Decoding happens in the scan's worker pool (``processing.service``), with its
memory limit and a time limit per picture that starts when a worker takes it: a
decoder that crashes or spins costs that picture (its worker is replaced), never
the other pictures in flight or the server.
Results are cached in a private folder of this server run (removed at exit),
so pictures of a personal collection do not linger on disk.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass

from imgtwin.config import ProcessingConfig
from imgtwin.processing.service import PoolService, ServiceStopped
from imgtwin.records import FileError
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


@dataclass(frozen=True)
class PictureTask:
    """``processing.task.Task``: make one picture, ``(maker, source, target)``; the result says if it was made."""

    def run(self, item: tuple[str, str, str]) -> tuple[bool, str]:
        maker, source, target = item
        made = (make_thumbnail if maker == "thumbnail" else convert_full)(source, target)
        return made, "" if made else "cannot be decoded"

    def failed(self, item: tuple[str, str, str], error: FileError) -> tuple[bool, str]:  # spun, crashed, too large
        return False, error.message


def picture_service(workers: int = 0, timeout: float = PICTURE_TIMEOUT_S) -> PoolService[tuple[str, str, str],
                                                                                         tuple[bool, str]]:
    """The scan's process pool for pictures: ``workers`` (0: up to 4) processes, ``timeout`` s per picture."""
    config = ProcessingConfig(max_concurrent_tasks=workers or min(4, os.cpu_count() or 1), file_timeout=timeout,
                              worker_memory_mb=WORKER_MEMORY_MB)
    return PoolService(PictureTask(), config)


class Pictures:
    """Thumbnails and browser-ready full pictures, made on demand and cached for this run."""

    def __init__(self, cache_dir: str, workers: PoolService[tuple[str, str, str], tuple[bool, str]]) -> None:
        self.cache_dir = cache_dir
        self.workers = workers
        self._making: dict[str, asyncio.Future[None]] = {}  # target -> the request making it
        os.makedirs(cache_dir, mode=0o700, exist_ok=True)

    def _fresh(self, target: str, source_mtime_ns: int) -> bool:
        try:
            return os.stat(target).st_mtime_ns >= source_mtime_ns
        except OSError:
            return False

    async def _make(self, maker: str, source: str, target: str) -> None:
        try:
            made, reason = await asyncio.wrap_future(self.workers.submit((maker, source, target)))
        except ServiceStopped as exc:
            raise PictureFailed(str(exc)) from None
        if not made:
            raise PictureFailed(reason)

    async def _made(self, maker: str, source: str, target: str, source_mtime_ns: int) -> str:
        if self._fresh(target, source_mtime_ns):
            return target
        making = self._making.get(target)
        if making is None:  # one decode per picture, however many requests wait for it
            making = asyncio.ensure_future(self._make(maker, source, target))
            self._making[target] = making
            making.add_done_callback(lambda _: self._making.pop(target, None))
        await asyncio.shield(making)
        return target

    async def thumbnail(self, source: str, source_mtime_ns: int) -> str:
        target = os.path.join(self.cache_dir, thumbnail_name(source))
        return await self._made("thumbnail", source, target, source_mtime_ns)

    async def full(self, source: str, source_mtime_ns: int) -> str:
        target = os.path.join(self.cache_dir, thumbnail_name(source)[:-4] + ".full.png")
        return await self._made("full", source, target, source_mtime_ns)
