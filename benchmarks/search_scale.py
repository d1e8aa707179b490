"""Scale benchmark of the Hamming radius search (imgtwin.matching.search).

Builds N synthetic 64-bit hashes: 90 % uniform random, 10 % planted near copies of
random others with 0..radius bit flips (and a few just beyond it).  Times
``radius_pairs`` (MIH above the brute-force limit; best of ``--repeat`` runs),
reports the time ratio to the previous size, the peak memory (tracemalloc, numpy
allocations included), the recall of the planted pairs and the recall against
exact brute force for every pair that involves a random sample of items.

``--workload find`` times instead the three searches ``imgtwin find`` runs on N
files (near/candidate_pairs): pairs among the 2N plain and trimmed hashes
(threshold 6), the 7N rotated/mirrored variants against the N trimmed hashes
(6), and the 6N crop hypotheses against the 2N hashes (crop threshold 10).

    python benchmarks/search_scale.py                 # 100k and 1M, radius 10, both engines
    python benchmarks/search_scale.py --sizes 100000 --radius 8 --sample 1000
    python benchmarks/search_scale.py --workload find --sizes 100000 300000 1000000 --engines compiled
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from functools import partial

import numpy as np

from imgtwin.matching.search import _mih, choose_chunks, default_threads, plan_chunks, radius_join, radius_pairs


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


def best_time(repeat: int, run):  # type: ignore[no-untyped-def]
    """(fastest wall time, last result) over ``repeat`` runs: the least disturbed one."""
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - t0)
    return min(times), result


def scale_table(args: argparse.Namespace) -> None:
    print(f"radius {args.radius}; planted copies: 10 % of N; {default_threads()} threads; best of {args.repeat}")
    print(f"{'engine':>9} {'N':>10} {'chunks (bits:r)':>24} {'time s':>8} {'x prev':>7} {'peak MiB':>9} "
          f"{'pairs':>9} {'planted recall':>15} {'recall vs brute (sample)':>25}")
    for engine in args.engines:
        previous = None
        for n in args.sizes:
            hashes, pa, pb = synthetic(n, args.radius, args.seed)
            if args.chunks:
                chunks = plan_chunks(args.radius, args.chunks)
                search = partial(_mih, hashes, None, args.radius, chunks, engine)
            else:
                chunks = choose_chunks(n, args.radius, engine=engine)
                search = partial(radius_pairs, hashes, args.radius, engine)
            search_small = hashes[: min(n, 6000)]
            radius_pairs(search_small, args.radius, engine)  # warm up: load or compile the kernel
            elapsed, (i, j, _) = best_time(args.repeat, search)
            tracemalloc.start()
            search()
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
            ratio = f"{elapsed / previous:.1f}" if previous else "-"
            previous = elapsed
            print(f"{engine:>9} {n:>10,} {layout:>24} {elapsed:>8.3f} {ratio:>7} {peak / 2**20:>9.0f} {len(i):>9,} "
                  f"{planted_recall:>15.4f} {recall:>10.4f} ({len(truth)} pairs, {exact})", flush=True)


def find_workload(args: argparse.Namespace) -> None:
    print(f"find's searches on N files (synthetic hashes); {default_threads()} threads; best of {args.repeat}")
    print(f"{'engine':>9} {'N files':>10} {'pairs 2N r6':>12} {'join 7N x N r6':>15} {'join 6N x 2N r10':>17} "
          f"{'total s':>8} {'x prev':>7}")
    rng = np.random.default_rng(args.seed)
    for engine in args.engines:
        previous = None
        for n in args.sizes:
            both, _, _ = synthetic(2 * n, 6, args.seed)
            variants = rng.integers(0, np.iinfo(np.uint64).max, 7 * n, dtype=np.uint64, endpoint=True)
            crops = both[rng.integers(0, 2 * n, 6 * n)] ^ (np.uint64(1) << rng.integers(0, 64, 6 * n).astype(np.uint64))
            radius_pairs(both[:6000], 6, engine)
            t1, _ = best_time(args.repeat, partial(radius_pairs, both, 6, engine))
            t2, _ = best_time(args.repeat, partial(radius_join, variants, both[n:], 6, engine))
            t3, _ = best_time(args.repeat, partial(radius_join, crops, both, 10, engine))
            total = t1 + t2 + t3
            ratio = f"{total / previous:.1f}" if previous else "-"
            previous = total
            print(f"{engine:>9} {n:>10,} {t1:>12.2f} {t2:>15.2f} {t3:>17.2f} {total:>8.2f} {ratio:>7}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--radius", type=int, default=10)
    parser.add_argument("--sample", type=int, default=500, help="items checked against brute force")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--chunks", type=int, help="force MIH with this many chunks (default: cost model)")
    parser.add_argument("--engines", nargs="+", choices=["compiled", "numpy"], default=["compiled", "numpy"])
    parser.add_argument("--repeat", type=int, default=3, help="runs per size; the fastest is reported")
    parser.add_argument("--workload", choices=["scale", "find"], default="scale")
    args = parser.parse_args()
    (find_workload if args.workload == "find" else scale_table)(args)


if __name__ == "__main__":
    main()
