"""What the candidate search keeps of every file: hashes, flags and the hypothesis hashes, no pixels.

A ``FeatureTable`` holds each file's 32 x 32 thumbnail and colour layout (~1.5 KB a file: 1.5 GB for
a million files). The candidate search needs none of them once the hashes of the hypotheses tried on
every file (turned and mirrored, cropped, straightened, hard-cropped: :data:`KINDS`) are derived, so
``find`` reads the index in blocks, derives those hashes block by block (the same blocks, so the same
numbers, as deriving them from a whole table) and keeps a ``HashTable`` (~750 bytes a file). The
thumbnails and colours of the files of each block of candidate pairs are read again from the index
(``take``): the pixels of a million files are never in memory at once.

Deriving them costs ~200 us a file (over 3 minutes of CPU at a million files), so they are derived once and
stored in the index by row id (table ``hypotheses``; ``STORED_BYTES``: a check of the features they come from,
then the 90 hashes):
a find reads them as arrays and derives only the rows without valid ones (an older index, rows scanned since),
which it writes back (``HashTableBuilder.filled``).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache

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

#: A stored row of hypothesis hashes: the check (``_checks``), then every kind's hashes in ``KINDS`` order.
STORED_HASHES = sum(KINDS.values())
STORED_BYTES = 4 + 8 * STORED_HASHES

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


@cache
def _seed() -> int:
    """The check's start: the definitions the hashes depend on, so that changing one makes every stored row
    invalid (derived again). Bump ``v1`` when the derivation changes in a way these values do not show."""
    from imgtwin.hashing.features import FEATURES_SPEC
    from imgtwin.matching.derived import CROP_HYPOTHESES
    from imgtwin.matching.partial import WINDOWS
    from imgtwin.matching.straighten import HYPOTHESES

    spec = repr(("hypotheses-v1", FEATURES_SPEC, KINDS, CROP_HYPOTHESES, WINDOWS, HYPOTHESES))
    return zlib.crc32(spec.encode())


def _checks(features: Sequence[bytes]) -> np.ndarray:
    """(n,) uint32: what a row's stored hashes must start with to be those of ``features`` (CRC-32 of the
    definitions and the features' bytes: a row rescanned since, even by an older imgtwin, fails it)."""
    seed = _seed()
    return np.fromiter((zlib.crc32(f, seed) for f in features), np.uint32, len(features))


def _unpack(stored: Sequence[bytes | None], checks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows whose stored blob is valid for their features, and their (m, STORED_HASHES) hashes."""
    mark = checks.astype("<u4").tobytes()
    valid = np.fromiter((s is not None and len(s) == STORED_BYTES and s[:4] == mark[4 * k : 4 * k + 4]
                         for k, s in enumerate(stored)), bool, len(stored))  # fmt: skip
    rows = np.flatnonzero(valid)
    data = b"".join((stored[k] or b"")[4:] for k in rows.tolist())
    return rows, np.frombuffer(data, "<u8").reshape(len(rows), STORED_HASHES).astype(np.uint64)


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
    ``capacity`` rows. With ``kinds`` (those the search will use), every kind's hypothesis hashes: read from the
    rows' stored ones where valid, derived for the others (a block with none stored: the whole block, so the
    same blocks and bits as ever); the straightened ones in blocks of :data:`BLOCK` pictures that may have them
    (not low-detail), as ``straighten.straightened_candidates`` derives them from a whole table."""

    def __init__(self, capacity: int, kinds: Collection[str] = tuple(KINDS)) -> None:
        self.capacity, self.size, self.kinds = capacity, 0, list(KINDS) if kinds else []
        self.pack = packer_for(capacity)
        self.columns: dict[str, np.ndarray] = {}
        self.pending: list[tuple[np.ndarray, np.ndarray]] = []  # (rows of this table, untrimmed thumbnails)
        self.derived: list[tuple[np.ndarray, np.ndarray]] = []  # (rows of this table, their checks): to store

    def add(self, block: FeatureTable, features: Sequence[bytes] = (), stored: Sequence[bytes | None] = ()) -> None:
        """Add ``block``; ``features``: its rows' feature blobs and ``stored`` their stored hypothesis hashes
        (none given: every row derived, nothing to store)."""
        n, at = len(block), self.size
        if at + n > self.capacity:
            raise ValueError(f"more rows than the {self.capacity} counted")
        values = {name: getattr(block, name) for name in _FLAGS}
        for name, value in values.items():
            self._put(name, np.arange(at, at + n), np.zeros(n, bool) if value is None else value)
        self.size += n
        if not self.kinds:
            return
        missing = np.arange(n)
        if len(features):
            checks = _checks(features)
            found, hashes = _unpack(stored, checks) if len(stored) else (np.empty(0, np.int64), None)
            if hashes is not None and len(found):
                lo = 0
                for kind, width in KINDS.items():
                    self._put(kind, found + at, hashes[:, lo : lo + width])
                    lo += width
                missing = np.setdiff1d(missing, found)
            self.derived.append((missing + at, checks[missing]))
        if not len(missing):
            return
        part = block if len(missing) == n else block.take(missing)
        for kind in ("rotated", "crop", "hard"):
            self._put(kind, missing + at, _derive(part, kind, self.pack))
        self._put("straight", np.empty(0, np.int64), np.zeros((0, KINDS["straight"]), np.uint64))
        straight = np.flatnonzero(~part.low_detail) if part.low_detail is not None else np.arange(len(part))
        self.pending.append((missing[straight] + at, part.full(straight)))
        while sum(len(rows) for rows, _ in self.pending) >= BLOCK:
            self._straighten(BLOCK)

    def _put(self, name: str, rows: np.ndarray, value: np.ndarray) -> None:
        """Write ``value`` into column ``name`` at ``rows``, allocating the column for ``capacity`` rows."""
        if name not in self.columns:
            self.columns[name] = np.zeros((self.capacity, *value.shape[1:]), dtype=value.dtype)
        self.columns[name][rows] = value

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
        for name in _FLAGS:
            self.columns.setdefault(name, np.zeros(0, np.uint64 if "hashes" in name else bool))
        for kind in self.kinds:
            self.columns.setdefault(kind, np.zeros((0, KINDS[kind]), np.uint64))
        cut = {name: value[: self.size] for name, value in self.columns.items()}
        return HashTable(cut["hashes"], cut["trim_hashes"], cut["trimmed"], cut["low_detail"], cut["featureless"],
                         cut["mostly_flat"], {kind: cut[kind] for kind in self.kinds}, source)

    def filled(self, batch: int = BLOCK) -> Iterator[list[tuple[bytes, int]]]:
        """Per ``batch`` rows derived here rather than read: (the blob to store, row number of this table),
        after ``finish``."""
        rows = np.concatenate([r for r, _ in self.derived]) if self.derived else np.empty(0, np.int64)
        checks = np.concatenate([c for _, c in self.derived]) if self.derived else np.empty(0, np.uint32)
        for lo in range(0, len(rows), batch):
            part = rows[lo : lo + batch]
            hashes = np.concatenate([self.columns[kind][part] for kind in KINDS], axis=1).astype("<u8")
            marks = checks[lo : lo + batch].astype("<u4")
            yield [(m.tobytes() + h.tobytes(), int(r)) for m, h, r in zip(marks, hashes, part.tolist())]
