"""One file, end to end: stat, load, hash. Runs inside a worker.

Never raises: whatever goes wrong becomes an error result, so one file can
never stop a run (the seed's error isolation).
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol, TypeVar, runtime_checkable

from imgtwin.hashing.content import content_hash
from imgtwin.hashing.extractor import FeatureExtractor, extract_all
from imgtwin.interfaces import Hasher, ImageLoader, LoadedImage
from imgtwin.loading.errors import LoadError, classify_os_error
from imgtwin.loading.signatures import has_image_extension
from imgtwin.records import ErrorReason, FileError, FileResult, FileStatus, ProcessingMetadata, from_preview

Item_contra = TypeVar("Item_contra", contravariant=True)  # a task for any item also serves a narrower one
Result_co = TypeVar("Result_co", covariant=True)


class Task(Protocol[Item_contra, Result_co]):
    """What a worker pool runs on each item: the scan's file task, or any other job with a time limit.

    Picklable: sent once to each worker process. ``run`` never raises (a failure is a
    result); ``failed`` makes the result of an item whose worker crashed or overran its
    time limit, in the pool's own process.
    """

    def run(self, item: Item_contra) -> Result_co: ...

    def failed(self, item: Item_contra, error: FileError) -> Result_co: ...


@runtime_checkable
class ManyTask(Protocol[Item_contra, Result_co]):
    """A task that runs a chunk of items faster together (the scan's: ``process_files``)."""

    def run_many(self, items: Sequence[Item_contra], begin: Callable[[], None]) -> Sequence[Result_co]:
        """``run`` of each item, in order; ``begin`` is called as each item is started."""
        ...


@dataclass(frozen=True)
class ScanTask:
    """One file of a scan: stat, content hash, load, hash, features (``process_file``)."""

    loader: ImageLoader
    hasher: Hasher
    extractor: FeatureExtractor | None = None

    def run(self, item: str) -> FileResult:
        return process_file(item, self.loader, self.hasher, self.extractor)

    def run_many(self, items: Sequence[str], begin: Callable[[], None]) -> list[FileResult]:
        return process_files(items, self.loader, self.hasher, self.extractor, begin)

    def failed(self, item: str, error: FileError) -> FileResult:
        return error_result(item, error)


def failure_of(metadata: ProcessingMetadata, error: FileError, reused: str | None = None,
               answered_by: str | None = None) -> FileResult:
    """The result of a file that could not be read; a non-image not named like an image is skipped instead.

    The one place of that rule: a file decoded here, a byte copy answered from
    another file of the scan or of the index, all end the same way (a notes.txt
    is no failure, even with the bytes of a broken notes.jpg).
    """
    if error.reason is ErrorReason.NOT_AN_IMAGE and not has_image_extension(metadata.path):
        return FileResult(metadata, FileStatus.SKIPPED)
    return FileResult(metadata, FileStatus.ERROR, error=error, reused=reused, answered_by=answered_by)


def error_result(path: str, error: FileError, size: int = 0, mtime_ns: int = 0) -> FileResult:
    return FileResult(ProcessingMetadata(path, size, mtime_ns), FileStatus.ERROR, error=error)


def process_file(path: str, loader: ImageLoader, hasher: Hasher, extractor: FeatureExtractor | None = None) -> FileResult:
    """The file's result, with the seconds it took in ``duration_s`` (the worker is the one that knows)."""
    return process_files([path], loader, hasher, extractor)[0]


def process_files(paths: Sequence[str], loader: ImageLoader, hasher: Hasher, extractor: FeatureExtractor | None = None,
                  begin: Callable[[], None] | None = None) -> list[FileResult]:  # fmt: skip
    """``process_file`` of each path, in order: each file read and decoded alone, the features of all together.

    ``begin`` is called before each file is read (a worker counts there which file is on its decoder).
    On tiny files the features cost more than the decode, mostly in per-call overheads that one call
    for the whole chunk pays once (``hashing.batched``).
    """
    reads: list[FileResult | _Read] = []
    for path in paths:
        if begin is not None:
            begin()
        started = time.perf_counter()
        read = _read_file(path, loader)
        if isinstance(read, _Read):
            read.seconds = time.perf_counter() - started
        else:
            read = replace(read, duration_s=time.perf_counter() - started)
        reads.append(read)
    finished = iter(_finish([read for read in reads if isinstance(read, _Read)], hasher, extractor))
    return [read if isinstance(read, FileResult) else next(finished) for read in reads]


@dataclass(slots=True)
class _Read:
    """A file read and decoded, waiting for its hash and features (``_finish``); not a record: its
    ``seconds`` are set once read (a ``dataclasses.replace`` costs more than a tiny file's hash)."""

    metadata: ProcessingMetadata
    loaded: LoadedImage
    seconds: float = 0.0


def _read_file(path: str, loader: ImageLoader) -> FileResult | _Read:
    """Stat, decode and content hash; an error result where any fails, or the file changed meanwhile."""
    try:
        before = os.stat(path)
    except OSError as exc:
        return error_result(path, FileError(classify_os_error(exc), exc.strerror or str(exc)))
    if not stat.S_ISREG(before.st_mode):
        return error_result(path, FileError(ErrorReason.NOT_A_REGULAR_FILE, "not a regular file"))
    base = ProcessingMetadata(
        path, before.st_size, before.st_mtime_ns, loader=loader.decode_id, dev=before.st_dev, inode=before.st_ino,
        ctime_ns=before.st_ctime_ns,
    )
    try:
        loaded = loader.load(path)
        # A file answered by its preview is read no further: its bytes are hashed (exact copies) only if it
        # ends up in a candidate pair, when its main image is decoded (``runs.main_images``). A small file's
        # bytes were hashed as the loader read them (``StandardImageLoader.load``).
        digest = None if from_preview(loaded.decode) else loaded.content_hash or content_hash(path)
    except Exception as exc:  # noqa: BLE001 - a loader bug must not end the run
        return _failure(base, exc)
    try:
        after = os.stat(path)
    except OSError:
        return FileResult(base, FileStatus.ERROR, error=FileError(ErrorReason.VANISHED, "file disappeared while it was read"))
    if (after.st_size, after.st_mtime_ns, after.st_ino) != (base.size, base.mtime_ns, base.inode):
        return FileResult(base, FileStatus.ERROR, error=FileError(ErrorReason.CHANGED, "file changed while it was read"))
    metadata = ProcessingMetadata(
        path, base.size, base.mtime_ns, loaded.width, loaded.height, loaded.format, loaded.decode,
        loaded.loader or base.loader, base.dev, base.inode, base.ctime_ns, digest,
    )
    return _Read(metadata, loaded)


def _failure(base: ProcessingMetadata, exc: Exception) -> FileResult:
    """The error result of a file whose decode, hash or features raised ``exc``."""
    if isinstance(exc, LoadError):
        return failure_of(base, exc.to_file_error())
    if isinstance(exc, OSError):
        return FileResult(base, FileStatus.ERROR, error=FileError(classify_os_error(exc), exc.strerror or str(exc)))
    message = f"unexpected {type(exc).__name__}: {exc}"
    return FileResult(base, FileStatus.ERROR, error=FileError(ErrorReason.DECODE_ERROR, message))


def _hashed(read: _Read, hasher: Hasher) -> FileResult:
    try:
        image_hash = hasher.hash(read.loaded.image)
    except Exception as exc:  # noqa: BLE001 - a hasher bug must not end the run
        return _failure(read.metadata, exc)
    return FileResult(read.metadata, FileStatus.HASHED, hash=image_hash, bytes_read=read.loaded.bytes_read)


def _finish(reads: Sequence[_Read], hasher: Hasher, extractor: FeatureExtractor | None) -> list[FileResult]:
    """The results of decoded files: hash, features and signals, for all at once where the extractor can;
    each file's ``duration_s`` is its read's seconds and its share of this.

    Where the chunk fails together, each file is done alone, so that one picture's failure is its own.
    """
    started = time.perf_counter()
    if extractor is None:
        hashed = [_hashed(read, hasher) for read in reads]
        share = (time.perf_counter() - started) / max(1, len(reads))
        return [replace(result, duration_s=read.seconds + share) for result, read in zip(hashed, reads, strict=True)]
    try:
        extractions = extract_all(extractor, [read.loaded for read in reads], hasher)
    except Exception as exc:  # noqa: BLE001 - a hasher bug must not end the run; whose it is, found file by file
        if len(reads) == 1:
            return [replace(_failure(reads[0].metadata, exc), duration_s=reads[0].seconds + time.perf_counter() - started)]
        return [result for read in reads for result in _finish([read], hasher, extractor)]
    share = (time.perf_counter() - started) / max(1, len(reads))
    return [FileResult(
        read.metadata, FileStatus.HASHED, hash=extraction.hash, features=extraction.features,
        features_spec=extractor.spec, signals=extraction.signals,
        signals_spec=extractor.signals_spec if extraction.signals is not None else None,
        duration_s=read.seconds + share, bytes_read=read.loaded.bytes_read, picture=extraction.picture,
        picture_spec=extractor.picture_spec if extraction.picture is not None else None,
    ) for read, extraction in zip(reads, extractions, strict=True)]
