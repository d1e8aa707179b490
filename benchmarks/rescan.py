"""Rescan cost: first scan versus rescans of the same tree, through the CLI.

Prints a table: the first scan of an empty index, a rescan of the unchanged
tree, and a rescan after 1% of the files were rewritten (same bytes written
again, so size stays and mtime/ctime change). Target: the unchanged rescan
costs under 5% of the first scan.

Usage:
    python benchmarks/rescan.py [--preset medium] [--corpus-dir /tmp] [--changed 0.01]

Each run is a fresh ``imgtwin scan`` process, so the times include Python's
start-up, as a user sees them. The corpus (../shared/corpus, seed 1) is made
when missing; the page cache is warmed first.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scan_throughput import ensure_corpus, image_files, warm_cache


def timed_scan(root: Path, db: Path) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "imgtwin", "scan", str(root), "--db", str(db), "--no-progress"],
        capture_output=True, text=True, check=False,
    )
    if done.returncode not in (0, 1):
        raise SystemExit(done.stderr)
    return time.perf_counter() - started, done.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="medium")
    parser.add_argument("--corpus-dir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--changed", type=float, default=0.01)
    args = parser.parse_args()

    root = ensure_corpus(args.preset, args.corpus_dir)
    files = image_files(root)
    warm_cache(files)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "rescan.db"
        first, line = timed_scan(root, db)
        rows.append(("first scan (empty index)", first, line))
        again, line = timed_scan(root, db)
        rows.append(("rescan, nothing changed", again, line))
        changed = random.Random(1).sample(files, max(1, round(len(files) * args.changed)))
        for path in changed:
            data = Path(path).read_bytes()
            Path(path).write_bytes(data)
        partial, line = timed_scan(root, db)
        rows.append((f"rescan, {len(changed)} files ({args.changed:.0%}) rewritten", partial, line))
    print(f"{args.preset}: {len(files)} images, {os.cpu_count()} cores\n")
    print("| run | seconds | % of first scan | imgtwin's summary |")
    print("|---|---|---|---|")
    for name, seconds, line in rows:
        print(f"| {name} | {seconds:.2f} | {100 * seconds / first:.1f}% | {line} |")


if __name__ == "__main__":
    main()
