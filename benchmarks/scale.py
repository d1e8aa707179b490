"""Every size, end to end: scan and ``find --db`` on many small real-photo tiles, and byte copies.

Two workloads, each through the real command line (fresh processes, Python start-up
included), each with the peak resident memory of the whole process tree:

* **tiles**: N small, distinct tiles cut from ``../shared/corpus/photos`` at random
  places and scales (the shape of a thumbnail cache or a web archive: 96-320 px JPEGs,
  some PNGs), with planted copies: 1 % byte copies and 1 % re-encoded, slightly
  shrunk copies, in other folders. Per N: the decode-only floor measured in the same
  run (one process per core that only decodes each file to 64 px), ``imgtwin scan``,
  ``imgtwin find --db`` (twice: the first run also makes the keeper's upscale checks),
  the index size, and whether the planted copies were grouped.
* **copies**: the medium corpus alone, then the corpus plus 30 % of its files
  byte-copied into a backup folder (real copies, not links), each scanned into a
  fresh index; with the medium corpus's decode floor.

Usage:
    python benchmarks/scale.py [--sizes 20000 200000] [--million] [--no-copies] [--no-tiles]
        [--work /tmp/scale-bench] [--keep] [--tiles-dir /tmp/mosaic-200k ...] [--scan-only]
    python benchmarks/scale.py --index DB [--index DB2 ...] [--sample K]   # find on filled indexes only

``--index``: ``find --db`` on an index already filled (the mosaic sets of issue 26, scanned
once), through the command line: its time and the process tree's peak memory, the groups, the
index's size per file, then (``find_sources.py``, another process) the candidates per file by
source and the verified pairs per second (``--sample K``: verify K candidates drawn at random).

N = 1,000,000 runs only with ``--million`` (about 9 GB of tiles and 2.4 GB of index:
never in CI). ``--find-timeout`` stops a ``find --db`` that runs longer (reported as such). Tiles are made once per N under --work and reused (seeded: the same
files every time); the backup copy of the medium corpus is deleted after its run.
``--tiles-dir`` measures folders made elsewhere instead (``../shared/corpus/make_tiles.py PHOTOS OUT N
--mosaic``: issue 26's sets); ``--scan-only`` leaves ``find`` out; ``--costs DIR`` only splits a tiny
file's worker time into its stages, in one process. The scan's and the floor's CPU seconds
(whole process trees) are reported beside their wall times: on a shared machine they say more.
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import os
import platform
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scan_throughput import SHARED, TreeRssSampler, ensure_corpus, floor_decode, image_files, warm_cache

from imgtwin.config import cpu_count

PHOTOS = SHARED / "corpus" / "photos"
FILES_PER_FOLDER = 1000
BYTE_COPY_SHARE = 0.01
REENCODE_SHARE = 0.01
BACKUP_SHARE = 0.30
MILLION = 1_000_000


# --- tiles ------------------------------------------------------------------------------------------------


def _photos() -> list[Path]:
    return sorted(p for p in PHOTOS.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))


def _tile(photo: Image.Image, rng: random.Random) -> Image.Image:
    """A region at a random place and scale, resized to a thumbnail's size."""
    width, height = photo.size
    short = min(width, height)
    side = int(short * rng.uniform(0.04, 0.75))  # the region's longer side, in source pixels
    aspect = rng.uniform(0.6, 1.6)
    w, h = (side, max(16, int(side / aspect))) if aspect >= 1 else (max(16, int(side * aspect)), side)
    w, h = min(w, width), min(h, height)
    x, y = rng.randrange(0, width - w + 1), rng.randrange(0, height - h + 1)
    longest = rng.randint(96, 320)
    scale = longest / max(w, h)
    size = (max(8, round(w * scale)), max(8, round(h * scale)))
    return photo.crop((x, y, x + w, y + h)).resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def _encode(image: Image.Image, rng: random.Random) -> tuple[bytes, str]:
    out = io.BytesIO()
    if rng.random() < 0.05:
        image.save(out, "PNG", optimize=False)
        return out.getvalue(), ".png"
    image.save(out, "JPEG", quality=rng.randint(70, 92))
    return out.getvalue(), ".jpg"


def _make_tiles(job: tuple[int, int, int, str, str]) -> list[tuple[str, str]]:
    """Tiles ``start .. start + count`` from one photo; returns the planted (original, copy) pairs."""
    start, count, seed, photo_path, root = job
    rng = random.Random(f"{seed}-{start}")
    with Image.open(photo_path) as opened:
        photo = opened.convert("RGB")
    planted = []
    for k in range(start, start + count):
        tile = _tile(photo, rng)
        data, suffix = _encode(tile, rng)
        path = Path(root) / "cache" / f"{k // FILES_PER_FOLDER:04d}" / f"t{k:07d}{suffix}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        roll = rng.random()
        if roll < BYTE_COPY_SHARE:
            copy = Path(root) / "copies" / f"{k // FILES_PER_FOLDER:04d}" / f"c{k:07d}{suffix}"
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_bytes(data)
            planted.append((str(path), str(copy)))
        elif roll < BYTE_COPY_SHARE + REENCODE_SHARE:
            smaller = tile.resize((max(8, tile.width * 7 // 8), max(8, tile.height * 7 // 8)),
                                  Image.Resampling.LANCZOS)
            out = io.BytesIO()
            smaller.convert("RGB").save(out, "JPEG", quality=rng.randint(60, 80))
            copy = Path(root) / "reencoded" / f"{k // FILES_PER_FOLDER:04d}" / f"r{k:07d}.jpg"
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_bytes(out.getvalue())
            planted.append((str(path), str(copy)))
    return planted


def ensure_tiles(work: Path, n: int, seed: int = 1) -> tuple[Path, dict[str, list[tuple[str, str]]]]:
    """N tiles (plus planted copies) under ``work/tiles-N``, made once; and the planted pairs by kind."""
    root = work / f"tiles-{n}"
    manifest = root / "planted.json"
    if manifest.exists():
        return root, json.loads(manifest.read_text())
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    photos = _photos()
    per_job = 250
    jobs = [(start, min(per_job, n - start), seed, str(photos[(start // per_job) % len(photos)]), str(root))
            for start in range(0, n, per_job)]
    print(f"making {n} tiles in {root} ...", file=sys.stderr, flush=True)
    started = time.perf_counter()
    with multiprocessing.get_context("forkserver").Pool(cpu_count()) as pool:
        pairs = [p for chunk in pool.imap_unordered(_make_tiles, jobs) for p in chunk]
    planted = {"byte copies": sorted(p for p in pairs if "/copies/" in p[1]),
               "re-encoded": sorted(p for p in pairs if "/reencoded/" in p[1])}
    manifest.write_text(json.dumps(planted))
    print(f"  made in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    return root, planted


# --- measuring --------------------------------------------------------------------------------------------


@dataclass
class Run:
    name: str
    seconds: float
    peak_rss_mb: float
    returncode: int
    stdout: str
    stderr: str
    timed_out: bool = False
    cpu_s: float = 0.0  # of the whole process tree (TreeRssSampler: a lower bound, within 50 ms a process)


def command(name: str, args: list[str], timeout: float | None = None) -> Run:
    env = {**os.environ}
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "imgtwin", *args], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env)
    rss = TreeRssSampler(process.pid).start()
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        return Run(name, time.perf_counter() - started, rss.stop() / 1e6, -9, out, err, timed_out=True,
                   cpu_s=rss.cpu_s)
    seconds = time.perf_counter() - started
    peak = rss.stop()
    if process.returncode not in (0, 1):
        raise SystemExit(f"{name} failed ({process.returncode}):\n{err}")
    return Run(name, seconds, peak / 1e6, process.returncode, out, err, cpu_s=rss.cpu_s)


def shown(run: Run) -> str:
    return f">{run.seconds:.0f} (stopped)" if run.timed_out else f"{run.seconds:.1f}"


def floor(files: list[str]) -> tuple[float, float, float]:
    """Seconds, peak RSS (MB) and CPU seconds of one process per core decoding every file to 64 px, nothing else."""
    workers = cpu_count()
    me = psutil.Process()
    started = time.perf_counter()
    with multiprocessing.get_context("forkserver").Pool(workers) as pool:
        rss = TreeRssSampler(me.pid).start()
        list(pool.imap_unordered(floor_decode, files, chunksize=64))
        peak = rss.stop()
    return time.perf_counter() - started, peak / 1e6, rss.cpu_s


def index_mb(db: Path) -> float:
    return sum(os.path.getsize(str(db) + s) for s in ("", "-wal") if os.path.exists(str(db) + s)) / 1e6


def grouped(document: dict, planted: list[tuple[str, str]]) -> int:
    """How many planted (original, copy) pairs share a group."""
    group_of: dict[str, int] = {}
    for group in document["groups"]:
        for member in group["members"]:
            group_of[os.path.abspath(member["path"])] = group["id"]
    return sum(1 for a, b in planted if a in group_of and group_of.get(a) == group_of.get(b))


def tiles_workload(work: Path, n: int, find_timeout: float | None = None, root: Path | None = None,
                   scan_only: bool = False) -> dict:
    """``root``: tiles made elsewhere (``make_tiles.py --mosaic``), no planted pairs known; else made here.
    ``scan_only``: the floor and the scan alone (no ``find``)."""
    root, planted = (root, {}) if root is not None else ensure_tiles(work, n)
    files = image_files(root)
    n = n if planted else len(files)
    warm_cache(files)
    megabytes = sum(os.path.getsize(p) for p in files) / 1e6
    floor_s, floor_rss, floor_cpu = floor(files)
    db = work / f"tiles-{n}.db"
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(str(db) + suffix):
            os.remove(str(db) + suffix)
    scan = command("scan", ["scan", str(root), "--db", str(db), "--no-progress"])
    out = work / f"tiles-{n}-find.json"
    first = command("find --db (first)", ["find", "--db", str(db), "--json", str(out), "-q"], find_timeout) \
        if not scan_only else Run("find skipped", 0.0, 0.0, 0, "", "", timed_out=True)
    again = first if first.timed_out else command("find --db (again)", ["find", "--db", str(db), "--json",
                                                                         str(out), "-q"], find_timeout)
    document = {"groups": []} if first.timed_out or again.timed_out else json.loads(out.read_text())
    return {
        "n": n, "files": len(files), "megabytes": megabytes, "floor_s": floor_s, "floor_rss": floor_rss,
        "floor_cpu": floor_cpu,
        "scan": scan, "find": first, "find_again": again, "index_mb": index_mb(db), "groups": len(document["groups"]),
        "planted": {kind: (grouped(document, pairs), len(pairs)) for kind, pairs in planted.items()},
        "scan_line": scan.stdout.strip().splitlines()[-1] if scan.stdout.strip() else "",
    }


def copies_workload(work: Path) -> dict:
    corpus = ensure_corpus("medium", Path("/tmp"))
    files = image_files(corpus)
    rng = random.Random(1)
    chosen = sorted(rng.sample(files, round(len(files) * BACKUP_SHARE)))
    tree = work / "backup-run"
    if tree.exists():
        shutil.rmtree(tree)
    backup = tree / "backup"
    try:
        for k, path in enumerate(chosen):  # real byte copies: new inodes, the same bytes
            target = backup / f"{k // 500:02d}" / f"{k:05d}-{Path(path).name}"  # names repeat across folders
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        warm_cache(files + image_files(backup))
        floor_s, _, _ = floor(files)
        db = tree / "alone.db"
        alone = command("corpus alone", ["scan", str(corpus), "--db", str(db), "--no-progress"])
        db2 = tree / "with-backup.db"
        both = command("corpus + 30 % byte copies", ["scan", str(corpus), str(backup), "--db", str(db2),
                                                       "--no-progress"])
        return {"files": len(files), "copies": len(chosen), "floor_s": floor_s, "alone": alone, "both": both,
                "alone_line": alone.stdout.strip().splitlines()[-1],
                "both_line": both.stdout.strip().splitlines()[-1]}
    finally:
        shutil.rmtree(tree, ignore_errors=True)


def tile_costs(root: Path, count: int = 2000) -> None:
    """Where a tiny file's worker time goes: each stage alone, in this process, over ``count`` files (CPU, best of 3)."""
    from imgtwin.hashing.dct import DCTHasher
    from imgtwin.hashing.extractor import MatchFeatureExtractor
    from imgtwin.loading.pillow_loader import StandardImageLoader
    from imgtwin.processing.task import process_file, process_files

    files = image_files(root)[:count]
    warm_cache(files)
    loader, hasher, extractor = StandardImageLoader(), DCTHasher(8), MatchFeatureExtractor()
    loaded = [loader.load(path) for path in files]

    def stage(name: str, run: Callable[[], object]) -> None:
        best = min(_cpu_seconds(run) for _ in range(3))
        print(f"| {name} | {best / len(files) * 1e6:.0f} |")

    print(f"\n## Per tile, one process, {len(files):,} files of {root} (us of CPU, best of 3)\n")
    print("| stage | us per file |\n|---|---|")
    stage("decode floor", lambda: [floor_decode(path) for path in files])
    stage("loader", lambda: [loader.load(path) for path in files])
    stage("features + signals, one file at a time", lambda: [extractor.extract(one, hasher) for one in loaded])
    stage("features + signals, chunks of 32", lambda: [extractor.extract_many(loaded[k : k + 32], hasher)
                                                       for k in range(0, len(loaded), 32)])
    stage("whole file, one at a time", lambda: [process_file(path, loader, hasher, extractor) for path in files])
    stage("whole file, chunks of 32 (the scan's workers)", lambda: [
        process_files(files[k : k + 32], loader, hasher, extractor) for k in range(0, len(files), 32)])


def _cpu_seconds(run: Callable[[], object]) -> float:
    started = time.process_time()
    run()
    return time.process_time() - started


# --- report -----------------------------------------------------------------------------------------------


def print_tiles(results: list[dict]) -> None:
    print("\n## Small tiles\n")
    print("| N | files | MB | floor s | floor files/s | scan s | scan files/s | x floor | floor / scan CPU s "
          "| x floor (CPU) | scan peak RSS MB | find --db s (first / again) | find peak RSS MB | index MB "
          "| index KB/file | groups |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        files, scan, find, again = r["files"], r["scan"], r["find"], r["find_again"]
        floor_rate, scan_rate = files / r["floor_s"], files / scan.seconds
        print(f"| {r['n']:,} | {files:,} | {r['megabytes']:.0f} | {r['floor_s']:.1f} | {floor_rate:.0f} "
              f"| {scan.seconds:.1f} | {scan_rate:.0f} | {scan_rate / floor_rate:.2f} "
              f"| {r['floor_cpu']:.1f} / {scan.cpu_s:.1f} | {r['floor_cpu'] / max(scan.cpu_s, 1e-9):.2f} "
              f"| {scan.peak_rss_mb:.0f} "
              f"| {shown(find)} / {shown(again)} | {max(find.peak_rss_mb, again.peak_rss_mb):.0f} "
              f"| {r['index_mb']:.0f} | {r['index_mb'] * 1000 / files:.2f} | {r['groups']:,} |")
    print("\nPlanted copies grouped with their original:\n")
    for r in results:
        parts = ", ".join(f"{kind} {found}/{total}" for kind, (found, total) in r["planted"].items())
        print(f"- N = {r['n']:,}: {parts}; scan said: {r['scan_line']}")
    if len(results) >= 2 and results[0]["find"].seconds and results[-1]["find"].seconds:
        small, large = results[0], results[-1]
        print(f"\nfind --db {large['n']:,} / {small['n']:,}: "
              f"{large['find'].seconds / small['find'].seconds:.1f}x (first runs), "
              f"{large['find_again'].seconds / small['find_again'].seconds:.1f}x (again)")


def print_copies(r: dict) -> None:
    alone, both = r["alone"], r["both"]
    print(f"\n## Medium corpus plus {BACKUP_SHARE:.0%} byte copies in a backup folder\n")
    print("| run | files | scan s | x corpus alone | x floor (corpus) | peak RSS MB |")
    print("|---|---|---|---|---|---|")
    print(f"| decode floor (corpus) | {r['files']:,} | {r['floor_s']:.1f} | | 1.00 | |")
    print(f"| corpus alone | {r['files']:,} | {alone.seconds:.1f} | 1.00 | {r['floor_s'] / alone.seconds:.2f} "
          f"| {alone.peak_rss_mb:.0f} |")
    print(f"| corpus + {r['copies']:,} byte copies | {r['files'] + r['copies']:,} | {both.seconds:.1f} "
          f"| {both.seconds / alone.seconds:.2f} | | {both.peak_rss_mb:.0f} |")
    print(f"\ncorpus alone: {r['alone_line']}\nwith the backup: {r['both_line']}")


def index_workload(db: Path, sample: int | None, find_timeout: float | None) -> None:
    """``find --db`` on a filled index, then where its candidates come from (see the module doc)."""
    out = db.with_suffix(".find.json")
    find = command("find --db", ["find", "--db", str(db), "--json", str(out), "-q"], find_timeout)
    groups = 0 if find.timed_out else len(json.loads(out.read_text())["groups"])
    numbers = db.with_suffix(".sources.json")
    sources = [sys.executable, str(Path(__file__).resolve().parent / "find_sources.py"), str(db), "--json", str(numbers)]
    report = subprocess.run(sources + ([] if sample is None else ["--sample", str(sample)]), capture_output=True,
                            text=True, check=False)
    files = json.loads(numbers.read_text())["files"] if report.returncode == 0 else 0
    print(f"\n## find --db {db}\n")
    print(f"find --db: {shown(find)} s, peak RSS (process tree) {find.peak_rss_mb:.0f} MB, {groups:,} groups; "
          f"index {index_mb(db):.0f} MB, {index_mb(db) * 1000 / max(files, 1):.2f} KB/file; "
          f"load average {os.getloadavg()[0]:.1f} after")
    print(report.stdout.rstrip() or report.stderr.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="*", default=[20_000, 200_000])
    parser.add_argument("--million", action="store_true", help="also N = 1,000,000 (on demand only)")
    parser.add_argument("--no-tiles", action="store_true")
    parser.add_argument("--no-copies", action="store_true")
    parser.add_argument("--work", type=Path, default=Path("/tmp/scale-bench"))
    parser.add_argument("--keep", action="store_true", help="keep the tiles and indexes for another run")
    parser.add_argument("--find-timeout", type=float, default=1800.0, help="seconds before a find --db is stopped")
    parser.add_argument("--index", type=Path, action="append", default=[], help="find on this filled index only")
    parser.add_argument("--sample", type=int, default=None, help="with --index: candidates verified for the counts")
    parser.add_argument("--tiles-dir", type=Path, nargs="*", default=[],
                        help="folders of tiles made elsewhere (make_tiles.py --mosaic), measured instead of --sizes")
    parser.add_argument("--scan-only", action="store_true", help="the decode floor and the scan, no find")
    parser.add_argument("--costs", type=Path, help="only: where a tiny file's worker time goes, on this folder's files")
    args = parser.parse_args()
    if args.costs is not None:
        tile_costs(args.costs)
        return
    sizes = [n for n in args.sizes if n < MILLION] + ([MILLION] if args.million else [])
    args.work.mkdir(parents=True, exist_ok=True)
    print(f"machine: {platform.machine()}, {cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, "
          f"load average {os.getloadavg()[0]:.1f} at the start; Python {platform.python_version()}, "
          f"Pillow {Image.__version__}, numpy {np.__version__}")
    for db in args.index:
        index_workload(db, args.sample, args.find_timeout)
    if args.index:
        return
    results = []
    if not args.no_tiles:
        for folder in args.tiles_dir:
            results.append(tiles_workload(args.work, 0, args.find_timeout, folder, args.scan_only))
            print_tiles(results[-1:])
            sys.stdout.flush()
        for n in sizes if not args.tiles_dir else []:
            results.append(tiles_workload(args.work, n, args.find_timeout, scan_only=args.scan_only))
            print_tiles(results[-1:])
            sys.stdout.flush()
        print_tiles(results)
    if not args.no_copies:
        print_copies(copies_workload(args.work))
    if not args.keep:
        for n in sizes:
            for path in (args.work / f"tiles-{n}.db", args.work / f"tiles-{n}.db-wal", args.work / f"tiles-{n}.db-shm"):
                if path.exists():
                    path.unlink()


if __name__ == "__main__":
    main()
