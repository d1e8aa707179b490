"""Screenshots of different photos in one app: the wrong and right deep fits among them (issue 24).

Two screenshots of different photos taken in one app share the status bar,
the title bar, the buttons, the caption lines and the photo's place; their
keypoints match there and fit the identity.  This shows photos of
``../shared/corpus/photos`` (landscape, portrait and square ones, bright skies
that touch the app's white bars among them) in a dark app (``screenshot_of``)
and in three light apps (``light_screenshot_of``: the photo right under a blue
title bar on white, below a gap on light grey, or right under a white title
bar on white as iOS draws it; captions right under it),
one light screenshot also with stickers, and the photos themselves, each
re-encoded as a JPEG; then counts the fits ``deep_matches`` keeps between files
of different photos (wrong) and of one photo (right), and prints the wrong ones.

    PYTHONPATH=src python benchmarks/app_screens.py [--photos 2,7,9,...] [--right]
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from imgtwin.hashing.features import compute_features
from imgtwin.hashing.local import extract_local
from imgtwin.matching.deep import deep_matches
from imgtwin.matching.near import FeatureTable
from tests.helpers import light_screenshot_of, screenshot_of, shared_photo, with_stickers

#: Landscapes (7, 9, 14, 26: bright skies or tops), portraits (6, 10, 49), a square (2) and others.
PHOTOS = (2, 6, 7, 9, 10, 14, 15, 23, 26, 33, 40, 49)


def encoded(image: Image.Image, quality: int = 88) -> Image.Image:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue()))


def library(photos: tuple[int, ...]) -> dict[str, Image.Image]:
    """``"<kind> <photo>"``: each photo, its dark-app and three light-app screenshots; the first also stickered."""
    out: dict[str, Image.Image] = {}
    for k in photos:
        photo = shared_photo(k, 1000)
        out[f"photo {k}"] = photo
        out[f"dark {k}"] = screenshot_of(photo, (1170, 2532))
        out[f"light {k}"] = light_screenshot_of(photo)
        out[f"grey {k}"] = light_screenshot_of(photo, (1170, 2532), 0.92, 60, (242, 242, 242))
        out[f"white {k}"] = light_screenshot_of(photo, (1170, 2532), bar=(255, 255, 255), background=(255, 255, 255))
    out[f"stickered {photos[0]}"] = light_screenshot_of(with_stickers(shared_photo(photos[0], 1000)))
    return {name: encoded(image) for name, image in out.items()}


def score(images: dict[str, Image.Image]) -> tuple[list[str], list[str]]:
    """(wrong, right) deep fits among ``images``, as ``"a ~ b: transform"`` lines."""
    names = list(images)
    pictures = [images[n] for n in names]
    table = FeatureTable.from_features([compute_features(im.convert("L").reduce(2)) for im in pictures])
    found = deep_matches([extract_local(im) for im in pictures], table.full_thumbs)
    wrong, right = [], []
    for a, b, transform in zip(found.i.tolist(), found.j.tolist(), found.transform):
        line = f"{names[a]} ~ {names[b]}: {transform or 'same frame'}"
        (right if names[a].split()[1] == names[b].split()[1] else wrong).append(line)
    return wrong, right


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", default=",".join(map(str, PHOTOS)), help="indices into the shared photos")
    parser.add_argument("--right", action="store_true", help="print the right fits too")
    args = parser.parse_args()
    photos = tuple(int(k) for k in args.photos.split(","))
    images = library(photos)
    start = time.perf_counter()
    wrong, right = score(images)
    for line in wrong:
        print("WRONG", line)
    for line in right if args.right else []:
        print("right", line)
    print(f"{len(images)} files of {len(photos)} photos: {len(wrong)} wrong deep fits, {len(right)} right "
          f"(of {10 * len(photos) + 5} pairs of one photo); {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
