"""The picture inside a framed file, hashed at scan time from the decode the scan already does (issue 24).

A screenshot of a photo (a phone's viewer, a chat, a desktop window) holds
the photo in a part of its frame: its 32 x 32 thumbnail is mostly the app's
bars, so no thumbnail candidate reaches the original.  On the scan's decoded
image (64-512 px) the photo is large enough to find and hash: the box of
``hashing.picture`` (the rows and columns between an app's bands), cut out and
hashed with the same 64-bit pHash the index stores for every file, so that
``find`` searches it against every file's plain hashes (``matching.framed``)
and the local features decide the pair.

The record is kept apart from the match features (``persistence.pictures``,
keyed by content hash and :data:`PICTURE_SPEC`): an index made without it stays
readable, and its files get one on the next scan.  A plain photo costs a test
of its four edge lines for a whole chunk at once (:func:`maybe_framed`); only
a file with a flat band at an edge is searched for a box.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from imgtwin.hashing.dct import DCTHasher
from imgtwin.hashing.picture import FLAT_LEVELS, MARKS, picture_box

#: Names what a record means (the box rule of ``hashing.picture``, the pHash of its content); bump on any change.
PICTURE_SPEC = "framed-v1-picturebox-phash64v2"
#: The box must hold this many pixels a side to be hashed (the pHash resizes to 32 x 32).
MIN_SIDE = 24
#: A box this much of the image (both ways) is the picture itself, not a framed part of it.
MOST = 0.92

_RECORD = struct.Struct("<Q4H")


@dataclass(frozen=True, slots=True)
class FramedPicture:
    """The picture inside a file's frame: its pHash and its box, as fractions of the image."""

    hash: int
    box: tuple[float, float, float, float]  # left, top, right, bottom

    def to_bytes(self) -> bytes:
        return _RECORD.pack(self.hash, *(min(65535, max(0, round(v * 65535))) for v in self.box))

    @classmethod
    def from_bytes(cls, data: bytes) -> FramedPicture | None:
        """The record, or None for a file checked and found unframed (empty bytes)."""
        if not data:
            return None
        if len(data) != _RECORD.size:
            raise ValueError(f"framed picture: expected {_RECORD.size} bytes, got {len(data)}")
        value, *box = _RECORD.unpack(data)
        return cls(value, (box[0] / 65535, box[1] / 65535, box[2] / 65535, box[3] / 65535))


def framed_pictures(pixels: Sequence[np.ndarray], hasher: DCTHasher | None = None) -> list[bytes]:
    """The record of each (h, w) uint8 grey image (empty bytes: no frame), in order."""
    hasher = hasher or DCTHasher()
    maybe = maybe_framed(pixels)
    found = [b""] * len(pixels)
    for k in np.flatnonzero(maybe).tolist():
        picture = framed_picture(pixels[k], hasher)
        if picture is not None:
            found[k] = picture.to_bytes()
    return found


def framed_picture(pixels: np.ndarray, hasher: DCTHasher) -> FramedPicture | None:
    """The picture inside the frame of one grey image, or None (no frame, or a box too small or too large)."""
    box = picture_box(pixels)
    if box is None:
        return None
    left, top, right, bottom = box
    height, width = pixels.shape
    if right - left < MIN_SIDE or bottom - top < MIN_SIDE:
        return None
    if right - left >= MOST * width and bottom - top >= MOST * height:
        return None
    from PIL import Image

    value = hasher.hash(Image.fromarray(np.ascontiguousarray(pixels[top:bottom, left:right]))).value
    fractions = [round(v * 65535) / 65535 for v in (left / width, top / height, right / width, bottom / height)]
    return FramedPicture(value, (fractions[0], fractions[1], fractions[2], fractions[3]))  # as stored


def maybe_framed(pixels: Sequence[np.ndarray]) -> np.ndarray:
    """Which images have bands (``picture_box``'s rule: ``MARKS`` of a line within ``FLAT_LEVELS`` of one grey)
    on two opposite edges, as a frame needs: the four outer lines of all images counted in one histogram."""
    usable = [k for k, p in enumerate(pixels) if p.ndim == 2 and p.dtype == np.uint8 and min(p.shape) >= MIN_SIDE]
    result = np.zeros(len(pixels), dtype=bool)
    if not usable:
        return result
    lines = [line for k in usable for line in (pixels[k][0], pixels[k][-1], pixels[k][:, 0], pixels[k][:, -1])]
    lengths = np.array([len(line) for line in lines], dtype=np.int64)
    segment = np.repeat(np.arange(len(lines), dtype=np.int64), lengths)
    counts = np.bincount(segment * 256 + np.concatenate(lines), minlength=256 * len(lines)).reshape(-1, 256)
    window = 2 * FLAT_LEVELS + 1
    cumulative = np.cumsum(np.pad(counts, ((0, 0), (window, 0))), axis=1)
    share = (cumulative[:, window:] - cumulative[:, :-window]).max(axis=1) / lengths
    band = (share >= MARKS).reshape(-1, 4)
    result[usable] = (band[:, 0] & band[:, 1]) | (band[:, 2] & band[:, 3])
    return result
