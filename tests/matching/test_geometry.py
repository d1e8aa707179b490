"""The geometric fit on real photos: each kind of edit is recognised and described;
two views of one scene shifted by half a frame, and unrelated photos, are not copies."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image

from imgtwin.hashing.local import LocalFeatures, extract_local
from imgtwin.matching.geometry import fit_pair
from tests.helpers import (
    cropped,
    keystone_fixed,
    screenshot_of,
    shared_photo,
    shifted_views,
    straightened,
    with_stickers,
)


def features(image: Image.Image, quality: int = 85) -> LocalFeatures:
    """As the deep pass sees a file: encoded as JPEG, decoded again."""
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return extract_local(Image.open(io.BytesIO(buffer.getvalue())))


@pytest.fixture(scope="module")
def original() -> Image.Image:
    return shared_photo(1, 1200)


def fit_of(original: Image.Image, copy: Image.Image):
    fit = fit_pair(features(original), features(copy))
    assert fit is not None
    return fit


@pytest.mark.parametrize("degrees", [2.0, -5.0, 8.0])
def test_straightened_copies_are_found_with_their_angle_and_crop(original: Image.Image, degrees: float) -> None:
    fit = fit_of(original, straightened(original, degrees))
    assert abs(fit.rotation - degrees) < 0.7
    assert fit.b_shown > 0.95 and fit.a_shown < 0.95
    words = fit.describe()
    assert words is not None and f"rotated {degrees:.0f}°" in words and "crop" in words


@pytest.mark.parametrize("width_fraction", [1.0, 0.6])
def test_a_screenshot_is_the_picture_inside_a_larger_frame(original: Image.Image, width_fraction: float) -> None:
    fit = fit_of(original, screenshot_of(original, width_fraction=width_fraction))
    assert fit.a_shown > 0.95 and fit.b_shown < 0.6
    assert fit.describe() == "inside a larger frame"


def test_stickers_and_a_caption_leave_the_same_frame(original: Image.Image) -> None:
    fit = fit_of(original, with_stickers(original))
    assert fit.a_shown > 0.97 and fit.b_shown > 0.97
    assert fit.describe() is None


@pytest.mark.parametrize(("sides", "area"), [((0.3, 0, 0, 0), 0.3), ((0.15, 0.12, 0, 0), 0.25),
                                             ((0.1, 0.1, 0.1, 0.1), 0.36)])  # fmt: skip
def test_hard_crops_say_how_much_was_cut(original: Image.Image, sides: tuple[float, ...], area: float) -> None:
    fit = fit_of(original, cropped(original, *sides))
    match = re.fullmatch(r"crop (\d+)%", fit.describe() or "")
    assert match and abs(int(match.group(1)) - 100 * area) <= 4


def test_a_perspective_fix_is_found(original: Image.Image) -> None:
    # the top edge, 8% narrower per side, stretched to full width: 8% of the original is cut (two corners)
    fit = fit_of(original, keystone_fixed(original, 0.08))
    assert fit.perspective
    assert abs(fit.a_shown - 0.92) < 0.03 and fit.b_shown > 0.95
    words = (fit.describe() or "").split(", ")
    assert "perspective" in words and any(re.fullmatch(r"crop (7|8|9|10)%", w) for w in words), words


def test_views_of_one_scene_shifted_by_half_a_frame_stay_apart() -> None:
    for index in (3, 7, 11):
        left, right = shifted_views(shared_photo(index, 1600), shift=0.45)
        assert fit_pair(features(left), features(right)) is None
        assert fit_pair(features(right), features(left)) is None


def test_unrelated_photos_are_not_copies() -> None:
    photos = [features(shared_photo(k, 900)) for k in range(6)]
    for a in range(len(photos)):
        for b in range(len(photos)):
            if a != b:
                assert fit_pair(photos[a], photos[b]) is None
