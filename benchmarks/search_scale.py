"""Scale benchmark of the Hamming radius search (imgtwin.matching.search).

Builds N synthetic 64-bit hashes: 90 % uniform random, 10 % planted near copies of
random others with 0..radius bit flips (and a few just beyond it).  Times
``radius_pairs`` (MIH above the brute-force limit), reports the peak memory
(tracemalloc, numpy allocations included), the recall of the planted pairs and
the recall against exact brute force for every pair that involves a random
sample of items.

    python benchmarks/search_scale.py                 # 100k and 1M, radius 10
    python benchmarks/search_scale.py --sizes 100000 --radius 8 --sample 1000
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np

from imgtwin.matching.search import _mih, choose_chunks, plan_chunks, radius_pairs


def synthetic(n: int, radius: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hashes plus the planted (source, copy) index pairs within ``radius``."""
    rng = np.random.default_rng(seed)
    hashes = rng.integers(0, np.iinfo(np.uint64).max, n, dtype=np.uint64, endpoint=True)
    planted = n // 10
    copies = rng.choice(n, planted, replace=False)
    sources = rng.integers(0, n, planted)
    keep = copies != sources
    copies, sources = copies[keep], sources[keep]
    flips = rng.integers(0, radius + 3, len(copies))  # some beyond the radius on purpose
    noise = np.zeros(len(copies), np.uint64)
    for k in range(len(copies)):
        for bit in rng.choice(64, flips[k], replace=False):
            noise[k] ^= np.uint64(1) << np.uint64(bit)
    hashes[copies] = hashes[sources] ^ noise
    within = np.bitwise_count(hashes[copies] ^ hashes[sources]) <= radius
    return hashes, np.minimum(copies, sources)[within], np.maximum(copies, sources)[within]


def brute_neighbours(hashes: np.ndarray, items: np.ndarray, radius: int) -> set[tuple[int, int]]:
    pairs: set[tuple[int, int]] = set()
    for start in range(0, len(items), 64):
        rows = items[start : start + 64]
        dist = np.bitwise_count(hashes[rows, None] ^ hashes[None, :])
        r, c = np.nonzero(dist <= radius)
        for a, b in zip(rows[r].tolist(), c.tolist()):
            if a != b:
                pairs.add((min(a, b), max(a, b)))
    return pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--radius", type=int, default=10)
    parser.add_argument("--sample", type=int, default=500, help="items checked against brute force")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--chunks", type=int, help="force MIH with this many chunks (default: cost model)")
    args = parser.parse_args()
    print(f"radius {args.radius}; planted copies: 10 % of N")
    print(f"{'N':>10} {'chunks (bits/r)':>24} {'time s':>8} {'peak MiB':>9} {'pairs':>9} "
          f"{'planted recall':>15} {'recall vs brute (sample)':>25}")
    for n in args.sizes:
        hashes, pa, pb = synthetic(n, args.radius, args.seed)
        chunks = plan_chunks(args.radius, args.chunks) if args.chunks else choose_chunks(n, args.radius)
        tracemalloc.start()
        t0 = time.perf_counter()
        if args.chunks:
            i, j, _ = _mih(hashes, None, args.radius, chunks)
        else:
            i, j, _ = radius_pairs(hashes, args.radius)
        elapsed = time.perf_counter() - t0
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        found = set(zip(i.tolist(), j.tolist()))
        planted_recall = np.mean([(a, b) in found for a, b in zip(pa.tolist(), pb.tolist())])
        sample = np.random.default_rng(args.seed + 1).choice(n, min(args.sample, n), replace=False)
        truth = brute_neighbours(hashes, sample, args.radius)
        sample_set = set(sample.tolist())
        mine = {p for p in found if p[0] in sample_set or p[1] in sample_set}
        recall = len(truth & mine) / len(truth) if truth else 1.0
        exact = "identical" if mine == truth else "DIFFERENT"
        layout = "/".join(f"{c.bits}:{c.radius}" for c in chunks) if n > 5000 or args.chunks else "brute force"
        print(f"{n:>10,} {layout:>24} {elapsed:>8.2f} {peak / 2**20:>9.0f} {len(i):>9,} "
              f"{planted_recall:>15.4f} {recall:>10.4f} ({len(truth)} pairs, {exact})")


if __name__ == "__main__":
    main()
