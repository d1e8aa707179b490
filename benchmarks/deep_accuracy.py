"""``find --deep`` against the default ``find`` and a plain pHash, on one corpus, in one run.

Issue 14's tables. On a corpus made with the phone-edits catalog
(``benchmarks/catalog_phone_edits.py``), each of these from an empty index,
as a fresh ``imgtwin`` process, timed end to end (scan + find):

1. ``imgtwin find`` (default);
2. ``imgtwin find --deep``;

then, on the same files, plain ``imagehash.phash`` (after EXIF transpose),
every pair within 10 bits (and 6).  All are scored by
``../shared/corpus/score.py``: precision, hard negatives (same-photo pairs and
near-miss crops), near recall, mirror/rotate recall, recall per transform.
Index growth: bytes of the index file per image, and of the local features.
A second ``find --deep`` on the filled index shows what reuse costs.

    python benchmarks/deep_accuracy.py --corpus /tmp/corpus-medium-deep [--workers 0] [--keep-dbs DIR]
        [--skip-deep] [--no-phash] [--before OLD/src] [--repeat N]

``--before``: the default ``find`` of another source tree too (the code before a change), alternating with
this one, each from an empty index.  Wall and CPU seconds of each run's whole process tree (the scan's
workers included) are printed: on a shared machine the CPU seconds are the steadier measure.

The page cache is warmed first (every file read once), so that the first run
does not pay for the disk.  The machine may be shared: the ratios measured in
one run are what count.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import psutil
from accuracy import SCORER, phash_baseline_groups

NEW_EDITS = ("straighten", "screenshot", "stickers_caption", "crop_hard", "perspective_fix",
             "combo_straighten_social", "combo_screenshot_messenger", "combo_crop_sticker_jpeg")  # fmt: skip


CPU_SECONDS: dict[str, list[float]] = {}  # per run name: CPU seconds of the whole process tree, per round


def timed_find(root: Path, db: Path, out: Path, extra: list[str], workers: int, src: str | None = None,
               name: str = "") -> tuple[dict, float]:  # fmt: skip
    """The document and the wall seconds of one ``imgtwin find`` process (``src``: another source tree
    first on its path, e.g. the code before a change); its process tree's CPU seconds go to CPU_SECONDS."""
    command = [sys.executable, "-m", "imgtwin", "find", str(root), "--db", str(db), "--json", str(out), "-q",
               "--workers", str(workers), *extra]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH")) if p))
    started = time.perf_counter()
    process = psutil.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    cpu: dict[int, float] = {}  # the tree's processes come and go: each one's last reading counts
    while process.poll() is None:
        for member in (process, *_children(process)):
            try:
                times = member.cpu_times()
                cpu[member.pid] = times.user + times.system
            except psutil.Error:
                pass
        time.sleep(0.1)
    elapsed = time.perf_counter() - started
    CPU_SECONDS.setdefault(name, []).append(sum(cpu.values()))
    if process.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)} failed:\n{process.stderr.read() if process.stderr else ''}")
    return json.loads(out.read_text()), elapsed


def _children(process: psutil.Process) -> list[psutil.Process]:
    try:
        return process.children(recursive=True)
    except psutil.Error:
        return []


def score(truth: Path, prediction: dict, tmp: Path, name: str) -> dict:
    path = tmp / f"{name}.prediction.json"
    path.write_text(json.dumps(prediction))
    done = subprocess.run([sys.executable, str(SCORER), str(truth), str(path), "--json"], capture_output=True,
                          text=True, check=True)  # fmt: skip
    return json.loads(done.stdout)


def groups_of(document: dict) -> dict:
    return {"groups": [[m["path"] for m in g["members"]] for g in document["groups"]]}


def index_bytes(db: Path) -> int:
    return sum(os.path.getsize(f"{db}{s}") for s in ("", "-wal") if os.path.exists(f"{db}{s}"))


def local_bytes(db: Path) -> tuple[int, int]:
    with sqlite3.connect(db) as conn:
        try:
            rows, size = conn.execute("SELECT count(*), coalesce(sum(length(data)), 0) FROM local_features").fetchone()
        except sqlite3.OperationalError:
            return 0, 0
    return int(rows), int(size)


def warm(root: Path) -> None:
    for dirpath, _, names in os.walk(root):
        for name in names:
            with open(os.path.join(dirpath, name), "rb") as f:
                while f.read(1 << 20):
                    pass


def summary_row(name: str, result: dict, seconds: float | None, base: float | None, growth: str) -> str:
    a = result["all"]
    o, cats = a["overall"], a["per_category"]
    hard = sum(v["false_positives"] for v in a["hard_negatives"].values())
    t = "-" if seconds is None else f"{seconds:.1f}"
    ratio = "-" if seconds is None or not base else f"{seconds / base:.2f}"
    return (f"| {name} | {o['precision']:.4f} | {hard} | {o['fp']} | {o['recall']:.4f} "
            f"| {cats.get('near', {}).get('recall', 0):.3f} | {cats.get('mirror', {}).get('recall', 0):.3f} "
            f"| {cats.get('rotate', {}).get('recall', 0):.3f} | {t} | {ratio} | {growth} |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--keep-dbs", type=Path, help="keep the indexes and the documents in this folder")
    parser.add_argument("--no-phash", action="store_true")
    parser.add_argument("--repeat", type=int, default=1,
                        help="time default and --deep this many times each, alternating, from empty indexes")
    parser.add_argument("--skip-deep", action="store_true", help="no `find --deep` run")
    parser.add_argument("--before", metavar="SRC", help="also run the default find with this source tree first on "
                        "the path (the code before a change), alternating with the current one")
    args = parser.parse_args()
    root = args.corpus.resolve()
    truth_path = root / "truth.json"
    truth = json.loads(truth_path.read_text())
    files = len(truth)
    warm(root)
    results: dict[str, tuple[dict, float | None, str]] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        default_db, deep_db = tmp / "default.db", tmp / "deep.db"
        runs = [("before", tmp / "before.db", [], args.before)] if args.before else []
        runs += [("default", default_db, [], None)] + ([] if args.skip_deep else [("deep", deep_db, ["--deep"], None)])
        labels = {"before": "imgtwin find (default, before)", "default": "imgtwin find (default)",
                  "deep": "imgtwin find --deep"}
        walls: dict[str, list[float]] = {name: [] for name, *_ in runs}
        for round_ in range(args.repeat):
            for name, db, extra, src in runs:
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{db}{suffix}").unlink(missing_ok=True)
                document, wall = timed_find(root, db, tmp / f"{name}.json", extra, args.workers, src, name)
                walls[name].append(wall)
                if round_ == 0:
                    rows, size = local_bytes(db)
                    growth = f"{index_bytes(db) / files / 1024:.2f} KB"
                    if rows:
                        growth += f" (local features: {rows} rows, {size / rows / 1024:.2f} KB per image)"
                    results[labels[name]] = (score(truth_path, groups_of(document), tmp, name), None, growth)
        for name, seconds in walls.items():
            result, _, growth = results[labels[name]]
            results[labels[name]] = (result, min(seconds), growth)
        default_s = min(walls["default"])
        again_s = None if args.skip_deep else timed_find(root, deep_db, tmp / "deep2.json", ["--deep"], args.workers)[1]
        if not args.no_phash:
            for bits in (10, 6):
                started = time.perf_counter()
                pairs = phash_baseline_groups(root, truth, bits)
                elapsed = time.perf_counter() - started
                results[f"plain pHash, pairs <= {bits} bits"] = (
                    score(truth_path, {"pairs": pairs}, tmp, f"phash{bits}"), elapsed, "-")
        if args.keep_dbs:
            args.keep_dbs.mkdir(parents=True, exist_ok=True)
            for name, db, _, _ in runs:  # each index and its last round's document
                shutil.copy(db, args.keep_dbs / db.name)
                shutil.copy(tmp / f"{name}.json", args.keep_dbs / f"{name}.json")
    meta = json.loads((root / "meta.json").read_text())
    print(f"{root}: {files} files, seed {meta.get('seed')}, catalog {meta.get('catalog')}\n")
    print("| run | P | hard negatives | FP pairs | R | near R | mirror R | rotate R | wall s (empty index) "
          "| x default | index per image |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, (result, seconds, growth) in results.items():
        base = default_s if name.startswith("imgtwin") else None
        print(summary_row(name, result, seconds, base, growth))
    if again_s is not None:
        print(f"\n`find --deep` again on the filled index (nothing to decode): {again_s:.1f} s "
              f"({again_s / default_s:.2f} x the default find from an empty index)")
    print(f"\nFrom an empty index, {args.repeat} run(s) each, alternating (load average now "
          f"{os.getloadavg()[0]:.1f}):")
    for name, seconds in walls.items():
        cpu = CPU_SECONDS.get(name, [])
        print(f"- {labels[name]}: wall {', '.join(f'{w:.1f}' for w in seconds)} s; CPU of the process tree "
              f"{', '.join(f'{c:.1f}' for c in cpu)} s; best wall x default {min(seconds) / default_s:.2f}, "
              f"best CPU x default {min(cpu) / min(CPU_SECONDS['default']):.2f}")
    print()
    names = list(results)
    transforms = sorted(results[names[0]][0]["all"]["per_transform"])
    print("Recall per transform (variant paired with its original); `<` marks the default find behind pHash @ 10:\n")
    print("| transform | n | " + " | ".join(names) + " |")
    print("|---|---|" + "---|" * len(names))
    for t in transforms:
        cells, recalls = [], {}
        for name in names:
            cell = results[name][0]["all"]["per_transform"].get(t, {})
            recall = cell.get("recall")
            recalls[name] = recall
            cells.append("-" if recall is None else f"{recall:.3f}")
        first = results[names[0]][0]["all"]["per_transform"].get(t, {})
        n = first.get("tp", 0) + first.get("fn", 0)
        behind = ""
        phash, mine = recalls.get("plain pHash, pairs <= 10 bits"), recalls["imgtwin find (default)"]
        if phash is not None and mine is not None and mine < phash:
            behind = " <"
        mark = "**" if t in NEW_EDITS else ""
        print(f"| {mark}{t}{mark}{behind} | {n} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
