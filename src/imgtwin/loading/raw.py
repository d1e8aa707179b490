"""Camera RAW files through their embedded preview (rawpy / LibRaw).

Demosaicing sensor data costs about a second per photo and its colours depend
on the converter; the JPEG preview every camera embeds is what the photographer
saw, is what an exported JPEG of the same shot looks like, and decodes in
milliseconds. A RAW without a usable preview is reported as unsupported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
from PIL import Image

from imgtwin.loading.errors import LoadError
from imgtwin.loading.plugins import rawpy_module
from imgtwin.records import ErrorReason

# LibRaw's ``flip`` as the EXIF orientation that displays the preview upright.
_FLIP_TO_ORIENTATION = {0: 1, 3: 3, 5: 8, 6: 6}


@dataclass(frozen=True, slots=True)
class RawPreview:
    """The preview as JPEG bytes (decoded by the caller) or as pixels."""

    jpeg: bytes | None
    bitmap: Image.Image | None
    orientation: int


def read_preview(stream: BinaryIO) -> RawPreview:
    """The embedded preview of a RAW file; raises LoadError with a reason."""
    rawpy = rawpy_module()
    if rawpy is None:  # callers check first; this keeps the function total
        raise LoadError(ErrorReason.UNSUPPORTED_FORMAT, "rawpy is not installed")
    try:
        with rawpy.imread(stream) as raw:
            orientation = _FLIP_TO_ORIENTATION.get(raw.sizes.flip, 1)
            thumb = raw.extract_thumb()
    except (rawpy.LibRawNoThumbnailError, rawpy.LibRawUnsupportedThumbnailError):
        raise LoadError(
            ErrorReason.UNSUPPORTED_FORMAT, "camera RAW file has no embedded preview that can be read"
        ) from None
    except rawpy.LibRawFileUnsupportedError:
        raise LoadError(ErrorReason.UNSUPPORTED_FORMAT, "LibRaw does not support this camera RAW file") from None
    except (rawpy.LibRawTooBigError, rawpy.LibRawUnsufficientMemoryError, rawpy.LibRawMemPoolOverflowError) as exc:
        raise LoadError(ErrorReason.TOO_LARGE, f"camera RAW file is too large to read: {exc}") from None
    except rawpy.LibRawIOError as exc:
        raise LoadError(ErrorReason.TRUNCATED, f"camera RAW data ends early ({exc})") from None
    except rawpy.LibRawError as exc:
        raise LoadError(ErrorReason.DECODE_ERROR, f"cannot read camera RAW file: {type(exc).__name__}: {exc}") from None
    if thumb.format == rawpy.ThumbFormat.JPEG:
        return RawPreview(bytes(thumb.data), None, orientation)
    pixels = np.ascontiguousarray(thumb.data)
    if pixels.dtype != np.uint8 or not (pixels.ndim == 2 or (pixels.ndim == 3 and pixels.shape[2] == 3)):
        raise LoadError(ErrorReason.UNSUPPORTED_FORMAT, f"RAW preview has an unusual layout {pixels.shape}")
    return RawPreview(None, Image.fromarray(pixels), orientation)
