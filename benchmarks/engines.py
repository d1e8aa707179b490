"""Engines compared: local process pool vs Dask (``local:2``), and ``--workers auto`` vs fixed counts.

Prints two tables for one corpus (seconds, images/s, ratio):

* the local engine (process executor, one worker per core) against the Dask
  engine on a local cluster of 2 worker processes (started before timing;
  its start-up is printed separately);
* ``--workers auto`` against 1, 2, 3 and 4 fixed worker processes, with the
  best fixed count and auto / best (the target is within 10%).

Usage:
    python benchmarks/engines.py [--preset medium] [--corpus-dir /tmp] [--fixed 1 2 3 4]

The corpus is made as in scan_throughput.py when missing; the page cache is
warmed first, and every run writes a fresh SQLite index.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scan_throughput import ensure_corpus, image_files, warm_cache

from imgtwin.config import ProcessingConfig, cpu_count
from imgtwin.hashing.dct import DCTHasher
from imgtwin.hashing.extractor import MatchFeatureExtractor
from imgtwin.loading.pillow_loader import StandardImageLoader
from imgtwin.persistence.sqlite import SqliteHashPersistence
from imgtwin.processing.parallel import ParallelProcessingEngine
from imgtwin.reporting.composite import NullReporter


@dataclass
class Run:
    name: str
    files: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.files / self.seconds


def components() -> tuple[StandardImageLoader, DCTHasher, MatchFeatureExtractor]:
    """What ``imgtwin scan`` uses (app.build_engine)."""
    return StandardImageLoader(512), DCTHasher(8), MatchFeatureExtractor()


def timed_scan(name: str, root: Path, files: list[str], engine: ParallelProcessingEngine,
               config: ProcessingConfig) -> Run:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        summary = engine.process_directory(
            str(root), config, NullReporter(), SqliteHashPersistence(os.path.join(tmp, "bench.db"))
        )
        seconds = time.perf_counter() - started
    assert summary.processed_files == len(files), summary
    print(f"  {name}: {seconds:.1f} s", file=sys.stderr, flush=True)
    return Run(name, len(files), seconds)


def table(title: str, runs: list[Run], base: Run) -> None:
    print(f"\n## {title}\n")
    print(f"| run | images | s | images/s | x {base.name} |")
    print("|---|---|---|---|---|")
    for run in runs:
        print(f"| {run.name} | {run.files} | {run.seconds:.1f} | {run.rate:.1f} | {base.seconds / run.seconds:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="medium")
    parser.add_argument("--corpus-dir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--fixed", nargs="+", type=int, default=[1, 2, 3, 4])
    parser.add_argument("--skip-dask", action="store_true")
    args = parser.parse_args()

    root = ensure_corpus(args.preset, args.corpus_dir)
    files = image_files(root)
    warm_cache(files)
    print(f"machine: {platform.machine()}, {cpu_count()} cores; Python {platform.python_version()}; "
          f"corpus {root}: {len(files)} images, {sum(os.path.getsize(p) for p in files) / 1e6:.0f} MB")
    local_engine = ParallelProcessingEngine(*components()[:2], features=components()[2])
    scan: Callable[[str, ParallelProcessingEngine, ProcessingConfig], Run] = (
        lambda name, engine, config: timed_scan(name, root, files, engine, config)
    )

    if not args.skip_dask:
        from imgtwin.processing.distributed import DistributedProcessingEngine, open_client

        local = scan(f"local process x{cpu_count()}", local_engine, ProcessingConfig())
        started = time.perf_counter()
        with open_client("local:2") as client:
            startup = time.perf_counter() - started
            loader, hasher, features = components()
            dask_engine = DistributedProcessingEngine(loader, hasher, client, features=features)
            dask = scan("dask local:2", dask_engine, ProcessingConfig())
        table(f"local vs Dask ({len(files)} images)", [local, dask], local)
        print(f"\nDask local:2 cluster start-up (not in the table): {startup:.1f} s")

    fixed = [scan(f"process x{n}", local_engine, ProcessingConfig(max_concurrent_tasks=n)) for n in args.fixed]
    auto = scan("--workers auto", local_engine, ProcessingConfig(adaptive_workers=True))
    best = min(fixed, key=lambda run: run.seconds)
    table(f"--workers auto vs fixed ({len(files)} images)", [*fixed, auto], best)
    ratio = auto.rate / best.rate
    verdict = "within" if ratio >= 0.9 else "NOT within"
    print(f"\nbest fixed: {best.name} ({best.rate:.1f} images/s); auto / best = {ratio:.2f} ({verdict} 10%)")


if __name__ == "__main__":
    main()
