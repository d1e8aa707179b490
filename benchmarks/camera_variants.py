"""More of what real cameras write, added to a library made by ``../shared/corpus/make_library.py``.

    python benchmarks/camera_variants.py /tmp/lib-mixed --sideways 0.15 --large-thumbnails 0.1 --bare 0.05

Rewrites a share of the library's JPEG originals in place (their byte copies with them, so they stay
byte copies; the picture shown is unchanged, so truth.json's groups still hold):

* ``--sideways``: stored the sensor's way, turned 90 degrees, with an EXIF Orientation tag (6 or 8) that
  shows it upright, and the EXIF thumbnail stored the sensor's way too, as phones held upright write them;
* ``--large-thumbnails``: a 320 x 240 EXIF thumbnail instead of 160 x 120 (some makes write larger ones);
* ``--bare``: no EXIF thumbnail at all (older cameras, scanners, some editors).

Each rewritten file gets a ``camera`` note in truth.json (the scorer ignores it). Needs piexif.
"""

from __future__ import annotations

import argparse
import io
import json
import random
from pathlib import Path

import piexif  # type: ignore[import-untyped]
from PIL import Image

_ORIENTATION_TURN = {6: Image.Transpose.ROTATE_270, 8: Image.Transpose.ROTATE_90}  # upright -> as stored


def _thumbnail(image: Image.Image, box: tuple[int, int]) -> bytes:
    thumb = image.copy()
    thumb.thumbnail(box, Image.Resampling.BILINEAR)
    out = io.BytesIO()
    thumb.save(out, "JPEG", quality=80)
    return out.getvalue()


def rewrite(path: Path, change: str, rng: random.Random) -> str:
    """Rewrite one camera JPEG with ``change``; returns the note for truth.json."""
    with Image.open(path) as opened:
        raw = opened.info.get("exif", b"")
        image = opened.convert("RGB")
    exif = piexif.load(raw) if raw else {"0th": {}, "Exif": {}, "1st": {}, "thumbnail": None}
    note = change
    if change == "sideways":
        orientation = rng.choice((6, 8))
        image = image.transpose(_ORIENTATION_TURN[orientation])
        exif["0th"][piexif.ImageIFD.Orientation] = orientation
        note = f"sideways, orientation {orientation}"
    if change == "bare":
        exif["1st"], exif["thumbnail"] = {}, None
    else:
        exif["1st"] = {piexif.ImageIFD.Compression: 6}
        exif["thumbnail"] = _thumbnail(image, (320, 240) if change == "large-thumbnail" else (160, 120))
    exif["Exif"][piexif.ExifIFD.PixelXDimension], exif["Exif"][piexif.ExifIFD.PixelYDimension] = image.size
    image.save(path, "JPEG", quality=92, exif=piexif.dump(exif))
    return note


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("library", type=Path)
    parser.add_argument("--sideways", type=float, default=0.15)
    parser.add_argument("--large-thumbnails", type=float, default=0.1)
    parser.add_argument("--bare", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    truth_path = args.library / "truth.json"
    truth = json.loads(truth_path.read_text())
    rng = random.Random(args.seed)
    originals = sorted(p for p, r in truth.items() if r["transform"] == "original" and p.lower().endswith((".jpg", ".jpeg")))
    copies: dict[str, list[str]] = {}
    for p, r in truth.items():
        if r["transform"] == "exact_copy":
            copies.setdefault(r["group"], []).append(p)
    rng.shuffle(originals)
    plan = (["sideways"] * round(args.sideways * len(originals)) + ["large-thumbnail"] * round(
        args.large_thumbnails * len(originals)) + ["bare"] * round(args.bare * len(originals)))
    counts: dict[str, int] = {}
    for rel, change in zip(originals, plan):
        note = rewrite(args.library / rel, change, rng)
        truth[rel]["camera"] = note
        data = (args.library / rel).read_bytes()
        for twin in copies.get(truth[rel]["group"], []):
            (args.library / twin).write_bytes(data)
            truth[twin]["camera"] = note
        counts[change] = counts.get(change, 0) + 1
    truth_path.write_text(json.dumps(truth, indent=1, sort_keys=True, ensure_ascii=False))
    print(", ".join(f"{n} {c}" for c, n in counts.items()) + f" of {len(originals)} JPEG originals rewritten")


if __name__ == "__main__":
    main()
