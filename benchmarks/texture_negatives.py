"""A hard-negative set for ``find --deep``: different pictures cut from one texture, pattern or scene.

Issue 24: keypoints on self-similar pictures (grass, foliage, bark, stones,
tiled floors, brick walls, fabric) match at the wrong place and can still fit a
transform, which groups two *different* pictures of one surface.  This makes,
for each source (texture-like photos of ``../shared/corpus/photos`` and
synthesised repeating patterns with the irregularity real ones have):

* negatives, each its own group: a region ``A``; ``B``, the region shifted by
  40-60 % of its width or height (a near-miss, ``related`` to A); ``D``,
  shifted by 25-35 % both ways (40-55 % of the area shared); ``C``, a disjoint
  region of the same source; ``E`` and ``G``, smaller views (0.5-0.75 of A's
  sides, shown at another size), E with a quarter to a half of it over A, G
  away from it: on a repeating pattern they look like crops of A;
* true copies of ``A`` (its group): straightened and cropped, a hard crop, a
  perspective fix, a screenshot, a re-encoded downscale (``near``), a 90°
  rotation (``rotate``), a mirror image (``mirror``).

The truth file is ``../shared/corpus/score.py``'s: all regions of one source
share ``source``, so a pair grouped across them is a ``hard negatives, same
photo`` line, and B against A a ``near-miss`` line.

    python benchmarks/texture_negatives.py --out /tmp/textures [--seed 1]
    imgtwin find /tmp/textures --deep --json out.json && ../shared/corpus/score.py /tmp/textures/truth.json ...
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import random
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared"
PHOTOS = ("GreenMeadow", "Blinds", "OneStandsOut", "mossy_bark", "mudstone", "rocks", "Grey", "ColorfulCups",
          "citrus-fruits", "burnt_bark", "ocean_splash", "Wood", "corn_maze", "Dragonfly", "sun_behind_leaves",
          "redwoods_above", "trees_above", "castle-maintenon", "picosdeeuropa", "wool_mill")  # fmt: skip


def _module(path: Path, name: str):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float, blur: float) -> np.ndarray:
    field = Image.fromarray(np.clip(128 + rng.normal(0, 60, shape), 0, 255).astype(np.uint8))
    smooth = np.asarray(field.filter(ImageFilter.GaussianBlur(blur)), np.float64) - 128
    return smooth * sigma / max(smooth.std(), 1e-6)


def bricks(rng: np.random.Generator, size: tuple[int, int] = (1600, 1200)) -> Image.Image:
    """A brick wall: running bond, each brick its own shade, mortar lines, grime and light falloff."""
    w, h = size
    bw, bh = int(rng.uniform(70, 110)), int(rng.uniform(28, 40))
    out = Image.new("RGB", size, tuple(int(v) for v in rng.uniform(150, 190, 3)))
    draw = ImageDraw.Draw(out)
    base = rng.uniform([120, 50, 30], [180, 90, 60])
    for row in range(h // bh + 1):
        offset = (bw // 2) * (row % 2) + int(rng.uniform(-4, 4))
        for col in range(-1, w // bw + 2):
            x, y = col * bw - offset, row * bh
            shade = np.clip(base * rng.uniform(0.75, 1.2) + rng.normal(0, 8, 3), 0, 255).astype(int)
            draw.rectangle([x + 3, y + 3, x + bw - 3, y + bh - 3], fill=tuple(int(v) for v in shade))
    return _finish(out, rng)


def floor_tiles(rng: np.random.Generator, size: tuple[int, int] = (1600, 1200)) -> Image.Image:
    """Square floor tiles with a printed motif, grout, and wear that differs from tile to tile."""
    w, h = size
    side = int(rng.uniform(90, 140))
    out = Image.new("RGB", size, (90, 90, 85))
    draw = ImageDraw.Draw(out)
    colours = [tuple(int(v) for v in rng.uniform(60, 230, 3)) for _ in range(2)]
    for ty in range(h // side + 1):
        for tx in range(w // side + 1):
            x, y = tx * side, ty * side
            tone = rng.uniform(0.85, 1.1)
            a = tuple(int(min(255, c * tone)) for c in colours[0])
            b = tuple(int(min(255, c * tone)) for c in colours[1])
            draw.rectangle([x + 3, y + 3, x + side - 3, y + side - 3], fill=a)
            m = side // 2
            draw.polygon([(x + m, y + 12), (x + side - 12, y + m), (x + m, y + side - 12), (x + 12, y + m)], fill=b)
            draw.ellipse([x + m - 10, y + m - 10, x + m + 10, y + m + 10], fill=a)
    return _finish(out, rng)


def plaid(rng: np.random.Generator, size: tuple[int, int] = (1600, 1200)) -> Image.Image:
    """A woven check fabric: crossing bands of two colours, a twill grain and folds."""
    w, h = size
    period = int(rng.uniform(60, 120))
    y, x = np.mgrid[0:h, 0:w]
    warp = ((x % period) < period * 0.4).astype(np.float64) + 0.5 * ((x % period) < period * 0.1)
    weft = ((y % period) < period * 0.4).astype(np.float64) + 0.5 * ((y % period) < period * 0.1)
    twill = ((x + y) % 4 < 2) * 12.0
    colour_a, colour_b = rng.uniform(40, 220, 3), rng.uniform(40, 220, 3)
    mix = (warp + weft)[..., None] / 3
    pixels = colour_a * (1 - mix) + colour_b * mix + twill[..., None]
    folds = _noise(rng, (h, w), 18, 60)[..., None]
    return _finish(Image.fromarray(np.clip(pixels + folds, 0, 255).astype(np.uint8)), rng)


def _finish(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Light falloff, grime and sensor noise: no two periods of a real pattern are pixel-identical."""
    pixels = np.asarray(image, np.float64)
    h, w = pixels.shape[:2]
    y, x = np.mgrid[0:h, 0:w]
    light = 1 + 0.25 * np.cos((x - rng.uniform(0, w)) / w * 2.5) * np.cos((y - rng.uniform(0, h)) / h * 2.5)
    grime = _noise(rng, (h, w), 10, 6) + _noise(rng, (h, w), 4, 1)
    out = pixels * light[..., None] + grime[..., None]
    return Image.fromarray(np.clip(out, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.6))


def _region(image: Image.Image, box: tuple[float, float, float, float], long_side: int,
            rng: np.random.Generator) -> Image.Image:  # fmt: skip
    """The region at ``long_side``; upscaled ones get sensor-like grain of their own, as the corpus's do."""
    s = long_side / max(box[2] - box[0], box[3] - box[1])
    size = (max(8, round((box[2] - box[0]) * s)), max(8, round((box[3] - box[1]) * s)))
    out = image.resize(size, Image.BICUBIC if s > 1 else Image.LANCZOS, box=box)
    if s > 1.25:
        noise = rng.normal(0, min(3.0, 0.8 + 0.3 * s), (size[1], size[0], 1))
        out = Image.fromarray(np.clip(np.asarray(out, np.float64) + noise, 0, 255).astype(np.uint8))
    return out


Box = tuple[float, float, float, float]


def _inside(box: Box, other: Box) -> float:
    """The share of ``box``'s area that lies inside ``other``."""
    w = max(0.0, min(box[2], other[2]) - max(box[0], other[0]))
    h = max(0.0, min(box[3], other[3]) - max(box[1], other[1]))
    return w * h / ((box[2] - box[0]) * (box[3] - box[1]))


def _smaller_view(rng: random.Random, regions: dict[str, Box], size: tuple[int, int], over_a: tuple[float, float]
                  ) -> Box | None:  # fmt: skip
    """A region 0.5-0.75 of A's sides with a share in ``over_a`` of it over A, at most 60 % in any other region
    and holding at most 60 % of any (else one would be a crop of the other: a true copy)."""
    a = regions["A"]
    cw, ch = (a[2] - a[0]) * rng.uniform(0.5, 0.75), (a[3] - a[1]) * rng.uniform(0.5, 0.75)
    for _ in range(2000):
        x, y = rng.uniform(0, size[0] - cw), rng.uniform(0, size[1] - ch)
        box = (x, y, x + cw, y + ch)
        if over_a[0] <= _inside(box, a) <= over_a[1] and all(
                _inside(box, r) <= 0.6 and _inside(r, box) <= 0.6 for r in regions.values()):
            return box
    return None


def _jpeg(image: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--synthetic", type=int, default=3, help="patterns of each synthetic kind")
    parser.add_argument("--source-side", type=int, default=0,
                        help="shrink the sources to this long side first: upscaled, soft regions with grain")
    parser.add_argument("--views", type=int, default=3, help="smaller views over A (E0...) and away from it (G0...)")
    args = parser.parse_args()
    api = _module(SHARED / "corpus" / "make_corpus.py", "make_corpus")
    edits = _module(HERE / "catalog_phone_edits.py", "catalog_phone_edits")
    rng, nrng = random.Random(args.seed), np.random.default_rng(args.seed)
    sources: list[tuple[str, Image.Image]] = []
    for key in PHOTOS:
        path = next(p for p in sorted((SHARED / "corpus" / "photos").glob("*.jpg")) if key in p.name)
        sources.append((key, Image.open(path).convert("RGB")))
    for kind in (bricks, floor_tiles, plaid):
        sources += [(f"{kind.__name__}{k}", kind(nrng)) for k in range(args.synthetic)]
    args.out.mkdir(parents=True, exist_ok=False)
    truth: dict[str, dict[str, str]] = {}

    def save(name: str, data: bytes, group: str, category: str, kind: str, transform: str, source: str,
             detail: str = "", related: str | None = None) -> None:  # fmt: skip
        truth[name] = {"group": group, "category": category, "kind": kind, "transform": transform,
                       "source": source, "detail": detail}
        if related:
            truth[name]["related"] = related
        (args.out / name).write_bytes(data)

    for n, (key, image) in enumerate(sources):
        if args.source_side:
            image = image.copy()
            image.thumbnail((args.source_side, args.source_side), Image.LANCZOS)
        w, h = image.size
        fw = rng.uniform(0.3, 0.4)
        cw, ch = fw * w, fw * w * rng.choice([0.75, 2 / 3, 1.0]) if w >= h else fw * w * 1.33
        ch = min(ch, 0.45 * h)
        long_side = rng.randint(640, 1100)
        x0, y0 = rng.uniform(0, w - 2 * cw), rng.uniform(0, h - 2 * ch)
        a = (x0, y0, x0 + cw, y0 + ch)
        s = rng.uniform(0.4, 0.6)
        horizontal = rng.random() < 0.6
        b = (x0 + s * cw, y0, x0 + (1 + s) * cw, y0 + ch) if horizontal else (x0, y0 + s * ch, x0 + cw, y0 + (1 + s) * ch)
        d_shift = rng.uniform(0.25, 0.35)
        d = (x0 + d_shift * cw, y0 + d_shift * ch, x0 + (1 + d_shift) * cw, y0 + (1 + d_shift) * ch)
        c = (x0 + cw, y0 + ch, min(w, x0 + 2 * cw), min(h, y0 + 2 * ch))
        regions = {"A": a, "B": b, "C": c, "D": d}
        views = [(f"E{k}", (0.25, 0.5)) for k in range(args.views)] + [(f"G{k}", (0.0, 0.0)) for k in range(args.views)]
        for name, over in views:  # smaller views, partly over A or away from it
            view = _smaller_view(rng, regions, (w, h), over)
            if view is not None:
                regions[name] = view
        originals = {name: _region(image, box, long_side if len(name) == 1 else rng.randint(480, 1100), nrng)
                     for name, box in regions.items()}
        for name, picture in originals.items():
            shift = {"B": f"shift {100 * s:.0f}%", "D": f"diagonal shift {100 * d_shift:.0f}%"}.get(name, "")
            box = "box " + " ".join(f"{v / s:.4f}" for v, s in zip(regions[name], (w, h, w, h)))
            save(f"s{n:02d}-{key}-{name}.jpg", _jpeg(picture, rng.randint(85, 95)), f"s{n:02d}{name}", "exact",
                 "original", f"region_{name}" if name != "A" else "original", key, f"{box} {shift}".strip(),
                 related=f"s{n:02d}A" if name == "B" else None)  # fmt: skip
        original = originals["A"]
        group = f"s{n:02d}A"
        copies: list[tuple[str, str, Image.Image, str]] = []
        copies.append(("straighten", "near", *edits.straighten(original, rng)))
        copies.append(("crop_hard", "near", *edits.crop_hard(original, rng)))
        copies.append(("perspective_fix", "near", *edits.perspective_fix(original, rng)))
        copies.append(("screenshot", "near", *edits.screenshot(original, rng, api)))
        f = rng.uniform(0.4, 0.8)
        copies.append(("downscale", "near", api.scale(original, f, rng), f"x{f:.2f}"))
        copies.append(("rotate90", "rotate", original.transpose(Image.ROTATE_90), "rot90"))
        copies.append(("mirror_h", "mirror", original.transpose(Image.FLIP_LEFT_RIGHT), "flip lr"))
        for transform, category, picture, detail in copies:
            save(f"s{n:02d}-{key}-A-{transform}.jpg", _jpeg(picture, rng.randint(75, 92)), group, category,
                 "variant", transform, key, detail)  # fmt: skip
    (args.out / "truth.json").write_text(json.dumps(truth, indent=1, ensure_ascii=False))
    print(f"{len(truth)} files, {len(sources)} sources in {args.out}")


if __name__ == "__main__":
    main()
