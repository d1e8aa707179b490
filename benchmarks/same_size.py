"""Scans of many files that share one size: the shapes that once made a scan quadratic.

Same-size files are normal: uncompressed BMP/TIFF/RAW from one camera, thumbnail
caches, a folder of empty placeholders, thousands of copies of one icon. Each
case is scanned twice into a fresh index (first scan, then an unchanged rescan)
with the real command, and the time per file is printed: linear scans keep it
flat as N grows.

    python benchmarks/same_size.py                       # 5k and 20k of each kind
    python benchmarks/same_size.py --sizes 5000 20000 100000 --kinds empty
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image


def make_empty(folder: Path, count: int) -> None:
    for k in range(count):
        (folder / f"{k // 1000:03d}").mkdir(exist_ok=True)
        (folder / f"{k // 1000:03d}" / f"IMG_{k:06d}.jpg").touch()


def make_bmps(folder: Path, count: int) -> None:
    """Distinct 64x48 BMPs: all the same size in bytes, different pixels."""
    rng = np.random.default_rng(1)
    for k in range(count):
        (folder / f"{k // 1000:03d}").mkdir(exist_ok=True)
        pixels = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{k // 1000:03d}" / f"scan_{k:06d}.bmp")


def make_copies(folder: Path, count: int) -> None:
    """``count`` byte copies of one small PNG (an icon or a placeholder everywhere)."""
    source = folder / "icon.png"
    Image.fromarray(np.random.default_rng(2).integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(source)
    for k in range(1, count):
        (folder / f"{k // 1000:03d}").mkdir(exist_ok=True)
        shutil.copyfile(source, folder / f"{k // 1000:03d}" / f"icon_{k:06d}.png")


KINDS = {"empty": make_empty, "bmp": make_bmps, "copies": make_copies}


def scan(folder: Path, db: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "imgtwin", "scan", str(folder), "--db", str(db), "-q"],
                          capture_output=True, text=True, check=False)
    if done.returncode not in (0, 1):
        raise SystemExit(done.stderr)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[5000, 20000])
    parser.add_argument("--kinds", nargs="+", choices=sorted(KINDS), default=sorted(KINDS))
    parser.add_argument("--tmp", default=tempfile.gettempdir())
    args = parser.parse_args()
    print(f"imgtwin scan, {os.cpu_count()} cores; times of the whole command (process start included)\n")
    print("| files | N | first scan s | ms per file | rescan s | ms per file |")
    print("|---|---|---|---|---|---|")
    for kind in args.kinds:
        for count in args.sizes:
            with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
                folder, db = Path(tmp) / "files", Path(tmp) / "i.db"
                folder.mkdir()
                KINDS[kind](folder, count)
                first = scan(folder, db)
                again = scan(folder, db)
            print(f"| {kind} | {count:,} | {first:.1f} | {1000 * first / count:.2f} | {again:.1f} | "
                  f"{1000 * again / count:.2f} |", flush=True)


if __name__ == "__main__":
    main()
