"""Where ``find``'s candidate pairs come from, and how many of each become matches (issue 26).

On an existing index, in one process, the stages of ``matching.near.near_matches`` one by one:
the rows loaded (``matching.indexed.load_rows``; since issue 26 part 2 with the hypothesis hashes derived
while loading), the hash candidates (``candidate_pairs``: plain,
rotated/mirrored and crop hypotheses, each within ``threshold`` or in the extension band beyond
it), the low-detail layout neighbours (``with_flat_candidates``), the straightened hypotheses
(``matching.straighten``), each counted before and after the layout filter
(``matching.layout``: how many it keeps), then verification (``judge``), with each stage's seconds
and the process's peak memory. Per source: candidates, candidates per file, kept by the filter,
accepted pairs, and the least layout correlation of an accepted pair against the filter's bar (the
margin). ``--sample K`` verifies K candidates drawn at random (seeded) instead of all of them, and
scales the accepted counts up (marked ``~``): a large index's full verification takes longer than
the question needs. ``--count-only``: no verification. ``--groups FIND_JSON``: also the least
correlation of a candidate whose two files ``find --json`` put in one group (matched any way: by
the thumbnails, straightened or escalated to local features).

Usage:
    python benchmarks/find_sources.py DB [ROOT ...] [--threshold 6] [--sample K | --count-only]
                                      [--groups FIND_JSON] [--json OUT] [--streamed [--look]]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from imgtwin.matching.candidates import CROP, FLAT, PLAIN, ROTATED, Candidates
from imgtwin.matching.indexed import load_rows
from imgtwin.matching.layout import LayoutRule
from imgtwin.matching.near import (
    NearParams,
    candidate_pairs,
    flat_candidates,
    judge,
    layout_scores,
    with_flat_candidates,
)
from imgtwin.matching.partial import look_again
from imgtwin.matching.straighten import straightened_candidates, straightened_layout
from imgtwin.matching.stream import StreamCounts, streamed_candidates

SOURCES = (("plain", PLAIN), ("rotated/mirrored", ROTATED), ("crop hypotheses", CROP), ("low-detail layout", FLAT))


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Clock:
    """Times a stage: its wall seconds and the process's CPU seconds, by name."""

    def __init__(self, seconds: dict[str, float], cpu: dict[str, float]) -> None:
        self.seconds, self.cpu = seconds, cpu
        self.peak: dict[str, float] = {}  # the process's peak RSS at the end of each stage (MB): where it grew

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        wall, used = time.perf_counter(), time.process_time()
        yield
        self.seconds[name] = time.perf_counter() - wall
        self.cpu[name] = time.process_time() - used
        self.peak[name] = peak_mb()


def _subset(cand: Candidates, rows: np.ndarray) -> Candidates:
    kind = None if cand.kind is None else cand.kind[rows]
    return Candidates(cand.i[rows], cand.j[rows], cand.distance[rows], cand.transform[rows], kind)


def _grouped(path: str | None, rows: list[str]) -> set[tuple[int, int]]:
    """Pairs of rows (i < j) that ``find --json`` at ``path`` put in one group."""
    if path is None:
        return set()
    with open(path, encoding="utf-8") as f:
        groups = json.load(f)["groups"]
    index = {p: k for k, p in enumerate(rows)}
    out: set[tuple[int, int]] = set()
    for group in groups:
        members = sorted(index[m["path"]] for m in group["members"] if m["path"] in index)
        out |= {(a, b) for x, a in enumerate(members) for b in members[x + 1 :]}
    return out


def _source(name: str, band: str, rows: np.ndarray, files: int, score: np.ndarray, bar: np.ndarray,
            accepted: np.ndarray | None, scale: float, grouped: np.ndarray | None) -> dict[str, object]:
    """One line of the report: candidates, kept by the layout filter, accepted, least correlations."""
    kept = rows & (score >= bar)
    out: dict[str, object] = {"source": name, "band": band, "candidates": int(rows.sum()),
                              "per_file": float(rows.sum()) / max(files, 1), "kept": int(kept.sum()),
                              "kept_per_file": float(kept.sum()) / max(files, 1),
                              "bar": float(bar[rows].min()) if np.isfinite(score[rows]).any() else None}
    for key, mask in (("accepted", accepted), ("grouped", grouped)):
        if mask is None:
            continue
        hit = rows & mask
        out[key] = float(hit.sum() * (scale if key == "accepted" else 1))
        out[f"{key}_dropped"] = int((hit & ~kept).sum())
        finite = score[hit][np.isfinite(score[hit])]
        out[f"{key}_least"] = float(finite.min()) if len(finite) else None
    return out


def _progress(files: int) -> Callable[[StreamCounts], None]:
    """Prints the stream's counts, CPU seconds and peak RSS every 20 blocks: a long run read while it goes."""
    start = time.process_time()

    def show(counts: StreamCounts) -> None:
        if counts.blocks % 20 == 0:
            print(f"  block {counts.blocks}: {counts.queried:,} query files of {files:,} (per chunk of targets), "
                  f"{counts.raw:,} raw, {counts.kept:,} kept, {time.process_time() - start:.1f} CPU s, "
                  f"peak {peak_mb():.0f} MB, load {os.getloadavg()[0]:.1f}", flush=True)

    return show


def measure(db: str, roots: list[str], threshold: int, sample: int | None, count_only: bool = False,
            groups: str | None = None, streamed: bool = False, look: bool = False) -> dict[str, Any]:
    """Stage seconds, candidates, kept and accepted pairs per source (see the module doc)."""
    params = NearParams(threshold=threshold)
    seconds: dict[str, float] = {}
    cpu: dict[str, float] = {}  # the process's CPU seconds (all threads): what a shared machine's load hides less
    clock = Clock(seconds, cpu)
    with clock("load"):
        loaded = load_rows(db, roots)
    table, files = loaded.table, len(loaded.table)
    counts: StreamCounts | None = None
    if streamed:
        with clock("low-detail candidates"):
            flat = flat_candidates(table)
        with clock("streamed candidates (search, layout filter)"):
            kept_stream = streamed_candidates(table, params, flat, look_again(table) if look else None,
                                              _progress(files))
        cand, counts = kept_stream.kept, kept_stream.counts
        score, bar = np.full(len(cand.i), np.inf, np.float32), np.zeros(len(cand.i), np.float32)
    else:
        with clock("hash candidates"):
            cand = candidate_pairs(table, params.threshold + params.extension, params.rotations,
                                   crop_radius=params.crop_threshold)
        with clock("low-detail candidates"):
            cand = with_flat_candidates(table, cand)
        with clock("layout filter"):  # the vectors derived per block of candidates
            score, bar = layout_scores(table, params, cand)
    with clock("straightened candidates"):
        turned = straightened_candidates(table, min(params.straight_threshold, params.crop_threshold))
    with clock("straightened filter"):
        turned_score = straightened_layout(table, turned)
    total = len(cand.i)
    judged = np.arange(total)
    if count_only:
        judged = judged[:0]
    elif sample is not None and sample < total:
        judged = np.sort(np.random.default_rng(1).choice(total, sample, replace=False))
    accepted: np.ndarray | None = None
    scale = total / max(len(judged), 1)
    if not count_only:
        with clock("verification"):
            ok, _ = judge(table, params, _subset(cand, judged))
        accepted = np.zeros(total, bool)
        accepted[judged] = ok
    together = _grouped(groups, loaded.paths(range(files)) if groups else [])  # every path: only when asked
    n = np.int64(max(files, 1))

    def grouped_mask(i: np.ndarray, j: np.ndarray) -> np.ndarray | None:
        if groups is None:
            return None
        keys = {int(a) * int(n) + int(b) for a, b in together}
        return np.isin(np.minimum(i, j) * n + np.maximum(i, j), np.fromiter(keys, np.int64, len(keys)))

    kind = cand.kind if cand.kind is not None else np.zeros(total, np.int8)
    beyond = cand.distance > params.threshold
    group_rows = grouped_mask(cand.i, cand.j)
    sources: list[dict[str, Any]] = []
    for name, code in SOURCES:
        for band, mask in (("within threshold", ~beyond), ("extension band", beyond)):
            rows = (kind == code) & mask
            if code in (CROP, FLAT):  # crop hypotheses reach crop_threshold; layout pairs have no hash band
                band = "all"
                rows = kind == code
            if not rows.any() or any(s["source"] == name and s["band"] == band for s in sources):
                continue
            sources.append(_source(name, band, rows, files, score, bar, accepted, scale, group_rows))
    rule = params.layout or LayoutRule()
    sources.append(_source("straightened hypotheses", "all (rows: pair x hypothesis)", np.ones(len(turned.i), bool),
                           files, turned_score, np.full(len(turned.i), rule.hypothesis, np.float32), None, 1.0,
                           grouped_mask(turned.i, turned.j)))
    kept = score >= bar
    if counts is not None:  # the raw candidates were counted, never held
        total = counts.raw
    return {
        "db": db, "files": files, "threshold": threshold, "candidates": total, "per_file": total / max(files, 1),
        "kept": int(kept.sum()), "kept_per_file": float(kept.sum()) / max(files, 1),
        "judged": len(judged), "estimated": len(judged) < total,
        "accepted": None if accepted is None else float(accepted.sum() * scale),
        "pairs_per_s": len(judged) / max(seconds.get("verification", 0.0), 1e-9),
        "pairs_per_cpu_s": len(judged) / max(cpu.get("verification", 0.0), 1e-9), "seconds": seconds,
        "cpu_seconds": cpu, "peak_rss_mb": peak_mb(), "peak_after_mb": clock.peak, "sources": sources, "load_average": os.getloadavg()[0],
        "stream": None if counts is None else {"blocks": counts.blocks, "most_rows": counts.most_rows,
                                               "looked": len(kept_stream.looked[0]) if look else None},
    }


def print_report(result: dict[str, Any]) -> None:
    mark = "~" if result["estimated"] else ""
    accepted = "" if result["accepted"] is None else f"{mark}{result['accepted']:,.0f} accepted; "
    print(f"{result['db']}: {result['files']:,} files, threshold {result['threshold']}, "
          f"{result['candidates']:,} candidates ({result['per_file']:.2f} per file), layout filter keeps "
          f"{result['kept']:,} ({result['kept_per_file']:.2f} per file); {accepted}verified {result['judged']:,} at "
          f"{result['pairs_per_s']:,.0f} pairs/s ({result['pairs_per_cpu_s']:,.0f} per CPU second); "
          f"peak RSS {result['peak_rss_mb']:.0f} MB; load {result['load_average']:.1f}")
    if result.get("stream"):
        print(f"  streamed: {result['stream']['blocks']} blocks, at most {result['stream']['most_rows']:,} search rows "
              f"a block; dropped upright candidates kept by the second look: {result['stream']['looked']}; the "
              "sources below count the kept candidates")
    print("  stages, wall s (CPU s) [peak RSS after, MB]: " + ", ".join(
        f"{k} {v:.1f} ({result['cpu_seconds'][k]:.1f}) [{result['peak_after_mb'][k]:.0f}]"
        for k, v in result["seconds"].items()))
    print("  | source | band | candidates (per file) | kept (per file) | accepted (dropped) | least accepted"
          " / bar | grouped (dropped) | least grouped |")
    print("  |---|---|---|---|---|---|---|---|")

    def num(v: object, fmt: str = ".2f") -> str:
        return "-" if v is None else format(v, fmt)

    for s in result["sources"]:
        acc = "-" if "accepted" not in s else f"{mark}{s['accepted']:,.0f} ({s['accepted_dropped']})"
        grp = "-" if "grouped" not in s else f"{s['grouped']:,.0f} ({s['grouped_dropped']})"
        print(f"  | {s['source']} | {s['band']} | {s['candidates']:,} ({s['per_file']:.3f}) | {s['kept']:,} "
              f"({s['kept_per_file']:.3f}) | {acc} | {num(s.get('accepted_least'))} / {num(s['bar'])} | {grp} "
              f"| {num(s.get('grouped_least'))} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("db")
    parser.add_argument("roots", nargs="*", help="folders whose files take part (default: the whole index)")
    parser.add_argument("--threshold", type=int, default=NearParams().threshold)
    parser.add_argument("--sample", type=int, default=None, help="verify this many candidates drawn at random")
    parser.add_argument("--count-only", action="store_true", help="count the candidates, verify none")
    parser.add_argument("--groups", default=None, help="a find --json output of this index (see the module doc)")
    parser.add_argument("--json", dest="json_path", default=None, help="also write the numbers as JSON")
    parser.add_argument("--streamed", action="store_true", help="the candidates as find makes them, a block at a time")
    parser.add_argument("--look", action="store_true", help="with --streamed: partial's look at the dropped ones")
    args = parser.parse_args()
    if not os.path.isfile(args.db):
        raise SystemExit(f"find_sources: no index at {args.db}")
    result = measure(args.db, [os.path.abspath(r) for r in args.roots], args.threshold, args.sample, args.count_only,
                     args.groups, args.streamed, args.look)
    print_report(result)
    if args.json_path:
        with open(args.json_path, "w", encoding="utf-8") as out:
            json.dump(result, out, indent=1)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
