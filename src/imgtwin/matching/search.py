"""Hamming radius search over 64-bit hashes: every pair within ``radius`` bits.

Two engines with identical results (the same set of pairs, the same distances):

* :func:`brute_force_pairs` compares all pairs block by block with numpy
  (``np.bitwise_count`` on XOR); quadratic, but with no Python loop over pairs it
  handles ~20k hashes in about a second.
* :func:`mih_pairs` is multi-index hashing (Norouzi et al.): the 64 bits are cut
  into ``m`` chunks and chunk ``c`` is given a sub-radius ``r_c`` with
  ``sum(r_c + 1) >= radius + 1``.  If two hashes are within ``radius``, at least
  one chunk is within its sub-radius (pigeonhole), so probing each chunk's table
  with every pattern of at most ``r_c`` flipped bits finds all of them; each
  candidate is then checked on the full 64 bits.  Exact, never approximate.
  It runs on one of two engines with the same results: ``compiled``
  (:mod:`imgtwin.matching.mih_kernel`, numba, one thread per core; queries
  sharing a key share their probes and are compared with vector popcounts)
  or ``numpy`` (batched array operations, kept where numba cannot be had and
  as an independent check in the tests).

:func:`radius_pairs` picks brute force or MIH, and the chunking, by a cost
model.  All return ``(i, j, d)`` arrays with ``i < j``, sorted by ``(i, j)``,
each pair once.
"""

from __future__ import annotations

import importlib.util
import itertools
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np

BITS = 64
BRUTE_FORCE_LIMIT = 5_000
_BLOCK = 2048
_PROBE_BATCH_ENTRIES = 12_000_000  # items x probe patterns handled at once (memory bound)

_EMPTY = (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int8))
_BRUTE_SECONDS_PER_PAIR = 1.0e-9  # numpy XOR + bitwise_count + compare, measured on the project machine

Engine = Literal["compiled", "numpy"]


@lru_cache(maxsize=1)
def default_engine() -> Engine:
    """``compiled`` (numba, a dependency) where it is installed, else the numpy engine."""
    return "compiled" if importlib.util.find_spec("numba") is not None else "numpy"


def default_threads() -> int:
    """Cores this process may run on (the compiled engine runs one thread per core)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _as_hashes(hashes: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(hashes)
    if array.dtype != np.uint64:
        if array.dtype.kind not in "iu":
            raise TypeError(f"hashes must be an integer array, not {array.dtype}")
        array = array.astype(np.uint64)
    if array.ndim != 1:
        raise ValueError("hashes must be a 1-D array")
    return array


def _check_radius(radius: int) -> None:
    if not 0 <= radius < BITS:
        raise ValueError(f"radius must be in 0..{BITS - 1}")


def _sorted_result(i: np.ndarray, j: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    order = np.lexsort((j, i))
    return i[order].astype(np.int64), j[order].astype(np.int64), d[order].astype(np.int8)


def brute_force_pairs(hashes: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All pairs ``i < j`` with ``popcount(h[i] ^ h[j]) <= radius``; O(n^2) vectorised."""
    _check_radius(radius)
    h = _as_hashes(hashes)
    n = len(h)
    out_i, out_j, out_d = [], [], []
    for start in range(0, n, _BLOCK):
        rows = h[start : start + _BLOCK]
        # Only columns after the block's first row can pair with it (i < j).
        cols = h[start:]
        dist = np.bitwise_count(rows[:, None] ^ cols[None, :])
        r, c = np.nonzero(dist <= radius)
        i = r + start
        j = c + start
        keep = j > i
        out_i.append(i[keep])
        out_j.append(j[keep])
        out_d.append(dist[r[keep], c[keep]])
    if not out_i:
        return _EMPTY
    return _sorted_result(np.concatenate(out_i), np.concatenate(out_j), np.concatenate(out_d))


@dataclass(frozen=True, slots=True)
class Chunk:
    """One MIH table: ``bits`` bits starting at ``shift``, probed up to ``radius`` flips."""

    shift: int
    bits: int
    radius: int

    def keys(self, hashes: np.ndarray) -> np.ndarray:
        mask = np.uint64((1 << self.bits) - 1)
        return ((hashes >> np.uint64(self.shift)) & mask).astype(np.int32)

    def patterns(self) -> np.ndarray:
        """The probe offsets of this table: every key change of at most ``radius`` bits."""
        return _flip_patterns(self.bits, self.radius)


@lru_cache(maxsize=64)
def _flip_patterns(bits: int, radius: int) -> np.ndarray:
    """Every ``bits``-bit pattern with at most ``radius`` ones (probe offsets)."""
    patterns = [0]
    for k in range(1, radius + 1):
        patterns.extend(sum(1 << b for b in combo) for combo in itertools.combinations(range(bits), k))
    return np.array(patterns, dtype=np.int32)


def plan_chunks(radius: int, m: int) -> tuple[Chunk, ...]:
    """Cut 64 bits into ``m`` chunks; spread ``radius + 1`` 'slots' so sum(r_c + 1) = radius + 1.

    Chunks that get no slot (``m > radius + 1``) are never probed: the others
    already guarantee completeness.  Larger chunks get the larger sub-radii.
    """
    _check_radius(radius)
    if not 3 <= m <= BITS:
        raise ValueError("m must be in 3..64 (chunk tables are direct-addressed: <= 22 bits)")
    sizes = [BITS // m + (1 if c < BITS % m else 0) for c in range(m)]
    slots = [(radius + 1) // m + (1 if c < (radius + 1) % m else 0) for c in range(m)]
    chunks, shift = [], 0
    for size, slot in zip(sizes, slots):
        if slot > 0:
            chunks.append(Chunk(shift, size, min(slot - 1, size)))
        shift += size
    return tuple(chunks)


def _expected_cost(n: int, chunks: tuple[Chunk, ...]) -> float:
    """Rough work of the numpy engine: probes plus candidate pairs (uniform random hashes)."""
    probes = sum(len(_flip_patterns(c.bits, c.radius)) if c.radius <= 4 else 1e12 for c in chunks)
    candidates = sum(
        n * n / 2 * len(_flip_patterns(c.bits, c.radius)) / 2**c.bits if c.radius <= 4 else 1e12 for c in chunks
    )
    return n * probes + 1.5 * candidates


def _compiled_cost(n_table: int, n_queries: int, chunks: tuple[Chunk, ...], self_join: bool) -> float:
    """Expected seconds of the compiled engine (one thread), uniform random hashes.

    Its constants were fitted on the project machine (benchmarks/search_scale.py
    --chunks): a bit-map probe per distinct query key and pattern, a look-up per
    occupied bucket hit, a copy per hash gathered, a vector popcount per
    candidate pair, a row set-up per query and hit list, and the table build
    (per hash and per bucket).
    """
    half = 0.5 if self_join else 1.0
    total = 0.0
    for c in chunks:
        if c.radius > 5:
            return math.inf
        buckets = 2.0**c.bits
        patterns = len(_flip_patterns(c.bits, c.radius))
        runs = buckets * -math.expm1(-n_queries / buckets)  # distinct query keys
        occupancy = -math.expm1(-n_table / buckets)
        hits = runs * patterns * occupancy * half
        gathered = runs * patterns * n_table / buckets * half
        candidates = n_queries * n_table * patterns / buckets * half
        total += (1.0 * runs * patterns + 8.0 * hits + 0.4 * gathered + 0.08 * candidates
                  + 3.0 * n_queries + 15.0 * (n_table + n_queries) + 3.0 * buckets) * 1e-9  # fmt: skip
    return total


def choose_chunks(
    n: int, radius: int, n_queries: int | None = None, engine: Engine | None = None
) -> tuple[Chunk, ...]:
    """The chunking with the least expected work for ``n`` hashes (and ``n_queries`` queries)."""
    engine = engine or default_engine()
    if engine == "compiled":
        q = n if n_queries is None else n_queries
        best = min(range(3, 17), key=lambda m: _compiled_cost(n, q, plan_chunks(radius, m), n_queries is None))
    else:
        best = min(range(3, 17), key=lambda m: _expected_cost(max(n, n_queries or 0), plan_chunks(radius, m)))
    return plan_chunks(radius, best)


def mih_pairs(
    hashes: np.ndarray, radius: int, chunks: tuple[Chunk, ...] | None = None, engine: Engine | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Same pairs as :func:`brute_force_pairs`, via multi-index hashing."""
    _check_radius(radius)
    h = _as_hashes(hashes)
    if len(h) < 2:
        return _EMPTY
    engine = engine or default_engine()
    return _mih(h, None, radius, chunks or choose_chunks(len(h), radius, engine=engine), engine)


def _mih(
    h: np.ndarray,
    queries: np.ndarray | None,
    radius: int,
    chunks: tuple[Chunk, ...],
    engine: Engine | None = None,
    threads: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Self-join of ``h`` (``queries`` None, pairs i < j) or join of ``queries`` x ``h``."""
    if sum(c.radius + 1 for c in chunks) < radius + 1:
        raise ValueError("chunk sub-radii do not cover the radius: results would be incomplete")
    if (engine or default_engine()) == "compiled":
        from imgtwin.matching.mih_kernel import mih_join

        return _sorted_result(*mih_join(h, queries, radius, chunks, threads or default_threads()))
    return _mih_numpy(h, queries, radius, chunks)


def _mih_numpy(
    h: np.ndarray, queries: np.ndarray | None, radius: int, chunks: tuple[Chunk, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The numpy engine: probes materialised pattern-major in batches (no compiler needed)."""
    q = h if queries is None else queries
    all_keys = [c.keys(h) for c in chunks]
    all_qkeys = all_keys if queries is None else [c.keys(q) for c in chunks]
    out_i, out_j, out_d = [], [], []
    for index, chunk in enumerate(chunks):
        keys, qkeys = all_keys[index], all_qkeys[index]
        order = np.argsort(keys, kind="stable").astype(np.int32 if len(h) < 2**31 else np.int64)
        counts = np.bincount(keys, minlength=1 << chunk.bits).astype(np.int32)
        occupied = (counts > 0).view(np.uint8)
        starts = np.concatenate(([0], np.cumsum(counts, dtype=np.int64)[:-1]))
        sorted_hashes = h[order]
        patterns = _flip_patterns(chunk.bits, chunk.radius)
        batch = max(1, _PROBE_BATCH_ENTRIES // len(patterns))
        # Queries in key order, probes pattern-major: each pattern's lookups then
        # sweep the table almost sequentially (cache-friendly gathers).
        query_order = order if queries is None else np.argsort(qkeys, kind="stable")
        if queries is None:
            # Self-join: buckets k and k ^ e are probed from the lower one only,
            # i.e. for a pattern whose highest bit is t, from keys with bit t clear.
            top = np.full(len(patterns), -1, dtype=np.int64)
            top[1:] = np.floor(np.log2(patterns[1:])).astype(np.int64)
            groups = [(None, patterns[:1])] + [(t, patterns[top == t]) for t in range(chunk.bits)]
        else:
            groups = [(None, patterns)]
        for lo in range(0, len(q), batch):
            batch_items = query_order[lo : lo + batch].astype(np.int64)
            for bit, group_patterns in groups:
                if len(group_patterns) == 0:
                    continue
                items = batch_items
                if bit is not None:
                    items = items[(qkeys[items] >> bit) & 1 == 0]
                found = _probe(q, items, qkeys, group_patterns, occupied, counts, starts, order, sorted_hashes, radius)
                if found is None:
                    continue
                i, j, d = found
                if queries is None and bit is None:
                    # Same bucket: each pair is seen from both sides, keep i < j.
                    keep = j > i
                    i, j, d = i[keep], j[keep], d[keep]
                elif queries is None:
                    i, j = np.minimum(i, j), np.maximum(i, j)
                i, j, d = _fresh(i, j, d, index, chunks, all_qkeys, all_keys)
                out_i.append(i)
                out_j.append(j)
                out_d.append(d)
    if not out_i:
        return _EMPTY
    return _sorted_result(np.concatenate(out_i), np.concatenate(out_j), np.concatenate(out_d))


def _fresh(
    i: np.ndarray, j: np.ndarray, d: np.ndarray, index: int, chunks: Sequence[Chunk], all_qkeys: Sequence[np.ndarray],
    all_keys: Sequence[np.ndarray],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Drop pairs an earlier chunk has already reported: each pair exactly once."""
    for previous in range(index):
        pd = np.bitwise_count((all_qkeys[previous][i] ^ all_keys[previous][j]).astype(np.uint64))
        fresh = pd > chunks[previous].radius
        i, j, d = i[fresh], j[fresh], d[fresh]
    return i, j, d


def _probe(
    q: np.ndarray, items: np.ndarray, qkeys: np.ndarray, patterns: np.ndarray, occupied: np.ndarray,
    counts: np.ndarray, starts: np.ndarray, order: np.ndarray, sorted_hashes: np.ndarray, radius: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Pairs (query item, table item, distance) within radius, for one pattern group.

    ``occupied`` is a one-byte-per-bucket map: the probe test gathers from a
    table 4 x smaller than ``counts`` (cache-friendlier), and the hits are found
    by one flat scan; only hit buckets pay for the bucket bookkeeping.
    """
    if len(items) == 0:
        return None
    width = len(items)
    probes = patterns[:, None] ^ qkeys[items][None, :]
    flat = np.flatnonzero(occupied[probes])
    if len(flat) == 0:
        return None
    bucket = probes.reshape(-1)[flat]
    qi = flat % width
    reps = counts[bucket]
    # Expand every (query, bucket) hit into (query, position in bucket order);
    # the distance test runs on the bucket-sorted hashes first, so only the
    # few survivors pay for the index bookkeeping.
    if int(reps.max()) == 1:  # sparse tables (large n): one item per hit bucket
        position = starts[bucket]
        d = np.bitwise_count(q[items[qi]] ^ sorted_hashes[position])
        near = np.flatnonzero(d <= radius)
        return items[qi[near]], order[position[near]].astype(np.int64), d[near]
    ends = np.cumsum(reps)
    total = int(ends[-1])
    hit = np.repeat(np.arange(len(qi), dtype=np.int32), reps)
    position = (starts[bucket] - (ends - reps))[hit] + np.arange(total)
    d = np.bitwise_count(q[items[qi[hit]]] ^ sorted_hashes[position])
    near = np.flatnonzero(d <= radius)
    return items[qi[hit[near]]], order[position[near]].astype(np.int64), d[near]


def brute_force_join(
    queries: np.ndarray, hashes: np.ndarray, radius: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All ``(q, j)`` with ``popcount(queries[q] ^ hashes[j]) <= radius``; O(nq * n)."""
    _check_radius(radius)
    q, h = _as_hashes(queries), _as_hashes(hashes)
    out_i, out_j, out_d = [], [], []
    for start in range(0, len(q), _BLOCK):
        dist = np.bitwise_count(q[start : start + _BLOCK, None] ^ h[None, :])
        r, c = np.nonzero(dist <= radius)
        out_i.append(r + start)
        out_j.append(c)
        out_d.append(dist[r, c])
    if not out_i:
        return _EMPTY
    return _sorted_result(np.concatenate(out_i), np.concatenate(out_j), np.concatenate(out_d))


def _use_brute_force(n_table: int, n_queries: int, self_join: bool, radius: int, engine: Engine
                     ) -> tuple[bool, tuple[Chunk, ...]]:  # fmt: skip
    """Brute force while small, or while MIH would probe more than it saves (wide radii)."""
    pairs = n_table * n_queries / (2 if self_join else 1)
    if pairs <= BRUTE_FORCE_LIMIT**2 // 2:
        return True, ()
    chunks = choose_chunks(n_table, radius, None if self_join else n_queries, engine)
    if engine == "compiled":
        mih_seconds = _compiled_cost(n_table, n_queries, chunks, self_join) / default_threads()
        return pairs * _BRUTE_SECONDS_PER_PAIR < mih_seconds, chunks
    return pairs < 0.3 * _expected_cost(max(n_table, n_queries), chunks), chunks


def radius_join(
    queries: np.ndarray, hashes: np.ndarray, radius: int, engine: Engine | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All (query index, hash index, distance) within ``radius``: brute force or MIH."""
    _check_radius(radius)
    q, h = _as_hashes(queries), _as_hashes(hashes)
    if len(q) == 0 or len(h) == 0:
        return _EMPTY
    engine = engine or default_engine()
    brute, chunks = _use_brute_force(len(h), len(q), False, radius, engine)
    if brute:
        return brute_force_join(q, h, radius)
    return _mih(h, q, radius, chunks, engine)


def radius_pairs(
    hashes: np.ndarray, radius: int, engine: Engine | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All pairs within ``radius`` bits, by brute force when small, else MIH."""
    _check_radius(radius)
    h = _as_hashes(hashes)
    engine = engine or default_engine()
    brute, chunks = _use_brute_force(len(h), len(h), True, radius, engine)
    if brute:
        return brute_force_pairs(h, radius)
    return _mih(h, None, radius, chunks, engine)
