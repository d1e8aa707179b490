"""One file, end to end: stat, load, hash. Runs inside a worker.

Never raises: whatever goes wrong becomes an error result, so one file can
never stop a run (the seed's error isolation).
"""

from __future__ import annotations

import os
import stat
import time
from dataclasses import dataclass, replace
from typing import Protocol, TypeVar

from imgtwin.hashing.content import content_hash
from imgtwin.hashing.extractor import FeatureExtractor
from imgtwin.interfaces import Hasher, ImageLoader
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


@dataclass(frozen=True)
class ScanTask:
    """One file of a scan: stat, content hash, load, hash, features (``process_file``)."""

    loader: ImageLoader
    hasher: Hasher
    extractor: FeatureExtractor | None = None

    def run(self, item: str) -> FileResult:
        return process_file(item, self.loader, self.hasher, self.extractor)

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
    started = time.perf_counter()
    result = _process_file(path, loader, hasher, extractor)
    return replace(result, duration_s=time.perf_counter() - started)


def _process_file(path: str, loader: ImageLoader, hasher: Hasher, extractor: FeatureExtractor | None) -> FileResult:
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
        # ends up in a candidate pair, when its main image is decoded (``runs.main_images``).
        digest = None if from_preview(loaded.decode) else content_hash(path)
        extraction = extractor.extract(loaded, hasher) if extractor is not None else None
        plain_hash = hasher.hash(loaded.image) if extraction is None else extraction.hash
    except LoadError as exc:
        return failure_of(base, exc.to_file_error())
    except OSError as exc:
        return FileResult(base, FileStatus.ERROR, error=FileError(classify_os_error(exc), exc.strerror or str(exc)))
    except Exception as exc:  # noqa: BLE001 - a loader or hasher bug must not end the run
        message = f"unexpected {type(exc).__name__}: {exc}"
        return FileResult(base, FileStatus.ERROR, error=FileError(ErrorReason.DECODE_ERROR, message))
    try:
        after = os.stat(path)
    except OSError:
        return FileResult(base, FileStatus.ERROR, error=FileError(ErrorReason.VANISHED, "file disappeared while it was read"))
    if (after.st_size, after.st_mtime_ns, after.st_ino) != (base.size, base.mtime_ns, base.inode):
        return FileResult(base, FileStatus.ERROR, error=FileError(ErrorReason.CHANGED, "file changed while it was read"))
    metadata = replace(
        base, width=loaded.width, height=loaded.height, format=loaded.format, decode=loaded.decode,
        content_hash=digest, loader=loaded.loader or base.loader,
    )
    if extractor is None or extraction is None:
        return FileResult(metadata, FileStatus.HASHED, hash=plain_hash, bytes_read=loaded.bytes_read)
    return FileResult(
        metadata, FileStatus.HASHED, hash=extraction.hash, features=extraction.features, features_spec=extractor.spec,
        signals=extraction.signals, signals_spec=extractor.signals_spec if extraction.signals is not None else None,
        bytes_read=loaded.bytes_read,
    )
