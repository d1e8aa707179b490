"""Candidate verification speed: the numpy path against the compiled kernel, on the pairs ``find`` verifies.

Loads a filled index (``imgtwin scan --db``), makes the candidate pairs ``find --db`` would verify at the
given threshold (hash radius, rotations, crops, flat pictures) and times, on them: the kernel alone
(``verify.compiled_scores``, trimmed thumbnails), the share of pairs it hands to the numpy path, the
whole verify call (``near.verify_pairs`` with ``verify.aligned_scores(..., compiled=True)``: trimmed and
untrimmed thumbnails, the kernel and the numpy path for the pairs handed to it) and, unless
``--no-old``, the same call with ``verify.numpy_scores`` (the path every pair took before issue 26),
and whether both gave the same detail distances and windows. Prints pairs, candidates per file,
seconds (process CPU time and wall) and pairs per second. The numba compile (or cache load) is timed
apart, on a few pairs first. Runs against whichever ``imgtwin`` is imported (``PYTHONPATH``), so an
older checkout can be timed with the same script.

Usage (one core, as in docs/benchmarks.md):
    taskset -c 0 python benchmarks/verify_speed.py --db /tmp/medium.db [--threshold 6] [--limit N] [--no-old]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import numpy as np

from imgtwin.matching.indexed import load_rows
from imgtwin.matching.near import NearParams, candidate_pairs, verify_pairs, with_flat_candidates
from imgtwin.matching.table import FeatureTable
from imgtwin.matching.verify import Alignment, aligned_scores, compiled_scores, numpy_scores


def timed(run: Callable[[], Alignment]) -> tuple[Alignment, float, float]:
    """The result, CPU seconds and wall seconds of ``run``."""
    cpu, wall = time.process_time(), time.perf_counter()
    result = run()
    return result, time.process_time() - cpu, time.perf_counter() - wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--threshold", type=int, default=NearParams().threshold)
    parser.add_argument("--limit", type=int, default=0, help="only the first N candidate pairs (0: all)")
    parser.add_argument("--no-old", action="store_true", help="skip the numpy path (slow on many pairs)")
    args = parser.parse_args()

    loaded = load_rows(args.db, []).table
    # an index this old loads as a FeatureTable; a newer one as a HashTable, whose thumbnails stay in the index
    table: FeatureTable = loaded if isinstance(loaded, FeatureTable) else loaded.take(np.arange(len(loaded)))
    params = NearParams(threshold=args.threshold)
    cand = with_flat_candidates(table, candidate_pairs(
        table, params.threshold + params.extension, params.rotations, crop_radius=params.crop_threshold))
    i, j, g = cand.i, cand.j, cand.transform
    if args.limit:
        i, j, g = i[: args.limit], j[: args.limit], g[: args.limit]
    n = len(i)
    print(f"files {len(table)}  candidate pairs {len(cand.i)} ({len(cand.i) / max(len(table), 1):.2f} per file)"
          f"  verified here {n}  threshold {args.threshold}  cpu affinity {sorted(os.sched_getaffinity(0))}"
          f"  load {os.getloadavg()[0]:.2f}")

    _, cpu, wall = timed(lambda: verify_pairs(table, i[:8], j[:8], g[:8], scorer=aligned_scores_forced))
    print(f"kernel compile or cache load: {cpu:.2f} s CPU, {wall:.2f} s wall")
    a, b = table.thumbs[i], table.thumbs[j]
    cpu, wall = time.process_time(), time.perf_counter()
    handed = compiled_scores(a, b, g)[4]
    report("kernel alone (trimmed thumbnails)", n, time.process_time() - cpu, time.perf_counter() - wall)
    print(f"pairs handed to numpy (trimmed thumbnails): {handed.mean():.2%}")
    new, cpu, wall = timed(lambda: verify_pairs(table, i, j, g, scorer=aligned_scores_forced))
    report("whole verify call (kernel + numpy for those handed to it)", n, cpu, wall)
    if args.no_old:
        return
    old, cpu, wall = timed(lambda: verify_pairs(table, i, j, g, scorer=numpy_scores))
    report("whole verify call, numpy path", n, cpu, wall)
    print(f"same detail distances: {np.array_equal(new.detail, old.detail)}"
          f" ({int((new.detail != old.detail).sum())} differ)  correlation max difference"
          f" {float(np.abs(new.correlation - old.correlation).max(initial=0.0)):.2e}"
          f"  windows differ: {int(((new.window_x != old.window_x) | (new.window_y != old.window_y)).sum())}")


def report(what: str, n: int, cpu: float, wall: float) -> None:
    print(f"{what}: {n} pairs  {cpu:.2f} s CPU  {wall:.2f} s wall  {n / max(cpu, 1e-9):,.0f} pairs/s (CPU)"
          f"  {n / max(wall, 1e-9):,.0f} pairs/s (wall)  {cpu / max(n, 1) * 1e6:.1f} us a pair (CPU)")


def aligned_scores_forced(thumbs_a: np.ndarray, thumbs_b: np.ndarray, transforms: np.ndarray) -> Alignment:
    """``aligned_scores`` with the kernel on however few pairs (``find`` uses it from ``COMPILED_PAIRS`` a call)."""
    return aligned_scores(thumbs_a, thumbs_b, transforms, compiled=True)


if __name__ == "__main__":
    main()
