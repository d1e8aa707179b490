"""The column arrays matching works on: many files' ``MatchFeatures`` side by side."""

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
    full_thumbs: np.ndarray | None = None  # (n, 32, 32) uint8, untrimmed; None: same as thumbs
    trimmed: np.ndarray | None = None  # (n,) bool: thumbs and full_thumbs differ
    colour: np.ndarray | None = None  # (n, 2, 16, 16) int8 a*, b*; zeros for pictures without colour
    low_detail: np.ndarray | None = None  # (n,) bool: judged on pixel agreement
    featureless: np.ndarray | None = None  # (n,) bool: on pixel agreement alone (no structure to check)
    mostly_flat: np.ndarray | None = None  # (n,) bool: tones must agree as well as structure
    trim: np.ndarray | None = None  # (n, 4) float32: the trimmed box (left, top, right, bottom fractions)

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

    @classmethod
    def concat(cls, tables: list[FeatureTable]) -> FeatureTable:
        """One table of many (blocks read one after the other), freeing each block's column once copied."""
        if len(tables) == 1:
            return tables[0]
        columns: dict[str, np.ndarray | None] = {}
        for name in cls.__slots__:
            parts = [getattr(t, name) for t in tables]
            if name == "full_thumbs":
                parts = [t.thumbs if t.full_thumbs is None else t.full_thumbs for t in tables]
            columns[name] = None if any(p is None for p in parts) else np.concatenate(parts)
            if name != "thumbs":  # a block's thumbs stand in for its full_thumbs
                for t in tables:
                    object.__setattr__(t, name, None)
        for t in tables:
            object.__setattr__(t, "thumbs", None)
        return cls(**columns)  # type: ignore[arg-type]
