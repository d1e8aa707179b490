"""The indexed files ``find`` compares, as columns: what matching needs of a million files, without an object each.

``load_rows`` reads the live files under the roots once, in blocks: their hashes, flags and hypothesis
hashes into a ``HashTable`` (no pixels: ``matching.hashtable``, read again per block of candidate pairs by
``Loaded.pixels``), and per file only its row id, size, content hash and whether it was hashed
from a preview (~60 bytes). The records the keeper and the report need (path, dates, keeper signals) are
read again by row id for the few files that end up in a match or an exact group (``Loaded.rows``): a
``FileRow`` per file of a million cost 0.8 KB each, for files that are in no group.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

import numpy as np

from imgtwin.folders import within as _within
from imgtwin.hashing.dct import DCTHasher
from imgtwin.hashing.features import FEATURES_SPEC
from imgtwin.hashing.signals import SIGNALS_SPEC, KeeperSignals
from imgtwin.matching.columns import table_from_blobs
from imgtwin.matching.hashtable import KINDS, HashTable, HashTableBuilder
from imgtwin.matching.keeper import FileInfo
from imgtwin.matching.table import FeatureTable
from imgtwin.persistence.index import HashIndex, IndexChangedError, MatchRow
from imgtwin.persistence.keys import key_path
from imgtwin.records import ErrorReason, FileError, IndexedFile, from_preview

#: Records read before their features are cut into the feature table's columns (``matching.columns``):
#: their blobs (~2 KB a file) exist for one block at a time, never for the whole index.
LOAD_BLOCK = 4096

# (path, size, device) of an indexed file -> whether it takes part (``processing.discovery.FileFilter``)
RowSelector = Callable[[str, int, "int | None"], bool]

__all__ = ["LOAD_BLOCK", "FileRow", "IndexChangedError", "Loaded", "RowSelector", "load_rows"]


@dataclass(frozen=True, slots=True)
class FileRow:
    """What matching keeps of an ``IndexedFile`` that takes part in a group: not the record itself, whose
    feature and signal blobs (KBs a file) are parsed into ``Loaded.table`` and ``info`` instead."""

    path: str
    info: FileInfo  # for ranking keepers: width and height of the picture without borders
    width: int | None  # as stored: the whole image
    height: int | None
    content_hash: str | None  # its match features are row k of ``Loaded.table``
    dev: int | None = None  # device and inode as scanned: hard links to one file share them
    inode: int | None = None
    preview: bool = False  # hashed from its embedded preview: never grouped until its main image is decoded

    @property
    def file_id(self) -> tuple[int, int] | None:
        return (self.dev, self.inode) if self.dev is not None and self.inode is not None else None

    @property
    def aspect(self) -> float:
        """Width over height of the picture without borders, as shown (1 when unknown)."""
        return (self.info.width or 1) / (self.info.height or 1)


def _none_int() -> np.ndarray:
    return np.empty(0, np.int64)


@dataclass
class Loaded:
    """The files that take part, row k of every column and of ``table`` being one file."""

    db_path: str = ""
    references: tuple[str, ...] = ()  # absolute
    ids: np.ndarray = field(default_factory=_none_int)  # the index's row ids (``HashIndex.files_by_id``)
    sizes: np.ndarray = field(default_factory=_none_int)
    digests: np.ndarray = field(default_factory=lambda: np.empty(0, "S32"))  # content hashes (hex, ASCII); b"": none
    preview: np.ndarray = field(default_factory=lambda: np.empty(0, bool))  # hashed from an embedded preview
    errors: list[tuple[str, FileError]] = field(default_factory=list)
    stale: int = 0
    previews: int = 0  # rows hashed from a preview, left out (``previews=False``)
    table: FeatureTable | HashTable = field(default_factory=lambda: FeatureTable.from_features([]))  # the rows'

    def __len__(self) -> int:
        return len(self.ids)

    def content_hash(self, k: int) -> str | None:
        value = bytes(self.digests[k])
        return value.decode("ascii") if value else None

    def content_hashes(self, rows: Sequence[int] | None = None) -> list[str | None]:
        """The content hashes of ``rows`` (all when None), for the few callers that need them as strings."""
        picked = range(len(self)) if rows is None else rows
        return [self.content_hash(int(k)) for k in picked]

    def paths(self, rows: Sequence[int]) -> list[str]:
        return [row.path for row in self.rows(rows)]

    def rows(self, indices: Sequence[int] | np.ndarray) -> list[FileRow]:
        """The records of the files at ``indices`` (read again from the index by row id), in that order."""
        wanted = np.asarray(indices, dtype=np.int64)
        if not len(wanted):
            return []
        with HashIndex(self.db_path, readonly=True) as index:
            files = index.files_by_id(self.ids[wanted].tolist())
        missing = [k for k, f in zip(wanted.tolist(), files) if f is None or f.features is None]
        if missing:
            raise IndexChangedError(f"the index {self.db_path} changed while find read it: run find again")
        present = [f for f in files if f is not None]
        _, boxes = table_from_blobs([f.features or b"" for f in present])
        return [_row(f, box, self.references) for f, box in zip(present, boxes.tolist())]

    def pixels(self, rows: np.ndarray) -> FeatureTable:
        """The complete feature table of ``rows`` (thumbnails, colour layouts), read again from the index."""
        with HashIndex(self.db_path, readonly=True) as index:
            files = index.files_by_id(self.ids[rows].tolist()) if len(rows) else []
        if any(f is None or f.features is None for f in files):
            raise IndexChangedError(f"the index {self.db_path} changed while find read it: run find again")
        table, _ = table_from_blobs([f.features or b"" for f in files if f is not None])
        if (table.hashes != self.table.hashes[rows]).any():
            raise IndexChangedError(f"the index {self.db_path} changed while find read it: run find again")
        return table

    def exact_labels(self) -> np.ndarray:
        """Per file, the id of its set of byte-identical files (same size > 0, same content hash) or -1 (one
        sort: ``matching.exact.exact_groups``'s partition, without a path per file)."""
        n = len(self)
        labels = np.full(n, -1, np.int64)
        ok = np.flatnonzero((self.sizes > 0) & (self.digests != b""))
        if len(ok) < 2:
            return labels
        order = ok[np.lexsort((self.digests[ok], self.sizes[ok]))]
        sizes, digests = self.sizes[order], self.digests[order]
        start = np.r_[True, (sizes[1:] != sizes[:-1]) | (digests[1:] != digests[:-1])]
        run = np.cumsum(start) - 1
        twins = np.bincount(run)[run] >= 2
        labels[order[twins]] = run[twins]
        return labels

    def units(self) -> np.ndarray:
        """Per file, the first row with its content hash (byte copies share one feature record), -1 without one."""
        unit = np.full(len(self), -1, np.int64)
        has = np.flatnonzero(self.digests != b"")
        if len(has):
            _, first, inverse = np.unique(self.digests[has], return_index=True, return_inverse=True)
            unit[has] = has[first][inverse.reshape(-1)]
        return unit


def _row(file: IndexedFile, box: Sequence[float], references: Sequence[str]) -> FileRow:
    left, top, right, bottom = box
    path, width, height = file.path, file.width, file.height
    if width is not None and height is not None:  # without uniform borders: padding adds no resolution
        width, height = round(width * (right - left)), round(height * (bottom - top))
    fresh = file.signals is not None and file.signals_spec == SIGNALS_SPEC
    signals = KeeperSignals.from_bytes(file.signals) if fresh and file.signals is not None else None
    info = FileInfo(path, file.size, file.mtime_ns, width, height, file.format, signals,
                    any(_within(path, r) for r in references), (right - left) * (bottom - top))
    return FileRow(path, info, file.width, file.height, file.content_hash, file.dev, file.inode,
                   from_preview(file.decode))


def load_rows(db_path: str, roots: Sequence[str], reference: Sequence[str] = (), select: RowSelector | None = None,
              previews: bool = False, kinds: Collection[str] = tuple(KINDS)) -> Loaded:  # fmt: skip
    """The live files under ``roots`` that take part; rows hashed from a preview only with ``previews`` (to find
    the candidates whose main images must be decoded: ``runs.main_images``), since no group is decided on one.
    ``kinds``: the hypothesis hashes searched (``hashtable.KINDS``; none for byte-identical files only): with any,
    all of them are read where stored, else derived and stored (``_store_derived``), so that every later find
    reads them whatever it searches."""
    loaded = Loaded(db_path, tuple(os.path.abspath(r) for r in reference))
    spec_id = DCTHasher().spec.id
    block: list[MatchRow] = []
    columns: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    with HashIndex(db_path, readonly=True) as index:  # at most this many rows: the columns are allocated once
        builder = HashTableBuilder(index.count_under([os.path.abspath(r) for r in roots]), kinds)

    def flush() -> None:  # a block's features into table columns, its rows' few fields into columns
        features = [row[8] or b"" for row in block]
        builder.add(table_from_blobs(features)[0], features, [row[11] for row in block])
        columns.append((np.fromiter((row[0] for row in block), np.int64, len(block)),
                        np.fromiter((row[2] for row in block), np.int64, len(block)),
                        np.array([(row[4] or "").encode("ascii") for row in block], dtype=bytes),
                        np.fromiter((from_preview(row[5]) for row in block), bool, len(block))))
        block.clear()

    with HashIndex(db_path, readonly=True) as index:
        for row in index.match_rows([os.path.abspath(r) for r in roots]):
            _, key, size, dev, _, decode, hash_spec, features_spec, features, error_reason, error_message, _ = row
            if select is not None and not select(key_path(key), size, dev):
                continue
            if error_reason is not None:
                loaded.errors.append((key_path(key), FileError(_reason(error_reason), error_message or "")))
            elif hash_spec != spec_id or features_spec != FEATURES_SPEC or features is None:
                loaded.stale += 1
            elif not previews and from_preview(decode):
                loaded.previews += 1
            else:
                block.append(row)
                if len(block) >= LOAD_BLOCK:
                    flush()
    if block:
        flush()
    if columns:
        loaded.ids, loaded.sizes, loaded.digests, loaded.preview = (np.concatenate(c) for c in zip(*columns))
    loaded.table = builder.finish(loaded.pixels)
    _store_derived(db_path, loaded, builder)
    return loaded


def _store_derived(db_path: str, loaded: Loaded, builder: HashTableBuilder) -> None:
    """Write the hypothesis hashes derived by this load into their rows, so that the next find reads them;
    an index that cannot be written now (read-only, a scan holding it) is left as it was."""
    batches = builder.filled()
    first = next(batches, None)
    if first is None:
        return
    with HashIndex(db_path, readonly=True) as index:
        for batch in itertools.chain((first,), batches):
            if not index.store_hypotheses((blob, int(loaded.ids[k])) for blob, k in batch):
                return


def _reason(value: str) -> ErrorReason:
    try:
        return ErrorReason(value)
    except ValueError:
        return ErrorReason.DECODE_ERROR
