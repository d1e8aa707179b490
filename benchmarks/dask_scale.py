"""The scan through the Dask engine on a local cluster against the local engine, at scale (issue 26 part 4).

For one folder of files (issue 26's mosaic tiles: ``../shared/corpus/make_tiles.py PHOTOS OUT N
--mosaic``), each run through the real command line into a fresh index:

* the local engine (``imgtwin scan``, one worker process per core), unless ``--local-index``
  names an index it already made of the same folder;
* the Dask engine (``imgtwin scan --scheduler local:W``), with this checkout's code and, with
  ``--before SRC``, with another checkout's (e.g. fixed batches of 16 files);

then whether the indexes hold the same rows (every column but ``scanned_at``, compared row by
row in path order). Printed per run: wall and CPU seconds (the whole process tree), the CPU
seconds of the main process alone (client, local scheduler, discovery, collector, SQLite: what
a bigger cluster would not divide) per file, and files per second.

Usage:
    python benchmarks/dask_scale.py DIR [--workers 2] [--before SRC] [--local-index DB] [--work /tmp/dask-scale]
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scan_throughput import TreeRssSampler

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class ScanRun:
    name: str
    db: Path
    seconds: float
    cpu_s: float
    main_cpu_s: float
    peak_mb: float
    files: int


def scan(name: str, root: Path, db: Path, extra: list[str], source: Path | None = None,
         timeout: float | None = None) -> ScanRun:
    """``imgtwin scan`` in a process of its own (``source``: the ``src`` folder of the code to run)."""
    db.unlink(missing_ok=True)
    env = dict(os.environ)
    if source is not None:
        env["PYTHONPATH"] = str(source)
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "imgtwin", "scan", str(root), "--db", str(db), *extra],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    sampler = TreeRssSampler(process.pid).start()
    _, err = process.communicate(timeout=timeout)
    seconds = time.perf_counter() - started
    peak = sampler.stop()
    if process.returncode not in (0, 1):
        raise SystemExit(f"{name} failed ({process.returncode}):\n{err[-2000:]}")
    return ScanRun(name, db, seconds, sampler.cpu_s, sampler.cpu_of(process.pid), peak / 1e6, rows(db))


def rows(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM files").fetchone()[0])


def differences(a: Path, b: Path) -> tuple[int, int]:
    """(rows that differ in a column other than ``scanned_at``, paths in one index only), in path order."""
    def cursor(db: Path) -> sqlite3.Cursor:
        conn = sqlite3.connect(db)
        columns = [r[1] for r in conn.execute("PRAGMA table_info(files)") if r[1] != "scanned_at"]
        return conn.execute(f"SELECT {', '.join(columns)} FROM files ORDER BY path")

    left, right = cursor(a), cursor(b)
    differ = only = 0
    x, y = left.fetchone(), right.fetchone()
    while x is not None or y is not None:
        if y is None or (x is not None and x[0] < y[0]):
            only, x = only + 1, left.fetchone()
        elif x is None or y[0] < x[0]:
            only, y = only + 1, right.fetchone()
        else:
            differ += x != y
            x, y = left.fetchone(), right.fetchone()
    return differ, only


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("root", type=Path)
    parser.add_argument("--workers", type=int, default=2, help="Dask worker processes of the local cluster")
    parser.add_argument("--before", type=Path, help="another checkout's src folder, run through Dask too")
    parser.add_argument("--local-index", type=Path, help="an index the local engine made of ROOT (not rescanned)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/dask-scale"))
    parser.add_argument("--timeout", type=float, default=None, help="seconds before a scan is given up")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    dask = ["--scheduler", f"local:{args.workers}"]
    print(f"# {args.root}, {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"load average {os.getloadavg()[0]:.1f} at the start, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    runs: list[ScanRun] = []
    if args.local_index is None:
        runs.append(scan("local engine", args.root, args.work / "local.db", [], REPO / "src", args.timeout))
        reference = runs[-1].db
    else:
        reference = args.local_index
    runs.append(scan(f"Dask local:{args.workers}, batches by time", args.root, args.work / "dask.db", dask,
                     REPO / "src", args.timeout))
    if args.before is not None:
        runs.append(scan(f"Dask local:{args.workers}, before ({args.before})", args.root, args.work / "before.db",
                         dask, args.before, args.timeout))
    print(f"load average {os.getloadavg()[0]:.1f} at the end\n")
    print("| run | files | wall s | CPU s (tree) | main process CPU, us/file | files/s | peak RSS MB | rows differing from the local engine's |")
    print("|---|---|---|---|---|---|---|---|")
    for run in runs:
        differ, only = differences(reference, run.db)
        same = "(the reference)" if run.db == reference else f"{differ} differ, {only} in one only"
        print(f"| {run.name} | {run.files:,} | {run.seconds:.1f} | {run.cpu_s:.1f} | "
              f"{1e6 * run.main_cpu_s / max(run.files, 1):.0f} | {run.files / run.seconds:.0f} | {run.peak_mb:.0f} | {same} |")
    if args.local_index is not None:
        print(f"\nreference: {args.local_index} ({rows(args.local_index):,} rows, made earlier by the local engine)")


if __name__ == "__main__":
    main()
