"""Small JPEG thumbnails for the HTML report, made in parallel worker processes.

The report must open offline and fast, so it shows pre-made thumbnails from a
folder beside the page instead of the (possibly huge, possibly HEIC or RAW)
originals. They are decoded by the same loader as a scan, so EXIF orientation,
HEIF, RAW previews, the pixel limit and JPEG draft decoding behave the same.
A file that cannot be read gets no thumbnail (the page shows a placeholder);
it never stops the report.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import re
import signal
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from PIL import Image

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


def _init_worker() -> None:
    """Worker set-up: the parent handles Ctrl-C; decoder noise and memory are contained."""
    from imgtwin.processing.limits import limit_address_space
    from imgtwin.processing.workers import quiet_decoder_warnings, silence_native_stderr

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    quiet_decoder_warnings()
    silence_native_stderr()
    limit_address_space(MEMORY_LIMIT_MB * 1024 * 1024)


def make_thumbnail(source: str, target: str) -> bool:
    """Write ``source``'s upright thumbnail to ``target``; False if it cannot be read."""
    from imgtwin.loading.pillow_loader import StandardImageLoader

    # The loader only box-reduces by whole factors (enough for hashing); a
    # thumbnail people look at gets its exact size from a Lanczos pass.
    loader = StandardImageLoader(4 * THUMB_SIZE, decode_size=THUMB_SIZE, mode="RGB")
    try:
        image = loader.load(source).image
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


def _run_pool(jobs: Sequence[Job], workers: int, done: Callable[[str, bool], None]) -> list[Job]:
    """Run ``jobs`` on a process pool; the jobs left unfinished if a worker crashed."""
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    pool = ProcessPoolExecutor(workers, multiprocessing.get_context(method), initializer=_init_worker)
    left: dict[Future[bool], Job] = {}
    try:
        for job in jobs:
            left[pool.submit(make_thumbnail, *job)] = job
        for future in list(left):
            try:
                ok = future.result()
            except BrokenProcessPool:
                break
            done(left.pop(future)[0], ok)
        for future in list(left):  # after a crash: keep what finished before it
            if future.done() and not future.cancelled() and future.exception() is None:
                done(left.pop(future)[0], future.result())
    except BaseException:  # Ctrl-C: drop the queue instead of finishing it
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True, cancel_futures=True)
    return list(left.values())


def make_thumbnails(
    paths: Iterable[str], folder: str, *, workers: int = 0, prune: bool = True
) -> ThumbnailSet:
    """Thumbnails of ``paths`` in ``folder``, reusing those newer than their source.

    ``workers`` processes (0: one per core). A decoder that crashes its worker
    costs the files in flight: they are retried once on a fresh pool, then shown
    as placeholders. With ``prune``, thumbnails of files no longer reported are
    deleted (only files named like thumbnails).
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

    def done(path: str, ok: bool) -> None:
        names[path] = thumbnail_name(path) if ok else None

    workers = min(workers or os.cpu_count() or 1, max(1, len(jobs)))
    for _ in range(2):
        if not jobs:
            break
        jobs = _run_pool(jobs, workers, done)
    for path, _target in jobs:
        names[path] = None
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
