"""One pass of Pillow's 8-bit resampling over many pictures at once, compiled (numba): ``hashing.resample``'s loop.

Apart from ``hashing.resample`` so that numba is imported only by a process that resizes many small pictures
(a scan's worker past its first 20,000 pictures: ``RESIZER``), not by every process that imports the hashing.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from imgtwin.hashing.resample import PRECISION_BITS


@njit(nogil=True, cache=True)
def combine_rows(rows: np.ndarray, first: np.ndarray, count: np.ndarray, coef: np.ndarray) -> np.ndarray:
    """(out, length) uint8: row ``o`` is ``clip8(sum_t rows[first[o] + t] * coef[o, t])``, Pillow's ``clip8``.

    ``rows``: (m, length) uint8, the axis being resampled first and everything else (pictures, the other
    axis, bands) side by side along a row, so the inner loop runs over contiguous values. Sums in 32-bit
    integers from half a unit, shifted by ``PRECISION_BITS`` and clipped: Pillow's own arithmetic.
    """
    out, length = first.shape[0], rows.shape[1]
    result = np.empty((out, length), dtype=np.uint8)
    acc = np.empty(length, dtype=np.int32)
    half = np.int32(1 << (PRECISION_BITS - 1))
    for o in range(out):
        acc[:] = half
        for t in range(count[o]):
            k = coef[o, t]
            row = rows[first[o] + t]
            for j in range(length):
                acc[j] += np.int32(row[j]) * k
        for j in range(length):
            v = acc[j] >> PRECISION_BITS
            result[o, j] = min(max(v, 0), 255)
    return result
