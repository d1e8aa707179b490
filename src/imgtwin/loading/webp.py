"""A still WebP's pixels decoded by OpenCV: the same pixels as Pillow's, in ~40 % less CPU.

Pillow (13) decodes every WebP through libwebp's animation decoder (a canvas, then
a copy into the image); OpenCV calls libwebp's ``WebPDecode`` straight into its
array. Both are libwebp's own output: on the 390 WebP files of the medium
corpus the RGB pixels are identical, and the decode takes ~36 ms against ~62 ms a
file (docs/benchmarks.md, issue 24's cost). WebP cannot be decoded at a reduced
size, so the scan and the local features of the default ``find`` decode it whole.

Only an RGB picture (no alpha: Pillow's canvas blends a transparent pixel onto
black, libwebp keeps its colour), a still one, and only where OpenCV is already
loaded or the picture is large enough to pay for loading it (~0.3 s a process).
Anything else, or a file OpenCV cannot decode, is left to Pillow (and its errors).
"""

from __future__ import annotations

import sys
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageFile

#: The picture size from which OpenCV is loaded for it: a 2 MP WebP's decode saves ~10 ms.
MIN_PIXELS_TO_LOAD_OPENCV = 2_000_000


def still_webp_pixels(image: ImageFile.ImageFile, stream: BinaryIO) -> Image.Image | None:
    """``image`` (opened by Pillow from ``stream``, not loaded) decoded by OpenCV, or None: Pillow's to decode."""
    width, height = image.size
    if image.format != "WEBP" or image.mode != "RGB" or getattr(image, "n_frames", 1) != 1:
        return None
    if "cv2" not in sys.modules and width * height < MIN_PIXELS_TO_LOAD_OPENCV:
        return None
    import cv2  # loaded on first use (see above)

    stream.seek(0)
    data = np.frombuffer(stream.read(), np.uint8)
    # RGB as Pillow gives it; never turned by the EXIF orientation here (the loader turns after the decode).
    pixels = cv2.imdecode(data, cv2.IMREAD_COLOR_RGB | cv2.IMREAD_IGNORE_ORIENTATION) if len(data) else None
    if pixels is None or pixels.shape != (height, width, 3) or pixels.dtype != np.uint8:
        return None
    return Image.fromarray(pixels, "RGB")
