"""Match features read column-wise: a block of stored blobs straight into ``FeatureTable`` arrays.

``MatchFeatures.from_bytes`` makes a Python object per file (~3 KB, ~100 us); a million files
then cost minutes and gigabytes before matching starts. Here the blobs of a block are joined
once and every field is cut out of the joined bytes by numpy indexing: the same table
(``FeatureTable.from_features`` of the parsed objects), with no object per file, and the
untrimmed thumbnails kept for the trimmed pictures only (``FeatureTable.borders``). The byte
layout is ``MatchFeatures.to_bytes``'s; a blob that is not that layout raises ``ValueError``,
as ``from_bytes`` does.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from imgtwin.hashing.features import (
    _FORMAT_VERSION,
    _HAS_COLOUR,
    _HAS_FULL,
    _HEADER,
    _MAGIC,
    COLOUR_THUMB,
    FEATURELESS_BITS,
    LOW_DETAIL_BITS,
    LOW_DETAIL_FLAT,
    MOSTLY_FLAT,
    THUMB,
    blank_inside,
)
from imgtwin.matching.table import FeatureTable

_SIZE, _COLOUR_SIZE = THUMB * THUMB, 2 * COLOUR_THUMB * COLOUR_THUMB
# The header's fields (``_HEADER``: magic, version, flags, hash, trim hash, trim box, unstable, flat).
_HEAD = np.dtype([("magic", "S3"), ("version", "u1"), ("flags", "u1"), ("hash", "<u8"), ("trim_hash", "<u8"),
                  ("box", "<u2", (4,)), ("unstable", "u1"), ("flat", "u1")])  # fmt: skip
assert _HEAD.itemsize == _HEADER.size


def table_from_blobs(blobs: Sequence[bytes]) -> tuple[FeatureTable, np.ndarray]:
    """The feature table of serialised ``MatchFeatures`` and their trim boxes as float64 (n, 4)
    (left, top, right, bottom fractions, exactly ``MatchFeatures.trim``)."""
    n = len(blobs)
    lengths = np.fromiter(map(len, blobs), dtype=np.int64, count=n)
    if n and lengths.min() < _HEADER.size:
        raise ValueError("not serialised match features")
    head = np.frombuffer(b"".join(b[: _HEADER.size] for b in blobs), dtype=_HEAD, count=n)
    if n and (head["magic"] != _MAGIC).any():
        raise ValueError("not serialised match features")
    if n and (head["version"] != _FORMAT_VERSION).any():
        version = int(head["version"][head["version"] != _FORMAT_VERSION][0])
        raise ValueError(f"match features format v{version} is not supported (expected v{_FORMAT_VERSION})")
    flags = head["flags"] & (_HAS_FULL | _HAS_COLOUR)
    has_full, has_colour = (flags & _HAS_FULL) != 0, (flags & _HAS_COLOUR) != 0
    expected = _HEADER.size + _SIZE * (1 + has_full) + _COLOUR_SIZE * has_colour
    if (lengths != expected).any():
        k = int(np.flatnonzero(lengths != expected)[0])
        raise ValueError(f"match features: expected {expected[k]} bytes, got {lengths[k]}")
    thumbs = np.empty((n, THUMB, THUMB), dtype=np.uint8)
    colour = np.zeros((n, 2, COLOUR_THUMB, COLOUR_THUMB), dtype=np.int8)
    untrimmed: dict[int, np.ndarray] = {}
    for layout in np.unique(flags).tolist():  # one layout at a time: equal lengths, so one 2-D array of bytes
        rows = np.flatnonzero(flags == layout)
        width = int(expected[rows[0]])
        data = np.frombuffer(b"".join(blobs[k] for k in rows.tolist()), dtype=np.uint8).reshape(len(rows), width)
        at = _HEADER.size + _SIZE
        thumbs[rows] = data[:, _HEADER.size : at].reshape(-1, THUMB, THUMB)
        if layout & _HAS_COLOUR:
            colour[rows] = data[:, at : at + _COLOUR_SIZE].view(np.int8).reshape(-1, 2, COLOUR_THUMB, COLOUR_THUMB)
            at += _COLOUR_SIZE
        if layout & _HAS_FULL:
            untrimmed[layout] = data[:, at : at + _SIZE].reshape(-1, THUMB, THUMB)
    trimmed = np.zeros(n, dtype=bool)
    for layout, pixels in untrimmed.items():
        rows = np.flatnonzero(flags == layout)
        trimmed[rows[(pixels != thumbs[rows]).any(axis=(1, 2))]] = True
    border_rows = np.flatnonzero(trimmed)  # the untrimmed thumbnails of these rows only, in row order
    borders = np.empty((len(border_rows), THUMB, THUMB), dtype=np.uint8)
    for layout, pixels in untrimmed.items():
        rows = np.flatnonzero(flags == layout)
        keep = trimmed[rows]
        borders[np.searchsorted(border_rows, rows[keep])] = pixels[keep]
    unstable, flat = head["unstable"], head["flat"]
    blank = blank_inside(thumbs, trimmed)
    box = head["box"].astype(np.float64) / 65535
    table = FeatureTable(
        head["hash"].astype(np.uint64), head["trim_hash"].astype(np.uint64), thumbs, None, trimmed, colour=colour,
        low_detail=((unstable >= LOW_DETAIL_BITS) | (flat >= LOW_DETAIL_FLAT)) | blank,
        featureless=((unstable >= FEATURELESS_BITS) | (flat >= LOW_DETAIL_FLAT)) | blank,
        mostly_flat=flat >= MOSTLY_FLAT, trim=box.astype(np.float32), borders=borders, border_rows=border_rows,
    )  # fmt: skip
    return table, box
