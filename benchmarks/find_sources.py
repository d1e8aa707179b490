"""Where ``find``'s candidate pairs come from, and how many of each become matches (issue 26).

On an existing index, in one process, the stages of ``matching.near.near_matches`` one by one:
the rows loaded (``matching.indexed.load_rows``; since issue 26 part 2 with the hypothesis hashes derived
while loading), the hash candidates (``candidate_pairs``: plain,
rotated/mirrored and crop hypotheses, each within ``threshold`` or in the extension band beyond
it), the low-detail layout neighbours (``with_flat_candidates``), the straightened candidates and the
escalation's partial-agreement pairs (``matching.partial``: hard crops, covered quarters), then verification (``judge``),
with each stage's seconds and the process's peak memory. Per source: candidates, candidates per
file, accepted pairs. ``--sample K`` verifies K candidates drawn at random (seeded) instead of all
of them, and scales the accepted counts up (marked ``~``): a large index's full verification at
~2,000 pairs/s takes longer than the question needs.

Usage:
    python benchmarks/find_sources.py DB [ROOT ...] [--threshold 6] [--sample K] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from imgtwin.matching.indexed import load_rows
from imgtwin.matching.near import (
    CROP,
    FLAT,
    PLAIN,
    ROTATED,
    Candidates,
    NearParams,
    candidate_pairs,
    judge,
    with_flat_candidates,
)
from imgtwin.matching.partial import covered_pairs, crop_pairs
from imgtwin.matching.straighten import straightened_candidates

SOURCES = (("plain", PLAIN), ("rotated/mirrored", ROTATED), ("crop hypotheses", CROP), ("low-detail layout", FLAT))


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Clock:
    """Times a stage: its wall seconds and the process's CPU seconds, by name."""

    def __init__(self, seconds: dict[str, float], cpu: dict[str, float]) -> None:
        self.seconds, self.cpu = seconds, cpu

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        wall, used = time.perf_counter(), time.process_time()
        yield
        self.seconds[name] = time.perf_counter() - wall
        self.cpu[name] = time.process_time() - used


def _subset(cand: Candidates, rows: np.ndarray) -> Candidates:
    kind = None if cand.kind is None else cand.kind[rows]
    return Candidates(cand.i[rows], cand.j[rows], cand.distance[rows], cand.transform[rows], kind)


def measure(db: str, roots: list[str], threshold: int, sample: int | None) -> dict[str, object]:
    """Stage seconds, candidates and accepted pairs per source (see the module doc)."""
    params = NearParams(threshold=threshold)
    seconds: dict[str, float] = {}
    cpu: dict[str, float] = {}  # the process's CPU seconds (all threads): what a shared machine's load hides less
    clock = Clock(seconds, cpu)
    with clock("load"):
        loaded = load_rows(db, roots)
    table, files = loaded.table, len(loaded.table)
    with clock("hash candidates"):
        cand = candidate_pairs(table, params.threshold + params.extension, params.rotations,
                               crop_radius=params.crop_threshold)
    with clock("low-detail candidates"):
        cand = with_flat_candidates(table, cand)
    with clock("straightened candidates"):  # the straightened copies' hypotheses
        turned = straightened_candidates(table, min(params.straight_threshold, params.crop_threshold))
    with clock("partial pairs"):  # the escalation's: hard crops and covered quarters, where the thumbnails agree in part
        hard = tuple(np.concatenate(side) for side in zip(crop_pairs(table, cand), covered_pairs(table, cand)))
    total = len(cand.i)
    judged = np.arange(total)
    if sample is not None and sample < total:
        judged = np.sort(np.random.default_rng(1).choice(total, sample, replace=False))
    with clock("verification"):
        ok, _ = judge(table, params, _subset(cand, judged))
    scale = total / max(len(judged), 1)
    kind = cand.kind if cand.kind is not None else np.zeros(total, np.int8)
    beyond = cand.distance > params.threshold
    sources = []
    for name, code in SOURCES:
        for band, mask in (("within threshold", ~beyond), ("extension band", beyond)):
            rows = (kind == code) & mask
            if code in (CROP, FLAT):  # crop hypotheses reach crop_threshold; layout pairs have no hash band
                band = "all"
                rows = kind == code
            count = int(rows.sum())
            if not count or any(s["source"] == name and s["band"] == band for s in sources):
                continue
            sources.append({"source": name, "band": band, "candidates": count, "per_file": count / max(files, 1),
                            "accepted": float(ok[rows[judged]].sum() * scale)})
    return {
        "db": db, "files": files, "threshold": threshold, "candidates": total, "per_file": total / max(files, 1),
        "straightened": len(turned.i), "partial": len(hard[0]), "judged": len(judged), "estimated": len(judged) < total, "accepted": float(ok.sum() * scale),
        "pairs_per_s": len(judged) / max(seconds["verification"], 1e-9),
        "pairs_per_cpu_s": len(judged) / max(cpu["verification"], 1e-9), "seconds": seconds, "cpu_seconds": cpu,
        "peak_rss_mb": peak_mb(), "sources": sources, "load_average": os.getloadavg()[0],
    }


def print_report(result: dict) -> None:
    mark = "~" if result["estimated"] else ""
    print(f"{result['db']}: {result['files']:,} files, threshold {result['threshold']}, "
          f"{result['candidates']:,} candidates ({result['per_file']:.2f} per file; straightened "
          f"{result['straightened']:,}, partial {result['partial']:,}), "
          f"{mark}{result['accepted']:,.0f} accepted; verified {result['judged']:,} at "
          f"{result['pairs_per_s']:,.0f} pairs/s ({result['pairs_per_cpu_s']:,.0f} per CPU second); peak RSS {result['peak_rss_mb']:.0f} MB; "
          f"load {result['load_average']:.1f}")
    print("  stages, wall s (CPU s): " + ", ".join(f"{k} {v:.1f} ({result['cpu_seconds'][k]:.1f})"
                                                  for k, v in result["seconds"].items()))
    print("  | source | band | candidates | per file | accepted |")
    print("  |---|---|---|---|---|")
    for s in result["sources"]:
        print(f"  | {s['source']} | {s['band']} | {s['candidates']:,} | {s['per_file']:.3f} "
              f"| {mark}{s['accepted']:,.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("db")
    parser.add_argument("roots", nargs="*", help="folders whose files take part (default: the whole index)")
    parser.add_argument("--threshold", type=int, default=NearParams().threshold)
    parser.add_argument("--sample", type=int, default=None, help="verify this many candidates drawn at random")
    parser.add_argument("--json", dest="json_path", default=None, help="also write the numbers as JSON")
    args = parser.parse_args()
    if not os.path.isfile(args.db):
        raise SystemExit(f"find_sources: no index at {args.db}")
    result = measure(args.db, [os.path.abspath(r) for r in args.roots], args.threshold, args.sample)
    print_report(result)
    if args.json_path:
        with open(args.json_path, "w", encoding="utf-8") as out:
            json.dump(result, out, indent=1)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
