"""Which local features for ``find --deep``: ORB, AKAZE or SIFT, at which size.

For each detector configuration, on a corpus made with the phone-edits
catalog: every file is decoded as the deep pass decodes it, features are
extracted (seconds per image, bytes per image as stored), and every pair that
matters is verified directly with ``matching.geometry.fit_pair`` (no candidate
search, so the detectors are compared on the fit alone):

* true pairs: each variant against its group's original, recall per transform;
* near-miss pairs: a near-miss crop against the original it was shifted from;
* hard negatives: pairs of originals cut from the same photo (same texture,
  no shared pixel), and as many random pairs of unrelated files.

    python benchmarks/local_features.py /tmp/corpus-small-deep --configs orb:224:640 orb:400:640:16 sift:60:640

``detector:keypoints:side[:descriptor bytes]``; AKAZE needs OpenCV < 5 (5.0 moved it to the contrib package).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from imgtwin.hashing.local import LocalFeatures, LocalSpec, extract_local
from imgtwin.matching.geometry import fit_pair
from imgtwin.runs.deep import deep_loader

_SPEC: LocalSpec | None = None


def _init(spec: LocalSpec) -> None:
    global _SPEC
    _SPEC = spec


def _extract(path: str) -> tuple[str, bytes, float, float]:
    assert _SPEC is not None
    t0 = time.perf_counter()
    loaded = deep_loader(_SPEC).load(path)
    t1 = time.perf_counter()
    data = extract_local(loaded.image, _SPEC).to_bytes()
    return path, data, t1 - t0, time.perf_counter() - t1


def pairs_of(truth: dict, seed: int = 1) -> dict[str, list[tuple[str, str]]]:
    by_group: dict[str, list[str]] = defaultdict(list)
    originals: dict[str, str] = {}
    for path, rec in truth.items():
        by_group[rec["group"]].append(path)
        if rec["kind"] == "original":
            originals[rec["group"]] = path
    out: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for path, rec in truth.items():
        if rec["kind"] == "variant" and rec["group"] in originals:
            out[rec["transform"]].append((originals[rec["group"]], path))
        if rec["transform"] == "nearmiss_crop" and rec.get("related") in originals:
            out["NEG nearmiss"].append((originals[rec["related"]], path))
    by_source: dict[str, list[str]] = defaultdict(list)
    for path in originals.values():
        if truth[path]["category"] != "negative":
            by_source[truth[path]["source"]].append(path)
    rng = random.Random(seed)
    for paths in by_source.values():
        for k in range(len(paths) - 1):
            out["NEG same photo"].append((paths[k], paths[k + 1]))
    files = sorted(truth)
    while len(out["NEG random"]) < len(out["NEG same photo"]):
        a, b = rng.sample(files, 2)
        if truth[a]["group"] != truth[b]["group"]:
            out["NEG random"].append((a, b))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--configs", nargs="+", default=["orb:224:640"])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--only", nargs="*", help="transforms to verify (default: all)")
    args = parser.parse_args()
    truth = json.loads((args.corpus / "truth.json").read_text())
    pairs = pairs_of(truth)
    if args.only:
        pairs = {k: v for k, v in pairs.items() if k in args.only or k.startswith("NEG")}
    needed = sorted({p for v in pairs.values() for pair in v for p in pair})
    rows = []
    for config in args.configs:
        detector, count, side, *size = config.split(":")
        spec = LocalSpec(int(count), int(side), detector, int(size[0]) if size else 32)
        started = time.perf_counter()
        with ProcessPoolExecutor(args.workers, initializer=_init, initargs=(spec,)) as pool:
            results = list(pool.map(_extract, [str(args.corpus / p) for p in needed], chunksize=8))
        wall = time.perf_counter() - started
        feats = {os.path.relpath(p, args.corpus): LocalFeatures.from_bytes(d) for p, d, _, _ in results}
        sizes = [len(d) for _, d, _, _ in results]
        decode = sum(r[2] for r in results) / len(results)
        extract = sum(r[3] for r in results) / len(results)
        t0 = time.perf_counter()
        recall = {}
        for name, todo in sorted(pairs.items()):
            found = sum(fit_pair(feats[a], feats[b]) is not None or fit_pair(feats[b], feats[a]) is not None
                        for a, b in todo)
            recall[name] = (found, len(todo))
        verify = (time.perf_counter() - t0) / sum(len(v) for v in pairs.values()) / 2
        rows.append((config, decode, extract, sum(sizes) / len(sizes), max(sizes), verify, recall, wall))
        print(f"{config}: {len(needed)} files in {wall:.1f} s", file=sys.stderr, flush=True)
    names = sorted({n for r in rows for n in r[6]})
    print("| config | decode ms/img | extract ms/img | bytes/img (mean, max) | fit ms/pair | "
          + " | ".join(names) + " |")
    print("|---|---|---|---|---|" + "---|" * len(names))
    for config, decode, extract, mean, top, verify, recall, _ in rows:
        cells = [f"{recall[n][0]}/{recall[n][1]}" if n in recall else "-" for n in names]
        print(f"| {config} | {1000 * decode:.1f} | {1000 * extract:.1f} | {mean:.0f}, {top} | {1000 * verify:.2f} | "
              + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
