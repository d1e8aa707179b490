"""Issue 21's repro: two ``dedupe --yes`` runs with opposite keepers, started together, N times.

Two folders ``a/`` and ``b/`` hold the same pictures; two indexes; one run
keeps ``a/`` (``--keep prefer-folder --prefer a``) and one keeps ``b/``, both
``--action delete --yes`` (or ``--action trash``) started at the same instant
as separate ``imgtwin`` processes, each scanning first as a user's would.
Prints, per run, the pictures left with no copy in ``a/`` or ``b/`` (bytes
compared) and both exit codes; the target is 0 lost in every run.

Usage:
    python benchmarks/concurrent_deletes.py [--runs 20] [--pictures 100] [--action delete|trash]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.helpers import synthetic_photo


def digest(path: Path) -> str | None:
    if path.is_symlink() or not path.is_file():
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_pictures(folder: Path, count: int) -> dict[str, str]:
    folder.mkdir(parents=True)
    for i in range(count):
        synthetic_photo(1000 + i, (64, 48)).save(folder / f"p{i:03}.jpg", quality=90)
    return {p.name: digest(p) or "" for p in folder.iterdir()}


def one_run(work: Path, source: Path, pictures: dict[str, str], action: str) -> tuple[int, list[int], float]:
    for folder in "ab":
        shutil.copytree(source, work / folder, copy_function=shutil.copy2)
    env = {**os.environ, "HOME": str(work / "home"), "XDG_DATA_HOME": str(work / "home" / "data")}
    extra = ["--i-understand-delete-is-permanent"] if action == "delete" else []
    started = time.perf_counter()
    procs = [subprocess.Popen(
        [sys.executable, "-m", "imgtwin", "dedupe", str(work / "a"), str(work / "b"), "--db",
         str(work / f"index-{keep}.db"), "--keep", "prefer-folder", "--prefer", str(work / keep), "--action", action,
         "--yes", "--no-progress", *extra], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        for keep in "ab"]
    codes = [p.wait() for p in procs]
    seconds = time.perf_counter() - started
    lost = sum(d not in (digest(work / "a" / n), digest(work / "b" / n)) for n, d in pictures.items())
    return lost, codes, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--pictures", type=int, default=100)
    parser.add_argument("--action", choices=["delete", "trash"], default="delete")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="imgtwin-concurrent-") as tmp:
        source = Path(tmp) / "source"
        pictures = make_pictures(source, args.pictures)
        total = 0
        for run in range(1, args.runs + 1):
            work = Path(tmp) / f"run{run}"
            lost, codes, seconds = one_run(work, source, pictures, args.action)
            total += lost
            print(f"run {run:2}: {lost:3} of {args.pictures} pictures with no copy left; exit codes {codes}; "
                  f"{seconds:.1f} s", flush=True)
            shutil.rmtree(work)
        print(f"{args.action}: {total} picture(s) lost over {args.runs} runs")


if __name__ == "__main__":
    main()
