"""Extra corpus edits: the colour and white-balance edits phones and photo editors offer.

For ``../shared/corpus/make_corpus.py --catalog benchmarks/catalog_colour_edits.py``.
Each is drawn from a real tool, its strength spread the way those tools spread it:

* ``colour_filter``: a filter's colour layer over the picture (Instagram, phone
  galleries, Snapseed "vintage"): warm, cool, sepia, green or magenta at
  10-25 % opacity;
* ``photo_filter``: the editors' "photo filter" (Photoshop, Lightroom, GIMP):
  the picture multiplied by a warming, cooling, sepia, green or magenta filter
  colour at 10-25 % density, its luminosity kept;
* ``white_balance``: the temperature slider (red and blue gains moved apart by
  5-15 %) and/or the tint slider (green gain 3-10 % up or down);
* ``sepia_tone``: a monochrome sepia ("Mono", "Sepia", "Vintage" presets);
* ``combo_filter_social``: a colour filter or a white balance, then fitted into
  a social network's size and recompressed (JPEG or WebP).

All are category ``near``: the same picture with a filter, as a person would say.
With ``COLOUR_EDITS_ONLY=1`` in the environment the catalog keeps only these and
the public catalog's tone edits (gamma, brightness, contrast): a corpus to
measure colour and tone edits alone.
"""

from __future__ import annotations

import os

import numpy as np
from PIL import Image

WEIGHT = 3.0
TONE_EDITS = ("gamma", "brightness", "contrast")
# Filter colours (sRGB) of the presets: warm (85/LBA), cool (80/LBB), sepia, green, magenta.
FILTERS = {"warm": (236, 138, 0), "cool": (0, 109, 255), "sepia": (172, 122, 51), "green": (25, 201, 25),
           "magenta": (220, 40, 200)}
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def _pixels(img: Image.Image) -> np.ndarray:
    return np.asarray(img.convert("RGB"), dtype=np.float32)


def _image(pixels: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(np.round(pixels), 0, 255).astype(np.uint8))


def colour_filter(img: Image.Image, rng) -> tuple[Image.Image, str]:
    name = rng.choice(sorted(FILTERS))
    strength = rng.uniform(0.10, 0.25)
    layer = np.array(FILTERS[name], dtype=np.float32)
    return _image(_pixels(img) * (1 - strength) + layer * strength), f"{name} layer {100 * strength:.0f}%"


def photo_filter(img: Image.Image, rng) -> tuple[Image.Image, str]:
    name = rng.choice(sorted(FILTERS))
    density = rng.uniform(0.10, 0.25)
    x = _pixels(img)
    y = x * (1 - density + density * np.array(FILTERS[name], dtype=np.float32) / 255)
    y *= ((x @ _LUMA) / np.maximum(y @ _LUMA, 1e-3))[..., None]  # "preserve luminosity"
    return _image(y), f"{name} photo filter {100 * density:.0f}%"


def white_balance(img: Image.Image, rng) -> tuple[Image.Image, str]:
    choice = rng.random()
    temperature = rng.uniform(0.05, 0.15) * rng.choice([-1, 1]) if choice < 0.75 else 0.0
    tint = rng.uniform(0.03, 0.10) * rng.choice([-1, 1]) if choice > 0.5 else 0.0
    gains = np.array([1 + temperature, 1 + tint, 1 - temperature], dtype=np.float32)
    return _image(_pixels(img) * gains), f"temperature {100 * temperature:+.0f}% tint {100 * tint:+.0f}%"


def sepia_tone(img: Image.Image, rng) -> tuple[Image.Image, str]:
    matrix = np.array([[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]], dtype=np.float32)
    return _image(_pixels(img) @ matrix.T), "sepia"


def register(catalog, api) -> None:
    def edit(make):
        def transform(ctx):
            img, detail = make(ctx.image, ctx.rng)
            r = api.reencode_like(ctx, img)
            return api.Result(r.data, r.fmt, f"{detail} {r.detail}")

        return transform

    def t_combo_filter_social(ctx):
        img, detail = (colour_filter if ctx.rng.random() < 0.6 else white_balance)(ctx.image, ctx.rng)
        size = ctx.rng.choice([1080, 1280, 1600])
        img.thumbnail((size, size), Image.LANCZOS)
        q = ctx.rng.randint(70, 88)
        fmt = "WEBP" if ctx.rng.random() < 0.3 else "JPEG"
        return api.Result(api.encode(img, fmt, quality=q), fmt, f"{detail} fit {size} {fmt.lower()} q={q}")

    if os.environ.get("COLOUR_EDITS_ONLY"):
        for name in list(catalog.entries):
            if name not in TONE_EDITS:
                catalog.set_weight(name, 0)
    catalog.add("colour_filter", "near", edit(colour_filter), WEIGHT)
    catalog.add("photo_filter", "near", edit(photo_filter), WEIGHT)
    catalog.add("white_balance", "near", edit(white_balance), WEIGHT)
    catalog.add("sepia_tone", "near", edit(sepia_tone), WEIGHT / 3)
    catalog.add("combo_filter_social", "near", t_combo_filter_social, WEIGHT)
