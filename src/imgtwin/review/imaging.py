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
The worker reads the very file the server checked (see ``PictureTask``), never
whatever a link swapped in at its name since leads to.
Results are cached in a private folder of this server run (removed at exit),
so pictures of a personal collection do not linger on disk.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from dataclasses import dataclass
from typing import BinaryIO

from imgtwin.config import ProcessingConfig
from imgtwin.processing.service import PoolService, ServiceStopped
from imgtwin.records import FileError
from imgtwin.reporting.thumbnails import make_thumbnail
from imgtwin.review.catalog import is_file, open_no_link

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


def convert_full(source: str, target: str, stream: BinaryIO) -> bool:
    """``source`` (open as ``stream``) upright at full resolution as a PNG at ``target``; False if unreadable."""
    from imgtwin.loading.pillow_loader import StandardImageLoader

    loader = StandardImageLoader(FULL_MAX_SIDE, decode_size=FULL_MAX_SIDE, mode="RGB")
    try:
        image = loader.load_stream(stream, source).image
        if image.mode != "RGB":  # float and 16-bit grey come back as "F"
            image = image.convert("L").convert("RGB")
        temp = f"{target}.{os.getpid()}.tmp"
        image.save(temp, "PNG", compress_level=1)  # fast; the bytes only cross the loopback
        os.replace(temp, target)
    except Exception:  # noqa: BLE001 - any failure means "cannot show it", never a stopped server
        return False
    return True


class PictureFailed(Exception):
    """The picture could not be made: ``status`` 422 (unreadable, too slow, worker crashed) or 409 (the file
    at the name is no longer the one the server checked)."""

    def __init__(self, reason: str, status: int = 422) -> None:
        super().__init__(reason)
        self.status = status


# (maker, path, target, dev, inode): make ``target`` from the file at ``path`` if it is (dev, inode)
PictureItem = tuple[str, str, str, int, int]
REPLACED = "the file was replaced since it was checked"


@dataclass(frozen=True)
class PictureTask:
    """``processing.task.Task``: make one picture; the result is (HTTP status, reason).

    The worker opens the name again itself, so it decodes the file the server
    checked only if the name still leads to it: the last name must not be a
    link, and the file opened must be the (device, inode) the server checked.
    """

    def run(self, item: PictureItem) -> tuple[int, str]:
        maker, source, target, dev, inode = item
        try:
            fd = open_no_link(source)
        except OSError:
            return 409, REPLACED
        with os.fdopen(fd, "rb") as stream:
            if not is_file(os.fstat(fd), dev, inode):
                return 409, REPLACED
            made = (make_thumbnail if maker == "thumbnail" else convert_full)(source, target, stream)
        return (200, "") if made else (422, "cannot be decoded")

    def failed(self, item: PictureItem, error: FileError) -> tuple[int, str]:  # spun, crashed, too large
        return 422, error.message


def picture_service(workers: int = 0, timeout: float = PICTURE_TIMEOUT_S) -> PoolService[PictureItem, tuple[int, str]]:
    """The scan's process pool for pictures: ``workers`` (0: up to 4) processes, ``timeout`` s per picture."""
    config = ProcessingConfig(max_concurrent_tasks=workers or min(4, os.cpu_count() or 1), file_timeout=timeout,
                              worker_memory_mb=WORKER_MEMORY_MB)
    return PoolService(PictureTask(), config)


class Pictures:
    """Thumbnails and browser-ready full pictures, made on demand and cached for this run.

    A cached picture is named after the file's path and identity (device, inode, size, modification
    time): a file replaced or changed since gets a new picture, never the old one's.
    """

    def __init__(self, cache_dir: str, workers: PoolService[PictureItem, tuple[int, str]]) -> None:
        self.cache_dir = cache_dir
        self.workers = workers
        self._making: dict[str, asyncio.Future[None]] = {}  # target -> the request making it
        os.makedirs(cache_dir, mode=0o700, exist_ok=True)

    async def _make(self, item: PictureItem) -> None:
        try:
            status, reason = await asyncio.wrap_future(self.workers.submit(item))
        except ServiceStopped as exc:
            raise PictureFailed(str(exc)) from None
        if status != 200:
            raise PictureFailed(reason, status)

    async def _made(self, maker: str, source: str, st: os.stat_result, suffix: str) -> str:
        """The picture of the file ``source`` that was checked as ``st`` (an ``fstat``)."""
        key = f"{os.path.abspath(source)}\0{st.st_dev}\0{st.st_ino}\0{st.st_size}\0{st.st_mtime_ns}"
        target = os.path.join(self.cache_dir, hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:32]
                              + suffix)
        if os.path.exists(target):
            return target
        making = self._making.get(target)
        if making is None:  # one decode per picture, however many requests wait for it
            making = asyncio.ensure_future(self._make((maker, source, target, st.st_dev, st.st_ino)))
            self._making[target] = making
            making.add_done_callback(lambda _: self._making.pop(target, None))
        await asyncio.shield(making)
        return target

    async def thumbnail(self, source: str, st: os.stat_result) -> str:
        """``source``'s thumbnail, if the file at that name is still the one ``st`` describes."""
        return await self._made("thumbnail", source, st, ".jpg")

    async def full(self, source: str, st: os.stat_result) -> str:
        """``source`` as a full-resolution PNG, if the file at that name is still the one ``st`` describes."""
        return await self._made("full", source, st, ".full.png")
