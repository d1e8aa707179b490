"""Turning the many exceptions decoders raise into a reason and a message.

Pillow does not raise only ``OSError``: the bad-images set also produces
``SyntaxError``, ``ValueError``, ``NotImplementedError``, ``EOFError`` and
``DecompressionBombError``. Each becomes a ``LoadError`` with a stable reason.
"""

from __future__ import annotations

import errno

from PIL import Image, UnidentifiedImageError

from imgtwin.records import ErrorReason, FileError


class LoadError(Exception):
    """A file could not be turned into pixels; carries the reason."""

    def __init__(self, reason: ErrorReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message

    def to_file_error(self) -> FileError:
        return FileError(self.reason, self.message)


def classify_os_error(exc: OSError) -> ErrorReason:
    """Reasons for errors from the file system itself (not from a decoder)."""
    if isinstance(exc, PermissionError) or exc.errno in (errno.EACCES, errno.EPERM):
        return ErrorReason.PERMISSION
    if isinstance(exc, FileNotFoundError) or exc.errno == errno.ENOENT:
        return ErrorReason.VANISHED
    if isinstance(exc, IsADirectoryError):
        return ErrorReason.NOT_A_REGULAR_FILE
    return ErrorReason.IO_ERROR


def classify_decode_error(exc: BaseException, fmt: str) -> LoadError:
    """A decoder's exception as a LoadError (never raises)."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, Image.DecompressionBombError):
        return LoadError(ErrorReason.TOO_LARGE, f"{fmt} image is too large to decode safely: {text}")
    if isinstance(exc, MemoryError):
        return LoadError(ErrorReason.TOO_LARGE, f"{fmt} image needs more memory than is available")
    if isinstance(exc, UnidentifiedImageError):
        return LoadError(ErrorReason.DECODE_ERROR, f"{fmt} header is corrupt or unsupported")
    lowered = text.lower()
    # libheif says "Unexpected end of file", libavif "Truncated data".
    if "truncated" in lowered or "end of file" in lowered or isinstance(exc, EOFError):
        return LoadError(ErrorReason.TRUNCATED, f"{fmt} data ends early ({text})")
    if isinstance(exc, OSError) and exc.errno is not None:
        return LoadError(classify_os_error(exc), text)
    return LoadError(ErrorReason.DECODE_ERROR, f"cannot decode {fmt}: {type(exc).__name__}: {text}")
