"""The compiled k-th smallest (``matching.selection``): the DCT block's median every detail bit is cut at.

``bracketed`` must return exactly ``np.partition``'s value (a bit is ``coefficient > median``: any other
value changes bits), whether its sampled bracket holds the k-th value or misses it and falls back.
"""

from __future__ import annotations

import numpy as np
import pytest

from imgtwin.matching.selection import SAMPLE, bracketed, select


def kth(values: np.ndarray, k: int) -> float:
    return float(np.partition(values, k)[k])


def run(values: np.ndarray, k: int) -> float:
    before = values.copy()
    result = bracketed(values, k, np.empty(SAMPLE), np.empty(len(values)))
    np.testing.assert_array_equal(values, before)  # the block's coefficients are read, not reordered
    return result


@pytest.mark.parametrize("seed", range(4))
def test_bracketed_is_the_exact_kth_value_on_blocks_ties_and_small_arrays(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for n in (1, 2, 7, 64, 123, 124, 255, 300):
        arrays = [rng.standard_normal(n) * np.exp(-np.arange(n) / 60),  # a DCT block: large low frequencies
                  rng.integers(0, 4, n).astype(float),  # many ties, the bracket's ends among them
                  np.zeros(n), np.sort(rng.random(n)), -np.sort(rng.random(n))]
        for values in arrays:
            for k in {0, n // 2, n - 1, int(rng.integers(0, n))}:
                assert run(values, k) == kth(values, k)
                scratch = values.copy()
                assert select(scratch, k) == kth(values, k)


def test_a_bracket_that_misses_falls_back_to_the_exact_value() -> None:
    n = 255
    stride = n // SAMPLE
    sampled = np.arange(SAMPLE) * stride + stride // 2
    values = np.linspace(100.0, 200.0, n)
    values[sampled] = np.linspace(0.0, 1.0, SAMPLE)  # the sample holds only the smallest values
    # the bracket [lo, hi] is from the sample: the median lies above hi, so the bracket cannot hold it
    assert run(values, n // 2) == kth(values, n // 2)
    values[sampled] = np.linspace(1000.0, 1001.0, SAMPLE)  # and only the largest
    assert run(values, n // 2) == kth(values, n // 2)
    assert run(values, 3) == kth(values, 3)
