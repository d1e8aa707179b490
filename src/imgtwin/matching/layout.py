"""A second look at the wide candidate bands, blind to the coarse 2 x 2 layout (issue 26 part 2).

The 64-bit pHash is the sign pattern of the lowest DCT frequencies, which the
coarsest layout of a picture dominates: where four flat pieces meet in a cross
(mosaic tiles), a horizon, a document's margins. Pictures that share such a
layout collide on a few bits at a fixed rate, so the candidates of the wide
bands (the extension band of plain and of rotated and mirrored hashes, crop,
straightened hypotheses) grow with the square of the
collection, while verification rejects them all.

Here each candidate is also compared on its *layout-free* vector: the 8 x 8
DCT block of the 32 x 32 thumbnail after each quadrant's mean is subtracted
(the 2 x 2 layout gone), scaled to unit length, derived from the
stored thumbnails at find time, for the files of a block of candidates at a time
(``table.take``: read from the index, never every file's thumbnail at once). A copy keeps its structure inside the
quadrants too, so its vectors correlate (cosine); two pictures that only share
the layout do not. The candidate's own hypothesis aligns them: its dihedral
transform, and the crop hypotheses (``derived.CROP_HYPOTHESES``) of either
picture, the best pairing counting (a copy cut by a few percent moves the
quadrant boundaries; verification aligns by up to 14 %). A straightened
candidate compares the hypothesis that found it. The hard crops (``matching.partial``) are not
filtered: a screenshot of a wood texture that local features match through its
hard crop scores 0.08 (the crop does not align the app's frame away).

The bars (:class:`LayoutRule`) were set from every candidate of the
benchmark corpora that verification or the escalation to local features
accepted, with a margin (docs/benchmarks.md, issue 26 part 2). They cut the
candidates of the mosaic tiles by a constant factor, not to a constant number
per file: a fixed bar keeps a fixed share of the colliding pairs.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from imgtwin.hashing.dct import dct_matrix
from imgtwin.hashing.features import HASH_SIZE, THUMB
from imgtwin.matching.derived import CROP_HYPOTHESES
from imgtwin.matching.hashtable import HashTable
from imgtwin.matching.search import default_threads
from imgtwin.matching.table import FeatureTable
from imgtwin.matching.verify import resampler

#: Files whose vectors are derived at once (float32 thumbnails of a block: 4 KB a file).
BLOCK = 4096
#: Files whose vectors are held at once by ``layout_score`` (two chunks at most: 256 MB).
CHUNK_FILES = 262_144
_HALF = THUMB // 2
_SIGN = (-1.0) ** np.arange(HASH_SIZE)


@dataclass(frozen=True, slots=True)
class LayoutRule:
    """The least layout-free correlation a candidate needs (cosine of :func:`layout_vectors`).

    ``hypothesis``: rotated/mirrored candidates of the extension band, crop and straightened candidates
    (the thumbnails' accepted pairs on the corpora: >= 0.87; but a rejected one may be
    escalated to local features, and a messenger screenshot of a photo that escalation matches through
    its crop candidate scores 0.77); ``extension``: plain candidates of the extension band (edited
    copies: >= 0.66). Candidates within the threshold, plain or rotated, are never filtered (on the small
    corpus verification accepts one wrong rotated pair within 6 bits that scores 0.47: the filter would
    change that decision).
    """

    hypothesis: float = 0.7
    extension: float = 0.6


@lru_cache(maxsize=1)
def _basis() -> np.ndarray:
    basis: np.ndarray = dct_matrix(THUMB)[:HASH_SIZE].astype(np.float32)
    basis.setflags(write=False)
    return basis


def raw_layout(thumbs: np.ndarray) -> np.ndarray:
    """(n, 64) float32: the DCT block without the 2 x 2 layout (linear in the pixels; not centred, so that a
    dihedral turn of the pixels is exactly :func:`turned` of the vector)."""
    x = np.asarray(thumbs, dtype=np.float32).reshape(-1, THUMB, THUMB)
    quarters = x.reshape(len(x), 2, _HALF, 2, _HALF)
    flat = (quarters - quarters.mean(axis=(2, 4), keepdims=True)).reshape(len(x), THUMB, THUMB)
    basis = _basis()
    block = basis @ flat @ basis.T
    block[:, 0, 0] = 0.0
    v: np.ndarray = block.reshape(len(x), HASH_SIZE * HASH_SIZE)
    return v


def unit(v: np.ndarray) -> np.ndarray:
    result: np.ndarray = v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)
    return result


def layout_vectors(thumbs: np.ndarray) -> np.ndarray:
    """(n, 64) float32 unit vectors: each (n, 32, 32) thumbnail's DCT block without its 2 x 2 layout."""
    return unit(raw_layout(thumbs))


@lru_cache(maxsize=4)
def _maps(crops: tuple[tuple[float, float, float, float], ...]) -> np.ndarray:
    """(1024, len(crops) * 64) float32: a row-major thumbnail -> :func:`raw_layout` of it cut by each crop, one
    matrix product for a block of files (crop, layout removal and DCT are all linear)."""
    pixels = np.eye(THUMB * THUMB, dtype=np.float32).reshape(-1, THUMB, THUMB)
    maps = np.concatenate([raw_layout(cropped(pixels, crop)) for crop in crops], axis=1)
    maps.setflags(write=False)
    return maps


#: Vectors a file has: as stored, untrimmed, and untrimmed cut by each crop hypothesis.
VARIANTS = 2 + len(CROP_HYPOTHESES)


def _quantised(stored_thumbs: np.ndarray, full_thumbs: np.ndarray) -> np.ndarray:
    """(n, VARIANTS, 64) int8: each file's unit vectors (:class:`LayoutVectors`) times 127."""
    n = len(stored_thumbs)
    maps = _maps(((0.0, 0.0, 0.0, 0.0), *CROP_HYPOTHESES))
    stored = stored_thumbs.reshape(n, -1).astype(np.float32) @ maps[:, : HASH_SIZE**2]
    full = (full_thumbs.reshape(n, -1).astype(np.float32) @ maps).reshape(n, -1, HASH_SIZE**2)
    result: np.ndarray = np.clip(np.rint(127 * unit(np.concatenate([stored[:, None], full], axis=1))), -127, 127)
    return result


#: The inverse of each dihedral transform (``features.DIHEDRAL_NAMES``: rotate270 <-> rotate90).
_INVERSE = np.array([0, 1, 2, 3, 4, 6, 5, 7])


def turned(vectors: np.ndarray, transforms: np.ndarray) -> np.ndarray:
    """The vectors of the thumbnails under dihedral ``transforms`` (``features.DIHEDRAL_NAMES`` order): a
    flip negates the block's odd columns or rows, a transpose transposes it (the quadrants map to quadrants);
    a rotation, so dot products are kept: ``turned(a, g) . b == a . turned(b, inverse of g)``."""
    block = vectors.reshape(-1, HASH_SIZE, HASH_SIZE).copy()
    g = np.asarray(transforms, dtype=np.int64)
    swap = g >= 4
    block[swap] = np.swapaxes(block[swap], 1, 2)
    block[np.isin(g, (1, 3, 5, 7))] *= _SIGN[None, None, :].astype(np.float32)
    block[np.isin(g, (2, 3, 6, 7))] *= _SIGN[None, :, None].astype(np.float32)
    result: np.ndarray = block.reshape(len(block), -1)
    return result


def cropped(thumbs: np.ndarray, crop: tuple[float, float, float, float]) -> np.ndarray:
    """(n, 32, 32) float32: each thumbnail cut by ``crop`` (left, top, right, bottom fractions), resampled."""
    left, top, right, bottom = crop
    rows = resampler(THUMB, top, bottom).astype(np.float32)
    cols = resampler(THUMB, left, right).astype(np.float32)
    result: np.ndarray = rows @ np.asarray(thumbs, dtype=np.float32) @ cols.T
    return result


class LayoutVectors:
    """Each file's layout-free vectors (derived from a table of the few files they are asked for, 8 bits a number): as stored (trimmed),
    untrimmed, and the untrimmed thumbnail cut by each of ``derived.CROP_HYPOTHESES``."""

    def __init__(self, table: FeatureTable) -> None:
        n = len(table)
        self.trimmed = np.zeros(n, bool) if table.trimmed is None else np.asarray(table.trimmed, bool)
        self.vec = np.empty((n, VARIANTS, HASH_SIZE * HASH_SIZE), np.int8)
        for lo in range(0, n, BLOCK):
            rows = np.arange(lo, min(lo + BLOCK, n))
            self.vec[rows] = _quantised(table.thumbs[rows], table.full(rows))
        self.norm = np.sqrt(np.einsum("nvk,nvk->nv", self.vec, self.vec, dtype=np.float32))

    @classmethod
    def of_rows(cls, table: FeatureTable | HashTable, rows: np.ndarray, variants: int = VARIANTS) -> LayoutVectors:
        """The vectors of ``table``'s ``rows``, their pixels read :data:`BLOCK` files at a time (``table.take``);
        only the first ``variants`` of each file kept (2: as stored and untrimmed, what :meth:`best` reads)."""
        def part(lo: int) -> LayoutVectors:  # fewer variants: cut per block, not after holding every variant
            whole = cls(table.take(rows[lo : lo + BLOCK]))
            return whole if variants == VARIANTS else cls.concat([whole], variants)

        return cls.concat([part(lo) for lo in range(0, max(len(rows), 1), BLOCK)], variants)

    @classmethod
    def concat(cls, parts: list[LayoutVectors], variants: int = VARIANTS) -> LayoutVectors:
        """One set of the files of ``parts`` (at least one), in their order, with their first ``variants``."""
        out = cls.__new__(cls)
        out.trimmed = np.concatenate([p.trimmed for p in parts])
        out.vec = np.concatenate([p.vec[:, :variants] for p in parts])
        out.norm = np.concatenate([p.norm[:, :variants] for p in parts])
        return out

    def best(self, mine: np.ndarray, j: np.ndarray) -> np.ndarray:
        """Per row, the best cosine of unit vectors ``mine`` (already aligned) with ``j``'s, trimmed or untrimmed."""
        out = np.full(len(j), -1.0, np.float32)
        for variant in (0, 1):
            theirs = self.vec[j, variant].astype(np.float32)
            norm = np.maximum(self.norm[j, variant], 1e-9)
            out = np.maximum(out, np.einsum("nk,nk->n", mine.astype(np.float32), theirs) / norm)
        return out

    def correlation(self, i: np.ndarray, j: np.ndarray, transforms: np.ndarray, crops: bool = True) -> np.ndarray:
        """Per candidate (``transforms`` map ``i`` onto ``j``), the best cosine of the two pictures' vectors
        (stored or untrimmed), with ``crops`` also either of them cut (the crop of ``i`` turned with it)."""
        from imgtwin.matching.layout_kernel import scores  # numba: compiled on first use

        return scores(self.vec, self.norm, self.trimmed, i, j, transforms, _dihedral_tables(), crops, default_threads())


@lru_cache(maxsize=1)
def _dihedral_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(perm, sign, inverse)``: ``turned(v, g)[k] == sign[g, k] * v[perm[g, k]]`` (each (8, 64)) and the
    inverse of each transform."""
    probe = np.arange(1, HASH_SIZE**2 + 1, dtype=np.float32)
    out = np.stack([turned(probe[None], np.array([g]))[0] for g in range(8)])
    return np.abs(out).astype(np.int64) - 1, np.sign(out).astype(np.int32), _INVERSE


def either_trimmed(table: FeatureTable | HashTable, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Per pair, whether either file had a border cut: its crop candidates are never filtered. A screenshot
    sent in a messenger keeps part of its frame after its bars are cut, more than the crop hypotheses align away:
    on the h7 library one that verification accepts through its crop candidate scores -0.02."""
    if table.trimmed is None:
        return np.zeros(len(i), bool)
    result: np.ndarray = table.trimmed[i] | table.trimmed[j]
    return result


def layout_score(table: FeatureTable | HashTable, i: np.ndarray, j: np.ndarray, transforms: np.ndarray,
                 wide: np.ndarray) -> np.ndarray:  # fmt: skip
    """Per candidate, :meth:`LayoutVectors.correlation`; inf (always kept) where not ``wide`` or where either
    picture is low-detail (judged on pixels, its structure is noise).

    Each file's vectors are derived once: the files of the wide candidates are cut into chunks of
    :data:`CHUNK_FILES`, and the candidates are scored by pair of chunks, so that at most two chunks' vectors
    are held (512 B a file) and a file's pixels are read once per chunk pair, not once per candidate: on the
    200k mosaic tiles a file is in ~30 wide candidates, and deriving its vectors for each cost 45 us a candidate.
    """
    score = np.full(len(i), np.inf, np.float32)
    if table.low_detail is not None:
        wide = wide & ~(table.low_detail[i] | table.low_detail[j])
    rows = np.flatnonzero(wide)
    if not len(rows):
        return score
    files = np.unique(np.concatenate([i[rows], j[rows]]).astype(np.int64))
    pi, pj = np.searchsorted(files, i[rows]), np.searchsorted(files, j[rows])
    ci, cj = pi // CHUNK_FILES, pj // CHUNK_FILES
    low, high = np.minimum(ci, cj), np.maximum(ci, cj)
    order = np.lexsort((high, low))
    cuts = np.flatnonzero(np.diff(low[order]) | np.diff(high[order])) + 1
    held: dict[int, LayoutVectors] = {}
    for group in np.split(order, cuts):
        a, b = int(low[group[0]]), int(high[group[0]])
        for chunk in [c for c in held if c not in (a, b)]:
            del held[chunk]
        for chunk in (a, b):
            if chunk not in held:
                held[chunk] = LayoutVectors.of_rows(table, files[chunk * CHUNK_FILES : (chunk + 1) * CHUNK_FILES])
        vectors = held[a] if a == b else LayoutVectors.concat([held[a], held[b]])
        at_i, at_j = (p[group] + np.where(c[group] == a, -a * CHUNK_FILES, len(held[a].vec) - b * CHUNK_FILES)
                      for p, c in ((pi, ci), (pj, cj)))  # rows of ``vectors``: chunk a's files, then chunk b's
        score[rows[group]] = vectors.correlation(at_i, at_j, transforms[rows[group]].astype(np.int64))
    return score


class HeldChunks:
    """The vectors of the files of two chunks of :data:`CHUNK_FILES` rows (``hold``), each file's derived the
    first time a candidate asks for it and kept until its chunk is let go: ``matching.stream`` scores its blocks
    of candidates chunk pair by chunk pair, so a file's pixels are read once per chunk pair however many blocks
    it is a candidate of (512 B a file held, at most two chunks)."""

    def __init__(self, table: FeatureTable | HashTable) -> None:
        self.table, self.n, self.chunk = table, len(table), CHUNK_FILES
        self.held: tuple[int, int] = (-1, -1)
        self.vectors = LayoutVectors.__new__(LayoutVectors)
        self.done = np.zeros(0, bool)

    def _size(self, chunk: int) -> int:
        return max(0, min(self.chunk, self.n - chunk * self.chunk))

    def hold(self, a: int, b: int) -> None:
        """Keep chunks ``a`` and ``b`` (``a`` <= ``b``): ``a``'s vectors kept if it was held first already."""
        if self.held == (a, b):
            return
        size_a, size_b = self._size(a), 0 if a == b else self._size(b)
        if self.held[0] != a:
            v = self.vectors
            v.vec = np.empty((size_a + size_b, VARIANTS, HASH_SIZE * HASH_SIZE), np.int8)
            v.norm, v.trimmed = np.empty((size_a + size_b, VARIANTS), np.float32), np.zeros(size_a + size_b, bool)
            self.done = np.zeros(size_a + size_b, bool)
        elif len(self.done) != size_a + size_b:  # the second chunk let go: the first's part kept
            v, keep = self.vectors, size_a
            grown = (np.empty((size_a + size_b, *v.vec.shape[1:]), np.int8), np.empty((size_a + size_b, VARIANTS),
                                                                                      np.float32))  # fmt: skip
            grown[0][:keep], grown[1][:keep] = v.vec[:keep], v.norm[:keep]
            v.vec, v.norm = grown
            v.trimmed = np.concatenate([v.trimmed[:keep], np.zeros(size_b, bool)])
            self.done = np.concatenate([self.done[:keep], np.zeros(size_b, bool)])
        else:
            self.done[size_a:] = False
        self.held = (a, b)

    def at(self, files: np.ndarray) -> np.ndarray:
        """Rows of the held vectors of ``files`` (each in a held chunk)."""
        a, b = self.held
        chunk = files // self.chunk
        result: np.ndarray = np.where(chunk == a, files - a * self.chunk, self._size(a) + files - b * self.chunk)
        return result

    def score(self, i: np.ndarray, j: np.ndarray, transforms: np.ndarray, wide: np.ndarray) -> np.ndarray:
        """:func:`layout_score` of these candidates, every file in a held chunk."""
        score = np.full(len(i), np.inf, np.float32)
        if self.table.low_detail is not None:
            wide = wide & ~(self.table.low_detail[i] | self.table.low_detail[j])
        rows = np.flatnonzero(wide)
        if not len(rows):
            return score
        files = np.unique(np.concatenate([i[rows], j[rows]]).astype(np.int64))
        at = self.at(files)
        missing = ~self.done[at]
        if missing.any():
            fresh = LayoutVectors.of_rows(self.table, files[missing])
            v, put = self.vectors, at[missing]
            v.vec[put], v.norm[put], v.trimmed[put] = fresh.vec, fresh.norm, fresh.trimmed
            self.done[put] = True
        score[rows] = self.vectors.correlation(self.at(i[rows].astype(np.int64)), self.at(j[rows].astype(np.int64)),
                                               transforms[rows].astype(np.int64))
        return score
