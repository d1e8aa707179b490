"""The picture inside a framed file, hashed at scan time from the decode the scan already does (issue 24).

A screenshot of a photo (a phone's viewer, a chat, a desktop window) holds
the photo in a part of its frame: its 32 x 32 thumbnail is mostly the app's
bars, so no thumbnail candidate reaches the original.  On the scan's decoded
image (64-512 px) the photo is large enough to find: the box of
``hashing.picture`` (the rows and columns between an app's bands), cut out and
given the match features every file has (the same 64-bit pHash, thumbnail and
colour layout), so that ``find`` searches its hash against every file's and
judges the pair by the thumbnail rules, as two files (``matching.framed``).

A file may hold more than one candidate box: the bands' box and the island's
(a photo beside a wide window's empty side, a caption's rows the bands took
in), each kept where they differ (:func:`inner_boxes`), and each shrunk by
:data:`INSET` pixels: the box's outer line blends the photo with the frame on
the resampled decode, and that one line moved a small photo's hash 10-20 bits
(medium phone-edits corpus, docs/benchmarks.md).

The record (the pictures, :func:`read_pictures`) is kept apart from the match
features (``persistence.pictures``, keyed by content hash and
:data:`PICTURE_SPEC`): an index made without it stays readable, and its files
get one on the next scan.  A plain photo costs a test
of its four edge lines for a whole chunk at once (:func:`maybe_framed`); only
a file with a flat band at an edge is searched for a box.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from imgtwin.hashing.batched import compute_features_many
from imgtwin.hashing.dct import DCTHasher
from imgtwin.hashing.features import MatchFeatures
from imgtwin.hashing.picture import FLAT_LEVELS, MARKS, picture_box

#: Names what a record means (the box rule of ``hashing.picture``, the match features of its content); bump on
#: any change.
PICTURE_SPEC = "framed-v4-both-boxes-inset1-min16"
#: The box must hold this many pixels a side to be hashed (the pHash resizes to 32 x 32): a photo of 4-8 % of a
#: desktop screen is 17-33 px wide on the scan's decode, and still within 10 bits of its original.
MIN_SIDE = 16
#: Pixels taken off each side of a box: its outer line blends the photo with the frame.
INSET = 1
#: A box this much of the image (both ways) is the picture itself, not a framed part of it.
MOST = 0.92

_BOX = struct.Struct("<4H")
_LENGTH = struct.Struct("<I")


@dataclass(frozen=True, slots=True)
class FramedPicture:
    """The picture inside a file's frame: its box (fractions of the image) and the match features of its
    content, as a file's (``hashing.features``): so it is searched and judged as a file would be."""

    box: tuple[float, float, float, float]  # left, top, right, bottom
    features: MatchFeatures

    @property
    def hash(self) -> int:
        return self.features.hash

    def to_bytes(self) -> bytes:
        return _BOX.pack(*(min(65535, max(0, round(v * 65535))) for v in self.box)) + self.features.to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> FramedPicture | None:
        """The record, or None for a file checked and found unframed (empty bytes); ValueError if damaged."""
        if not data:
            return None
        if len(data) <= _BOX.size:
            raise ValueError(f"framed picture: {len(data)} bytes is too short")
        box = _BOX.unpack_from(data)
        return cls((box[0] / 65535, box[1] / 65535, box[2] / 65535, box[3] / 65535),
                   MatchFeatures.from_bytes(data[_BOX.size :]))


def pictures_to_bytes(pictures: Sequence[FramedPicture]) -> bytes:
    """One content's record: its pictures, each after its length (empty: no frame)."""
    return b"".join(_LENGTH.pack(len(data)) + data for data in (p.to_bytes() for p in pictures))


def read_pictures(data: bytes) -> tuple[FramedPicture, ...]:
    """The pictures of a record (:func:`pictures_to_bytes`; none for empty bytes); ValueError if damaged."""
    out, at = [], 0
    while at < len(data):
        if at + _LENGTH.size > len(data):
            raise ValueError("framed pictures: a truncated length")
        (size,) = _LENGTH.unpack_from(data, at)
        at += _LENGTH.size
        if size == 0 or at + size > len(data):
            raise ValueError(f"framed pictures: {size} bytes announced, {len(data) - at} left")
        picture = FramedPicture.from_bytes(data[at : at + size])
        assert picture is not None  # size > 0
        out.append(picture)
        at += size
    return tuple(out)


def framed_pictures(pixels: Sequence[np.ndarray], hasher: DCTHasher | None = None,
                    colours: Sequence[Image.Image | None] | None = None) -> list[bytes]:  # fmt: skip
    """The record of each (h, w) uint8 grey image (empty bytes: no frame), in order; ``colours``: the
    loader's small colour copies, cut at the same box for the picture's colour layout."""
    boxes = [(k, box) for k in np.flatnonzero(maybe_framed(pixels)).tolist() for box in inner_boxes(pixels[k])]
    found = [b""] * len(pixels)
    if not boxes:
        return found
    crops, colour_crops = [], []
    for k, (left, top, right, bottom) in boxes:
        crops.append(Image.fromarray(np.ascontiguousarray(pixels[k][top:bottom, left:right])))
        colour = colours[k] if colours is not None else None
        colour_crops.append(None if colour is None else colour.crop(_scaled((left, top, right, bottom),
                                                                            pixels[k].shape, colour.size)))
    features = compute_features_many(crops, hasher, colour_crops)
    pictures: dict[int, list[FramedPicture]] = {}
    for (k, box), feature in zip(boxes, features, strict=True):
        height, width = pixels[k].shape
        fractions = [round(v * 65535) / 65535 for v in (box[0] / width, box[1] / height, box[2] / width,
                                                          box[3] / height)]  # fmt: skip
        picture = FramedPicture((fractions[0], fractions[1], fractions[2], fractions[3]), feature)
        pictures.setdefault(k, []).append(picture)
    for k, found_here in pictures.items():
        found[k] = pictures_to_bytes(found_here)
    return found


def inner_boxes(pixels: np.ndarray) -> list[tuple[int, int, int, int]]:
    """The candidate boxes of the picture inside the frame of one grey image, each less :data:`INSET` pixels a
    side: the bands' box and the island's where they differ (none: no frame, boxes too small or too large)."""
    height, width = pixels.shape
    out: list[tuple[int, int, int, int]] = []
    for box in (picture_box(pixels), island_box(pixels)):
        if box is None:
            continue
        left, top, right, bottom = box[0] + INSET, box[1] + INSET, box[2] - INSET, box[3] - INSET
        if right - left < MIN_SIDE or bottom - top < MIN_SIDE:
            continue
        if right - left >= MOST * width and bottom - top >= MOST * height:
            continue
        if not any(max(abs(a - b) for a, b in zip(seen, (left, top, right, bottom))) <= SAME for seen in out):
            out.append((left, top, right, bottom))
    return out


#: Two boxes this many pixels apart on every side are one.
SAME = 2


#: Grey levels off the background that a picture's pixel lies (JPEG noise on a flat background is 1-2 levels).
OFF_BACKGROUND = 6
#: A row of the picture holds a run of off-background pixels this share of the longest such run.
RUN_SHARE = 0.6


def island_box(pixels: np.ndarray) -> tuple[int, int, int, int] | None:
    """The picture as an island on the background, where ``picture_box``'s bands find none: a small photo in the
    middle of a wide screen (a desktop window, a phone held sideways) makes its rows bands with marks, like
    text.  The picture's rows are the longest block of rows that each hold a long unbroken run of pixels off
    the background (a line of text breaks up between its words); its columns, those mostly off it there."""
    width = pixels.shape[1]
    edges = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    background = int(np.bincount(edges, minlength=256).argmax())
    off = np.abs(pixels.astype(np.int16) - background) > OFF_BACKGROUND
    position = np.broadcast_to(np.arange(1, width + 1), off.shape)
    last_on = np.maximum.accumulate(np.where(off, 0, position), axis=1)  # the last background pixel so far
    runs = (position - last_on).max(axis=1)
    rows = _longest_block(runs >= max(MIN_SIDE, RUN_SHARE * runs.max()))
    if rows is None or rows[1] - rows[0] < MIN_SIDE:
        return None
    columns = _longest_block(off[rows[0] : rows[1]].mean(axis=0) >= 0.5)
    if columns is None:
        return None
    return columns[0], rows[0], columns[1], rows[1]


def _longest_block(flags: np.ndarray) -> tuple[int, int] | None:
    """``(start, end)`` of the longest run of True in ``flags``, or None."""
    padded = np.concatenate([[False], flags, [False]]).astype(np.int8)
    starts, ends = np.flatnonzero(np.diff(padded) == 1), np.flatnonzero(np.diff(padded) == -1)
    if not len(starts):
        return None
    k = int(np.argmax(ends - starts))
    return int(starts[k]), int(ends[k])


def _scaled(box: tuple[int, int, int, int], shape: tuple[int, ...], size: tuple[int, int]) -> tuple[int, int, int, int]:
    """``box`` of an image of ``shape`` (h, w) on one of ``size`` (w, h), at least a pixel each way."""
    sx, sy = size[0] / shape[1], size[1] / shape[0]
    left, top = int(box[0] * sx), int(box[1] * sy)
    return left, top, max(left + 1, round(box[2] * sx)), max(top + 1, round(box[3] * sy))


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
