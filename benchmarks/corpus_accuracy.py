"""Accuracy benchmark: imgtwin matching on a corpus made by shared/corpus/make_corpus.py.

Decodes every file once with the scan's loader (StandardImageLoader(512)),
computes ``MatchFeatures``, groups exact duplicates (size + xxh3-128) and near
duplicates (``near_matches`` + keeper-star grouping), writes a prediction and
runs the corpus scorer.  Features are cached (``--cache``) so threshold sweeps
take seconds.

    python benchmarks/corpus_accuracy.py /tmp/corpus-medium --cache /tmp/medium-features.pkl
    python benchmarks/corpus_accuracy.py /tmp/corpus-small --sweep
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import time
from dataclasses import replace

from imgtwin.hashing.features import FEATURES_SPEC, compute_features
from imgtwin.loading.pillow_loader import StandardImageLoader
from imgtwin.matching.exact import exact_groups, exact_labels
from imgtwin.matching.grouping import form_groups
from imgtwin.matching.keeper import FileInfo, keeper_order
from imgtwin.matching.near import FeatureTable, NearParams, near_matches

SCORER = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "corpus", "score.py")


def load(root: str, cache: str | None) -> tuple[list[str], list[FileInfo], list]:
    if cache and os.path.exists(cache):
        with open(cache, "rb") as f:
            cached = pickle.load(f)
        if len(cached) == 4 and cached[3] == FEATURES_SPEC:
            return cached[:3]
        print(f"{cache}: features of another definition, recomputing", file=sys.stderr)
    with open(os.path.join(root, "truth.json"), encoding="utf-8") as f:
        paths = sorted(json.load(f))
    loader = StandardImageLoader(512)
    infos, feats = [], []
    for rel in paths:
        full = os.path.join(root, rel)
        loaded = loader.load(full)
        st = os.stat(full)
        infos.append(FileInfo(full, st.st_size, st.st_mtime_ns, loaded.width, loaded.height, loaded.format))
        feats.append(compute_features(loaded.image))
    if cache:
        with open(cache, "wb") as f:
            pickle.dump((paths, infos, feats, FEATURES_SPEC), f)
    return paths, infos, feats


def predict(paths, infos, table, params: NearParams) -> dict:
    exact = exact_groups((i.path, i.size) for i in infos)
    labels = exact_labels([i.path for i in infos], exact)
    matches, _ = near_matches(table, params)
    groups = form_groups(len(paths), matches, keeper_order(infos), labels)
    return {"groups": [[paths[k] for k in g.indices] for g in groups]}


def score(root: str, prediction: dict, scorer: str) -> dict:
    out = os.path.join("/tmp", f"imgtwin-prediction-{os.getpid()}.json")
    with open(out, "w", encoding="utf-8") as f:
        json.dump(prediction, f)
    run = subprocess.run([sys.executable, scorer, os.path.join(root, "truth.json"), out, "--json"],
                         capture_output=True, text=True, check=True)  # fmt: skip
    return json.loads(run.stdout)


def line(result: dict) -> str:
    a = result["all"]
    o, pc, pt, hn = a["overall"], a["per_category"], a["per_transform"], a["hard_negatives"]
    hard = hn["same_photo"]["false_positives"] + hn["nearmiss"]["false_positives"]

    def r(cell: dict) -> str:
        return "  -  " if cell.get("recall") is None else f"{cell['recall']:.3f}"

    return (f"P={o['precision']:.4f} R={o['recall']:.3f} FP={o['fp']:4d} hardneg={hard:3d} | near R={r(pc['near'])} "
            f"border={r(pt['border'])} crop_edges={r(pt['crop_edges'])} "
            f"resize_jpeg_crop={r(pt['combo_resize_jpeg_crop'])} mirror R={r(pc['mirror'])} "
            f"rotate R={r(pc['rotate'])} exact R={r(pc['exact'])}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus")
    parser.add_argument("--cache", help="pickle of decoded features (created if missing)")
    parser.add_argument("--scorer", default=SCORER)
    parser.add_argument("--sweep", action="store_true", help="also sweep the threshold and stages")
    parser.add_argument("--prediction", help="write the default prediction here")
    args = parser.parse_args()
    t0 = time.perf_counter()
    paths, infos, feats = load(args.corpus, args.cache)
    table = FeatureTable.from_features(feats)
    print(f"{len(paths)} files, features in {time.perf_counter() - t0:.1f} s")
    default = NearParams()
    configs = [("default " + repr(default), default)]
    if args.sweep:
        configs.append(("plain 64-bit hashes only, T=8, no verification",
                        replace(default, threshold=8, rotations=False, crop_threshold=0, max_detail=255)))
        for t in (4, 8, 10):
            configs.append((f"threshold={t}", replace(default, threshold=t)))
        for t in (8, 12):
            configs.append((f"crop_threshold={t}", replace(default, crop_threshold=t)))
        configs.append(("no crop stage", replace(default, crop_threshold=0)))
        configs.append(("no rotations", replace(default, rotations=False)))
        for d in (24, 32):
            configs.append((f"crop_max_detail={d}", replace(default, crop_max_detail=d)))
        for d in (28, 40):
            configs.append((f"max_detail={d}", replace(default, max_detail=d)))
    for label, params in configs:
        t = time.perf_counter()
        prediction = predict(paths, infos, table, params)
        elapsed = time.perf_counter() - t
        if args.prediction and params is default:
            with open(args.prediction, "w", encoding="utf-8") as f:
                json.dump(prediction, f)
        print(f"{label}\n    {line(score(args.corpus, prediction, args.scorer))}  [{elapsed:.1f} s]", flush=True)


if __name__ == "__main__":
    main()
