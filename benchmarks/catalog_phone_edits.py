"""Extra corpus edits: what phones, photo editors and social apps do to pictures.

For ``../shared/corpus/make_corpus.py --catalog benchmarks/catalog_phone_edits.py``.
Every edit is drawn from a real workflow, with its parameters spread the way
those tools spread them, not tuned to any matcher:

* ``straighten``: the horizon tool of Photos / Snapseed / Lightroom: a rotation
  by 1-8 degrees, cropped to the largest upright rectangle of the picture's own
  aspect ratio (what those apps keep), saved at the cropped size or scaled back
  to the original's size;
* ``screenshot``: the photo shown inside a phone, tablet or desktop app (feed,
  viewer, chat) and captured: status bar, app bar, buttons, caption text,
  letterboxing; device sizes from 750x1334 to 2560x1440, portrait and
  landscape; saved as PNG (what phones save) or re-encoded as JPEG (what a
  messenger sends on);
* ``stickers_caption``: opaque stickers (emoji faces, stars, hearts, labels)
  anywhere on the picture and/or a caption on a band, as story editors add;
* ``crop_hard``: a crop of 10-30 % of the width and/or height, off one side,
  two adjacent sides, or around the centre (zoom);
* ``perspective_fix``: a keystone correction (vertical or horizontal, 3-12 %
  of the side), which stretches the picture and crops its corners;
* combinations with re-encoding: ``combo_straighten_social`` (straighten, fit
  in a social network's size, JPEG or WebP), ``combo_screenshot_messenger``
  (a screenshot downscaled and recompressed by a messenger, sometimes with the
  bars cropped off), ``combo_crop_sticker_jpeg`` (crop, sticker, JPEG).

All are category ``near``: the same picture, as a person would say.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

WEIGHT = 2.5

# (width, height, name): screenshot sizes of common devices, portrait as taken.
DEVICES = [
    (1080, 2340, "android"), (1080, 2400, "android"), (1170, 2532, "iphone"), (1284, 2778, "iphone-max"),
    (750, 1334, "iphone-se"), (1440, 3200, "android-qhd"), (1536, 2048, "ipad"), (1920, 1080, "desktop"),
    (2560, 1440, "desktop-qhd"), (1366, 768, "laptop"),
]
THEMES = [((0, 0, 0), (255, 255, 255)), ((255, 255, 255), (20, 20, 20)), ((18, 18, 18), (230, 230, 230)),
          ((245, 245, 247), (40, 40, 40))]
CAPTIONS = ["Best day ever!", "Throwback to last summer", "can't believe this view", "Weekend vibes",
            "Look who's here!", "Sunday walk", "#nofilter #travel", "miss this place", "Guess where I am?",
            "Happy birthday!!", "Golden hour", "New favourite spot"]


def _largest_upright(w: int, h: int, degrees: float) -> tuple[int, int]:
    """Size of the largest centred rectangle of aspect w:h inside w x h rotated by ``degrees``."""
    t = math.radians(abs(degrees))
    s = min(w / (w * math.cos(t) + h * math.sin(t)), h / (w * math.sin(t) + h * math.cos(t)))
    return max(8, int(w * s)), max(8, int(h * s))


def straighten(img: Image.Image, rng, lo: float = 1.0, hi: float = 8.0) -> tuple[Image.Image, str]:
    angle = rng.uniform(lo, hi) * rng.choice([-1, 1])
    w, h = img.size
    rotated = img.rotate(angle, resample=Image.BICUBIC, expand=False)
    cw, ch = _largest_upright(w, h, angle)
    box = ((w - cw) // 2, (h - ch) // 2, (w - cw) // 2 + cw, (h - ch) // 2 + ch)
    out = rotated.crop(box)
    if rng.random() < 0.4:  # some apps scale the crop back to the original's size
        out = out.resize((w, h), Image.LANCZOS)
        return out, f"straighten {angle:+.1f} deg, rescaled"
    return out, f"straighten {angle:+.1f} deg"


def _icon(draw: ImageDraw.ImageDraw, x: int, y: int, s: int, colour, rng) -> None:
    kind = rng.randrange(4)
    if kind == 0:
        draw.ellipse([x, y, x + s, y + s], outline=colour, width=max(1, s // 8))
    elif kind == 1:
        draw.rectangle([x, y + s // 4, x + s, y + 3 * s // 4], outline=colour, width=max(1, s // 8))
    elif kind == 2:
        draw.polygon([(x, y + s), (x + s // 2, y), (x + s, y + s)], outline=colour, width=max(1, s // 8))
    else:
        for k in range(3):
            draw.line([x, y + k * s // 2, x + s, y + k * s // 2], fill=colour, width=max(1, s // 8))


def screenshot(img: Image.Image, rng, api) -> tuple[Image.Image, str]:
    """The photo inside an app's UI, as a device captures it."""
    w, h, device = rng.choice(DEVICES)
    if device.startswith(("android", "iphone")) and rng.random() < 0.2:
        w, h = h, w  # phone held sideways: the viewer shows the photo full height
    background, ink = rng.choice(THEMES)
    canvas = Image.new("RGB", (w, h), background)
    draw = ImageDraw.Draw(canvas)
    unit = min(w, h) / 1080
    status = int(rng.uniform(40, 90) * unit)  # status bar: time, battery, signal
    draw.text((int(30 * unit), status * 0.25), rng.choice(["9:41", "14:07", "08:15", "22:30"]), fill=ink,
              font=api.font(status * 0.5))
    for k in range(3):
        _icon(draw, w - int((60 + 50 * k) * unit), int(status * 0.25), max(6, int(status * 0.45)), ink, rng)
    top = status
    if rng.random() < 0.8:  # app bar with a title and buttons
        bar = int(rng.uniform(90, 160) * unit)
        draw.text((int(110 * unit), top + bar * 0.3), rng.choice(["Photos", "Instagram", "Messages", "Gallery",
                                                                   "Recents", "Chat"]), fill=ink,
                  font=api.font(bar * 0.35))
        _icon(draw, int(30 * unit), top + bar // 3, max(8, bar // 3), ink, rng)
        top += bar
    bottom = int(rng.uniform(80, 200) * unit) if rng.random() < 0.85 else 0  # nav bar / buttons
    for k in range(5 if bottom else 0):
        _icon(draw, int((k + 0.4) * w / 5), h - bottom + bottom // 3, max(8, bottom // 3), ink, rng)
    caption = int(rng.uniform(0, 260) * unit) if rng.random() < 0.6 else 0  # likes, caption, comments
    margin = int(w * rng.choice([0.0, 0.0, rng.uniform(0.02, 0.08)]))
    area_w, area_h = w - 2 * margin, h - top - bottom - caption
    if rng.random() < 0.25:  # shown smaller: a chat bubble, a grid cell, a desktop window
        area_w, area_h = int(area_w * rng.uniform(0.45, 0.8)), int(area_h * rng.uniform(0.45, 0.8))
    s = min(area_w / img.width, area_h / img.height)
    pw, ph = max(8, int(img.width * s)), max(8, int(img.height * s))
    photo = img.resize((pw, ph), Image.LANCZOS if s < 1 else Image.BICUBIC)
    x = (w - pw) // 2 if rng.random() < 0.8 else margin
    y = top + (area_h - ph) // 2 if rng.random() < 0.7 else top
    canvas.paste(photo, (x, y))
    if caption:
        cy = y + ph + int(20 * unit)
        for k in range(rng.randint(1, 3)):
            draw.text((margin + int(30 * unit), cy + k * int(55 * unit)), rng.choice(CAPTIONS), fill=ink,
                      font=api.font(36 * unit))
    fraction = pw * ph / (w * h)
    return canvas, f"screenshot {device} {w}x{h}, photo {pw}x{ph} ({100 * fraction:.0f}% of the frame)"


def _sticker(layer: ImageDraw.ImageDraw, x: int, y: int, s: int, rng, api) -> str:
    kind = rng.choice(["face", "star", "heart", "label"])
    colour = tuple(rng.randint(0, 255) for _ in range(3))
    if kind == "face":
        layer.ellipse([x, y, x + s, y + s], fill=(255, 204, 0), outline=(120, 80, 0), width=max(1, s // 20))
        for ex in (0.32, 0.62):
            layer.ellipse([x + ex * s, y + 0.3 * s, x + (ex + 0.08) * s, y + 0.45 * s], fill=(40, 30, 0))
        layer.arc([x + 0.25 * s, y + 0.35 * s, x + 0.75 * s, y + 0.8 * s], 20, 160, fill=(40, 30, 0),
                  width=max(1, s // 15))
    elif kind == "star":
        points = []
        for k in range(10):
            r = s / 2 if k % 2 == 0 else s / 5
            a = math.pi / 2 + k * math.pi / 5
            points.append((x + s / 2 + r * math.cos(a), y + s / 2 - r * math.sin(a)))
        layer.polygon(points, fill=colour, outline=(255, 255, 255))
    elif kind == "heart":
        layer.ellipse([x, y, x + s // 2 + s // 10, y + s // 2 + s // 10], fill=(230, 30, 60))
        layer.ellipse([x + s // 2 - s // 10, y, x + s, y + s // 2 + s // 10], fill=(230, 30, 60))
        layer.polygon([(x + s * 0.03, y + s * 0.4), (x + s * 0.97, y + s * 0.4), (x + s / 2, y + s)],
                      fill=(230, 30, 60))
    else:
        layer.rounded_rectangle([x, y + s // 4, x + int(s * 1.6), y + 3 * s // 4], radius=s // 8, fill=colour)
        layer.text((x + s // 8, y + s // 3), rng.choice(["WOW", "LOL", "#tbt", "OMG", "♥"]), fill=(255, 255, 255),
                   font=api.font(s // 3))
    return kind


def stickers(img: Image.Image, rng, api, lo: float = 0.08, hi: float = 0.22) -> tuple[Image.Image, str]:
    out = img.convert("RGB").copy()
    draw = ImageDraw.Draw(out)
    w, h = out.size
    parts = []
    for _ in range(rng.choice([1, 1, 2, 3])):
        s = int(min(w, h) * rng.uniform(lo, hi))
        x, y = rng.randint(0, max(0, w - int(1.6 * s))), rng.randint(0, max(0, h - s))
        parts.append(_sticker(draw, x, y, s, rng, api))
    return out, "stickers " + "+".join(parts)


def caption(img: Image.Image, rng, api) -> tuple[Image.Image, str]:
    out = img.convert("RGBA")
    w, h = out.size
    layer = Image.new("RGBA", out.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    text = rng.choice(CAPTIONS)
    font = api.font(h * rng.uniform(0.04, 0.08))
    x0, y0, x1, y1 = draw.textbbox((0, 0), text, font=font)
    tw, th = x1 - x0, y1 - y0
    y = int(h * rng.uniform(0.1, 0.85))
    if rng.random() < 0.6:  # story-style band behind the text
        draw.rectangle([0, y - th // 2, w, y + th + th // 2], fill=(0, 0, 0, rng.randint(110, 200)))
    draw.text(((w - tw) // 2 - x0, y - y0), text, font=font, fill=(255, 255, 255, 255))
    return Image.alpha_composite(out, layer).convert("RGB"), f"caption '{text}'"


def crop_hard(img: Image.Image, rng, lo: float = 0.10, hi: float = 0.30) -> tuple[Image.Image, str]:
    f = rng.uniform(lo, hi)
    mode = rng.choice(["one", "two", "centre"])
    sides = [0.0, 0.0, 0.0, 0.0]  # left, top, right, bottom
    if mode == "one":
        sides[rng.randrange(4)] = f
    elif mode == "two":
        sides[rng.choice([0, 2])] = f
        sides[rng.choice([1, 3])] = rng.uniform(lo, hi)
    else:
        g = rng.uniform(lo, hi) if rng.random() < 0.3 else f  # a zoom, sometimes not to the same aspect
        sides = [f / 2, g / 2, f / 2, g / 2]
    return api_crop(img, sides), "crop {} l{:.0f} t{:.0f} r{:.0f} b{:.0f}%".format(mode, *(100 * s for s in sides))


def api_crop(img: Image.Image, sides) -> Image.Image:
    w, h = img.size
    left, top, right, bottom = sides
    return img.crop((round(w * left), round(h * top), w - round(w * right), h - round(h * bottom)))


def _perspective_coefficients(source, target) -> list[float]:
    """Pillow's 8 coefficients mapping output points ``target`` to input points ``source``."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(target, source):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs += [u, v]
    return np.linalg.solve(np.array(rows, float), np.array(rhs, float)).tolist()


def perspective_fix(img: Image.Image, rng) -> tuple[Image.Image, str]:
    """Keystone correction: the narrow end of a trapezoid is stretched to the full side."""
    w, h = img.size
    k = rng.uniform(0.03, 0.12)
    edge = rng.choice(["top", "bottom", "left", "right"])
    quad = {  # the region of the photo that becomes the whole output (tl, tr, br, bl)
        "top": [(k * w, 0), (w - k * w, 0), (w, h), (0, h)],
        "bottom": [(0, 0), (w, 0), (w - k * w, h), (k * w, h)],
        "left": [(0, k * h), (w, 0), (w, h), (0, h - k * h)],
        "right": [(0, 0), (w, k * h), (w, h - k * h), (0, h)],
    }[edge]
    out = img.transform((w, h), Image.PERSPECTIVE, _perspective_coefficients(quad, [(0, 0), (w, 0), (w, h), (0, h)]),
                        Image.BICUBIC)
    if rng.random() < 0.5:  # and the editor's auto-crop trims the stretched side a little
        out = api_crop(out, [k / 2 if edge == "left" else 0, k / 2 if edge == "top" else 0,
                             k / 2 if edge == "right" else 0, k / 2 if edge == "bottom" else 0])
    return out, f"keystone {edge} {100 * k:.0f}%"


def _social(img: Image.Image, rng, api):
    s = rng.choice([1080, 1280, 1600, 2048])
    out = img.copy()
    out.thumbnail((s, s), Image.LANCZOS)
    if rng.random() < 0.4:
        q = rng.randint(70, 90)
        return api.Result(api.encode(out, "WEBP", quality=q, method=2), "WEBP", f"fit {s} webp q={q}")
    q = rng.randint(70, 85)
    return api.Result(api.encode(out, "JPEG", quality=q), "JPEG", f"fit {s} jpeg q={q}")


def register(catalog, api) -> None:
    def t_straighten(ctx):
        img, d = straighten(ctx.image, ctx.rng)
        r = api.reencode_like(ctx, img)
        return api.Result(r.data, r.fmt, f"{d} {r.detail}")

    def t_screenshot(ctx):
        img, d = screenshot(ctx.image, ctx.rng, api)
        if ctx.rng.random() < 0.5:
            return api.Result(api.encode(img, "PNG", compress_level=1), "PNG", f"{d} png")
        q = ctx.rng.randint(70, 92)
        return api.Result(api.encode(img, "JPEG", quality=q), "JPEG", f"{d} jpeg q={q}")

    def t_stickers_caption(ctx):
        choice = ctx.rng.random()
        img, d = (stickers(ctx.image, ctx.rng, api) if choice < 0.75 else (ctx.image, ""))
        if choice > 0.5:
            img, d2 = caption(img, ctx.rng, api)
            d = f"{d} {d2}".strip()
        r = api.reencode_like(ctx, img)
        return api.Result(r.data, r.fmt, f"{d} {r.detail}")

    def t_crop_hard(ctx):
        img, d = crop_hard(ctx.image, ctx.rng)
        r = api.reencode_like(ctx, img)
        return api.Result(r.data, r.fmt, f"{d} {r.detail}")

    def t_perspective(ctx):
        img, d = perspective_fix(ctx.image, ctx.rng)
        r = api.reencode_like(ctx, img)
        return api.Result(r.data, r.fmt, f"{d} {r.detail}")

    def t_combo_straighten_social(ctx):
        img, d = straighten(ctx.image, ctx.rng, 1.0, 5.0)
        r = _social(img, ctx.rng, api)
        return api.Result(r.data, r.fmt, f"{d} {r.detail}")

    def t_combo_screenshot_messenger(ctx):
        img, d = screenshot(ctx.image, ctx.rng, api)
        if ctx.rng.random() < 0.4:  # the sender cropped the bars off, roughly
            w, h = img.size
            img = img.crop((0, int(h * ctx.rng.uniform(0.02, 0.1)), w, h - int(h * ctx.rng.uniform(0.0, 0.1))))
            d += ", bars cropped"
        f = ctx.rng.uniform(0.4, 0.8)
        q = ctx.rng.randint(55, 80)
        return api.Result(api.encode(api.scale(img, f, ctx.rng), "JPEG", quality=q), "JPEG", f"{d} x{f:.2f} q={q}")

    def t_combo_crop_sticker_jpeg(ctx):
        img, d = crop_hard(ctx.image, ctx.rng, 0.08, 0.2)
        img, d2 = stickers(img, ctx.rng, api, 0.06, 0.16)
        q = ctx.rng.randint(60, 90)
        return api.Result(api.encode(img, "JPEG", quality=q), "JPEG", f"{d} {d2} q={q}")

    catalog.add("straighten", "near", t_straighten, WEIGHT)
    catalog.add("screenshot", "near", t_screenshot, WEIGHT)
    catalog.add("stickers_caption", "near", t_stickers_caption, WEIGHT)
    catalog.add("crop_hard", "near", t_crop_hard, WEIGHT)
    catalog.add("perspective_fix", "near", t_perspective, WEIGHT)
    catalog.add("combo_straighten_social", "near", t_combo_straighten_social, WEIGHT)
    catalog.add("combo_screenshot_messenger", "near", t_combo_screenshot_messenger, WEIGHT)
    catalog.add("combo_crop_sticker_jpeg", "near", t_combo_crop_sticker_jpeg, WEIGHT)
