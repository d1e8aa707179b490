"""One file, end to end: stat, load, hash. Runs inside a worker.

Never raises: whatever goes wrong becomes an error result, so one file can
never stop a run (the seed's error isolation).
"""

from __future__ import annotations

import os
import stat

from imgtwin.interfaces import Hasher, ImageLoader
from imgtwin.loading.errors import LoadError, classify_os_error
from imgtwin.loading.signatures import has_image_extension
from imgtwin.records import ErrorReason, FileError, FileResult, FileStatus, ProcessingMetadata


def error_result(path: str, error: FileError, size: int = 0, mtime_ns: int = 0) -> FileResult:
    return FileResult(ProcessingMetadata(path, size, mtime_ns), FileStatus.ERROR, error=error)


def process_file(path: str, loader: ImageLoader, hasher: Hasher) -> FileResult:
    try:
        before = os.stat(path)
    except OSError as exc:
        return error_result(path, FileError(classify_os_error(exc), exc.strerror or str(exc)))
    if not stat.S_ISREG(before.st_mode):
        return error_result(path, FileError(ErrorReason.NOT_A_REGULAR_FILE, "not a regular file"))
    size, mtime_ns = before.st_size, before.st_mtime_ns
    try:
        loaded = loader.load(path)
        image_hash = hasher.hash(loaded.image)
    except LoadError as exc:
        if exc.reason is ErrorReason.NOT_AN_IMAGE and not has_image_extension(path):
            return FileResult(ProcessingMetadata(path, size, mtime_ns), FileStatus.SKIPPED)
        return error_result(path, exc.to_file_error(), size, mtime_ns)
    except Exception as exc:  # a loader or hasher bug must not end the run
        message = f"unexpected {type(exc).__name__}: {exc}"
        return error_result(path, FileError(ErrorReason.DECODE_ERROR, message), size, mtime_ns)
    try:
        after = os.stat(path)
    except OSError:
        return error_result(path, FileError(ErrorReason.VANISHED, "file disappeared while it was read"), size, mtime_ns)
    if (after.st_size, after.st_mtime_ns) != (size, mtime_ns):
        return error_result(path, FileError(ErrorReason.CHANGED, "file changed while it was read"), size, mtime_ns)
    metadata = ProcessingMetadata(
        path, size, mtime_ns, loaded.width, loaded.height, loaded.format, loaded.decode, loader.decode_id
    )
    return FileResult(metadata, FileStatus.HASHED, hash=image_hash)
