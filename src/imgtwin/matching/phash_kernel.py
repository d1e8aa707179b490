"""The pHash bits of many 8 x 8 DCT blocks, compiled (numba): the hypothesis hashes' threshold step.

``find`` derives ~90 hypothesis hashes of every file (``matching.hashtable``): at a million files that
is 90 million blocks. numpy's rounding, median (a partition or a sort per block of 64) and bit
packing cost 1.4-3.8 us a block on the project machine; this loop, 64 blocks side by side through a
selection network, 0.4-0.6 us in the same runs (docs/benchmarks.md, issue 26 part 2). It computes exactly what ``hashing.dct.threshold_bits`` does
(step 4 of its definition, then step 5), in the blocks' own float type, so the bits are the same:
each coefficient rounded as ``np.round(x, 6)`` rounds (times 10**6, to the nearest even integer,
divided by 10**6), the median as ``np.median`` takes it (the mean of the 32nd and 33rd smallest),
bit 63 the first coefficient's.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit

from imgtwin.hashing.dct import TIE_DECIMALS
from imgtwin.matching.search import default_threads

#: Blocks per thread task.
_TASK = 1 << 16
_CELLS = 64


def _network(n: int) -> list[tuple[int, int]]:
    """Batcher's odd-even merge sort of ``n`` (a power of two) wires as (low, high) comparators, in order."""
    pairs: list[tuple[int, int]] = []
    p = 1
    while p < n:
        k = p
        while k >= 1:
            for j in range(k % p, n - k, 2 * k):
                for i in range(min(k, n - j - k)):
                    if (i + j) // (2 * p) == (i + j + k) // (2 * p):
                        pairs.append((i + j, i + j + k))
            k //= 2
        p *= 2
    return pairs


def _selection(n: int, wanted: tuple[int, ...]) -> np.ndarray:
    """The comparators of ``_network(n)`` that the ``wanted`` outputs depend on, as an (m, 2) array."""
    needed, kept = set(wanted), []
    for low, high in reversed(_network(n)):
        if low in needed or high in needed:
            kept.append((low, high))
            needed |= {low, high}
    return np.array(kept[::-1], np.int64).reshape(-1, 2)


#: What the median needs of a sort of 64 values: the 32nd and 33rd outputs.
_COMPARATORS = _selection(_CELLS, (_CELLS // 2 - 1, _CELLS // 2))
#: Blocks sorted side by side: one comparator is a min and a max over this many lanes (vector instructions).
_LANES = 64


@njit(nogil=True, cache=True)
def _pack(flat: np.ndarray, scale: np.ndarray, pairs: np.ndarray, out: np.ndarray, lo: int, hi: int) -> None:
    """``out[r]`` for rows ``lo..hi`` of the (m, 64) coefficients ``flat``; ``scale``: [10**6, 2] in their type.

    Rows go through a selection network ``_LANES`` at a time, one lane each: no branch on the values."""
    ten, two = scale[0], scale[1]
    values = np.empty((_CELLS, _LANES), flat.dtype)
    wires = np.empty((_CELLS, _LANES), flat.dtype)
    median = np.empty(_LANES, flat.dtype)
    bits = np.empty(_LANES, np.uint64)
    for start in range(lo, hi, _LANES):
        lanes = min(_LANES, hi - start)
        for r in range(lanes):
            for k in range(_CELLS):
                values[k, r] = np.rint(flat[start + r, k] * ten) / ten
        for r in range(lanes, _LANES):
            for k in range(_CELLS):
                values[k, r] = 0
        wires[:] = values
        for c in range(pairs.shape[0]):
            a, b = pairs[c, 0], pairs[c, 1]
            for r in range(_LANES):
                x, y = wires[a, r], wires[b, r]
                wires[a, r] = min(y, x)
                wires[b, r] = max(x, y)
        for r in range(_LANES):
            median[r] = (wires[_CELLS // 2 - 1, r] + wires[_CELLS // 2, r]) / two
            bits[r] = 0
        for k in range(_CELLS):
            for r in range(_LANES):
                bits[r] = (bits[r] << np.uint64(1)) | np.uint64(values[k, r] > median[r])
        for r in range(lanes):
            out[start + r] = bits[r]


def pack_hashes(blocks: np.ndarray) -> np.ndarray:
    """(...) uint64 pHashes of (..., 8, 8) float32 or float64 blocks: ``features.hashes_of_blocks``'s bits."""
    shape = blocks.shape[:-2]
    flat = np.ascontiguousarray(blocks).reshape(-1, _CELLS)
    if flat.dtype not in (np.float32, np.float64):
        flat = flat.astype(np.float64)
    scale = np.array([10.0**TIE_DECIMALS, 2.0], flat.dtype)
    out = np.empty(len(flat), np.uint64)
    m = len(flat)
    if m <= _TASK:
        _pack(flat, scale, _COMPARATORS, out, 0, m)
    else:
        with ThreadPoolExecutor(default_threads()) as pool:
            list(pool.map(lambda lo: _pack(flat, scale, _COMPARATORS, out, lo, min(lo + _TASK, m)), range(0, m, _TASK)))
    return out.reshape(shape)
