"""Colour rules where they belong, end to end through ``find_duplicates`` on small real images.

On a detailed photo the structure decides: a colour filter, a white balance or a tone edit keeps
it a copy. On flat and low-detail pictures colour and tone are all there is: a tinted solid colour
is another picture, and so is one with a dot, a thin line or a frame a person sees, or a gradient
turned to another direction.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageEnhance

from imgtwin.options import ScanOptions
from imgtwin.runs.find import find_duplicates
from tests.helpers import shared_photo

SCAN = ScanOptions(executor="thread", workers=2)
WARM, COOL, SEPIA = (255, 160, 60), (60, 140, 255), (160, 110, 60)
GREEN, MAGENTA = (60, 200, 60), (220, 60, 200)


def tinted(image: Image.Image, colour: tuple[int, int, int], strength: float) -> Image.Image:
    """A filter's colour layer over the picture at ``strength`` (what a phone's warm/cool/sepia filter does)."""
    return Image.blend(image, Image.new("RGB", image.size, colour), strength)


def white_balanced(image: Image.Image, temperature: float) -> Image.Image:
    """Red and blue gains moved apart (a white-balance slider; negative: cooler)."""
    red, green, blue = image.split()
    return Image.merge("RGB", (red.point(lambda v: min(255, round(v * (1 + temperature)))), green,
                               blue.point(lambda v: min(255, round(v * (1 - temperature))))))


def gamma(image: Image.Image, value: float) -> Image.Image:
    return image.point([round(255 * (v / 255) ** value) for v in range(256)] * 3)


def groups_of(root: Path, tmp_path: Path) -> list[list[str]]:
    result = find_duplicates([str(root)], db_path=str(tmp_path / "i.db"), options=SCAN)
    return sorted(sorted(os.path.basename(m.path) for m in g.members) for g in result.groups)


def write(pictures: dict[str, Image.Image], root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, picture in pictures.items():
        picture.save(root / name, quality=90) if name.endswith(".jpg") else picture.save(root / name)
    return root


EDITS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "warm.jpg": lambda image: tinted(image, WARM, 0.2),
    "cool.jpg": lambda image: tinted(image, COOL, 0.2),
    "sepia.jpg": lambda image: tinted(image, SEPIA, 0.25),
    "green.jpg": lambda image: tinted(image, GREEN, 0.15),
    "magenta.jpg": lambda image: tinted(image, MAGENTA, 0.15),
    "white balance.jpg": lambda image: white_balanced(image, -0.15),
}


def test_a_colour_filter_on_a_detailed_photo_is_a_copy(tmp_path: Path) -> None:
    photo = shared_photo(0, 720)
    pictures = {"original.jpg": photo} | {name: edit(photo) for name, edit in EDITS.items()}
    pictures["other.jpg"] = shared_photo(5, 720)  # an unrelated photo stays alone
    assert groups_of(write(pictures, tmp_path / "photos"), tmp_path) == [sorted(set(pictures) - {"other.jpg"})]


def test_gamma_brightness_and_contrast_on_a_detailed_photo_are_copies(tmp_path: Path) -> None:
    photo = shared_photo(19, 720)
    pictures = {"original.jpg": photo, "gamma.jpg": gamma(photo, 1.4), "darker.jpg": ImageEnhance.Brightness(photo).enhance(0.7),
                "flatter.jpg": ImageEnhance.Contrast(photo).enhance(0.7), "brighter.jpg": ImageEnhance.Brightness(photo).enhance(1.2)}
    assert groups_of(write(pictures, tmp_path / "photos"), tmp_path) == [sorted(pictures)]


def test_a_tinted_flat_picture_is_another_picture(tmp_path: Path) -> None:
    grey = Image.new("RGB", (640, 480), (128, 128, 128))
    screen = Image.new("RGB", (540, 960), (236, 236, 240))  # an empty app screen: a bar on a plain body
    ImageDraw.Draw(screen).rectangle((0, 0, 540, 90), fill=(40, 90, 200))
    pictures = {"grey.png": grey, "grey warm.png": tinted(grey, WARM, 0.2), "grey cool.png": tinted(grey, COOL, 0.2),
                "screen.png": screen, "screen sepia.png": tinted(screen, SEPIA, 0.25),
                "screen magenta.png": tinted(screen, MAGENTA, 0.15),
                "grey again.jpg": grey.resize((320, 240))}  # a copy is still found
    assert groups_of(write(pictures, tmp_path / "flat"), tmp_path) == [["grey again.jpg", "grey.png"]]


def solid(colour: tuple[int, int, int] = (70, 110, 170), size: tuple[int, int] = (640, 480)) -> Image.Image:
    return Image.new("RGB", size, colour)


def marked(mark: Callable[[ImageDraw.ImageDraw], None], picture: Image.Image | None = None) -> Image.Image:
    picture = (picture or solid()).copy()
    mark(ImageDraw.Draw(picture))
    return picture


def gradient(start: tuple[int, int, int], end: tuple[int, int, int], degrees: float,
             size: tuple[int, int] = (640, 480)) -> Image.Image:  # fmt: skip
    """A linear two-colour gradient running at ``degrees`` (0: left to right)."""
    y, x = np.mgrid[0 : size[1], 0 : size[0]] / max(size)
    angle = np.radians(degrees)
    t = np.cos(angle) * x + np.sin(angle) * y
    t = (t - t.min()) / (t.max() - t.min())
    pixels = np.array(start)[None, None] * (1 - t[..., None]) + np.array(end)[None, None] * t[..., None]
    return Image.fromarray(np.round(pixels).astype(np.uint8))


def page(frame: tuple[int, int, int, int] | None) -> Image.Image:
    blank = Image.new("RGB", (600, 848), (245, 243, 236))
    return blank if frame is None else marked(lambda d: d.rectangle(frame, outline=(40, 40, 40), width=3), blank)


def framed_paper(paper: tuple[int, int, int], seed: int) -> Image.Image:
    """A scanned sheet of coloured paper (with its grain) and a frame drawn off its centre."""
    sheet = marked(lambda d: d.rectangle((180, 254, 940, 1329), outline=(30, 30, 30), width=5),
                   Image.new("RGB", (1000, 1414), paper))
    grain = np.random.default_rng(seed).normal(0, 1.5, (1414, 1000, 1))
    return Image.fromarray(np.clip(np.asarray(sheet, dtype=np.float64) + grain, 0, 255).astype(np.uint8))


@pytest.mark.parametrize("name, first, second", [
    ("a small dot", solid(), marked(lambda d: d.ellipse((397, 147, 403, 153), fill=(240, 240, 240)))),
    ("a dark dot", solid(), marked(lambda d: d.ellipse((396, 146, 404, 154), fill=(10, 10, 30)))),
    ("a grey dot on white", solid((250, 250, 250)), marked(lambda d: d.ellipse((397, 147, 403, 153), fill=(120, 120, 120)),
                                                           solid((250, 250, 250)))),
    ("a thin rectangle", solid(), marked(lambda d: d.rectangle((200, 150, 440, 330), outline=(20, 20, 20), width=1))),
    ("a frame moved", page((60, 60, 540, 788)), page((90, 100, 570, 828))),
    ("a frame drawn", page(None), page((60, 60, 540, 788))),
    ("the same frame on another paper", framed_paper((205, 215, 190), 1), framed_paper((215, 205, 200), 2)),
    ("a gradient turned by 30 degrees", gradient((200, 60, 40), (40, 80, 200), 0), gradient((200, 60, 40), (40, 80, 200), 30)),
    ("a gradient of one tone turned", gradient((180, 70, 70), (60, 110, 160), 0), gradient((180, 70, 70), (60, 110, 160), 20)),
    ("a gradient reversed", gradient((200, 60, 40), (40, 80, 200), 0), gradient((200, 60, 40), (40, 80, 200), 180)),
])  # fmt: skip
def test_a_mark_a_line_a_frame_or_a_turn_a_person_sees_keeps_flat_pictures_apart(
    tmp_path: Path, name: str, first: Image.Image, second: Image.Image
) -> None:
    copy = first.resize((first.width * 3 // 5, first.height * 3 // 5), Image.Resampling.LANCZOS)
    pictures = {"first.png": first, "second.png": second, "first copy.jpg": copy}
    assert groups_of(write(pictures, tmp_path / "flat"), tmp_path) == [["first copy.jpg", "first.png"]], name
