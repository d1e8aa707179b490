"""The feature table: column arrays of many files' match features, what matching works on.

Built from parsed ``MatchFeatures`` (``from_features``) or straight from the stored blobs
(``matching.columns``), for the files of one block of work (``take``); ``find`` keeps no whole table of
a collection, only its hashes (``matching.hashtable``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from imgtwin.hashing.features import COLOUR_THUMB, THUMB, MatchFeatures, blank_inside


@dataclass(frozen=True, slots=True)
class FeatureTable:
    """Column arrays of many files' ``MatchFeatures`` (what matching works on)."""

    hashes: np.ndarray  # (n,) uint64
    trim_hashes: np.ndarray  # (n,) uint64
    thumbs: np.ndarray  # (n, 32, 32) uint8, of the border-trimmed images
    full_thumbs: np.ndarray | None = None  # (n, 32, 32) uint8, untrimmed; None: same as thumbs or ``borders``
    trimmed: np.ndarray | None = None  # (n,) bool: thumbs and full_thumbs differ
    colour: np.ndarray | None = None  # (n, 2, 16, 16) int8 a*, b*; zeros for pictures without colour
    low_detail: np.ndarray | None = None  # (n,) bool: judged on pixel agreement
    featureless: np.ndarray | None = None  # (n,) bool: on pixel agreement alone (no structure to check)
    mostly_flat: np.ndarray | None = None  # (n,) bool: tones must agree as well as structure
    trim: np.ndarray | None = None  # (n, 4) float32: the trimmed box (left, top, right, bottom fractions)
    # With ``full_thumbs`` None: the untrimmed thumbnails of the trimmed rows only (m, 32, 32) and those rows
    # (m,) in order. Few pictures have a border, so a copy of every thumbnail would cost 1 KB a file for them.
    borders: np.ndarray | None = None
    border_rows: np.ndarray | None = None

    @classmethod
    def from_features(cls, features: Sequence[MatchFeatures]) -> FeatureTable:
        n = len(features)
        colour = np.zeros((n, 2, COLOUR_THUMB, COLOUR_THUMB), dtype=np.int8)
        for k, f in enumerate(features):
            if f.colour is not None:
                colour[k] = np.frombuffer(f.colour, dtype=np.int8).reshape(2, COLOUR_THUMB, COLOUR_THUMB)
        size = THUMB * THUMB
        thumbs = np.frombuffer(b"".join(f.thumb for f in features), dtype=np.uint8).reshape(n, THUMB, THUMB)
        trimmed = np.fromiter((f.full_thumb is not None and f.full_thumb != f.thumb for f in features), bool, n)
        full = thumbs
        if trimmed.any():
            full = thumbs.copy()
            for i in np.flatnonzero(trimmed).tolist():  # trimmed: full_thumb is bytes (never the b"")
                full[i] = np.frombuffer(features[i].full_thumb or b"", np.uint8, size).reshape(THUMB, THUMB)
        blank = blank_inside(thumbs, trimmed)
        return cls(
            np.fromiter((f.hash for f in features), dtype=np.uint64, count=n),
            np.fromiter((f.trim_hash for f in features), dtype=np.uint64, count=n),
            thumbs,
            full,
            trimmed,
            colour=colour,
            low_detail=np.fromiter((f.low_detail for f in features), bool, n) | blank,
            featureless=np.fromiter((f.featureless for f in features), bool, n) | blank,
            mostly_flat=np.fromiter((f.mostly_flat for f in features), bool, n),
            trim=np.array([f.trim for f in features], dtype=np.float32).reshape(n, 4),
        )

    def __len__(self) -> int:
        return len(self.hashes)

    def full(self, rows: np.ndarray) -> np.ndarray:
        """The untrimmed thumbnails of ``rows`` (a new array): the trimmed ones where no border was cut."""
        if self.full_thumbs is not None:
            return np.asarray(self.full_thumbs[rows])
        out = np.asarray(self.thumbs[rows])
        if self.borders is not None and self.border_rows is not None and len(self.border_rows):
            at = np.searchsorted(self.border_rows, rows)
            hit = np.flatnonzero(self.border_rows[np.minimum(at, len(self.border_rows) - 1)] == rows)
            out[hit] = self.borders[at[hit]]
        return out

    def take(self, rows: np.ndarray) -> FeatureTable:
        """The table of ``rows`` (in that order): their columns copied, the untrimmed thumbnails of the
        trimmed ones as ``borders``."""
        rows = np.asarray(rows, dtype=np.int64)

        def pick(column: np.ndarray | None) -> np.ndarray | None:
            return None if column is None else column[rows]

        trimmed = pick(self.trimmed)
        border_rows = np.flatnonzero(trimmed) if trimmed is not None else np.empty(0, np.int64)
        return FeatureTable(self.hashes[rows], self.trim_hashes[rows], self.thumbs[rows], None, trimmed,
                            pick(self.colour), pick(self.low_detail), pick(self.featureless), pick(self.mostly_flat),
                            pick(self.trim), self.full(rows[border_rows]), border_rows)
