"""``find --deep`` is the default ``find`` and a stage more (issue 24): it finds what the default finds (the
pictures inside screenshots' frames, found on the scan's decode), and two screenshots of different photos,
whose keypoints fit on the app's title, caption and icons alone, stay apart; on real files made here."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from imgtwin.options import MatchOptions
from imgtwin.runs.find import FindResult, find_duplicates
from tests.helpers import shared_photo
from tests.runs.test_framed_desktop import desktop_of


def names(result: FindResult) -> dict[str, int]:
    return {os.path.basename(m.path): g.id for g in result.groups for m in g.members}


def test_deep_finds_the_screenshots_the_default_finds(tmp_path: Path) -> None:
    """A photo at a wide screen's edge and a small one on a desktop sent on: the default finds both by the
    pictures inside their frames (``matching.framed``); ``--deep`` found neither (main, 1949b5c)."""
    root = tmp_path / "library"
    root.mkdir()
    original = shared_photo(17, 1200)
    original.save(root / "original.jpg", quality=92)
    desktop_of(original, 900, left=0).save(root / "at the left edge.png")
    small = desktop_of(original, 330)
    small.resize((small.width // 2, small.height // 2), Image.Resampling.LANCZOS).save(
        root / "small, sent on.jpg", quality=70)
    shared_photo(8, 1000).save(root / "unrelated.jpg", quality=90)
    for deep in (False, True):
        groups = names(find_duplicates([str(root)], db_path=str(tmp_path / "i.db"), match=MatchOptions(deep=deep)))
        wanted = {"original.jpg", "at the left edge.png", "small, sent on.jpg"}
        assert wanted <= groups.keys() and len({groups[n] for n in wanted}) == 1, (deep, groups)
        assert "unrelated.jpg" not in groups, (deep, groups)


def soft_desktop(photo: Image.Image) -> Image.Image:
    """A narrow, soft photo in a dark desktop app with large text (a title, a caption, buttons) above and
    below it: the keypoints lie on the text, and every row through the photo is mostly frame, so the local
    features find no picture box (``hashing.picture``) while the scan's framed box finds it."""
    w, h = 1920, 1080
    frame = Image.new("RGB", (w, h), (12, 12, 12))
    draw = ImageDraw.Draw(frame)
    ink, font = (235, 235, 235), ImageFont.load_default(size=64)
    draw.text((20, 8), "14:07", fill=ink, font=font)
    draw.ellipse([20, 60, 60, 100], outline=ink, width=4)
    draw.text((80, 60), "Gallery", fill=ink, font=ImageFont.load_default(size=80))
    draw.text((40, 860), "Happy birthday! Look who's here!", fill=ink, font=font)
    for k in range(5):
        x = int((k + 0.4) * w / 5)
        draw.rectangle([x, h - 70, x + 40, h - 30], outline=ink, width=4)
    side = min(photo.width, photo.height * 3 // 4)
    portrait = photo.crop(((photo.width - side) // 2, 0, (photo.width + side) // 2, min(photo.height, side * 4 // 3)))
    frame.paste(portrait.filter(ImageFilter.GaussianBlur(8)).resize((517, 690), Image.Resampling.LANCZOS),
                ((w - 517) // 2, 150))
    return frame


@pytest.mark.parametrize("deep", [False, True])
def test_desktop_screenshots_of_two_soft_photos_stay_apart(tmp_path: Path, deep: bool) -> None:
    """The second screen a little zoomed (2 % off each side) and larger (2560 x 1440), as another app or
    screen shows it: 54 keypoint inliers fit, every one on the text; ``--deep`` grouped them (main, 1949b5c),
    as it grouped two desktop screenshots of different photos in the medium phone-edits corpus."""
    root = tmp_path / "library"
    root.mkdir()
    soft_desktop(shared_photo(5, 900)).save(root / "a.jpg", quality=88)
    other = soft_desktop(shared_photo(6, 900))
    w, h = other.size
    other = other.crop((int(w * 0.02), int(h * 0.02), int(w * 0.98), int(h * 0.98)))
    other.resize((2560, 1440), Image.Resampling.LANCZOS).save(root / "b.jpg", quality=79)
    assert find_duplicates([str(root)], db_path=str(tmp_path / "i.db"), match=MatchOptions(deep=deep)).groups == ()
