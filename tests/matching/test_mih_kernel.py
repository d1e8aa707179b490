"""The compiled MIH engine at its edges: big buckets, many matches, threads, the planner."""

from __future__ import annotations

import numpy as np
import pytest

from imgtwin.matching.search import (
    _compiled_cost,
    _mih,
    brute_force_join,
    brute_force_pairs,
    choose_chunks,
    plan_chunks,
)
from tests.matching.test_search import planted, same


def test_many_identical_hashes_overflow_the_match_buffer():
    # 400 copies of one hash: 79,800 pairs in one bucket, several times the kernel's
    # match buffer, plus near copies one bit away in the neighbouring buckets.
    rng = np.random.default_rng(3)
    hashes = np.concatenate([np.full(400, 0xDEADBEEF12345678, np.uint64),
                             np.uint64(0xDEADBEEF12345678) ^ (np.uint64(1) << np.arange(64, dtype=np.uint64)),
                             rng.integers(0, 2**63, 3000, dtype=np.uint64)])  # fmt: skip
    expected = brute_force_pairs(hashes, 2)
    assert len(expected[0]) > 80_000
    for m in (3, 5):
        assert same(_mih(hashes, None, 2, plan_chunks(2, m), "compiled"), expected)


def test_a_key_shared_by_thousands_of_hashes_grows_the_gather_buffer():
    # 6,000 hashes with the same low 16 bits: one run and one bucket larger than
    # the kernel's initial gather buffer, with matches spread through it.
    rng = np.random.default_rng(4)
    hashes = (rng.integers(0, 2**48, 6000, dtype=np.uint64) << np.uint64(16)) | np.uint64(0x1234)
    hashes[7::7] = hashes[3:-4:7] ^ np.uint64(1 << 40)  # near pairs, 4 apart
    queries = hashes[:500] ^ np.uint64(1 << 63)
    chunks = plan_chunks(3, 4)
    assert same(_mih(hashes, None, 3, chunks, "compiled"), brute_force_pairs(hashes, 3))
    assert same(_mih(hashes, queries, 3, chunks, "compiled"), brute_force_join(queries, hashes, 3))


@pytest.mark.parametrize("threads", [1, 2, 3, 8])
def test_any_thread_count_gives_the_same_pairs(threads):
    hashes = planted(6000, 11)
    queries = planted(2500, 12)
    assert same(_mih(hashes, None, 8, plan_chunks(8, 4), "compiled", threads), brute_force_pairs(hashes, 8))
    assert same(_mih(hashes, queries, 8, plan_chunks(8, 5), "compiled", threads), brute_force_join(queries, hashes, 8))


def test_more_queries_than_hashes_and_single_hash_table():
    hashes = planted(50, 2)
    queries = planted(9000, 3)
    assert same(_mih(hashes, queries, 12, plan_chunks(12, 3), "compiled"), brute_force_join(queries, hashes, 12))
    one = hashes[:1]
    assert same(_mih(one, queries, 20, plan_chunks(20, 3), "compiled"), brute_force_join(queries, one, 20))


@pytest.mark.parametrize("radius", [0, 3, 6, 10, 20, 40, 63])
@pytest.mark.parametrize("n", [10_000, 1_000_000, 100_000_000])
def test_planner_always_covers_the_radius(radius, n):
    for n_queries in (None, 7 * n):
        chunks = choose_chunks(n, radius, n_queries, "compiled")
        assert sum(c.radius + 1 for c in chunks) >= radius + 1
        ends = [c.shift + c.bits for c in chunks]
        assert all(end <= nxt.shift for end, nxt in zip(ends, chunks[1:])) and ends[-1] <= 64


def test_cost_model_prefers_longer_chunks_for_more_hashes():
    """The measured optimum moves from 11-13-bit chunks at 30k-100k to 16 bits at 1M (radius 10)."""
    bits = [max(c.bits for c in choose_chunks(n, 10, engine="compiled")) for n in (30_000, 100_000, 1_000_000)]
    assert bits == sorted(bits) and bits[0] < bits[-1] == 16
    assert _compiled_cost(10**6, 10**6, plan_chunks(10, 4), True) < _compiled_cost(10**6, 10**6, plan_chunks(10, 7), True)
