"""The k-th smallest of a small float array, compiled (numba): the median of a DCT block without a sort."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(nogil=True, cache=True)
def select(values: np.ndarray, k: int) -> float:
    """The ``k``-th smallest of ``values`` (reordered in place, as a partition): branch-free Lomuto steps."""
    lo, hi = 0, values.shape[0] - 1
    while hi - lo > 8:
        mid = (lo + hi) // 2
        x, y, z = values[lo], values[mid], values[hi]
        pivot = max(min(x, y), min(max(x, y), z))
        # three-way split: below, equal, above
        store = lo
        for i in range(lo, hi + 1):
            v = values[i]
            less = v < pivot
            t = values[store]
            values[store] = v if less else t
            values[i] = t if less else v
            store += less
        equal = store
        for i in range(store, hi + 1):
            v = values[i]
            same = v == pivot
            t = values[equal]
            values[equal] = v if same else t
            values[i] = t if same else v
            equal += same
        if k < store:
            hi = store - 1
        elif k < equal:
            return float(pivot)
        else:
            lo = equal
    for i in range(lo + 1, hi + 1):  # insertion sort of the rest
        v = values[i]
        j = i - 1
        while j >= lo and values[j] > v:
            values[j + 1] = values[j]
            j -= 1
        values[j + 1] = v
    return float(values[k])
