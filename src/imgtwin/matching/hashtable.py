"""What the candidate search keeps of every file: hashes, flags and the hypothesis hashes, no pixels.

A ``FeatureTable`` holds each file's 32 x 32 thumbnail and colour layout (~1.5 KB a file: 1.5 GB for
a million files). The candidate search needs none of them once the hashes of the hypotheses tried on
every file (turned and mirrored, cropped, straightened, hard-cropped: :data:`KINDS`) are derived, so
``find`` reads the index in blocks, derives those hashes block by block (the same blocks, so the same
numbers, as deriving them from a whole table) and keeps a ``HashTable`` (~360 bytes a file). The
thumbnails and colours of the files of each block of candidate pairs are read again from the index
(``take``): the pixels of a million files are never in memory at once.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field

import numpy as np

from imgtwin.matching.packing import Packer, packer_for
from imgtwin.matching.table import FeatureTable

#: The hypothesis hashes, per file: (columns, what they are).
KINDS = {
    "rotated": 7,  # the trimmed pHash under each non-identity dihedral transform (``derived.rotated_hashes``)
    "crop": 6,  # the untrimmed thumbnail cropped by each ``derived.CROP_HYPOTHESES``
    "straight": 16,  # straightened by each ``straighten.HYPOTHESES`` (0 for low-detail pictures: never searched)
    "hard": 61,  # cut to each ``partial.CROPS`` and ``partial.QUARTERS`` (0 for low-detail pictures: never searched)
}

#: Files derived at once: ``derived.HASH_BLOCK`` and ``straighten.BLOCK`` (the blocks that fix the float rounding).
BLOCK = 4096


def hypotheses(table: FeatureTable | HashTable, kind: str) -> np.ndarray:
    """(n, KINDS[kind]) uint64: stored in a ``HashTable``, derived from a ``FeatureTable``'s thumbnails."""
    if isinstance(table, HashTable):
        if kind in table.derived:
            return table.derived[kind]
        table = table.take(np.arange(len(table)))  # not asked for when loading: correct, but every picture at once
    return _derive(table, kind, packer_for(len(table)))


def _derive(table: FeatureTable, kind: str, pack: Packer) -> np.ndarray:
    """Derive ``kind`` for every row of ``table``, in blocks of :data:`BLOCK` rows (``straight``: of
    :data:`BLOCK` pictures that are not low-detail; the others stay 0)."""
    from imgtwin.matching.derived import CROP_HYPOTHESES, crop_hashes, rotated_hashes
    from imgtwin.matching.partial import WINDOWS, window_hashes
    from imgtwin.matching.straighten import straightened_hashes

    n = len(table)
    out = np.zeros((n, KINDS[kind]), np.uint64)
    if kind == "straight":
        rows = np.flatnonzero(~table.low_detail) if table.low_detail is not None else np.arange(n)
        out[rows] = straightened_hashes(table.full(rows), pack)
        return out
    for lo in range(0, n, BLOCK):
        rows = np.arange(lo, min(lo + BLOCK, n))
        if kind == "rotated":
            out[rows] = rotated_hashes(table.thumbs[rows], pack)
        elif kind == "hard":
            detailed = rows[~table.low_detail[rows]] if table.low_detail is not None else rows
            out[detailed] = window_hashes(table.full(detailed), WINDOWS, pack)
        else:
            out[rows] = crop_hashes(table.full(rows), CROP_HYPOTHESES, pack)
    return out


# Row indices -> the complete table of those rows, in that order (``matching.files``: read from the index).
PixelSource = Callable[[np.ndarray], FeatureTable]


@dataclass(frozen=True, slots=True)
class HashTable:
    """The resident columns of many files (see the module doc); ``take`` reads the rest for a few rows."""

    hashes: np.ndarray  # (n,) uint64
    trim_hashes: np.ndarray  # (n,) uint64
    trimmed: np.ndarray  # (n,) bool
    low_detail: np.ndarray  # (n,) bool
    featureless: np.ndarray  # (n,) bool
    mostly_flat: np.ndarray  # (n,) bool
    derived: dict[str, np.ndarray]  # KINDS -> (n, k) uint64
    source: PixelSource = field(repr=False)

    def __len__(self) -> int:
        return len(self.hashes)

    def take(self, rows: np.ndarray) -> FeatureTable:
        """The complete table of ``rows`` (thumbnails, colour layouts), in that order."""
        return self.source(np.asarray(rows, dtype=np.int64))


_FLAGS = ("hashes", "trim_hashes", "trimmed", "low_detail", "featureless", "mostly_flat")


class HashTableBuilder:
    """A ``HashTable`` from a ``FeatureTable`` read block by block, into columns allocated once for
    ``capacity`` rows, with the hypothesis hashes of ``kinds`` (those the search will use); the straightened hashes are derived in blocks of :data:`BLOCK` pictures that may have
    them (not low-detail), as ``straighten.straightened_candidates`` derives them from a whole table."""

    def __init__(self, capacity: int, kinds: Collection[str] = tuple(KINDS)) -> None:
        self.capacity, self.size, self.kinds = capacity, 0, [k for k in KINDS if k in kinds]
        self.pack = packer_for(capacity)
        self.columns: dict[str, np.ndarray] = {}
        self.pending: list[tuple[np.ndarray, np.ndarray]] = []  # (rows of this table, untrimmed thumbnails)

    def add(self, block: FeatureTable) -> None:
        n, at = len(block), self.size
        if at + n > self.capacity:
            raise ValueError(f"more rows than the {self.capacity} counted")
        values = {name: getattr(block, name) for name in _FLAGS}
        values.update({kind: _derive(block, kind, self.pack) for kind in self.kinds if kind != "straight"})
        for name, value in values.items():
            if value is None:
                value = np.zeros(n, bool)
            if name not in self.columns:
                self.columns[name] = np.zeros((self.capacity, *value.shape[1:]), dtype=value.dtype)
            self.columns[name][at : at + n] = value
        self.size += n
        if "straight" not in self.kinds:
            return
        if "straight" not in self.columns:
            self.columns["straight"] = np.zeros((self.capacity, KINDS["straight"]), np.uint64)
        straight = np.flatnonzero(~block.low_detail) if block.low_detail is not None else np.arange(n)
        self.pending.append((straight + at, block.full(straight)))
        while sum(len(rows) for rows, _ in self.pending) >= BLOCK:
            self._straighten(BLOCK)

    def _straighten(self, count: int) -> None:
        """Derive the straightened hashes of the first ``count`` pending pictures (one block)."""
        from imgtwin.matching.straighten import straightened_hashes

        rows = np.concatenate([r for r, _ in self.pending])
        thumbs = np.concatenate([t for _, t in self.pending])
        self.columns["straight"][rows[:count]] = straightened_hashes(thumbs[:count], self.pack)
        self.pending = [(rows[count:], thumbs[count:].copy())] if len(rows) > count else []  # not a view of all

    def finish(self, source: PixelSource) -> HashTable:
        """The table of the rows added (views of the columns: no copy)."""
        left = sum(len(rows) for rows, _ in self.pending)
        if left:
            self._straighten(left)
        if "hashes" not in self.columns:
            self.columns = {name: np.zeros(0, np.uint64 if "hashes" in name else bool) for name in _FLAGS}
            self.columns.update({kind: np.zeros((0, KINDS[kind]), np.uint64) for kind in self.kinds})
        cut = {name: value[: self.size] for name, value in self.columns.items()}
        return HashTable(cut["hashes"], cut["trim_hashes"], cut["trimmed"], cut["low_detail"], cut["featureless"],
                         cut["mostly_flat"], {kind: cut[kind] for kind in self.kinds}, source)
