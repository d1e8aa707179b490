"""Small JPEG thumbnails for the HTML report, made in the scan's worker pool.

The report must open offline and fast, so it shows pre-made thumbnails from a
folder beside the page instead of the (possibly huge, possibly HEIC or RAW)
originals. They are decoded by the same loader as a scan, so EXIF orientation,
HEIF, RAW previews, the pixel limit and JPEG draft decoding behave the same.
A file that cannot be read gets no thumbnail (the page shows a placeholder);
it never stops the report.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import BinaryIO

from PIL import Image

from imgtwin.config import ProcessingConfig
from imgtwin.processing.jobs import run_jobs
from imgtwin.records import FileError

THUMB_SIZE = 160  # px, long side
JPEG_QUALITY = 80
MEMORY_LIMIT_MB = 2048  # per worker: a hostile file gets MemoryError, not the machine
_NAME = re.compile(r"^[0-9a-f]{24}\.jpg$")


def thumbnail_name(path: str) -> str:
    """File name of ``path``'s thumbnail: a hash of its absolute path (safe for any name)."""
    absolute = os.path.abspath(path).encode("utf-8", "surrogateescape")
    return hashlib.sha256(absolute).hexdigest()[:24] + ".jpg"


@dataclass(frozen=True)
class ThumbnailSet:
    """Thumbnail file name per source path (None: unreadable, shown as a placeholder)."""

    names: dict[str, str | None]
    made: int  # newly written
    reused: int  # already up to date in the folder

    @property
    def failed(self) -> int:
        return sum(name is None for name in self.names.values())


def make_thumbnail(source: str, target: str, stream: BinaryIO | None = None) -> bool:
    """Write ``source``'s upright thumbnail to ``target``; False if it cannot be read.

    ``stream``: ``source`` already open (and checked), read instead of opening the name again.
    """
    from imgtwin.loading.pillow_loader import StandardImageLoader

    # The loader only box-reduces by whole factors (enough for hashing); a
    # thumbnail people look at gets its exact size from a Lanczos pass.
    loader = StandardImageLoader(4 * THUMB_SIZE, decode_size=THUMB_SIZE, mode="RGB")
    try:
        image = (loader.load(source) if stream is None else loader.load_stream(stream, source)).image
        if image.mode != "RGB":  # float/16-bit pictures come back as "F"
            image = image.convert("L").convert("RGB")
        image.thumbnail((THUMB_SIZE, THUMB_SIZE), Image.Resampling.LANCZOS)
        temp = f"{target}.{os.getpid()}.tmp"
        image.save(temp, "JPEG", quality=JPEG_QUALITY)
        os.replace(temp, target)
    except Exception:  # noqa: BLE001 - any failure means "placeholder", never a stopped report
        return False
    return True


def _up_to_date(source: str, target: str) -> bool:
    try:
        return os.stat(target).st_mtime_ns >= os.stat(source).st_mtime_ns
    except OSError:
        return False


Job = tuple[str, str]  # source path, thumbnail path


@dataclass(frozen=True)
class ThumbnailTask:
    """``processing.task.Task`` for the scan's worker pool: one thumbnail, with the scan's time limit and isolation."""

    def run(self, item: Job) -> tuple[str, bool]:
        return item[0], make_thumbnail(*item)

    def failed(self, item: Job, error: FileError) -> tuple[str, bool]:  # crashed, spun or ran out of memory
        return item[0], False


def make_thumbnails(
    paths: Iterable[str], folder: str, *, workers: int = 0, prune: bool = True, config: ProcessingConfig | None = None,
) -> ThumbnailSet:
    """Thumbnails of ``paths`` in ``folder``, reusing those newer than their source.

    Made in the scan's worker pool (``processing.jobs.run_jobs``; ``config``, or
    ``workers`` processes, 0: one per core), so the scan's per-file time limit,
    memory limit and crash isolation hold here too: a file whose decoder spins
    or crashes its worker is shown as a placeholder, the others are made. With
    ``prune``, thumbnails of files no longer reported are deleted (only files
    named like thumbnails).
    """
    os.makedirs(folder, exist_ok=True)
    names: dict[str, str | None] = {}
    jobs: list[Job] = []
    for path in dict.fromkeys(paths):
        name = thumbnail_name(path)
        target = os.path.join(folder, name)
        if _up_to_date(path, target):
            names[path] = name
        else:
            jobs.append((path, target))
    reused = len(names)

    if config is None:
        config = ProcessingConfig(max_concurrent_tasks=workers, worker_memory_mb=MEMORY_LIMIT_MB)
    names.update((path, None) for path, _ in jobs)  # a placeholder unless made (a stopped run returns early)
    for path, ok in run_jobs(ThumbnailTask(), jobs, config):
        names[path] = thumbnail_name(path) if ok else None
    if prune:
        _prune(folder, {n for n in names.values() if n})
    return ThumbnailSet(names, made=sum(1 for n in names.values() if n) - reused, reused=reused)


def _prune(folder: str, keep: set[str]) -> None:
    for entry in os.scandir(folder):
        if _NAME.match(entry.name) and entry.name not in keep:
            try:
                os.unlink(entry.path)
            except OSError:
                pass
