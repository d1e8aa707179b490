"""The feature table: column arrays of many files' match features, what matching works on.

Built from parsed ``MatchFeatures`` (``from_features``) or straight from the stored blobs
(``matching.columns``); read in blocks and joined (``concat``).
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

    @classmethod
    def concat(cls, tables: list[FeatureTable]) -> FeatureTable:
        """One table of many (blocks read one after the other), freeing each block's column once copied."""
        if len(tables) == 1:
            return tables[0]
        columns: dict[str, np.ndarray | None] = {}
        compact = all(t.full_thumbs is None for t in tables)  # borders kept as borders, never a full copy
        starts = np.cumsum([0] + [len(t) for t in tables[:-1]])
        for name in cls.__slots__:
            parts = [getattr(t, name) for t in tables]
            if name == "full_thumbs" and not compact:
                parts = [t.full(np.arange(len(t))) if t.full_thumbs is None else t.full_thumbs for t in tables]
            elif name in ("borders", "border_rows"):
                parts = [p for p in parts if p is not None]
                if name == "border_rows":
                    parts = [t.border_rows + start for t, start in zip(tables, starts) if t.border_rows is not None]
                parts = parts if compact and parts else [None]
            columns[name] = None if any(p is None for p in parts) else np.concatenate(parts)
            if name not in _FULL_NEEDS:  # copied: free the blocks' column now, not after all of them
                for t in tables:
                    object.__setattr__(t, name, None)
        for t in tables:
            for name in _FULL_NEEDS:
                object.__setattr__(t, name, None)
        return cls(**columns)  # type: ignore[arg-type]


_FULL_NEEDS = ("thumbs", "full_thumbs", "borders", "border_rows")  # what ``FeatureTable.full`` reads


class TableBuilder:
    """Blocks of a table copied into columns allocated once for ``capacity`` rows (an upper bound: the rows of
    the index under the roots), so that the whole table exists once, never beside its blocks (``concat``)."""

    def __init__(self, capacity: int) -> None:
        self.capacity, self.size = capacity, 0
        self.columns: dict[str, np.ndarray] = {}
        self.borders: list[np.ndarray] = []
        self.border_rows: list[np.ndarray] = []

    def add(self, block: FeatureTable) -> None:
        """Copy a block read column-wise (``full_thumbs`` None) after the rows added before."""
        n, at = len(block), self.size
        if at + n > self.capacity:
            raise ValueError(f"more rows than the {self.capacity} counted")
        for name in FeatureTable.__slots__:
            value = getattr(block, name)
            if name in ("full_thumbs", "borders", "border_rows") or value is None:
                continue
            if name not in self.columns:
                self.columns[name] = np.zeros((self.capacity, *value.shape[1:]), dtype=value.dtype)
            self.columns[name][at : at + n] = value
        if block.borders is not None and block.border_rows is not None:
            self.borders.append(block.borders)
            self.border_rows.append(block.border_rows + at)
        self.size += n

    def finish(self) -> FeatureTable:
        """The table of the rows added (views of the columns: no copy)."""
        if not self.columns:
            return FeatureTable.from_features([])
        columns = {name: value[: self.size] for name, value in self.columns.items()}
        empty = np.empty((0, *columns["thumbs"].shape[1:]), dtype=np.uint8)
        return FeatureTable(**columns, borders=np.concatenate([empty, *self.borders]),
                            border_rows=np.concatenate([np.empty(0, np.int64), *self.border_rows]))
