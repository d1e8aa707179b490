"""Straightened copies: a thumbnail turned by a few degrees and zoomed to the upright rectangle inside.

The horizon tool every phone gallery offers turns a photo by 1-8 degrees and
crops it to the largest upright rectangle of its own aspect; that moves the
copy's 64-bit pHash 10-30 bits from its original's, beyond the plain and crop
candidates (``matching.near``). Here, as for the crop hypotheses, each file's
stored untrimmed thumbnail is warped the way such a copy would be, for each of
:data:`ANGLES` (no decode: the 32 x 32 thumbnail the scan kept), and hashed:
warp and DCT are one precomputed linear map per angle, applied to blocks of
files. Those hashes are searched within ``radius`` bits of every file's two
hashes (``radius_join``: no loop over pairs), and each candidate is judged like
any other (``near.judge``: detail distance, gradient correlation, colour rules)
on a table that holds the warped thumbnail and colour layout of the one file
against the other as stored (:func:`warped_table`).

Low-detail pictures take no part: turned, a flat picture cannot be told from
another one (the rule ``near`` applies to rotated and mirrored candidates).
The geometry assumes a square picture (the stored thumbnails are squashed to
32 x 32 and matching knows no file's size): on a 3:2 photo turned by 6 degrees
the warp is then off by under a pixel of the thumbnail, which the crop
alignment of the verification absorbs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from imgtwin.hashing.dct import dct_matrix
from imgtwin.hashing.features import COLOUR_THUMB, HASH_SIZE, THUMB
from imgtwin.matching.hashtable import HashTable, hypotheses
from imgtwin.matching.layout import CHUNK_FILES, LayoutVectors, raw_layout, unit
from imgtwin.matching.packing import Packer, pack_hashes
from imgtwin.matching.search import radius_join
from imgtwin.matching.table import FeatureTable

#: Turns tried on every file, in degrees counter-clockwise, each for a landscape and a portrait picture
#: (:data:`ASPECTS`); the verification tries each turn and a degree either side (:data:`REFINE`).
ANGLES = (-8.0, -6.0, -4.0, -2.0, 2.0, 4.0, 6.0, 8.0)
#: Width / height the warp assumes (the thumbnails are squashed to 32 x 32 and matching knows no file's size):
#: a turn of the picture is a sheared one of its thumbnail, by its aspect. 3:2 and 2:3 stand for 4:3 to 16:9
#: (off by under half a pixel of the thumbnail at 6 degrees, which the crop alignment absorbs); warped as a
#: square instead, a third of the straightened copies on the benchmark fail verification.
ASPECTS = (1.5, 1 / 1.5)
HYPOTHESES = tuple((degrees, aspect) for aspect in ASPECTS for degrees in ANGLES)
REFINE = (-1.0, 0.0, 1.0)
#: Files warped and hashed at once (float32 thumbnails: 4 KB a file).
BLOCK = 4096


def zoom(degrees: float, aspect: float = 1.0) -> float:
    """Side of the largest upright rectangle of the picture's aspect inside it turned by ``degrees``, as a
    fraction of the picture's side (what straightening keeps)."""
    t = math.radians(abs(degrees))
    return min(1.0 / (math.cos(t) + math.sin(t) / aspect), 1.0 / (aspect * math.sin(t) + math.cos(t)))


@lru_cache(maxsize=64)
def sampling(size: int, degrees: float, aspect: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """``(index, weight)``, each (size * size, 4): the bilinear taps of the straightened picture's pixels
    in the original's (row-major; ``aspect``: the picture's width / height), read-only: shared."""
    t = -math.radians(degrees)
    s = zoom(degrees, aspect)
    centre = (np.arange(size) + 0.5) / size - 0.5
    v, u = np.meshgrid(centre, centre, indexing="ij")
    # A pixel of the copy at (u, v) shows the original at (x, y) (fractions of the sides from the centre, y down;
    # a turn of the picture's pixels is a sheared one of the squashed thumbnail's).
    x = s * (math.cos(t) * u + math.sin(t) * v / aspect)
    y = s * (-math.sin(t) * aspect * u + math.cos(t) * v)
    px = np.clip((x + 0.5) * size - 0.5, 0, size - 1).ravel()
    py = np.clip((y + 0.5) * size - 0.5, 0, size - 1).ravel()
    x0, y0 = np.floor(px).astype(np.int64), np.floor(py).astype(np.int64)
    x1, y1 = np.minimum(x0 + 1, size - 1), np.minimum(y0 + 1, size - 1)
    fx, fy = px - x0, py - y0
    index = np.stack([y0 * size + x0, y0 * size + x1, y1 * size + x0, y1 * size + x1], axis=1)
    weight = np.stack([(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy], axis=1).astype(np.float32)
    index.setflags(write=False)
    weight.setflags(write=False)
    return index, weight


def warped(x: np.ndarray, degrees: float, aspect: float = 1.0) -> np.ndarray:
    """(n, ..., size, size) float32: each picture of ``x`` straightened by ``degrees``."""
    size = x.shape[-1]
    index, weight = sampling(size, degrees, aspect)
    flat = x.reshape(*x.shape[:-2], size * size).astype(np.float32)
    out = (flat[..., index] * weight).sum(axis=-1)
    result: np.ndarray = out.reshape(x.shape)
    return result


@lru_cache(maxsize=1)
def _hash_maps() -> np.ndarray:
    """(THUMB * THUMB, len(HYPOTHESES) * 64) float32: thumbnail -> the 8 x 8 DCT blocks of its straightened copies."""
    basis = dct_matrix(THUMB)[:HASH_SIZE]
    dct = np.kron(basis, basis)  # (64, THUMB * THUMB): the block of a row-major thumbnail
    maps = [_transposed_warp(THUMB, degrees, aspect, dct.T) for degrees, aspect in HYPOTHESES]
    return np.ascontiguousarray(np.concatenate(maps, axis=1), dtype=np.float32)


def _transposed_warp(size: int, degrees: float, aspect: float, rows: np.ndarray) -> np.ndarray:
    """``W.T @ rows`` for the warp ``W`` of :func:`sampling` (4 taps a pixel, so summed tap by tap: a dense
    ``W`` of 1024 x 1024 made each map cost a product of ~0.1 GFLOP, 16 of them ~1.5 s of every find)."""
    index, weight = sampling(size, degrees, aspect)
    out = np.zeros((size * size, rows.shape[1]), rows.dtype)
    for tap in range(index.shape[1]):
        np.add.at(out, index[:, tap], weight[:, tap, None].astype(rows.dtype) * rows)
    return out


def straightened_hashes(thumbs: np.ndarray, pack: Packer = pack_hashes) -> np.ndarray:
    """(n, len(HYPOTHESES)) uint64: the pHash of each (n, 32, 32) thumbnail straightened by each hypothesis."""
    maps = _hash_maps()
    k = len(HYPOTHESES)
    out = np.empty((len(thumbs), k), dtype=np.uint64)
    for lo in range(0, len(thumbs), BLOCK):
        x = thumbs[lo : lo + BLOCK].reshape(-1, THUMB * THUMB).astype(np.float32)
        blocks = (x @ maps).astype(np.float64).reshape(len(x), k, HASH_SIZE, HASH_SIZE)
        out[lo : lo + BLOCK] = pack(blocks)
    return out


@dataclass(frozen=True, slots=True)
class Straightened:
    """Candidate pairs: ``j``'s picture is ``i``'s straightened by ``HYPOTHESES[angle]`` (hash ``distance`` bits);
    ``turn``: the degrees the verification settled on (0 until then)."""

    i: np.ndarray
    j: np.ndarray
    distance: np.ndarray
    angle: np.ndarray
    turn: np.ndarray | None = None

    def where(self, keep: np.ndarray) -> Straightened:
        turn = None if self.turn is None else self.turn[keep]
        return Straightened(self.i[keep], self.j[keep], self.distance[keep], self.angle[keep], turn)

    def describe(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """How each ``j`` relates to its ``i``, and ``i`` to ``j``, in ``--deep``'s words (``geometry.Fit``)."""
        turns = self.turn if self.turn is not None else np.array([HYPOTHESES[int(k)][0] for k in self.angle])
        crops = [100 * (1 - zoom(float(t), HYPOTHESES[int(k)][1]) ** 2) for t, k in zip(turns, self.angle)]
        return (tuple(f"rotated {t:.0f}°, crop {c:.0f}%" for t, c in zip(turns, crops)),
                tuple(f"rotated {-t:.0f}°, inside a larger frame" for t in turns))


def straightened_candidates(table: FeatureTable | HashTable, radius: int) -> Straightened:
    """Pairs (per two files, the closest hypothesis of each aspect) where a file straightened is within ``radius`` bits
    of another's whole or trimmed hash; low-detail pictures left out (see the module doc)."""
    n = len(table)
    keep = np.ones(n, bool) if table.low_detail is None else ~table.low_detail
    files = np.flatnonzero(keep)
    m, k = len(files), len(HYPOTHESES)
    none = np.empty(0, np.int64)
    if m < 2:
        return Straightened(none, none, none, none)
    queries = hypotheses(table, "straight")[files].reshape(-1)
    q, b, d = radius_join(queries, np.concatenate([table.hashes[files], table.trim_hashes[files]]), radius)
    i, j, angle = files[q // k], files[b % m], q % k
    apart = i != j
    i, j, d, angle = i[apart], j[apart], d[apart].astype(np.int64), angle[apart]
    # Per two files and aspect, the smallest distance, whichever of them was turned: a portrait turned 4 degrees
    # may be as close to a landscape hypothesis of 2 (both are verified, the better alignment counts).
    aspect = angle // len(ANGLES)
    lo, hi = np.minimum(i, j), np.maximum(i, j)
    order = np.lexsort((d, aspect, hi, lo))
    i, j, d, angle, aspect, lo, hi = i[order], j[order], d[order], angle[order], aspect[order], lo[order], hi[order]
    first = np.ones(len(i), bool)
    first[1:] = (lo[1:] != lo[:-1]) | (hi[1:] != hi[:-1]) | (aspect[1:] != aspect[:-1])
    return Straightened(i[first], j[first], d[first], angle[first].astype(np.int64))


def straightened_layout(table: FeatureTable | HashTable, cand: Straightened) -> np.ndarray:
    """Per candidate, the layout-free correlation (``matching.layout``) of ``i`` straightened by its hypothesis
    with ``j`` as stored; :data:`BLOCK` candidates of one hypothesis at a time.

    Each file is read and derived once, not once per candidate (on the 200k mosaic tiles a file is in ~3
    straightened candidates, and reading and deriving both files of every block cost 96 us a candidate): the
    stored vectors of every ``j`` first (128 B a file), then the untrimmed thumbnails of the ``i`` files, a chunk of
    :data:`layout.CHUNK_FILES` at a time (1 KB a file), each warped by the hypotheses of its candidates.
    """
    out = np.empty(len(cand.i), np.float32)
    if not len(out):
        return out
    theirs_files = np.unique(cand.j).astype(np.int64)
    theirs = LayoutVectors.of_rows(table, theirs_files, variants=2)  # ``best`` compares as stored and untrimmed
    at_j = np.searchsorted(theirs_files, cand.j)
    files = np.unique(cand.i).astype(np.int64)
    at_i = np.searchsorted(files, cand.i)
    chunk = at_i // CHUNK_FILES
    for c in np.unique(chunk).tolist():
        held = files[c * CHUNK_FILES : (c + 1) * CHUNK_FILES]
        pixels = np.concatenate([table.take(held[lo : lo + BLOCK]).full(np.arange(len(held[lo : lo + BLOCK])))
                                 for lo in range(0, len(held), BLOCK)])  # fmt: skip
        mine = np.flatnonzero(chunk == c)
        for k in np.unique(cand.angle[mine]).tolist():
            rows = mine[cand.angle[mine] == k]
            for lo in range(0, len(rows), BLOCK):
                part = rows[lo : lo + BLOCK]
                x = pixels[at_i[part] - c * CHUNK_FILES].reshape(len(part), -1).astype(np.float32)
                out[part] = theirs.best(unit(x @ _layout_map(k)), at_j[part])
    return out


@lru_cache(maxsize=len(HYPOTHESES))
def _layout_map(hypothesis: int) -> np.ndarray:
    """(THUMB * THUMB, 64) float32: a row-major thumbnail -> the layout-free vector (``matching.layout``, not yet
    of unit length) of it straightened by ``HYPOTHESES[hypothesis]``; warp and vector are both linear."""
    degrees, aspect = HYPOTHESES[hypothesis]
    result = _transposed_warp(THUMB, degrees, aspect, _layout_matrix())
    result.setflags(write=False)
    return result


@lru_cache(maxsize=1)
def _layout_matrix() -> np.ndarray:
    """(THUMB * THUMB, 64) float32: :func:`layout.raw_layout` of each one-pixel thumbnail (its matrix)."""
    return raw_layout(np.eye(THUMB * THUMB, dtype=np.float32).reshape(-1, THUMB, THUMB))


def warped_table(table: FeatureTable, cand: Straightened) -> tuple[FeatureTable, np.ndarray]:
    """The table pair ``(r, r + len(turns))`` is judged on, and its turn (degrees) per row ``r``.

    For candidate ``c``, rows ``c * len(REFINE) ...``: its ``i`` straightened by its hypothesis' turn and by
    each :data:`REFINE` step off it (thumbnail and colour layout, nothing trimmed); the rows after those: its
    ``j`` as stored, once per step.
    """
    steps = len(REFINE)
    i, j = np.repeat(cand.i, steps), np.repeat(cand.j, steps)
    hypothesis = np.repeat(cand.angle, steps)
    turns = np.array([HYPOTHESES[int(k)][0] for k in hypothesis]) + np.tile(REFINE, len(cand.i))
    aspects = np.array([HYPOTHESES[int(k)][1] for k in hypothesis])
    m = len(i)
    thumbs = np.empty((m, THUMB, THUMB), np.uint8)
    colour = None if table.colour is None else np.empty((m, 2, COLOUR_THUMB, COLOUR_THUMB), np.int8)
    for turn, aspect in sorted(set(zip(turns.tolist(), aspects.tolist()))):
        rows = np.flatnonzero((turns == turn) & (aspects == aspect))
        thumbs[rows] = np.clip(np.rint(warped(table.full(i[rows]), turn, aspect)), 0, 255).astype(np.uint8)
        if colour is not None and table.colour is not None:
            colour[rows] = np.clip(np.rint(warped(table.colour[i[rows]], turn, aspect)), -128, 127).astype(np.int8)

    def both(column: np.ndarray | None, mine: np.ndarray | None = None) -> np.ndarray | None:
        return None if column is None else np.concatenate([column[i] if mine is None else mine, column[j]])

    derived = FeatureTable(
        np.concatenate([table.hashes[i], table.hashes[j]]),
        np.concatenate([table.hashes[i], table.trim_hashes[j]]),
        np.concatenate([thumbs, table.thumbs[j]]),
        np.concatenate([thumbs, table.full(j)]),
        np.concatenate([np.zeros(m, bool), table.trimmed[j] if table.trimmed is not None else np.zeros(m, bool)]),
        colour=None if colour is None else both(table.colour, colour),
        low_detail=both(table.low_detail),
        featureless=both(table.featureless),
        mostly_flat=both(table.mostly_flat),
        trim=both(table.trim, np.tile(np.array([0, 0, 1, 1], np.float32), (m, 1))),
    )
    return derived, turns


def settled(cand: Straightened, detail: np.ndarray, ok: np.ndarray, turns: np.ndarray
            ) -> tuple[Straightened, np.ndarray, np.ndarray]:  # fmt: skip
    """Per two files, of the rows of :func:`warped_table` the one of least detail distance (the verification's
    own way of choosing an alignment): the candidate with its turn, whether it was accepted, its detail."""
    steps = len(REFINE)
    rows = np.argmin(detail.reshape(-1, steps), axis=1) + np.arange(len(detail) // steps) * steps
    lo, hi = np.minimum(cand.i, cand.j), np.maximum(cand.i, cand.j)
    order = np.lexsort((detail[rows], hi, lo))
    first = np.ones(len(order), bool)
    first[1:] = (lo[order][1:] != lo[order][:-1]) | (hi[order][1:] != hi[order][:-1])
    best = order[first]
    return Straightened(cand.i, cand.j, cand.distance, cand.angle, turns[rows]).where(best), ok[rows][best], \
        detail[rows][best]


def straightened_sources(i: np.ndarray, j: np.ndarray, basis: tuple[str, ...]) -> list[tuple[int, int]]:
    """``(source, copy)`` of the straightened matches (``basis`` "straightened"): ``i`` was turned to look like
    ``j``, so ``j`` shows less of the picture, turned, and must never be kept over ``i`` (as a crop or a
    screenshot found by ``--deep``: ``keeper``'s derived tier)."""
    return [(int(a), int(b)) for a, b, kind in zip(i, j, basis) if kind == "straightened"]
