"""A still WebP's pixels from libwebp straight into RGB(A), not through Pillow's animation decoder.

Pillow (11 and later) opens every WebP with libwebp's animation decoder: it
decodes into an RGBA canvas, hands the canvas over as a bytes object, and a raw
decoder unpacks that into the image: two copies of every pixel on top of the
decode. OpenCV's build of libwebp decodes a still picture directly into the
array: the same pixels (libwebp's decode, its default fancy upsampling; the
first frame of a file is a key frame, decoded into the canvas with no blending,
so the animation decoder's values are the plain decode's): the decode alone
~32 against ~49 ms a file for the medium corpus's 2.5-MP WebPs, 57.6 against
60.1 ms through the scan's loader, ~14 ms less through the local features'
(docs/benchmarks.md, session 9, kc). Every decode of a whole WebP (the scan's, the local features', the
upscale checks' rows) goes through :func:`loaded_pixels`, so all of them read
the same pixels.

Anything else (another format, an animation, a mode other than RGB or RGBA, a
file OpenCV cannot read or reads at another size) is Pillow's ``load()``, which
also raises the errors that classify a broken file.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image


def loaded_pixels(image: Image.Image, data: bytes | memoryview | None) -> Image.Image:
    """``image`` (just opened from ``data``, its file's bytes) with its pixels decoded: a new image for a still
    RGB or RGBA WebP (:mod:`this module <imgtwin.loading.webp>`), else ``image`` itself after ``load()``.
    Read the metadata (EXIF, ICC) from ``image``: the new image has pixels only."""
    if data is not None and image.format == "WEBP" and image.mode in ("RGB", "RGBA") \
            and getattr(image, "n_frames", 1) == 1:  # fmt: skip
        pixels = _decode(data, image.mode == "RGBA")
        if pixels is not None and pixels.shape == (image.size[1], image.size[0], len(image.mode)):
            return Image.fromarray(pixels)
    image.load()
    return image


def _decode(data: bytes | memoryview, alpha: bool) -> np.ndarray | None:
    cv2 = _cv2()
    buffer = np.frombuffer(data, np.uint8)
    # EXIF orientation is applied by the caller (from Pillow's reading of the file), never twice.
    if not alpha:
        pixels: np.ndarray | None = cv2.imdecode(buffer, cv2.IMREAD_COLOR_RGB | cv2.IMREAD_IGNORE_ORIENTATION)
        return pixels
    pixels = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED | cv2.IMREAD_IGNORE_ORIENTATION)
    if pixels is None or pixels.ndim != 3 or pixels.shape[2] != 4:
        return None
    converted: np.ndarray = cv2.cvtColor(pixels, cv2.COLOR_BGRA2RGBA)
    return converted


def _cv2() -> Any:
    import cv2  # on first use: a scan worker that meets no WebP never loads OpenCV

    cv2.setNumThreads(1)  # one worker per core already; OpenCV's own threads would oversubscribe
    return cv2
