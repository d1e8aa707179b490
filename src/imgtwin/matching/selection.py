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


SAMPLE = 31  # values sampled to bracket the k-th smallest
REACH = 4  # sample ranks either side of k's: a bracket of about a quarter of the values, missed on few blocks


@njit(nogil=True, cache=True)
def bracketed(values: np.ndarray, k: int, sample: np.ndarray, inside: np.ndarray) -> float:
    """The ``k``-th smallest of ``values`` (left as they are), exactly as :func:`select` finds it, in about a third
    of its time on 255 values.

    Two values of a sorted sample bracket it; one counting pass (SIMD) proves they do, and only the values
    between them (~a third) are selected from; where the bracket misses, :func:`select` on all of them.
    ``sample``/``inside``: scratch of ``SAMPLE`` and ``len(values)`` values.
    """
    n = values.shape[0]
    if n < 4 * SAMPLE:
        inside[:n] = values
        return select(inside[:n], k)
    stride = n // SAMPLE
    for i in range(SAMPLE):  # insertion sort of an even sample
        v = values[i * stride + stride // 2]
        j = i - 1
        while j >= 0 and sample[j] > v:
            sample[j + 1] = sample[j]
            j -= 1
        sample[j + 1] = v
    at = (k * SAMPLE) // n
    lo, hi = sample[max(at - REACH, 0)], sample[min(at + REACH, SAMPLE - 1)]
    below = 0
    upto = 0
    for i in range(n):
        below += values[i] < lo
        upto += values[i] <= hi
    if not below <= k < upto:  # ranks below..upto-1 are exactly the values in [lo, hi]
        inside[:n] = values
        return select(inside[:n], k)
    count = 0
    for i in range(n):  # the values in [lo, hi], without a branch
        v = values[i]
        inside[count] = v
        count += (v >= lo) & (v <= hi)
    return select(inside[:count], k - below)
