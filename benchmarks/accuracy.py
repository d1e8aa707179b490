"""Accuracy of ``imgtwin find`` on the shared benchmark corpus, beside plain pHash.

Runs the real command end to end (scan into a fresh index, then ``find --json``),
converts its groups into the scorer's prediction format and scores them with
``../shared/corpus/score.py``: precision / recall / F1 overall, per category and
per transform, and the hard negatives grouped. Then a threshold sweep (``find
--db`` again: the index is reused, nothing is decoded twice), and, in the same
run, the plain baseline: ``imagehash.phash`` after EXIF transpose, every pair
within the default threshold.

Usage:
    python benchmarks/accuracy.py [--preset medium] [--corpus-dir /tmp] [--sweep 0 4 6 8 10 12]
        [--no-baseline]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scan_throughput import SHARED, ensure_corpus

from imgtwin.options import DEFAULT_THRESHOLD

SCORER = SHARED / "corpus" / "score.py"


def run_find(args: list[str], out: Path) -> dict:
    done = subprocess.run([sys.executable, "-m", "imgtwin", "find", *args, "--json", str(out), "-q"],
                          capture_output=True, text=True, check=False)
    if done.returncode not in (0, 1):
        raise SystemExit(done.stderr)
    return json.loads(out.read_text())


def score(truth: Path, groups: list[list[str]], tmp: Path, name: str) -> dict:
    prediction = tmp / f"{name}.json"
    prediction.write_text(json.dumps({"groups": groups}))
    done = subprocess.run([sys.executable, str(SCORER), str(truth), str(prediction), "--json"],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def _phash(path: str) -> tuple[str, int]:
    import imagehash
    from PIL import Image, ImageOps

    with Image.open(path) as image:
        return path, int(str(imagehash.phash(ImageOps.exif_transpose(image))), 16)


def phash_baseline_groups(root: Path, truth: dict, threshold: int) -> list[list[str]]:
    paths = [str(root / rel) for rel in truth]
    with multiprocessing.get_context("forkserver").Pool() as pool:
        hashes = dict(pool.imap_unordered(_phash, paths, chunksize=32))
    values = np.array([hashes[p] for p in paths], dtype=np.uint64)
    pairs = []
    for k in range(len(values)):
        distance = np.bitwise_count(values[k] ^ values[k + 1 :])
        for j in np.nonzero(distance <= threshold)[0]:
            pairs.append([paths[k], paths[k + 1 + int(j)]])
    return pairs


def line(name: str, result: dict) -> str:
    a, b = result["all"], result["without_mirror_rotate"]
    cats = a["per_category"]
    near = cats.get("near", {})
    tr = a["per_transform"]
    hard = sum(v["false_positives"] for v in a["hard_negatives"].values())
    return (f"| {name} | {a['overall']['precision']:.4f} | {a['overall']['recall']:.4f} | {a['overall']['f1']:.4f} "
            f"| {b['overall']['f1']:.4f} | {near.get('recall', 0):.3f} | {tr.get('border', {}).get('recall', 0):.3f} "
            f"| {tr.get('crop_edges', {}).get('recall', 0):.3f} | {cats.get('mirror', {}).get('recall', 0):.3f} "
            f"| {cats.get('rotate', {}).get('recall', 0):.3f} | {a['overall']['fp']} | {hard} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="medium")
    parser.add_argument("--corpus-dir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--sweep", type=int, nargs="*", default=[0, 4, 6, 8, 10, 12])
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args()

    root = ensure_corpus(args.preset, args.corpus_dir)
    truth_path = root / "truth.json"
    truth = json.loads(truth_path.read_text())
    rows = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        db = str(tmp / "index.db")
        document = run_find([str(root), "--db", db, "--no-progress"], tmp / "find.json")
        default = score(truth_path, [[m["path"] for m in g["members"]] for g in document["groups"]], tmp, "default")
        rows.append((f"imgtwin find (default, threshold {DEFAULT_THRESHOLD})", default))
        for threshold in args.sweep:
            if threshold == DEFAULT_THRESHOLD:
                continue
            doc = run_find(["--db", db, "--threshold", str(threshold)], tmp / f"t{threshold}.json")
            groups = [[m["path"] for m in g["members"]] for g in doc["groups"]]
            rows.append((f"imgtwin find --threshold {threshold}", score(truth_path, groups, tmp, f"t{threshold}")))
        doc = run_find(["--db", db, "--no-rotations"], tmp / "norot.json")
        groups = [[m["path"] for m in g["members"]] for g in doc["groups"]]
        rows.append(("imgtwin find --no-rotations", score(truth_path, groups, tmp, "norot")))
        if not args.no_baseline:
            pairs = phash_baseline_groups(root, truth, DEFAULT_THRESHOLD)
            prediction = tmp / "phash.json"
            prediction.write_text(json.dumps({"pairs": pairs}))
            done = subprocess.run([sys.executable, str(SCORER), str(truth_path), str(prediction), "--json"],
                                  capture_output=True, text=True, check=True)
            rows.append((f"plain imagehash.phash, pairs <= {DEFAULT_THRESHOLD} bits", json.loads(done.stdout)))

    print(f"{args.preset} corpus: {len(truth)} files, seed {json.loads((root / 'meta.json').read_text()).get('seed')}\n")
    print("| run | P | R | F1 | F1 w/o mirror+rotate | near R | border R | crop_edges R | mirror R | rotate R "
          "| FP pairs | hard negatives |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, result in rows:
        print(line(name, result))
    print("\nPer transform at the default settings (recall = variants paired with their original):\n")
    print("| transform | TP | FN | FP | recall |")
    print("|---|---|---|---|---|")
    for name, t in sorted(default["all"]["per_transform"].items()):
        recall = t.get("recall")
        print(f"| {name} | {t['tp']} | {t['fn']} | {t['fp']} | {'-' if recall is None else f'{recall:.3f}'} |")


if __name__ == "__main__":
    main()
