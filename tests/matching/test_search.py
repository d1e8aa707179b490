from __future__ import annotations

import numpy as np
import pytest

from imgtwin.matching.search import (
    _mih,
    brute_force_join,
    brute_force_pairs,
    mih_pairs,
    plan_chunks,
    radius_join,
    radius_pairs,
)


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


ENGINES = ["compiled", "numpy"]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("radius", [0, 1, 4, 8, 10, 12])
def test_mih_equals_brute_force(radius, engine):
    hashes = planted(4000, radius)
    expected = brute_force_pairs(hashes, radius)
    assert len(expected[0]) > 0
    assert same(mih_pairs(hashes, radius, engine=engine), expected)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("m", [3, 4, 5, 7, 11, 16])
def test_every_chunking_is_exact(m, engine):
    hashes = planted(3000, m)
    assert same(mih_pairs(hashes, 10, plan_chunks(10, m), engine), brute_force_pairs(hashes, 10))


@pytest.mark.parametrize("engine", ENGINES)
def test_join_equals_brute_force(engine):
    hashes = planted(5000, 7)
    rng = np.random.default_rng(8)
    queries = hashes[rng.integers(0, 5000, 2000)] ^ (np.uint64(1) << rng.integers(0, 64, 2000).astype(np.uint64))
    expected = brute_force_join(queries, hashes, 9)
    for m in (3, 4, 6):
        assert same(_mih(hashes, queries, 9, plan_chunks(9, m), engine), expected)
    assert same(radius_join(queries, hashes, 9, engine), expected)


@pytest.mark.parametrize("radius", [6, 10])
def test_engines_agree_above_the_brute_force_limit(radius):
    """Sizes where radius_pairs/radius_join choose MIH: both engines, the same answer."""
    hashes = planted(30_000, radius)
    compiled = radius_pairs(hashes, radius, "compiled")
    assert len(compiled[0]) > 1000
    assert same(compiled, radius_pairs(hashes, radius, "numpy"))
    queries = planted(12_000, radius + 1) ^ np.uint64(0b1011)
    joined = radius_join(queries, hashes, radius, "compiled")
    assert same(joined, radius_join(queries, hashes, radius, "numpy"))


@pytest.mark.parametrize("engine", ENGINES)
def test_duplicates_and_output_shape(engine):
    hashes = np.array([5, 5, 5, 7, 2**63], dtype=np.uint64)
    i, j, d = radius_pairs(hashes, 1)
    assert list(zip(i.tolist(), j.tolist(), d.tolist())) == [(0, 1, 0), (0, 2, 0), (0, 3, 1), (1, 2, 0), (1, 3, 1), (2, 3, 1)]
    assert same(mih_pairs(hashes, 1, plan_chunks(1, 3), engine), (i, j, d))


def test_rejects_bad_input():
    with pytest.raises(ValueError):
        radius_pairs(np.zeros(3, np.uint64), 64)
    with pytest.raises(TypeError):
        radius_pairs(np.zeros(3, np.float64), 3)
