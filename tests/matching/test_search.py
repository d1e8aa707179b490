from __future__ import annotations

import numpy as np
import pytest

from imgtwin.matching.search import (
    brute_force_join,
    brute_force_pairs,
    mih_pairs,
    plan_chunks,
    radius_join,
    radius_pairs,
)
from imgtwin.matching.search import _mih


def planted(n: int, seed: int, max_flips: int = 12) -> np.ndarray:
    rng = np.random.default_rng(seed)
    hashes = rng.integers(0, np.iinfo(np.uint64).max, n, dtype=np.uint64, endpoint=True)
    copies = rng.choice(n, n // 5, replace=False)
    sources = rng.integers(0, n, len(copies))
    for c, s in zip(copies, sources):
        noise = 0
        for bit in rng.choice(64, rng.integers(0, max_flips + 1), replace=False):
            noise |= 1 << int(bit)
        hashes[c] = hashes[s] ^ np.uint64(noise)
    return hashes


def same(a, b) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a, b))


@pytest.mark.parametrize("radius", [0, 1, 4, 8, 10, 12])
def test_mih_equals_brute_force(radius):
    hashes = planted(4000, radius)
    expected = brute_force_pairs(hashes, radius)
    assert len(expected[0]) > 0
    assert same(mih_pairs(hashes, radius), expected)


@pytest.mark.parametrize("m", [3, 4, 5, 7, 11, 16])
def test_every_chunking_is_exact(m):
    hashes = planted(3000, m)
    assert same(mih_pairs(hashes, 10, plan_chunks(10, m)), brute_force_pairs(hashes, 10))


def test_join_equals_brute_force():
    hashes = planted(5000, 7)
    rng = np.random.default_rng(8)
    queries = hashes[rng.integers(0, 5000, 2000)] ^ (np.uint64(1) << rng.integers(0, 64, 2000).astype(np.uint64))
    expected = brute_force_join(queries, hashes, 9)
    for m in (3, 4, 6):
        assert same(_mih(hashes, queries, 9, plan_chunks(9, m)), expected)
    assert same(radius_join(queries, hashes, 9), expected)


def test_duplicates_and_output_shape():
    hashes = np.array([5, 5, 5, 7, 2**63], dtype=np.uint64)
    i, j, d = radius_pairs(hashes, 1)
    assert list(zip(i.tolist(), j.tolist(), d.tolist())) == [(0, 1, 0), (0, 2, 0), (0, 3, 1), (1, 2, 0), (1, 3, 1), (2, 3, 1)]
    assert same(mih_pairs(hashes, 1, plan_chunks(1, 3)), (i, j, d))


def test_rejects_bad_input():
    with pytest.raises(ValueError):
        radius_pairs(np.zeros(3, np.uint64), 64)
    with pytest.raises(TypeError):
        radius_pairs(np.zeros(3, np.float64), 3)
