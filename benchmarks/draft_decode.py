"""How far JPEG draft decoding moves the perceptual hash from a full decode.

For every JPEG (by content) under the given folders, the hash of the loader's
draft path (``StandardImageLoader(512)``: libjpeg DCT scaling to >= 64 px, then
the box reduction to 512 px) is compared with two full decodes:

* *full, reduced*: the same loader with draft decoding off (``decode_size``
  huge), so the whole image is decoded and box-reduced to 512 px;
* *full*: the whole image, hashed at full resolution (no reduction at all).

Prints the distribution of Hamming distances per draft scale, then by how
many of the hash's 64 DCT coefficients are *noise*: within 64 of the block's
median, the size of a cosine pattern of a quarter grey level over the 32x32
pixels the hash reads (unnormalised DCT: 256 per grey level of amplitude). Such
a coefficient's bit is set by rounding, so any resampling can flip it; flat and
low-detail pictures have many. Files moved by at least ``--show`` bits are
listed with their noise count and the standard deviation of the 32x32 pixels.

Usage:
    python benchmarks/draft_decode.py [FOLDER ...] [--workers 2] [--show 3]

Defaults: /tmp/corpus-small, /tmp/corpus-medium, ../shared/bad-images and
../shared/corpus/photos.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import PIL

from imgtwin.hashing.dct import DCTHasher
from imgtwin.loading.errors import LoadError
from imgtwin.loading.pillow_loader import StandardImageLoader
from imgtwin.loading.signatures import HEADER_BYTES, sniff

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("IMGTWIN_SHARED", REPO.parent / "shared"))
DEFAULT_FOLDERS = ["/tmp/corpus-small", "/tmp/corpus-medium", str(SHARED / "bad-images"), str(SHARED / "corpus" / "photos")]
NO_DRAFT = 1 << 20

HASHER = DCTHasher()
DRAFT = StandardImageLoader(512)
FULL_REDUCED = StandardImageLoader(512, decode_size=NO_DRAFT)
FULL = StandardImageLoader(NO_DRAFT, decode_size=NO_DRAFT, max_pixels=1 << 62)


def jpegs(folders: list[str]) -> list[str]:
    found = []
    for folder in folders:
        for directory, _, names in os.walk(folder):
            for name in sorted(names):
                path = os.path.join(directory, name)
                try:
                    with open(path, "rb") as f:
                        if sniff(f.read(HEADER_BYTES)) == "JPEG":
                            found.append(path)
                except OSError:
                    continue
    return sorted(set(found))


NOISE = 64.0  # a quarter grey level of cosine amplitude, in the hash's unnormalised DCT units


def fragility(image: object) -> tuple[float, int]:
    """The 32x32 pixels' standard deviation and how many coefficients are noise (see the module doc)."""
    pixels = HASHER.prepare(image)  # type: ignore[arg-type]
    block = HASHER.low_frequencies(pixels)
    return float(pixels.std()), int(np.sum(np.abs(block - np.median(block)) < NOISE))


def measure(path: str) -> tuple[str, str, int, int, float, int] | None:
    try:
        draft = DRAFT.load(path)
        reduced = FULL_REDUCED.load(path)
        full = FULL.load(path)
    except LoadError:
        return None
    if draft.decode == "full" or not draft.decode.startswith("jpeg-draft"):
        scale = "1/1"
    else:
        scale = draft.decode.rsplit("-", 1)[1]
    h_draft = HASHER.hash(draft.image)
    std, near = fragility(full.image)
    return (path, scale, h_draft.distance(HASHER.hash(reduced.image)), h_draft.distance(HASHER.hash(full.image)),
            std, near)


def histogram(values: list[int]) -> str:
    counts = Counter(values)
    return ", ".join(f"{d}: {counts[d]}" for d in sorted(counts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="*", default=DEFAULT_FOLDERS)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--show", type=int, default=3, help="list files whose draft hash moved by at least this")
    args = parser.parse_args()
    paths = jpegs([f for f in args.folders if os.path.isdir(f)])
    with multiprocessing.Pool(args.workers) as pool:
        rows = [r for r in pool.imap(measure, paths, chunksize=8) if r is not None]
    print(f"Pillow {PIL.__version__}, Python {platform.python_version()}, {len(rows)} JPEGs decoded "
          f"({len(paths) - len(rows)} could not be) from: {', '.join(args.folders)}\n")
    print("| draft scale | files | draft vs full, reduced: bits -> files | max | draft vs full: max |")
    print("|---|---|---|---|---|")
    for scale in sorted({r[1] for r in rows}, key=lambda s: int(s.split("/")[1])):
        sub = [r for r in rows if r[1] == scale]
        print(f"| {scale} | {len(sub)} | {histogram([r[2] for r in sub])} | {max(r[2] for r in sub)} | "
              f"{max(r[3] for r in sub)} |")
    drafted = [r for r in rows if r[1] != "1/1"]
    if drafted:
        for label, column in (("full, reduced", 2), ("full", 3)):
            dist = np.array([r[column] for r in drafted])
            print(f"\nDraft-decoded files: {len(drafted)}; draft vs {label}: mean {dist.mean():.3f} bits; "
                  f"<= 2 bits: {np.mean(dist <= 2) * 100:.2f} %; <= 4 bits: {np.mean(dist <= 4) * 100:.2f} %; "
                  f"p99 {np.percentile(dist, 99):.0f}; max {dist.max()}")
    print("\nDraft vs full, reduced, by the number of noise coefficients:\n")
    print("| noise coefficients | files | mean bits | <= 2 bits | <= 4 bits | max | max vs full |")
    print("|---|---|---|---|---|---|---|")
    for low, high in ((0, 7), (8, 15), (16, 31), (32, 64)):
        sub = np.array([r[2] for r in drafted if low <= r[5] <= high])
        if len(sub):
            unreduced = max(r[3] for r in drafted if low <= r[5] <= high)
            print(f"| {low}-{high} | {len(sub)} | {sub.mean():.2f} | {np.mean(sub <= 2) * 100:.1f} % | "
                  f"{np.mean(sub <= 4) * 100:.1f} % | {sub.max()} | {unreduced} |")
    outliers = sorted((r for r in rows if max(r[2], r[3]) >= args.show), key=lambda r: -max(r[2], r[3]))
    print(f"\nFiles moved by >= {args.show} bits (pixel std: grey levels of the 32x32 the hash reads; "
          "noise: coefficients within 64 of the median):\n")
    print("| file | scale | vs full, reduced | vs full | pixel std | noise |")
    print("|---|---|---|---|---|---|")
    for path, scale, reduced, full, std, near in outliers:
        print(f"| {path} | {scale} | {reduced} | {full} | {std:.1f} | {near} |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
