"""Copies a plain pHash at 10 bits finds, found by the default matcher too (issue 24), on small real images.

A soft photo (a small region of a photo enlarged: its hash and detail bits are noise) and its small
thumbnail, a noisy copy, a brightened one; the scene beside it and a page in another shade stay apart.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

from imgtwin.hashing.features import MatchFeatures, compute_features
from imgtwin.matching.near import near_matches
from imgtwin.matching.table import FeatureTable
from tests.helpers import shared_photo

SOFT_BOX = (281, 721, 383, 823)  # a 102-pixel square of a storm's sky, enlarged 14 times: a soft photo


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    data = io.BytesIO()
    image.save(data, "JPEG", quality=quality)
    return Image.open(io.BytesIO(data.getvalue())).convert("RGB")


def _features(image: Image.Image) -> MatchFeatures:
    """What the scan computes: from the decode reduced to 512 px, and its 16 x 16 colour copy."""
    small = image.copy()
    small.thumbnail((512, 512))
    return compute_features(small.convert("L"), colour=small.resize((16, 16)))


def _soft(box: tuple[int, int, int, int]) -> Image.Image:
    region = shared_photo(24, 1600).crop(box)
    return _jpeg(region.resize((1415, 1415 * region.height // region.width), Image.Resampling.BICUBIC), 90)


def _pairs(images: list[Image.Image]) -> set[tuple[int, int]]:
    matches, _ = near_matches(FeatureTable.from_features([_features(x) for x in images]))
    return set(zip(matches.i.tolist(), matches.j.tolist()))


def test_a_small_thumbnail_of_a_soft_photo_is_found_and_the_scene_beside_it_is_not() -> None:
    original = _soft(SOFT_BOX)
    thumbnail = original.copy()
    thumbnail.thumbnail((160, 160))
    thumbnail = _jpeg(thumbnail, 73)
    left, top, right, bottom = SOFT_BOX
    beside = _soft((left + (right - left) // 2, top, right + (right - left) // 2, bottom))  # half a frame over
    features = [_features(x) for x in (original, thumbnail, beside)]
    assert features[0].low_detail and not features[0].featureless  # the rule under test: soft, not blank
    assert _pairs([original, thumbnail, beside]) == {(0, 1)}


def test_a_noisy_copy_of_a_soft_photo_is_found_with_its_blurred_copy() -> None:
    original = _soft((700, 700, 800, 800))
    noise = np.random.default_rng(1).normal(0, 13.6, (original.height, original.width, 3))
    noisy = _jpeg(Image.fromarray(np.clip(np.asarray(original, np.float32) + noise, 0, 255).astype(np.uint8)), 82)
    blurred = _jpeg(original.filter(ImageFilter.GaussianBlur(2.1)), 90)
    assert _pairs([original, blurred, noisy]) == {(0, 1), (0, 2), (1, 2)}


def test_a_brightness_edit_of_a_soft_photo_is_found_a_page_in_another_shade_is_not() -> None:
    left, top, right, bottom = SOFT_BOX
    for gain in (0.8, 1.19):
        original = _soft(SOFT_BOX)
        brighter = _jpeg(ImageEnhance.Brightness(original).enhance(gain), 81)
        beside = _jpeg(ImageEnhance.Brightness(_soft((left + (right - left) // 2, top, right + (right - left) // 2,
                                                      bottom))).enhance(gain), 81)
        assert _pairs([original, brighter, beside]) == {(0, 1)}, gain
    # A page with a stamp, and the same in a lighter grey: no structure but the stamp, so the tones decide.
    page = Image.new("RGB", (600, 800), (150, 150, 150))
    ImageDraw.Draw(page).ellipse((250, 300, 330, 380), fill=(40, 40, 40))
    lighter = ImageEnhance.Brightness(page).enhance(1.19)
    assert _features(page).featureless
    assert _pairs([page, lighter]) == set()
