"""Scan throughput: imgtwin's engine against a plain Pillow loop and a decode-only floor.

Prints one table per corpus: images/s, MB/s (compressed input), peak RSS of the
whole process tree, and the ratios to the plain loop and to the floor.

* plain loop: one process, ``Image.open -> exif_transpose -> convert('L') ->
  resize(32x32, LANCZOS) -> DCT`` on full decodes (what a naive script does);
* floor: one process per core that only decodes each file to a 64 px grayscale
  thumbnail (JPEG draft mode), nothing else: no hashing, no storage;
* imgtwin: the real engine with SQLite persistence and, as ``imgtwin scan``, the
  matching features and keeper signals (``--no-features``: without them), in
  several executor / worker configurations, to pick the default.

Usage:
    python benchmarks/scan_throughput.py [--presets small medium] [--corpus-dir /tmp]
        [--plain-sample 1000] [--configs process:2 thread:2 process:4 thread:4] [--no-features]

Corpora are generated with ../shared/corpus/make_corpus.py (seed 1) under
--corpus-dir when missing. The page cache is warmed first so that every
configuration reads from memory; the plain loop runs on an evenly spaced sample
of --plain-sample files when the corpus is larger (0 = all files).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import numpy as np
import psutil
from PIL import Image, ImageOps

from imgtwin.config import ProcessingConfig, cpu_count
from imgtwin.hashing.dct import DCTHasher
from imgtwin.hashing.extractor import MatchFeatureExtractor
from imgtwin.loading.pillow_loader import StandardImageLoader
from imgtwin.loading.signatures import sniff
from imgtwin.persistence.sqlite import SqliteHashPersistence
from imgtwin.processing.parallel import ParallelProcessingEngine
from imgtwin.reporting.composite import NullReporter

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("IMGTWIN_SHARED", REPO.parent / "shared"))


@dataclass
class Measurement:
    name: str
    files: int
    seconds: float
    megabytes: float
    peak_rss_mb: float

    @property
    def rate(self) -> float:
        return self.files / self.seconds

    @property
    def mb_per_s(self) -> float:
        return self.megabytes / self.seconds


class TreeRssSampler:
    """Peak resident memory of a process (this one by default) plus its descendants, sampled every 50 ms.

    Also the CPU seconds of every process seen in the tree, as last sampled (``cpu_s``): a lower bound
    that misses each process's last 50 ms, but counts the workers that no one waits for (and so
    ``RUSAGE_CHILDREN`` never sees).
    """

    def __init__(self, pid: int | None = None) -> None:
        self.process = psutil.Process(pid)
        self.peak = 0
        self._cpu: dict[tuple[int, float], float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def cpu_s(self) -> float:
        return sum(self._cpu.values())

    def cpu_of(self, pid: int) -> float:
        """CPU seconds of one process of the tree, as last sampled."""
        return sum(cpu for (each, _), cpu in self._cpu.items() if each == pid)

    def _sample(self) -> int:
        total = 0
        try:
            family = [self.process, *self.process.children(recursive=True)]
        except psutil.Error:  # the process has ended
            return 0
        for process in family:
            try:
                with process.oneshot():
                    total += process.memory_info().rss
                    times = process.cpu_times()
                    self._cpu[(process.pid, process.create_time())] = times.user + times.system
            except psutil.Error:
                pass
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._sample())
            self._stop.wait(0.05)

    def start(self) -> TreeRssSampler:
        self._thread.start()
        return self

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def ensure_corpus(preset: str, corpus_dir: Path) -> Path:
    out = corpus_dir / f"corpus-{preset}"
    if (out / "truth.json").exists():
        return out
    corpus = SHARED / "corpus"
    print(f"generating the {preset} corpus in {out} ...", file=sys.stderr)
    subprocess.run(
        [sys.executable, str(corpus / "make_corpus.py"), "--photos", str(corpus / "photos"), "--out", str(out),
         "--seed", "1", "--preset", preset],
        check=True,
    )
    return out


def image_files(root: Path) -> list[str]:
    files = []
    for dirpath, _, names in os.walk(root):
        for name in names:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as f:
                if sniff(f.read(32)):
                    files.append(path)
    return sorted(files)


def warm_cache(files: list[str]) -> None:
    for path in files:
        with open(path, "rb") as f:
            while f.read(1 << 20):
                pass


_HASHER = DCTHasher(8)


def plain_hash(path: str) -> int:
    image = ImageOps.exif_transpose(Image.open(path))
    return _HASHER.hash(image.convert("L")).value


def floor_decode(path: str) -> int:
    image = Image.open(path)
    image.draft("L", (64, 64))
    image = image.convert("L")
    image.thumbnail((64, 64))
    return image.size[0]


def timed(name: str, files: list[str], run: Callable[[], None]) -> Measurement:
    megabytes = sum(os.path.getsize(p) for p in files) / 1e6
    with TreeRssSampler() as rss:
        started = time.perf_counter()
        run()
        seconds = time.perf_counter() - started
    return Measurement(name, len(files), seconds, megabytes, rss.peak / 1e6)


def run_plain(files: list[str]) -> Measurement:
    return timed("plain loop (1 process, full decode)", files, lambda: [plain_hash(p) for p in files])


def run_floor(files: list[str]) -> Measurement:
    workers = cpu_count()

    def go() -> None:
        with multiprocessing.get_context("forkserver").Pool(workers) as pool:
            list(pool.imap_unordered(floor_decode, files, chunksize=16))

    return timed(f"floor (decode to 64 px only, {workers} processes)", files, go)


def run_engine(root: Path, files: list[str], executor: str, workers: int, features: bool = True) -> Measurement:
    extractor = MatchFeatureExtractor() if features else None
    engine = ParallelProcessingEngine(StandardImageLoader(512), DCTHasher(8), features=extractor)
    config = ProcessingConfig(max_concurrent_tasks=workers, executor=executor)  # type: ignore[arg-type]
    with tempfile.TemporaryDirectory() as tmp:

        def go() -> None:
            summary = engine.process_directory(
                str(root), config, NullReporter(), SqliteHashPersistence(os.path.join(tmp, "bench.db"))
            )
            assert summary.processed_files == len(files), summary

        return timed(f"imgtwin {executor} x{workers}{'' if features else ' (no features)'}", files, go)


def sample(files: list[str], n: int) -> list[str]:
    if n <= 0 or n >= len(files):
        return files
    step = len(files) / n
    return [files[int(i * step)] for i in range(n)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", default=["small", "medium"])
    parser.add_argument("--corpus-dir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--plain-sample", type=int, default=1000)
    parser.add_argument("--configs", nargs="+", default=["process:2", "thread:2", "process:4", "thread:4"])
    parser.add_argument("--no-features", dest="features", action="store_false",
                        help="scan without the matching features and keeper signals (the engine alone)")
    parser.add_argument("--growth-check", action="store_true",
                        help="also compare peak RSS on a fifth of the last preset with all of it")
    args = parser.parse_args()

    print(f"machine: {platform.machine()}, {cpu_count()} cores, "
          f"{psutil.virtual_memory().total / 2**30:.0f} GiB; Python {platform.python_version()}, "
          f"Pillow {Image.__version__}, numpy {np.__version__}")
    peaks: dict[str, float] = {}
    for preset in args.presets:
        root = ensure_corpus(preset, args.corpus_dir)
        files = image_files(root)
        warm_cache(files)
        plain_files = sample(files, args.plain_sample)
        results = [run_plain(plain_files), run_floor(files)]
        for spec in args.configs:
            executor, workers = spec.split(":")
            results.append(run_engine(root, files, executor, int(workers), args.features))
        plain, floor = results[0], results[1]
        total_mb = sum(os.path.getsize(p) for p in files) / 1e6
        print(f"\n## {preset}: {len(files)} images, {total_mb:.0f} MB "
              f"(plain loop on {len(plain_files)} of them)\n")
        print("| run | images | s | images/s | MB/s | peak RSS MB | x plain | x floor |")
        print("|---|---|---|---|---|---|---|---|")
        for m in results:
            print(f"| {m.name} | {m.files} | {m.seconds:.1f} | {m.rate:.1f} | {m.mb_per_s:.1f} | "
                  f"{m.peak_rss_mb:.0f} | {m.rate / plain.rate:.2f} | {m.rate / floor.rate:.2f} |")
        default = next((m for m in results if m.name.startswith(f"imgtwin process x{cpu_count()}")), None)
        if default is not None:
            peaks[preset] = default.peak_rss_mb
    if "small" in peaks and "medium" in peaks:
        print(f"\npeak RSS medium / small (default engine): {peaks['medium'] / peaks['small']:.2f}")
    if args.growth_check:
        growth_check(ensure_corpus(args.presets[-1], args.corpus_dir))


def growth_check(root: Path) -> None:
    """Peak RSS on a fifth of a corpus versus all of it: same images, 5x the files.

    Comparing presets mixes two things, file count and the largest image's
    pixels (a 20 MP PNG or WebP must be decoded whole); this isolates the first.
    """
    files = image_files(root)
    fifth = sample(files, len(files) // 5)
    with tempfile.TemporaryDirectory(dir=root.parent) as tmp:
        subset = Path(tmp) / "subset"
        for k, path in enumerate(fifth):
            target = subset / f"{k // 100:03d}" / f"{k:05d}{Path(path).suffix}"
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(path, target)
        part = run_engine(subset, fifth, "process", cpu_count())
    whole = run_engine(root, files, "process", cpu_count())
    print(f"\n## memory growth with file count ({root.name}, default engine)\n")
    print("| files | peak RSS MB |\n|---|---|")
    print(f"| {len(fifth)} (every 5th) | {part.peak_rss_mb:.0f} |\n| {len(files)} | {whole.peak_rss_mb:.0f} |")
    print(f"\npeak RSS {len(files)} / {len(fifth)} files: {whole.peak_rss_mb / part.peak_rss_mb:.2f}")


if __name__ == "__main__":
    main()
