"""Flat and low-detail pictures: a generator with ground truth, and the benchmark on it.

Real collections are full of pictures whose perceptual hash is mostly noise:
blank scans, solid colours, dark frames, placeholders, screenshots of empty
screens. This makes at least 400 *different* ones of these kinds, each pair of
them perceptibly different (colours at least 10 CIELAB units apart, marks
placed at least 10 % of the width apart), 159 more that differ from another by
a dot, a thin line, a frame or a gradient's direction only, plus re-encoded, resized and
format-converted copies of some of them, with a ``truth.json`` in the shared
corpus format. Then it runs ``imgtwin find`` on the set and scores it with the
shared scorer: no pair of different pictures may be grouped (precision 1.0)
and at least 0.95 of the true copies must be.

    python benchmarks/flat_set.py --out /tmp/flat-set            # generate (if missing), find, score
    python benchmarks/flat_set.py --out /tmp/flat-set --generate-only
"""

from __future__ import annotations

import argparse
import io
import json
import random
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SCORER = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "score.py"
Picture = Callable[[random.Random, tuple[int, int]], Image.Image]


def _lab(rgb: tuple[int, int, int]) -> np.ndarray:
    from imgtwin.hashing.features import srgb_to_lab

    return srgb_to_lab(np.array(rgb, dtype=np.float32) / 255.0)


class Palette:
    """Random colours, each at least ``min_delta_e`` (CIELAB) from every colour drawn before from it."""

    def __init__(self, rng: random.Random, min_delta_e: float = 10.0) -> None:
        self.rng, self.min_delta_e, self.seen = rng, min_delta_e, []  # type: ignore[var-annotated]

    def draw(self, low: int = 0, high: int = 255, grey: bool = False) -> tuple[int, int, int]:
        for attempt in range(10_000):
            if grey and attempt < 200:  # few greys are 10 units apart: then a colour
                v = self.rng.randint(low, high)
                colour = (v, v, v)
            else:
                colour = tuple(self.rng.randint(low, high) for _ in range(3))  # type: ignore[assignment]
            lab = _lab(colour)
            if all(np.linalg.norm(lab - other) >= self.min_delta_e for other in self.seen):
                self.seen.append(lab)
                return colour  # type: ignore[return-value]
        raise RuntimeError("palette exhausted")


class Places:
    """Random positions in [0, 1]^2, each at least ``min_distance`` from the others (per kind)."""

    def __init__(self, rng: random.Random, min_distance: float = 0.1) -> None:
        self.rng, self.min_distance, self.seen = rng, min_distance, []  # type: ignore[var-annotated]

    def draw(self, margin: float = 0.1) -> tuple[float, float]:
        for _ in range(10_000):
            x, y = self.rng.uniform(margin, 1 - margin), self.rng.uniform(margin, 1 - margin)
            if all(np.hypot(x - a, y - b) >= self.min_distance for a, b in self.seen):
                self.seen.append((x, y))
                return x, y
        raise RuntimeError("places exhausted")


def make_set(out: Path, seed: int = 1) -> dict[str, dict[str, str]]:
    rng = random.Random(seed)
    pictures: list[tuple[str, Image.Image]] = []
    # One palette for every picture's main colour (a solid, a paper, a shape's ground, a screen's body):
    # no two pictures of different kinds look alike either.
    solids = Palette(rng, 10)
    for _ in range(90):  # solid colours, greys among them
        colour = solids.draw(grey=rng.random() < 0.2)
        pictures.append(("solid", Image.new("RGB", _size(rng), colour)))
    shapes = solids
    for _ in range(70):  # a shape of one colour on another: the ellipse on orange, the brown one on green
        size = _size(rng)
        background, fill = shapes.draw(), shapes.draw()  # every colour is new: no two alike
        image = Image.new("RGB", size, background)
        x, y = rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.7)
        r = rng.uniform(0.12, 0.22) * min(size)
        box = (x * size[0] - r * rng.uniform(0.8, 1.4), y * size[1] - r, x * size[0] + r * rng.uniform(0.8, 1.4),
               y * size[1] + r)
        draw = ImageDraw.Draw(image)
        (draw.ellipse if rng.random() < 0.6 else draw.rectangle)(box, fill=fill)
        pictures.append(("shape", image))
    tints = Palette(rng, 6)
    tints.seen = solids.seen  # papers: 6 units apart from each other, from the other pictures too
    paper = [tints.draw(225, 255) for _ in range(14)]  # white, cream, ivory, light grey, bluish paper
    stamps = [Places(rng, 0.12) for _ in paper]  # on one paper, stamps are far apart
    for k in range(90):  # blank pages, and pages with a stamp in different places
        size = (rng.randint(500, 900), 0)
        size = (size[0], int(size[0] * 1.414))
        image = Image.new("RGB", size, paper[k % len(paper)])
        if k >= len(paper):
            x, y = stamps[k % len(paper)].draw(0.12)
            r = rng.uniform(0.05, 0.09) * size[0]
            ink = rng.choice([(40, 60, 160), (170, 30, 30), (30, 30, 30), (20, 110, 60)])
            ImageDraw.Draw(image).ellipse((x * size[0] - r, y * size[1] - r, x * size[0] + r, y * size[1] + r),
                                          outline=ink, width=max(3, int(r / 6)))
        pictures.append(("page", _grain(image, rng, 1.5)))
    lights = {"warm": Places(rng, 0.12), "cold": Places(rng, 0.12)}
    for k in range(80):  # near-black frames with a small light in different places
        size = _size(rng)
        image = Image.new("RGB", size, tuple(rng.randint(0, 14) for _ in range(3)))
        tone = "warm" if k % 2 else "cold"
        x, y = lights[tone].draw(0.06)
        r = rng.uniform(0.025, 0.05) * min(size)
        glow = (255, rng.randint(150, 210), rng.randint(40, 90)) if tone == "warm" else (
            rng.randint(120, 170), rng.randint(190, 230), 255)
        ImageDraw.Draw(image).ellipse((x * size[0] - r, y * size[1] - r, x * size[0] + r, y * size[1] + r),
                                      fill=glow)
        pictures.append(("dark", _grain(image.filter(ImageFilter.GaussianBlur(r / 3)), rng, 2.0)))
    ends = Palette(rng, 12)  # a gradient is told apart by its direction and both ends
    for _ in range(60):  # two-colour gradients in various directions
        size = _size(rng)
        a, b = ends.draw(), ends.draw()
        pictures.append(("gradient", _gradient(size, a, b, rng.uniform(0, 2 * np.pi))))
    screens = solids
    for _ in range(50):  # screenshots of empty screens: a bar, a body, maybe a sidebar
        size = rng.choice([(1080, 1920), (1170, 2532), (1920, 1080), (1440, 900), (2560, 1440)])
        body, bar = screens.draw(), screens.draw()
        image = Image.new("RGB", size, body)
        draw = ImageDraw.Draw(image)
        draw.rectangle((0, 0, size[0], int(size[1] * rng.uniform(0.04, 0.12))), fill=bar)
        if rng.random() < 0.5:
            draw.rectangle((0, 0, int(size[0] * rng.uniform(0.15, 0.3)), size[1]), fill=bar)
        pictures.append(("screen", image))
    # Issue 24's kinds, from their own generator (the pictures above stay as they were).
    pictures += _marked_pictures(random.Random(f"{seed}:marks"), solids.seen)
    truth: dict[str, dict[str, str]] = {}
    out.mkdir(parents=True, exist_ok=False)
    for number, (kind, image) in enumerate(pictures):
        group = f"f{number:04d}"
        name = f"{kind}/{group}.png" if rng.random() < 0.4 else f"{kind}/{group}.jpg"
        _save(out / name, image, rng)
        truth[name] = {"group": group, "kind": "original", "transform": "original", "category": "exact",
                       "detail": kind}
        if rng.random() < 0.45:
            for copy_number in range(rng.choice([1, 1, 2])):
                transform, copy = _copy(image, rng)
                copy_name = f"copies/{kind}-{group}-{copy_number}.{'png' if transform == 'png' else 'jpg'}"
                (out / copy_name).parent.mkdir(parents=True, exist_ok=True)
                if transform == "webp":
                    copy_name = copy_name[:-3] + "webp"
                _save(out / copy_name, copy, rng, transform)
                truth[copy_name] = {"group": group, "kind": "variant", "transform": transform, "category": "near",
                                    "detail": kind}
    (out / "truth.json").write_text(json.dumps(truth, indent=1, sort_keys=True))
    return truth


def _marked_pictures(rng: random.Random, seen: list[np.ndarray]) -> list[tuple[str, Image.Image]]:
    """Pictures that differ from another one by a mark, a line, a frame or a direction only (issue 24).

    * ``mark``: a solid colour, the same with a dot (radius 0.6-1.5 % of the short
      side), the same with a thin rectangle (0.15-0.4 % of the long side wide);
    * ``framed``: a blank page, the same page with a drawn frame, and with a frame
      moved or resized by at least 10 % of the width;
    * ``turned``: gradients of the same two colours in directions at least 45 degrees apart.
    Marks contrast with their ground by at least 80 grey levels: what a person sees at once.
    """
    grounds = Palette(rng, 10)
    grounds.seen = seen  # new colours: 10 units from every other picture's
    pictures: list[tuple[str, Image.Image]] = []
    for _ in range(30):
        size = _size(rng)
        ground = grounds.draw(40, 215)
        ink = (0, 0, 0) if sum(ground) / 3 > 128 else (255, 255, 255)
        pictures.append(("mark", Image.new("RGB", size, ground)))
        dotted = Image.new("RGB", size, ground)
        x, y = rng.uniform(0.15, 0.85) * size[0], rng.uniform(0.15, 0.85) * size[1]
        r = max(2.0, rng.uniform(0.006, 0.015) * min(size))
        ImageDraw.Draw(dotted).ellipse((x - r, y - r, x + r, y + r), fill=ink)
        pictures.append(("mark", dotted))
        boxed = Image.new("RGB", size, ground)
        w, h = rng.uniform(0.2, 0.6) * size[0], rng.uniform(0.2, 0.6) * size[1]
        left, top = rng.uniform(0.1, 0.9 - w / size[0]) * size[0], rng.uniform(0.1, 0.9 - h / size[1]) * size[1]
        ImageDraw.Draw(boxed).rectangle((left, top, left + w, top + h), outline=ink,
                                        width=max(1, round(rng.uniform(0.0015, 0.004) * max(size))))
        pictures.append(("mark", boxed))
    papers = Palette(rng, 6)  # as the pages above: light papers are few
    papers.seen = seen
    for _ in range(8):
        width = rng.randint(600, 1200)
        size = (width, int(width * 1.414))
        paper = papers.draw(185, 240)  # greyer papers: the lightest are taken above
        pictures.append(("framed", _grain(Image.new("RGB", size, paper), rng, 1.5)))
        margin = rng.uniform(0.04, 0.08)
        for shift in (0.0, rng.choice([-1, 1]) * rng.uniform(0.1, 0.15)):
            page = Image.new("RGB", size, paper)
            box = ((margin + max(shift, 0)) * width, (margin + max(shift, 0)) * size[1],
                   (1 - margin + min(shift, 0)) * width, (1 - margin + min(shift, 0)) * size[1])
            ImageDraw.Draw(page).rectangle(box, outline=(30, 30, 30), width=max(2, width // 200))
            pictures.append(("framed", _grain(page, rng, 1.5)))
    ends = Palette(rng, 12)
    ends.seen = seen
    for _ in range(15):
        size = _size(rng)
        a, b = ends.draw(), ends.draw()
        start = rng.uniform(0, 360)
        for step in rng.sample([0, 45, 90, 135, 180, 270], 3):
            pictures.append(("turned", _gradient(size, a, b, np.radians(start + step))))
    return pictures


def _gradient(size: tuple[int, int], a: tuple[int, int, int], b: tuple[int, int, int], angle: float) -> Image.Image:
    yy, xx = np.mgrid[0 : size[1], 0 : size[0]] / max(size)
    t = np.cos(angle) * xx + np.sin(angle) * yy
    t = (t - t.min()) / max(t.max() - t.min(), 1e-9)
    pixels = np.array(a, float)[None, None, :] * (1 - t[..., None]) + np.array(b, float)[None, None, :] * t[..., None]
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def _size(rng: random.Random) -> tuple[int, int]:
    long = rng.randint(400, 1600)
    ratio = rng.choice([4 / 3, 3 / 2, 16 / 9, 1.0])
    return (long, int(long / ratio)) if rng.random() < 0.6 else (int(long / ratio), long)


def _grain(image: Image.Image, rng: random.Random, sigma: float) -> Image.Image:
    noise = np.random.default_rng(rng.randint(0, 2**31)).normal(0, sigma, (image.height, image.width, 1))
    return Image.fromarray(np.clip(np.asarray(image, dtype=np.float64) + noise, 0, 255).astype(np.uint8))


def _copy(image: Image.Image, rng: random.Random) -> tuple[str, Image.Image]:
    transform = rng.choice(["jpeg", "resize", "png", "webp"])
    if transform == "resize":
        factor = rng.uniform(0.4, 0.9)
        return transform, image.resize((max(16, int(image.width * factor)), max(16, int(image.height * factor))),
                                       rng.choice([Image.Resampling.LANCZOS, Image.Resampling.BILINEAR]))
    return transform, image


def _save(path: Path, image: Image.Image, rng: random.Random, transform: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    if path.suffix == ".png":
        image.save(buffer, "PNG")
    elif path.suffix == ".webp":
        image.save(buffer, "WEBP", quality=rng.randint(70, 90))
    else:
        image.save(buffer, "JPEG", quality=rng.randint(60, 95) if transform else rng.randint(85, 95))
    path.write_bytes(buffer.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "imgtwin-flat-set")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--generate-only", action="store_true")
    parser.add_argument("--threshold", type=int, default=None)
    args = parser.parse_args()
    if not (args.out / "truth.json").exists():
        make_set(args.out, args.seed)
    truth = json.loads((args.out / "truth.json").read_text())
    originals = sum(r["kind"] == "original" for r in truth.values())
    print(f"{args.out}: {originals} different pictures, {len(truth) - originals} copies")
    if args.generate_only:
        return
    with tempfile.TemporaryDirectory() as tmp:
        found = Path(tmp) / "find.json"
        extra = ["--threshold", str(args.threshold)] if args.threshold is not None else []
        done = subprocess.run([sys.executable, "-m", "imgtwin", "find", str(args.out), "--db", str(Path(tmp) / "i.db"),
                               "--json", str(found), "-q", *extra], capture_output=True, text=True, check=False)
        if done.returncode not in (0, 1):
            raise SystemExit(done.stderr)
        groups = [[m["path"] for m in g["members"]] for g in json.loads(found.read_text())["groups"]]
        prediction = Path(tmp) / "prediction.json"
        prediction.write_text(json.dumps({"groups": groups}))
        scored = subprocess.run([sys.executable, str(SCORER), str(args.out / "truth.json"), str(prediction), "--json"],
                                capture_output=True, text=True, check=True)
    overall = json.loads(scored.stdout)["all"]["overall"]
    by_kind: dict[str, list[int]] = {}
    group_of = {str(Path(args.out / p).resolve()): r for p, r in truth.items()}
    for members in groups:
        kinds = {group_of[str(Path(m).resolve())]["group"] for m in members}
        label = group_of[str(Path(members[0]).resolve())]["detail"]
        by_kind.setdefault(label, [0, 0])[0 if len(kinds) == 1 else 1] += 1
    print(f"pairs: TP {overall['tp']}, FP {overall['fp']} (different pictures grouped), FN {overall['fn']}; "
          f"precision {overall['precision']:.4f}, recall {overall['recall']:.3f}")
    print("| kind | groups found, one picture | groups mixing pictures |")
    print("|---|---|---|")
    for kind, (clean, mixed) in sorted(by_kind.items()):
        print(f"| {kind} | {clean} | {mixed} |")


if __name__ == "__main__":
    main()
