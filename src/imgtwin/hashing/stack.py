"""Many small Pillow pictures as numpy arrays, copied out of Pillow together.

Why: ``np.asarray`` of a Pillow image goes through ``Image.tobytes``, which sets up an encoder per call:
~35 us for a 32 x 32 thumbnail, more than its Lanczos resize, and the scan made three such conversions a
file (the grey pixels, the pHash thumbnail, the colour thumbnail). Pasted one under the other into one
image, a chunk's pictures of one size come out in one conversion (~5 us each). A paste of a picture of the
same mode is a copy of its bytes, so the values are the same.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

#: Modes pasted as they are (one byte a band); any other picture is converted alone, as before.
_MODES = ("L", "RGB")


def stacked(images: Sequence[Image.Image]) -> np.ndarray:
    """(n, h, w) or (n, h, w, 3) uint8 of ``images``, all of one size and of one mode in ``_MODES``."""
    width, height = images[0].size
    tall = Image.new(images[0].mode, (width, height * len(images)))
    core = tall.im  # pasted on Pillow's core image: ``Image.paste``'s checks cost as much as ``tobytes``
    for k, image in enumerate(images):
        core.paste(image.im, (0, height * k, width, height * (k + 1)))
    pixels = np.asarray(tall)
    return pixels.reshape(len(images), height, width, *pixels.shape[2:])


def arrays(images: Sequence[Image.Image]) -> list[np.ndarray]:
    """``np.asarray`` of each image (read-only, as it is), those of one size and mode copied out together."""
    found: list[np.ndarray | None] = [None] * len(images)
    groups: dict[tuple[str, tuple[int, int]], list[int]] = {}
    for k, image in enumerate(images):
        if image.mode in _MODES and image.width and image.height:
            groups.setdefault((image.mode, image.size), []).append(k)
        else:
            found[k] = np.asarray(image)
    for members in groups.values():
        for k, pixels in zip(members, stacked([images[k] for k in members]), strict=True):
            found[k] = pixels
    return [pixels for pixels in found if pixels is not None]
