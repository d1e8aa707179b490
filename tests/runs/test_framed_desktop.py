"""Screenshots the first framed-picture search missed (issue 24): a photo at a wide screen's edge beside its
empty side, a small photo on a desktop screen sent on through a messenger, and a photo whose box line blends
with the frame; end to end on real files made here, a different photo in the same frame kept apart."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from imgtwin.runs.find import FindResult, find_duplicates
from tests.helpers import shared_photo


def desktop_of(photo: Image.Image, height: int, left: int | None = None, size: tuple[int, int] = (1920, 1080),
               ) -> Image.Image:  # fmt: skip
    """``photo`` ``height`` px tall in a dark desktop app (as ``benchmarks/catalog_phone_edits.py`` draws one):
    a status line, a title, icons, a caption under the photo, all on one background; at ``left`` (None:
    centred)."""
    w, h = size
    frame = Image.new("RGB", size, (18, 18, 18))
    draw = ImageDraw.Draw(frame)
    font, ink = ImageFont.load_default(size=28), (230, 230, 230)
    draw.text((20, 10), "14:07", fill=ink, font=font)
    draw.text((80, 70), "Photos", fill=ink, font=font)
    pw = photo.width * height // photo.height
    x = (w - pw) // 2 if left is None else left
    frame.paste(photo.resize((pw, height), Image.Resampling.LANCZOS), (x, 130))
    draw.text((x + 30, 130 + height + 20), "Golden hour", fill=ink, font=font)
    for k in range(5):
        draw.ellipse([int((k + 0.4) * w / 5), h - 60, int((k + 0.4) * w / 5) + 34, h - 26], outline=ink, width=3)
    return frame


@pytest.fixture(scope="module")
def found(tmp_path_factory: pytest.TempPathFactory) -> FindResult:
    root = tmp_path_factory.mktemp("desktop") / "library"
    (root / "screens").mkdir(parents=True)
    original = shared_photo(17, 1200)
    original.save(root / "original.jpg", quality=92)
    desktop_of(original, 900, left=0).save(root / "screens" / "at the left edge.png")
    small = desktop_of(original, 330)
    small.resize((small.width // 2, small.height // 2), Image.Resampling.LANCZOS).save(
        root / "screens" / "small, sent on.jpg", quality=70)
    desktop_of(shared_photo(18, 1200), 900, left=0).save(root / "screens" / "other photo at the left edge.png")
    other = desktop_of(shared_photo(18, 1200), 330)
    other.resize((other.width // 2, other.height // 2), Image.Resampling.LANCZOS).save(
        root / "screens" / "other photo, small.jpg", quality=70)
    shared_photo(8, 1000).save(root / "unrelated.jpg", quality=90)
    return find_duplicates([str(root)], db_path=str(root.parent / "i.db"))


def names(result: FindResult) -> dict[str, int]:
    return {os.path.basename(m.path): g.id for g in result.groups for m in g.members}


def test_a_photo_at_the_edge_of_a_wide_screen_is_grouped_with_it(found: FindResult) -> None:
    """The bands' box takes the whole width (the photo touches the left edge); the island's box is the photo."""
    groups = names(found)
    assert "original.jpg" in groups and groups.get("at the left edge.png") == groups["original.jpg"], groups


def test_a_small_photo_on_a_desktop_sent_on_is_grouped_with_it(found: FindResult) -> None:
    """The photo is ~80 px tall on the scan's decode: its box's outer line, half frame, moved its hash."""
    groups = names(found)
    assert "original.jpg" in groups and groups.get("small, sent on.jpg") == groups["original.jpg"], groups


def test_a_different_photo_in_the_same_frame_is_grouped_with_nothing(found: FindResult) -> None:
    groups = names(found)
    for name in ("other photo at the left edge.png", "other photo, small.jpg", "unrelated.jpg"):
        assert name not in groups, groups


def test_screenshots_of_two_different_small_photos_in_one_app_stay_apart(tmp_path: Path) -> None:
    """Their thumbnails are mostly the same frame, and keypoints on its text and icons fit: the pictures in the
    same place of the two frames, 20 bits or more apart, keep them apart (both grouped on main)."""
    root = tmp_path / "library"
    root.mkdir()
    for k in (17, 18):
        screen = desktop_of(shared_photo(k, 1200), 330)
        screen.resize((screen.width // 2, screen.height // 2), Image.Resampling.LANCZOS).save(
            root / f"small {k}.jpg", quality=70)
    assert find_duplicates([str(root)], db_path=str(tmp_path / "i.db")).groups == ()
