"""Copies that share only part of the picture with their original: hard crops, stickers, captions, logos (issue 24).

A crop of 10-30 % off a side or a corner, a sticker, a caption band or a brand's
logo moves a copy's 64-bit pHash 12-34 bits from its original's: no radius
search over the plain hashes reaches it without joining thousands of other
pictures, and the thumbnail rules (``matching.near``) must reject the few it
reaches to keep precision.  Local features decide such pairs
(``matching.escalate``); this module only finds them, from the stored 32 x 32
thumbnails (no decode), with no loop over files or pairs:

* *crops* (:func:`crop_pairs`): each file's untrimmed thumbnail cut by each of
  :data:`CROPS` (one side, two sides at a corner, a zoom; the grid's steps are
  within the ~3 % a pHash tolerates), hashed, and searched within
  :data:`CROP_RADIUS` bits of every file's two hashes, and each file's nearest
  hypothesis within :data:`NEAREST_RADIUS` (a crop with stickers on it); a
  candidate the thumbnail rules rejected as a whole is tried at its window too;
* *covered* (:func:`covered_pairs`): each quarter of every file's thumbnail
  (:data:`QUARTERS`) hashed and searched within :data:`COVER_RADIUS` bits of
  the same quarter of every other file's: a sticker or a logo covers part of
  a picture, and a quarter it leaves alone is the original's;
* *close but rejected* (:func:`covered_candidates`): candidates of the
  thumbnail rules (upright, within their radius) that they found clearly
  different as a whole: a caption band or a large logo drags the whole
  gradient correlation down.

Each of those is kept only where the two thumbnails (the crop's window of one
against the other) agree *in part* (:func:`agreeing_cells`): of the 16 cells
of 8 x 8 pixels, at least :data:`MIN_CELLS` have high-passed pixels that
correlate >= :data:`CELL_CORRELATION`.  A copy agrees everywhere but under its
sticker or caption; two different pictures whose hashes collide agree in 0-3
cells (on the medium phone-edits corpus, 95 % of them; the copies: median 9-14).
Low-detail pictures take no part (keypoints on a flat picture fit anything alike).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from imgtwin.hashing.features import _BASIS, HASH_SIZE, THUMB
from imgtwin.matching.candidates import Candidates
from imgtwin.matching.hashtable import HashTable, hypotheses
from imgtwin.matching.packing import Packer, pack_hashes
from imgtwin.matching.search import radius_join, radius_pairs
from imgtwin.matching.stream import Judged, Look, RawCandidates
from imgtwin.matching.table import FeatureTable
from imgtwin.matching.verify import resampler

Window = tuple[float, float, float, float]  # left, top, right, bottom: the fractions cut off


def _crops() -> tuple[Window, ...]:
    one = [tuple(f if side == k else 0.0 for k in range(4)) for f in (0.12, 0.18, 0.24, 0.30) for side in range(4)]
    corner = []
    for across, down in itertools.product((0.1, 0.17, 0.25), repeat=2):
        for h, v in ((0, 1), (2, 1), (0, 3), (2, 3)):
            cut = [0.0] * 4
            cut[h], cut[v] = across, down
            corner.append(tuple(cut))
    zoom = [(x, y, x, y) for x, y in ((0.05, 0.05), (0.1, 0.1), (0.15, 0.15), (0.05, 0.1), (0.1, 0.05))]
    return tuple((float(a), float(b), float(c), float(d)) for a, b, c, d in (*one, *corner, *zoom))


#: Hard crops tried on every file: 12-30 % off one side, 10-25 % off each of two sides at a corner, a zoom of
#: 10-30 %, at most ~3.5 % from any crop in those ranges (a pHash moves ~6 bits for such a miss).
CROPS = _crops()
CROP_RADIUS = 8
#: Beyond :data:`CROP_RADIUS`, up to this many bits, a copy's single nearest crop hypothesis (of any file) is
#: a pair too: stickers on a crop, or a crop between the grid's steps, move its hash 10-12 bits from the
#: nearest hypothesis, which is still its original's where no other file's lies nearer (medium phone-edits
#: corpus: 8 of the 23 crop and crop + sticker copies no other source reached, for ~100 files more decoded for
#: local features; all of those within 12 bits: 13 for ~220 files).
NEAREST_RADIUS = 12
#: How far a hypothesis' window is moved to align it with a copy (a fraction of the side).
NUDGE = 0.03
#: The four quarters of a picture (a sticker, emoji or logo leaves at least one alone).
QUARTERS: tuple[Window, ...] = ((0.0, 0.0, 0.5, 0.5), (0.5, 0.0, 0.0, 0.5), (0.0, 0.5, 0.5, 0.0), (0.5, 0.5, 0.0, 0.0))
COVER_RADIUS = 6
#: Every window hashed for every file (``hashtable.KINDS["hard"]``, derived while loading): the crops, then the quarters.
WINDOWS = (*CROPS, *QUARTERS)
#: Pairs whose thumbnails are compared at once (read from the index a block at a time: ``HashTable.take``).
PAIR_BLOCK = 4096
MIN_CELLS = 5
#: A crop's window is tried at 9 places (:data:`NUDGE`): one cell more must agree, for as few wrong pairs.
CROP_MIN_CELLS = 6
#: Files hashed at once: their windows' float64 blocks are ~30 KB a file.
WINDOW_BLOCK = 1024
CELL_CORRELATION = 0.5


def window_hashes(thumbs: np.ndarray, windows: Sequence[Window], pack: Packer = pack_hashes) -> np.ndarray:
    """(n, len(windows)) uint64: the pHash of each (n, 32, 32) thumbnail cut to each window (as
    ``near.crop_hashes``; thresholded by ``phash_kernel``, ~6x numpy's rounding, sort and packing).

    Two matrix products per block of files, shared by every window with the same rows or columns.
    """
    thumbs = np.asarray(thumbs).reshape(-1, THUMB, THUMB)
    columns = sorted({(w[0], w[2]) for w in windows})
    col_basis = np.concatenate([_BASIS @ resampler(THUMB, a, b) for a, b in columns]).T.astype(np.float32)
    # Per column window, the row windows it is paired with, stacked: (8 * those, 32).
    groups = [[k for k, w in enumerate(windows) if (w[0], w[2]) == c] for c in columns]
    row_stacks = [np.concatenate([_BASIS @ resampler(THUMB, windows[k][1], windows[k][3]) for k in group])
                  .astype(np.float32) for group in groups]  # fmt: skip
    size = HASH_SIZE
    out = np.empty((len(thumbs), len(windows)), dtype=np.uint64)
    for lo in range(0, len(thumbs), WINDOW_BLOCK):
        x = thumbs[lo : lo + WINDOW_BLOCK].astype(np.float32)
        b = len(x)
        across = (x.reshape(b * THUMB, THUMB) @ col_basis).reshape(b, THUMB, len(columns), size)
        across = np.ascontiguousarray(across.transpose(2, 1, 0, 3))  # (columns, 32, b, 8)
        blocks = np.empty((len(windows), size, b, size), np.float32)
        for c, (group, stack) in enumerate(zip(groups, row_stacks)):
            blocks[group] = (stack @ across[c].reshape(THUMB, b * size)).reshape(len(group), size, b, size)
        out[lo : lo + WINDOW_BLOCK] = pack(blocks.transpose(2, 0, 1, 3))
    return out


def agreeing_cells(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n,) how many of the 16 cells of 8 x 8 pixels of the (n, 32, 32) pictures ``a`` and ``b`` agree: their
    high-passed pixels (less a 3 x 3 mean) correlate >= :data:`CELL_CORRELATION`."""

    def cells(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32).reshape(-1, THUMB, THUMB)
        padded = np.pad(x, ((0, 0), (1, 1), (1, 1)), mode="edge")
        blur = sum(padded[:, 1 + dy : THUMB + 1 + dy, 1 + dx : THUMB + 1 + dx]
                   for dy in (-1, 0, 1) for dx in (-1, 0, 1)) / 9  # fmt: skip
        high = (x - blur).reshape(-1, 4, 8, 4, 8).transpose(0, 1, 3, 2, 4).reshape(-1, 16, 64)
        centred: np.ndarray = high - high.mean(axis=-1, keepdims=True)
        return centred

    ca, cb = cells(a), cells(b)
    product = (ca * cb).sum(axis=-1)
    norms = np.sqrt((ca * ca).sum(axis=-1) * (cb * cb).sum(axis=-1))
    agree = product >= CELL_CORRELATION * np.maximum(norms, 1e-6)
    return np.asarray(agree.sum(axis=-1), dtype=np.int64)


def _window_of(thumbs: np.ndarray, windows: np.ndarray) -> np.ndarray:
    """(n, 32, 32) float32: each thumbnail resampled to its window (``windows``: (n, 4) cuts)."""
    unique, which = np.unique(windows, axis=0, return_inverse=True)
    rows = np.stack([resampler(THUMB, top, bottom) for _, top, _, bottom in unique.tolist()]).astype(np.float32)
    cols = np.stack([resampler(THUMB, left, right).T for left, _, right, _ in unique.tolist()]).astype(np.float32)
    which = which.ravel()
    out: np.ndarray = rows[which] @ thumbs.astype(np.float32) @ cols[which]
    return out


def _best_cells(thumbs: np.ndarray, windows: np.ndarray, others: np.ndarray) -> np.ndarray:
    """(n,) the most cells that agree (:func:`agreeing_cells`) of each thumbnail cut to its window, or to the
    window moved by :data:`NUDGE` either way across and down, with ``others``: a hypothesis is up to ~3.5 %
    off the real crop, a pixel of the thumbnail, which decorrelates the finest detail of a cell."""
    best = np.zeros(len(thumbs), np.int64)
    for dx, dy in itertools.product((-NUDGE, 0.0, NUDGE), repeat=2):
        moved = np.clip(windows + np.array([dx, dy, -dx, -dy]), 0.0, None)
        best = np.maximum(best, agreeing_cells(_window_of(thumbs, moved), others))
    return best


def _detailed(table: FeatureTable | HashTable) -> np.ndarray:
    return np.ones(len(table), bool) if table.low_detail is None else ~table.low_detail


def _agree(table: FeatureTable | HashTable, i: np.ndarray, j: np.ndarray, least: int,
           windows: np.ndarray | None = None, trimmed: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
    """(n,) bool: the pairs ``(i, j)`` whose thumbnails agree in ``least`` cells or more (``windows``: ``i``'s
    cut to each, nudged; ``trimmed``: compare with ``j``'s trimmed thumbnail), a block of pairs at a time."""
    out = np.zeros(len(i), bool)
    for lo in range(0, len(i), PAIR_BLOCK):
        part = slice(lo, lo + PAIR_BLOCK)
        mine, theirs = table.take(i[part]), table.take(j[part])
        at = np.arange(len(mine))
        other = theirs.full(at)
        if trimmed is not None and trimmed[part].any():
            other[trimmed[part]] = theirs.thumbs[trimmed[part]]
        if windows is None:
            out[part] = agreeing_cells(mine.full(at), other) >= least
        else:
            out[part] = _best_cells(mine.full(at), windows[part], other) >= least
    return out


def _fresh(i: np.ndarray, j: np.ndarray, raw: RawCandidates) -> np.ndarray:
    """Of pairs ``(i, j)``, those of two files that are no candidate of the thumbnail rules (they decided those,
    or the layout filter dropped them: ``matching.stream``)."""
    fresh: np.ndarray = (i != j) & ~raw.contains(i, j)
    return fresh


def _rejected(i: np.ndarray, j: np.ndarray, judged: Judged) -> np.ndarray:
    """Of pairs ``(i, j)``, those the thumbnail rules judged and rejected.  They compare the whole pictures,
    aligned by small shifts and the crop grid of ``matching.near``: a hard crop between those steps (13 % off
    two sides, 20 % off one) disagrees as a whole while one of :data:`CROPS` lies within a few bits of it, and
    its window agrees cell by cell (on the medium phone-edits corpus: crops at 2-6 bits, 104-124 of 255 in
    detail, all fitting on local features)."""
    cand, n = judged.cand, np.int64(len(judged.raw.table))
    lo, hi = np.minimum(cand.i, cand.j).astype(np.int64), np.maximum(cand.i, cand.j).astype(np.int64)
    keys = np.sort(lo[~judged.ok] * n + hi[~judged.ok])
    return np.isin(np.minimum(i, j).astype(np.int64) * n + np.maximum(i, j), keys)


def crop_pairs(table: FeatureTable | HashTable, judged: Judged) -> tuple[np.ndarray, np.ndarray]:
    """Pairs ``(i, j)``: a hard crop of ``i`` (:data:`CROPS`) within :data:`CROP_RADIUS` bits of ``j``'s whole or
    trimmed hash, or the nearest to it within :data:`NEAREST_RADIUS`, agreeing with that thumbnail in part, no
    thumbnail candidate already or one the thumbnail rules rejected (within :data:`CROP_RADIUS`:
    :func:`_rejected`)."""
    files = np.flatnonzero(_detailed(table))
    none = np.zeros(0, np.int64)
    if len(files) < 2:
        return none, none
    m, k = len(files), len(CROPS)
    queries = hypotheses(table, "hard")[files, :k].reshape(-1)
    q, b, d = radius_join(queries, np.concatenate([table.hashes[files], table.trim_hashes[files]]), NEAREST_RADIUS)
    i, j, which, trimmed = files[q // k], files[b % m], q % k, b >= m
    fresh = _fresh(i, j, judged.raw)
    keep = fresh | ((d <= CROP_RADIUS) & _rejected(i, j, judged))
    i, j, which, trimmed, d, fresh = i[keep], j[keep], which[keep], trimmed[keep], d[keep], fresh[keep]
    # Per pair and direction, the closest hypothesis only.
    order = np.lexsort((d, j, i))
    i, j, which, trimmed, d, fresh = i[order], j[order], which[order], trimmed[order], d[order], fresh[order]
    first = np.ones(len(i), bool)
    first[1:] = (i[1:] != i[:-1]) | (j[1:] != j[:-1])
    i, j, which, trimmed, d, fresh = i[first], j[first], which[first], trimmed[first], d[first], fresh[first]
    # Within CROP_RADIUS every pair; beyond it, each copy's nearest original only (of the fresh pairs).
    order = np.lexsort((i, d, ~fresh, j))
    rank = np.empty(len(j), np.int64)
    rank[order] = np.arange(len(j)) - np.searchsorted(j[order], j[order])
    keep = (d <= CROP_RADIUS) | (rank == 0)
    i, j, which, trimmed = i[keep], j[keep], which[keep], trimmed[keep]
    agree = _agree(table, i, j, CROP_MIN_CELLS, np.array(CROPS)[which], trimmed)
    return i[agree], j[agree]


def covered_pairs(table: FeatureTable | HashTable, raw: RawCandidates) -> tuple[np.ndarray, np.ndarray]:
    """Pairs ``(i, j)`` with one quarter (:data:`QUARTERS`) within :data:`COVER_RADIUS` bits of the same quarter,
    agreeing in part, no thumbnail candidate already."""
    n = len(table)
    files = np.flatnonzero(_detailed(table))
    m, none = len(files), np.zeros(0, np.int64)
    if m < 2:
        return none, none
    # One search over every quarter of every file (the pairs of two different quarters left out): at scale the
    # radius search's multi-index hashing is cheaper than one quadratic search per quarter.
    quarters = np.ascontiguousarray(hypotheses(table, "hard")[files, len(CROPS):].T).reshape(-1)
    a, b, _ = radius_pairs(quarters, COVER_RADIUS)
    same = a // m == b // m
    pairs = np.unique(files[a[same] % m].astype(np.int64) * n + files[b[same] % m])
    i, j = pairs // n, pairs % n
    keep = _fresh(i, j, raw)
    i, j = i[keep], j[keep]
    agree = _agree(table, i, j, MIN_CELLS)
    return i[agree], j[agree]


def covered_candidates(table: FeatureTable | HashTable, judged: Judged) -> tuple[np.ndarray, np.ndarray]:
    """The upright candidates the thumbnail rules rejected whose thumbnails agree in part (a caption, a logo):
    the verified ones, and those the layout filter dropped (looked at block by block: ``judged.looked``)."""
    i, j = _agreeing(table, judged.cand, judged.ok)
    return np.concatenate([judged.looked[0], i]), np.concatenate([judged.looked[1], j])


def look_again(table: FeatureTable | HashTable) -> Look:
    """:func:`covered_candidates`' look at a block of candidates the layout filter dropped (all rejected)."""
    return lambda cand: _agreeing(table, cand, np.zeros(len(cand.i), bool))


def _agreeing(table: FeatureTable | HashTable, cand: Candidates, ok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rows = np.flatnonzero(~ok & (cand.transform == 0) & _detailed(table)[cand.i] & _detailed(table)[cand.j])
    i, j = cand.i[rows].astype(np.int64), cand.j[rows].astype(np.int64)
    agree = _agree(table, i, j, MIN_CELLS)
    return i[agree], j[agree]


def partial_pairs(table: FeatureTable | HashTable, judged: Judged) -> tuple[np.ndarray, np.ndarray]:
    """Every pair this module finds (see the module doc), for ``matching.escalate`` to decide on local features."""
    parts = [crop_pairs(table, judged), covered_pairs(table, judged.raw), covered_candidates(table, judged)]
    i, j = (np.concatenate(side).astype(np.int64) for side in zip(*parts))
    return i, j
