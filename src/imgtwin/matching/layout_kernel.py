"""Compiled scoring of candidates on their layout-free vectors (numba; ``matching.layout``).

On a collection whose pictures share a layout the radius searches report millions of
candidates, and each needs up to 28 dot products of 64 numbers (the stored and untrimmed
thumbnails, six crops of either picture, the candidate's dihedral transform applied): numpy
would gather and convert every vector into temporary arrays (~5 us a candidate), a loop here
reads them in place. The loop releases the GIL; ranges of candidates run on
threads, one per core.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit

#: Candidates per thread task.
_TASK = 65_536


@njit(nogil=True, cache=True, inline="always")
def _cosine(vec: np.ndarray, norm: np.ndarray, x: int, vx: int, turned: np.ndarray, y: int, vy: int) -> float:
    """Cosine of variant ``vx`` of file ``x`` with ``turned`` (variant ``vy`` of ``y``, turned); -1 for a zero."""
    total = np.int32(0)
    for k in range(turned.shape[0]):
        total += np.int32(vec[x, vx, k]) * turned[k]
    denominator = norm[x, vx] * norm[y, vy]
    return total / denominator if denominator > 0 else -1.0


@njit(nogil=True, cache=True)
def _scores(vec: np.ndarray, norm: np.ndarray, trimmed: np.ndarray, i: np.ndarray, j: np.ndarray, g: np.ndarray,
            perm: np.ndarray, sign: np.ndarray, inverse: np.ndarray, crops: bool, out: np.ndarray, lo: int, hi: int
            ) -> None:  # fmt: skip
    """``out[p]`` for candidates ``lo..hi``: the best cosine over the pairings (see ``LayoutVectors.correlation``);
    variant 0: as stored, 1: untrimmed, 2...: crops of the untrimmed thumbnail. A turn is orthogonal, so
    ``turned(a, g) . b == a . turned(b, g^-1)``: one side is turned once into a buffer per candidate and
    every variant of the other is read in place."""
    variants, size = vec.shape[1], vec.shape[2]
    turned = np.empty(size, np.int32)  # integers: the sums vectorise (no float reassociation needed)
    for p in range(lo, hi):
        a, b, t = i[p], j[p], g[p]
        best = -1.0
        # b's stored/untrimmed vectors turned back by g^-1, against a's: stored, untrimmed, crops
        for vb in range(2 if trimmed[b] else 1):
            u = inverse[t]
            for k in range(size):
                turned[k] = sign[u, k] * np.int32(vec[b, vb, perm[u, k]])
            for va in range(variants if crops else 2):
                if va != 1 or trimmed[a]:
                    best = max(best, _cosine(vec, norm, a, va, turned, b, vb))
        # a's stored/untrimmed vectors turned by g, against b's crops
        if crops:
            for va in range(2 if trimmed[a] else 1):
                for k in range(size):
                    turned[k] = sign[t, k] * np.int32(vec[a, va, perm[t, k]])
                for vb in range(2, variants):
                    best = max(best, _cosine(vec, norm, b, vb, turned, a, va))
        out[p] = best


def scores(vec: np.ndarray, norm: np.ndarray, trimmed: np.ndarray, i: np.ndarray, j: np.ndarray, g: np.ndarray,
           tables: tuple[np.ndarray, np.ndarray, np.ndarray], crops: bool, threads: int) -> np.ndarray:  # fmt: skip
    """(len(i),) float32: the kernel over all candidates, ranges of them on ``threads`` threads."""
    out = np.empty(len(i), np.float32)
    args = (vec, norm, trimmed, np.ascontiguousarray(i, np.int64), np.ascontiguousarray(j, np.int64),
            np.ascontiguousarray(g, np.int64), *tables, crops, out)
    ranges = [(lo, min(lo + _TASK, len(i))) for lo in range(0, len(i), _TASK)]
    if threads <= 1 or len(ranges) <= 1:
        for lo, hi in ranges:
            _scores(*args, lo, hi)
        return out
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda r: _scores(*args, r[0], r[1]), ranges))
    return out
