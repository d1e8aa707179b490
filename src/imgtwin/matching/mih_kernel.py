"""Compiled probing loop of multi-index hashing (numba), one chunk table at a time.

numpy has to materialise every (query, flip pattern) probe as an array and then
gather from it; at 1M hashes and radius 10 that is billions of entries pushed
through memory.  Here queries are taken in key order and a run of queries with
the same key probes once: the patterns are tested against a bit map of the
occupied buckets, the hit buckets' hashes are copied side by side, and each
query of the run is compared with all of them in one long loop that LLVM turns
into vector popcounts (AVX-512 ``vpopcntq`` where the CPU has it).  Candidate
checks then cost about 0.1 ns, so denser tables (shorter chunks, fewer probes)
win; ``search._compiled_cost`` models that.  The loops release the GIL, so
ranges of queries run on threads, one per core.

Numba details that matter for speed, each measured: the hot loops call no
function that takes arrays and reassign no array (reference counting), and the
vector loop uses unsigned indices (no negative-index wrap-around, so loads are
contiguous instead of gathers).

The results are exactly those of :func:`imgtwin.matching.search._mih_numpy`
(both tested against brute force): pairs within ``radius``, each reported by the
first chunk that finds it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from llvmlite import ir
from numba import njit, typed, types
from numba.extending import intrinsic


@intrinsic
def _popcount(typingctx, x):  # type: ignore[no-untyped-def]
    """The CPU's popcount instruction (numba has no typed ``np.bitwise_count``)."""
    sig = types.uint64(types.uint64)

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        fn = builder.module.declare_intrinsic("llvm.ctpop", [ir.IntType(64)])
        return builder.call(fn, args)

    return sig, codegen


@njit(nogil=True, cache=True)
def _bits(x: np.uint64) -> np.int64:
    return np.int64(_popcount(x))


@njit(nogil=True, cache=True)
def _grown(a: np.ndarray, size: np.int64) -> np.ndarray:
    b = np.empty(max(size, 2 * len(a)), a.dtype)
    b[: len(a)] = a
    return b


@njit(nogil=True, cache=True)
def _fresh(qi: np.int64, tj: np.int64, prev_qkeys: np.ndarray, prev_tkeys: np.ndarray, prev_radii: np.ndarray) -> bool:
    """True unless an earlier chunk's table already reports this pair."""
    for c in range(prev_radii.shape[0]):
        if _bits(np.uint64(prev_qkeys[c, qi] ^ prev_tkeys[c, tj])) <= prev_radii[c]:
            return False
    return True


_BUFFER = 1 << 14
_BLOCK = 64  # hashes per vector count in the candidate loop


@njit(nogil=True, cache=True)
def _concatenated(blocks: typed.List) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    total = 0
    for block in blocks:
        total += block.shape[1]
    out_q, out_t, out_d = np.empty(total, np.int64), np.empty(total, np.int64), np.empty(total, np.int8)
    at = 0
    for block in blocks:
        width = block.shape[1]
        out_q[at : at + width] = block[0]
        out_t[at : at + width] = block[1]
        out_d[at : at + width] = block[2]
        at += width
    return out_q, out_t, out_d


@njit(nogil=True, cache=True)
def probe_runs(
    qsorted: np.ndarray,  # uint64 (nq,): query hashes in key order
    qkeys_sorted: np.ndarray,  # int32 (nq,): this chunk's key of each, ascending
    qorder: np.ndarray,  # int32/int64 (nq,): query index of each sorted position
    lo: np.int64,
    hi: np.int64,  # sorted positions lo:hi, on key-run boundaries
    self_join: bool,  # queries are the table itself (then qsorted is sorted_hashes)
    starts: np.ndarray,  # int32 (2**bits + 1,): bucket k holds sorted positions starts[k]:starts[k+1]
    occupied: np.ndarray,  # uint64 (2**bits / 64,): bit k set when bucket k is not empty
    sorted_ids: np.ndarray,  # int32/int64: table item of each sorted position
    sorted_hashes: np.ndarray,  # uint64: table hash of each sorted position
    patterns: np.ndarray,  # int32: flip patterns, patterns[0] == 0
    prev_qkeys: np.ndarray,  # int32 (c, nq): earlier chunks' query keys
    prev_tkeys: np.ndarray,  # int32 (c, n): earlier chunks' table keys
    prev_radii: np.ndarray,  # int64 (c,)
    radius: np.int64,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(query, table item, distance) for the queries at sorted positions ``lo:hi``.

    Queries that share a key share their probes: each run of equal keys tests
    the bit map once per pattern, then compares the whole run with each hit
    bucket (contiguous hashes on both sides).  Self-join: a pair in two
    different buckets is reported from the lower bucket only, a pair in one
    bucket once, so each pair comes once, as (smaller index, larger index).
    """
    # Matches go to a fixed buffer, moved to a block list when full: the hot
    # loops call nothing and reassign no array (numba would count references).
    sink = np.empty((3, _BUFFER), np.int64)
    rows = 0
    blocks = typed.List()
    blocks.append(sink[:, :0].copy())
    hits = np.empty(len(patterns), np.int64)
    offsets = np.empty(len(patterns) + 1, np.int64)  # where each hit bucket starts in ``gathered``
    gathered = np.empty(1 << 12, np.uint64)
    run_start = lo
    while run_start < hi:
        key = np.int64(qkeys_sorted[run_start])
        run_end = run_start + 1
        while run_end < hi and qkeys_sorted[run_end] == key:
            run_end += 1
        # The occupied buckets among the probes, by a branch-free loop.  A
        # self-join probes only buckets above its own, and its own bucket first.
        n_hits = 0
        if self_join:
            hits[0] = key
            n_hits = 1
        for t in range(1 if self_join else 0, len(patterns)):
            probe = key ^ np.int64(patterns[t])
            hits[n_hits] = probe
            bit = np.int64((occupied[probe >> 6] >> np.uint64(probe & 63)) & np.uint64(1))
            n_hits += (bit & np.int64(probe > key)) if self_join else bit
        # Copy the hit buckets' hashes side by side (the run's own bucket first,
        # in a self-join), so that each query of the run is compared with all of
        # them in one long loop that the compiler turns into vector popcounts.
        total = 0
        for x in range(n_hits):
            offsets[x] = total
            begin = np.int64(starts[hits[x]])
            size = np.int64(starts[hits[x] + 1]) - begin
            if total + size > len(gathered):
                gathered = _grown(gathered, total + size)
            for b in range(begin, begin + size):  # element by element: slices would count references
                gathered[total] = sorted_hashes[b]
                total += 1
        offsets[n_hits] = total
        for a in range(run_start, run_end):
            h = qsorted[a]
            first = a - run_start + 1 if self_join else 0  # own bucket: only the members after a
            # Blocks of 64: a vector count per block (unsigned indices: no negative-index
            # wrap-around, so contiguous loads), a scalar pass only in blocks with a match.
            # Most queries of a real find match something (their own file's other hashes).
            for block in range(first, total, _BLOCK):
                block_end = min(block + _BLOCK, total)
                close = 0
                for g in range(np.uint64(block), np.uint64(block_end)):
                    close += _bits(h ^ gathered[g]) <= radius
                if close == 0:
                    continue
                for g in range(block, block_end):
                    d = _bits(h ^ gathered[g])
                    if d > radius:
                        continue
                    x = np.searchsorted(offsets[: n_hits + 1], g, side="right") - 1  # g's bucket
                    qi = np.int64(qorder[a])
                    tj = np.int64(sorted_ids[np.int64(starts[hits[x]]) + g - offsets[x]])
                    if not _fresh(qi, tj, prev_qkeys, prev_tkeys, prev_radii):
                        continue
                    if self_join:
                        qi, tj = min(qi, tj), max(qi, tj)
                    sink[0, rows], sink[1, rows], sink[2, rows] = qi, tj, d
                    rows += 1
                    if rows == _BUFFER:
                        blocks.append(sink.copy())
                        rows = 0
        run_start = run_end
    blocks.append(sink[:, :rows].copy())
    return _concatenated(blocks)


@njit(nogil=True, cache=True)
def build_table(hashes: np.ndarray, keys: np.ndarray, bits: np.int64, index_type_probe: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """One chunk's bucket table, in O(n + 2**bits) and without the GIL.

    ``keys`` are the chunk's keys of ``hashes`` (``Chunk.keys``).  Returns (order:
    items in stable key order, keys in that order, hashes in that order, bucket
    starts, occupancy bit map).  ``index_type_probe`` is an empty array of the
    index dtype to use (int32 below 2**31 items).
    """
    n = len(hashes)
    buckets = 1 << bits
    counts = np.zeros(buckets + 1, index_type_probe.dtype)
    for i in range(n):
        counts[keys[i] + 1] += 1
    starts = np.cumsum(counts).astype(index_type_probe.dtype)
    occupied = np.zeros((buckets + 63) // 64, np.uint64)
    for k in range(buckets):
        if starts[k + 1] > starts[k]:
            occupied[k >> 6] |= np.uint64(1) << np.uint64(k & 63)
    fill = starts[:-1].copy()
    order = np.empty(n, index_type_probe.dtype)
    keys_sorted = np.empty(n, np.int32)
    hashes_sorted = np.empty(n, np.uint64)
    for i in range(n):
        k = keys[i]
        at = fill[k]
        order[at] = i
        keys_sorted[at] = k
        hashes_sorted[at] = hashes[i]
        fill[k] = at + 1
    return order, keys_sorted, hashes_sorted, starts, occupied


def mih_join(
    table: np.ndarray,
    queries: np.ndarray | None,
    radius: int,
    chunks: tuple[Any, ...],  # tuple[search.Chunk, ...]
    threads: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unsorted (query, item, distance) within ``radius``; ``queries`` None: self-join, i < j.

    Chunks are pipelined on the thread pool: the next chunk's tables are built
    while this chunk's probes run, and at most two chunks' tables are alive.
    """
    from concurrent.futures import ThreadPoolExecutor

    self_join = queries is None
    q = table if queries is None else queries
    probe = np.empty(0, np.int32 if max(len(table), len(q)) < 2**31 else np.int64)
    tkeys = np.stack([c.keys(table) for c in chunks])
    qkeys = tkeys if self_join else np.stack([c.keys(q) for c in chunks])
    radii = np.array([c.radius for c in chunks], dtype=np.int64)

    def build(index):  # type: ignore[no-untyped-def]
        bits = np.int64(chunks[index].bits)
        tables = build_table(table, tkeys[index], bits, probe)
        return tables, (tables if self_join else build_table(q, qkeys[index], bits, probe))

    parts: list[Any] = []
    with ThreadPoolExecutor(max_workers=threads) as pool:
        pending_build = pool.submit(build, 0)
        previous_jobs: list[Any] = []
        for index, chunk in enumerate(chunks):
            (order, _, sorted_hashes, starts, occupied), (query_order, qkeys_sorted, qsorted, _, _) = (
                pending_build.result()
            )
            parts.extend(job.result() for job in previous_jobs)  # frees the chunk before last
            if index + 1 < len(chunks):
                pending_build = pool.submit(build, index + 1)
            # Pieces for the threads, moved back to the start of a run of equal keys.
            pieces = np.linspace(0, len(q), 4 * threads + 1).astype(np.int64)
            pieces[1:-1] = np.searchsorted(qkeys_sorted, qkeys_sorted[pieces[1:-1]], side="left")
            previous_jobs = [
                pool.submit(
                    probe_runs, qsorted, qkeys_sorted, query_order, pieces[k], pieces[k + 1], self_join, starts,
                    occupied, order, sorted_hashes, chunk.patterns(), qkeys[:index], tkeys[:index], radii[:index],
                    np.int64(radius),
                )
                for k in range(len(pieces) - 1)
                if pieces[k + 1] > pieces[k]
            ]
        parts.extend(job.result() for job in previous_jobs)
    if not parts:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int8)
    return tuple(np.concatenate(column) for column in zip(*parts))  # type: ignore[return-value]
